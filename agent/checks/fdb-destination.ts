import type { Check, Finding } from '../../shared/schema.js';
import { hostAddresses, inCidr, problem, subjectOf, toolIn, vxlanLinks } from './util.js';

/** Ranges that never name a remote VTEP: VirtualBox/Vagrant NAT, link-local, loopback. */
export const SUSPECT_RANGES = ['10.0.2.0/24', '169.254.0.0/16', '127.0.0.0/8', '0.0.0.0/32'];

export const fdbDestination: Check = {
  id: 'fdb-destination',
  title: 'VXLAN FDB entries point at real remote VTEPs',
  incident: [7],
  run(s, ctx) {
    const ranges = (ctx.options.suspectRanges as string[] | undefined) ?? SUSPECT_RANGES;
    const mine = new Set(hostAddresses(s));
    const out: Finding[] = [];
    for (const { ns, link } of vxlanLinks(s)) {
      const bad = ns.fdb.filter(
        (e) => e.dev === link.name && e.dst && (mine.has(e.dst) || ranges.some((r) => inCidr(e.dst!, r))),
      );
      if (bad.length === 0) continue;
      const flannel = link.name.startsWith('flannel');
      const bridge = toolIn(ns, 'bridge');
      out.push(
        problem(s, {
          check: 'fdb-destination',
          kind: 'fdb-wrong-destination',
          severity: 'critical',
          incident: 7,
          subject: subjectOf(ns, link.name),
          summary: `${bad.length} FDB entr${bad.length === 1 ? 'y' : 'ies'} on ${link.name} send tunnel traffic to ${[...new Set(bad.map((e) => e.dst))].join(', ')}: not a remote VTEP (NAT, link-local, loopback or this node's own address)`,
          evidence: bad.map(
            (e) => `${e.mac} dst ${e.dst}${mine.has(e.dst!) ? ' (this node)' : ' (suspect range)'}`,
          ),
          remediation: flannel
            ? `The node registered a NAT/duplicate address as its VTEP (Vagrant's 10.0.2.15). Start flannel with --iface=<the unique underlay interface> (or --public-ip=<underlay address>) on every node, then restart it so the FDB is rewritten; by hand: ${bridge} fdb replace <mac> dev ${link.name} dst <peer underlay address>.`
            : `Point the entries at the peers' underlay addresses: ${bridge} fdb replace <mac> dev ${link.name} dst <peer underlay address> self permanent; check the node's advertise address (docker swarm join --advertise-addr).`,
        }),
      );
    }
    return out;
  },
};
