import type { Check } from '../../shared/schema.js';
import { nsById, problem, unknown } from './util.js';

/** VXLAN adds 50 bytes (outer IPv4 20 + UDP 8 + VXLAN 8 + inner Ethernet 14). */
export const VXLAN_OVERHEAD = 50;

export const vtepUnderlayMtu: Check = {
  id: 'vtep-underlay-mtu',
  title: 'Overlay MTU + 50 fits the underlay MTU',
  incident: [6],
  run(s) {
    if (s.vteps.length === 0) return [];
    if (!s.underlay) return [unknown(s, 'vtep-underlay-mtu', 'underlay', 'underlay device not found')];
    const out = [];
    for (const v of s.vteps) {
      const need = v.mtu + VXLAN_OVERHEAD;
      if (need <= s.underlay.mtu) continue;
      const ns = nsById(s, v.netns);
      const fit = s.underlay.mtu - VXLAN_OVERHEAD;
      out.push(
        problem(s, {
          check: 'vtep-underlay-mtu',
          kind: 'underlay-mtu',
          severity: 'critical',
          incident: 6,
          subject: `${ns?.name ?? v.netns}/${v.dev}`,
          summary: `${v.dev} (VNI ${v.vni}) has MTU ${v.mtu}: encapsulated frames are ${need} bytes, but underlay ${s.underlay.dev} has MTU ${s.underlay.mtu}`,
          evidence: [
            `VTEP ${v.dev} mtu ${v.mtu} + ${VXLAN_OVERHEAD} bytes VXLAN overhead = ${need}`,
            `underlay ${s.underlay.dev} mtu ${s.underlay.mtu}`,
          ],
          remediation:
            v.style === 'flannel'
              ? `Raise the underlay MTU (ip link set ${s.underlay.dev} mtu ${need}) or let flannel derive the overlay MTU from the underlay (restart flannel so ${v.dev} and pods get MTU ${fit}).`
              : `Raise the underlay MTU (ip link set ${s.underlay.dev} mtu ${need}) or create the overlay with a smaller MTU: docker network create -d overlay -o com.docker.network.driver.mtu=${fit} ...`,
        }),
      );
    }
    return out;
  },
};
