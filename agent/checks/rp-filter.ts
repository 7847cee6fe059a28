import type { Check } from '../../shared/schema.js';
import { hostNs, problem, unknown } from './util.js';

export const rpFilter: Check = {
  id: 'rp-filter',
  title: 'No strict reverse-path filter on a multi-homed underlay',
  incident: [],
  run(s) {
    const host = hostNs(s);
    if (!host || !s.underlay) return [];
    const all = host.sysctls['net.ipv4.conf.all.rp_filter'];
    const dev = host.sysctls[`net.ipv4.conf.${s.underlay.dev}.rp_filter`];
    if (all === undefined && dev === undefined)
      return [unknown(s, 'rp-filter', `host/${s.underlay.dev}`, 'rp_filter sysctls not read')];
    const effective = Math.max(Number(all ?? 0), Number(dev ?? 0));
    const homed = host.links.filter(
      (l) =>
        l.kind !== 'loopback' &&
        !l.vxlan &&
        l.kind !== 'bridge' &&
        !l.master &&
        l.addresses.some((a) => a.includes('.')),
    );
    if (effective !== 1 || homed.length < 2) return [];
    return [
      problem(s, {
        check: 'rp-filter',
        kind: 'sysctl-risk',
        severity: 'warning',
        incident: null,
        subject: `host/${s.underlay.dev}`,
        summary: `strict rp_filter on a node with ${homed.length} addressed interfaces: VXLAN packets arriving on a different interface than the return route are silently dropped`,
        evidence: [
          `net.ipv4.conf.all.rp_filter=${all ?? '?'}`,
          `net.ipv4.conf.${s.underlay.dev}.rp_filter=${dev ?? '?'}`,
          `interfaces: ${homed.map((l) => l.name).join(', ')}`,
        ],
        remediation: `sysctl -w net.ipv4.conf.all.rp_filter=2 net.ipv4.conf.${s.underlay.dev}.rp_filter=2 (loose mode), and persist it in /etc/sysctl.d/.`,
      }),
    ];
  },
};
