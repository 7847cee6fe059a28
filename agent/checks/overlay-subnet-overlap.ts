import type { Check, Finding } from '../../shared/schema.js';
import { cidrRange, hostNs, inCidr, overlaps, problem } from './util.js';

/**
 * Incident 3: an overlay subnet that overlaps a host route sends overlay traffic to the
 * underlay (or the reverse). Routes and addresses that belong to the overlay itself (VTEPs,
 * bridges addressed inside an overlay subnet) are not conflicts.
 */
export const overlaySubnetOverlap: Check = {
  id: 'overlay-subnet-overlap',
  title: 'Overlay subnets do not overlap host routes',
  incident: [3],
  run(s) {
    const host = hostNs(s);
    if (!host) return [];
    const overlay = [...new Set(s.vteps.flatMap((v) => v.subnets))].filter((c) => cidrRange(c));
    if (overlay.length === 0) return [];
    const overlayDevs = new Set(
      host.links
        .filter(
          (l) => l.vxlan || l.addresses.some((a) => overlay.some((o) => inCidr(a.split('/')[0] ?? '', o))),
        )
        .map((l) => l.name),
    );
    const out: Finding[] = [];
    for (const r of host.routes) {
      if (r.dst === 'default' || !r.dev || overlayDevs.has(r.dev) || r.table === 'local') continue;
      const hit = overlay.filter((o) => overlaps(o, r.dst));
      if (hit.length === 0) continue;
      out.push(
        problem(s, {
          check: 'overlay-subnet-overlap',
          kind: 'subnet-overlap',
          severity: 'critical',
          incident: 3,
          subject: `host/route ${r.dst}`,
          summary: `host route ${r.dst} via ${r.gateway ?? r.dev} overlaps overlay subnet ${hit.join(', ')}: traffic for those addresses leaves through the underlay instead of the overlay (or the reverse)`,
          evidence: [
            `route ${r.dst}${r.gateway ? ` via ${r.gateway}` : ''} dev ${r.dev} (table ${r.table})`,
            `overlay subnets: ${hit.join(', ')}`,
          ],
          remediation: `Give the overlay a subnet that overlaps nothing on the hosts (docker network create -d overlay --subnet <free CIDR> ...; flannel Network in net-conf.json), or remove/narrow the host route: ip route del ${r.dst}${r.gateway ? ` via ${r.gateway}` : ''}.`,
        }),
      );
    }
    return out;
  },
};
