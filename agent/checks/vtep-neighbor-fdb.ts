import type { Check, Finding } from '../../shared/schema.js';
import { problem, subjectOf, toolIn, vxlanLinks } from './util.js';

/**
 * Docker and flannel program every remote endpoint twice: a PERMANENT neighbor (IP -> MAC) and
 * an FDB entry (MAC -> remote VTEP); so do Calico (vxlan.calico) and this check's other VTEPs with
 * their own VNI. One without the other breaks that endpoint only.
 */
export const vtepNeighborFdb: Check = {
  id: 'vtep-neighbor-fdb',
  title: 'Neighbor and FDB entries on each VTEP agree',
  incident: [8],
  run(s) {
    const out: Finding[] = [];
    for (const { ns, link } of vxlanLinks(s)) {
      // A collect-metadata VTEP (Cilium, Weave, OVS) gets VNI and remote per packet from its
      // datapath: no neighbor or FDB entries are programmed on it, so an empty table is normal.
      if (link.vxlan?.external) continue;
      const neigh = ns.neighbors.filter((n) => n.dev === link.name);
      const fdb = ns.fdb.filter((e) => e.dev === link.name && e.dst && e.mac !== '00:00:00:00:00:00');
      const fdbMacs = new Set(fdb.map((e) => e.mac.toLowerCase()));
      const neighMacs = new Set(neigh.map((n) => n.lladdr?.toLowerCase()).filter(Boolean));
      const ip = toolIn(ns, 'ip');
      const evidence: string[] = [];
      for (const n of neigh) {
        if (n.state.some((x) => x === 'INCOMPLETE' || x === 'FAILED'))
          evidence.push(`neighbor ${n.dst} is ${n.state.join(',')} (no MAC learned)`);
        else if (n.lladdr && n.state.includes('PERMANENT') && !fdbMacs.has(n.lladdr.toLowerCase()))
          evidence.push(`neighbor ${n.dst} -> ${n.lladdr} has no FDB entry (no remote VTEP known)`);
      }
      // Learning VTEPs (Docker's) also learn FDB entries with no neighbor: only permanent ones count.
      for (const e of fdb) {
        if (e.state === 'permanent' && !neighMacs.has(e.mac.toLowerCase()))
          evidence.push(
            `FDB ${e.mac} -> ${e.dst} has no neighbor entry (the endpoint's IP does not resolve)`,
          );
      }
      if (evidence.length === 0) continue;
      out.push(
        problem(s, {
          check: 'vtep-neighbor-fdb',
          kind: 'neighbor-missing',
          severity: 'critical',
          incident: 8,
          subject: subjectOf(ns, link.name),
          summary: `${link.name} (VNI ${link.vxlan?.vni}): ${evidence.length} remote endpoint(s) half-programmed; traffic to them fails`,
          evidence,
          remediation: `Re-program the endpoint on ${link.name}: ${ip} neigh replace <ip> lladdr <mac> dev ${link.name} nud permanent and bridge fdb replace <mac> dev ${link.name} dst <peer underlay> self permanent — or restart the overlay's agent (docker: leave/rejoin the network; flannel: restart flanneld) so it reprograms both.`,
        }),
      );
    }
    return out;
  },
};
