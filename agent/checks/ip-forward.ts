import type { Check } from '../../shared/schema.js';
import { hostNs, problem, unknown } from './util.js';

export const ipForward: Check = {
  id: 'ip-forward',
  title: 'IP forwarding is on where bridges route',
  incident: [],
  run(s) {
    const host = hostNs(s);
    if (!host) return [];
    const routed = host.links.filter((l) => l.kind === 'bridge' && l.addresses.length > 0);
    if (routed.length === 0) return [];
    const v = host.sysctls['net.ipv4.ip_forward'];
    if (v === undefined) return [unknown(s, 'ip-forward', 'host/ip_forward', 'net.ipv4.ip_forward not read')];
    if (v !== '0') return [];
    return [
      problem(s, {
        check: 'ip-forward',
        kind: 'sysctl-risk',
        severity: 'warning',
        incident: null,
        subject: 'host/ip_forward',
        summary: `net.ipv4.ip_forward=0 while bridges ${routed.map((l) => l.name).join(', ')} route for workloads: pod/container traffic to other nodes is dropped`,
        evidence: ['net.ipv4.ip_forward=0', ...routed.map((l) => `${l.name} ${l.addresses.join(' ')}`)],
        remediation: 'sysctl -w net.ipv4.ip_forward=1 and persist it in /etc/sysctl.d/.',
      }),
    ];
  },
};
