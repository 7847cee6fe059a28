import type { ClusterCheck, Finding } from '../schema.js';
import { clusterFinding, overlays, someOf } from './util.js';

/** Incident 7: every node registered the same VTEP address (Vagrant NAT 10.0.2.15), or MAC. */
export const duplicateVtep: ClusterCheck = {
  id: 'duplicate-vtep',
  title: 'Each node has its own VTEP address and MAC',
  incident: [7],
  run(snaps) {
    const out: Finding[] = [];
    for (const [key, members] of overlays(snaps)) {
      const byLocal = new Map<string, string[]>();
      const byMac = new Map<string, string[]>();
      for (const m of members) {
        if (m.vtep.local) byLocal.set(m.vtep.local, [...(byLocal.get(m.vtep.local) ?? []), m.node]);
        if (m.vtep.mac) byMac.set(m.vtep.mac, [...(byMac.get(m.vtep.mac) ?? []), m.node]);
      }
      for (const [addr, nodes] of byLocal) {
        if (nodes.length < 2) continue;
        for (const node of nodes)
          out.push(
            clusterFinding(node, {
              check: 'duplicate-vtep',
              kind: 'duplicate-vtep-address',
              severity: 'critical',
              incident: 7,
              subject: `vtep-address ${addr}@${key}`,
              summary: `${nodes.length} nodes (${someOf(nodes)}) use VTEP address ${addr} on overlay ${key}: tunnels to them all go to one address`,
              evidence: nodes.slice(0, 32).map((n) => `${n}: local ${addr}`),
              remediation:
                'Make each node advertise its own unique underlay address: flannel --iface=<unique interface> or --public-ip=<node address> (Vagrant: the private_network interface, not the NAT one at 10.0.2.15); Docker: docker swarm join --advertise-addr <node address>.',
            }),
          );
      }
      for (const [mac, nodes] of byMac) {
        if (nodes.length < 2) continue;
        for (const node of nodes)
          out.push(
            clusterFinding(node, {
              check: 'duplicate-vtep',
              kind: 'duplicate-vtep-mac',
              severity: 'critical',
              incident: 7,
              subject: `vtep-mac ${mac}@${key}`,
              summary: `${nodes.length} nodes (${someOf(nodes)}) have VTEP MAC ${mac} on overlay ${key}: FDB entries cannot tell them apart`,
              evidence: nodes.slice(0, 32).map((n) => `${n}: mac ${mac}`),
              remediation:
                'Give each VTEP its own MAC: recreate the device without a fixed address (cloned VM images often carry one), then let the overlay agent reprogram the peers.',
            }),
          );
      }
    }
    return out;
  },
};
