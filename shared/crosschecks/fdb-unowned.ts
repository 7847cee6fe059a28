import type { ClusterCheck, Finding } from '../schema.js';
import { clusterFinding, someOf } from './util.js';

/** An FDB destination that is no node's VTEP or underlay address sends tunnels nowhere. */
export const fdbUnowned: ClusterCheck = {
  id: 'fdb-unowned',
  title: 'Every FDB destination is some peer',
  incident: [7],
  run(snaps) {
    if (snaps.length < 2) return [];
    const owned = new Set<string>();
    for (const s of snaps) {
      for (const a of s.underlay?.addresses ?? []) owned.add(a);
      for (const v of s.vteps) if (v.local) owned.add(v.local);
    }
    const out: Finding[] = [];
    for (const s of snaps)
      for (const v of s.vteps) {
        const stray = v.fdbDsts.filter((d) => !owned.has(d));
        if (stray.length === 0) continue;
        out.push(
          clusterFinding(s.node, {
            check: 'fdb-unowned',
            kind: 'fdb-wrong-destination',
            severity: 'critical',
            incident: 7,
            subject: `${v.dev}@${v.style}`,
            summary: `${s.node}'s ${v.dev} sends tunnel traffic to ${someOf(stray)}, which no node owns`,
            evidence: [
              `FDB destinations no node owns: ${someOf(stray, 32)} (of ${v.fdbDsts.length})`,
              `addresses the nodes own: ${owned.size} (${someOf([...owned].sort(), 16)})`,
            ],
            remediation: `Point the entries at the peers' real underlay addresses (bridge fdb replace <mac> dev ${v.dev} dst <peer address> self permanent); for flannel fix --iface/--public-ip on the node that registered ${stray[0]} and restart flannel everywhere.`,
          }),
        );
      }
    return out;
  },
};
