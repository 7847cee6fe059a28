import type { Check, Finding } from '../../shared/schema.js';
import { problem, unknown } from './util.js';

const VXLAN_PORTS = [4789, 8472];
const CONTROL = [
  { protocol: 'tcp', port: 2377 },
  { protocol: 'tcp', port: 7946 },
  { protocol: 'udp', port: 7946 },
];

export const firewallOverlayPorts: Check = {
  id: 'firewall-overlay-ports',
  title: 'Local firewall lets VXLAN and Swarm control ports in',
  incident: [2],
  run(s) {
    if (!s.firewall) {
      const why = s.unknowns.find((u) => /nft|firewall|iptables/.test(u.what));
      return [
        unknown(s, 'firewall-overlay-ports', 'host/firewall', why?.reason ?? 'firewall rules not read'),
      ];
    }
    const blocking = s.firewall.rules.filter(
      (r) =>
        (r.verdict === 'drop' || r.verdict === 'reject') &&
        (r.hook === null || r.hook === 'input' || r.hook === 'prerouting' || r.hook === 'forward'),
    );
    const out: Finding[] = [];
    const vx = blocking.filter(
      (r) =>
        r.protocol !== 'tcp' &&
        (r.dports.length === 0 ? r.protocol === 'udp' : r.dports.some((p) => VXLAN_PORTS.includes(p))),
    );
    if (vx.length) {
      const ports = [...new Set(vx.flatMap((r) => r.dports.filter((p) => VXLAN_PORTS.includes(p))))];
      out.push(
        problem(s, {
          check: 'firewall-overlay-ports',
          kind: 'host-firewall-vxlan',
          severity: 'critical',
          incident: 2,
          subject: 'host/firewall',
          summary: `this node's firewall ${vx[0]!.verdict}s incoming VXLAN (UDP ${ports.join('/') || 'any'}): overlay traffic reaches the NIC and dies before the VTEP`,
          evidence: vx.map((r) => r.text),
          remediation: `Allow the VXLAN port from the other nodes before the drop, e.g. nft insert rule ${vx[0]!.family} ${vx[0]!.table} ${vx[0]!.chain} udp dport { ${ports.join(', ') || '4789, 8472'} } accept (iptables: iptables -I INPUT -p udp --dport 4789 -j ACCEPT), and make it persistent.`,
        }),
      );
    }
    const ctl = blocking.filter((r) =>
      CONTROL.some((c) => (r.protocol === c.protocol || r.protocol === 'any') && r.dports.includes(c.port)),
    );
    if (ctl.length && s.docker.swarm) {
      out.push(
        problem(s, {
          check: 'firewall-overlay-ports',
          kind: 'control-ports-blocked',
          severity: 'warning',
          incident: 2,
          subject: 'host/firewall-control',
          summary:
            "this node's firewall blocks Swarm control ports (TCP 2377, TCP/UDP 7946): gossip and service discovery break",
          evidence: ctl.map((r) => r.text),
          remediation:
            'Allow TCP 2377, TCP+UDP 7946 and UDP 4789 between Swarm nodes (e.g. nft insert rule inet filter input tcp dport { 2377, 7946 } accept; nft insert rule inet filter input udp dport { 7946, 4789 } accept).',
        }),
      );
    }
    return out;
  },
};
