import type { ClusterCheck, Finding } from '../schema.js';
import { clusterFinding, oddOnesOut, overlays } from './util.js';

/** VNI and UDP port must be the same on every node of one overlay; the majority is right. */
export const vxlanParams: ClusterCheck = {
  id: 'vxlan-params',
  title: 'VNI and VXLAN port agree across the nodes of each overlay',
  incident: [8],
  run(snaps) {
    const out: Finding[] = [];
    for (const [key, members] of overlays(snaps)) {
      if (members.length < 2) continue;
      const vni = oddOnesOut(members, (m) => m.vtep.vni);
      for (const m of vni.odd)
        out.push(
          clusterFinding(m.node, {
            check: 'vxlan-params',
            kind: 'vni-mismatch',
            severity: 'critical',
            incident: 8,
            subject: `${m.vtep.dev}@${key}`,
            summary: `${m.node}'s VTEP ${m.vtep.dev} uses VNI ${m.vtep.vni}; the other ${members.length - vni.odd.length} node(s) of overlay ${key} use VNI ${vni.majority}: its frames are dropped by every peer`,
            evidence: [m, ...members.filter((x) => x !== m)]
              .slice(0, 32)
              .map((x) => `${x.node} ${x.vtep.dev} vni ${x.vtep.vni} port ${x.vtep.port}`),
            remediation: `Recreate ${m.vtep.dev} on ${m.node} with VNI ${vni.majority} (Docker: remove and re-attach the node to the network, or restart dockerd so it reprograms the overlay; flannel: same VNI in net-conf.json on every node).`,
          }),
        );
      const port = oddOnesOut(members, (m) => m.vtep.port);
      for (const m of port.odd)
        out.push(
          clusterFinding(m.node, {
            check: 'vxlan-params',
            kind: 'dstport-mismatch',
            severity: 'critical',
            incident: 8,
            subject: `${m.vtep.dev}@${key}`,
            summary: `${m.node}'s VTEP ${m.vtep.dev} uses UDP port ${m.vtep.port}; the rest of overlay ${key} uses ${port.majority}: the two sides never hear each other`,
            evidence: [m, ...members.filter((x) => x !== m)]
              .slice(0, 32)
              .map((x) => `${x.node} ${x.vtep.dev} port ${x.vtep.port}`),
            remediation: `Use one VXLAN port cluster-wide: recreate ${m.vtep.dev} on ${m.node} with dstport ${port.majority} (Docker: docker swarm init --data-path-port must match; flannel: Port in the backend config).`,
          }),
        );
    }
    return out;
  },
};
