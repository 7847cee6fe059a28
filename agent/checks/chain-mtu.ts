import type { ChainHop, Check, Finding, NodeSnapshot } from '../../shared/schema.js';
import { nsById, problem, toolIn } from './util.js';
import { VXLAN_OVERHEAD } from './vtep-underlay-mtu.js';

/**
 * Every workload-side hop of an overlay chain must carry what the others hand it. Between L2
 * hops nothing sends ICMP frag-needed: a frame larger than the next device's MTU is dropped
 * silently. So on the workload side of the VTEP:
 * - no hop may be larger than the VTEP (outgoing large packets die at the VTEP);
 * - both ends of a veth pair must agree (the peer drops what the larger end hands it);
 * - a bridge and its ports on the chain must agree (the bridge forwards into a smaller port, or
 *   fragments/limits what it routes into a larger one).
 * A uniformly smaller workload side (e.g. pods 1400 behind a routed flannel.1 1450) is fine.
 */
export const chainMtu: Check = {
  id: 'chain-mtu',
  title: 'MTUs along each overlay chain are consistent',
  incident: [8],
  run(s) {
    const out: Finding[] = [];
    for (const c of s.chains) {
      if (!c.vtep) continue;
      const found = c.hops.find((h) => h.dev === c.vtep?.dev && h.netns === c.vtep.netns);
      if (!found) continue;
      // A collect-metadata VTEP (Weave's datapath port, cilium_vxlan) has a large device MTU;
      // the overlay's MTU is what its datapath carries (VtepSummary.overlayMtu).
      const summary = s.vteps.find((v) => v.dev === found.dev && v.netns === found.netns);
      const external = summary?.overlayMtu !== undefined;
      const vtepHop: ChainHop = external ? { ...found, mtu: summary.overlayMtu! } : found;
      const side = c.hops.slice(0, c.hops.indexOf(found));
      const name = (h: ChainHop) => `${nsById(s, h.netns)?.name ?? h.netns}/${h.dev}`;
      const names = (hs: ChainHop[]) => hs.map(name).join(', ');
      const problems: string[] = [];
      const bad = new Set<ChainHop>();

      const larger = side.filter((h) => h.mtu > vtepHop.mtu);
      for (const h of larger) bad.add(h);
      if (larger.length)
        problems.push(
          `${larger.map((h) => `${name(h)} MTU ${h.mtu}`).join(', ')} larger than VTEP ${name(vtepHop)} MTU ${vtepHop.mtu}: packets over ${vtepHop.mtu} bytes from the workload cannot leave through the VTEP and are dropped silently`,
        );
      for (let i = 0; i + 1 < side.length; i++) {
        const [a, b] = [side[i]!, side[i + 1]!];
        if (a.kind !== 'veth' || b.kind !== 'veth' || a.netns === b.netns || a.mtu === b.mtu) continue;
        bad.add(a).add(b);
        const [lo, hi] = a.mtu < b.mtu ? [a, b] : [b, a];
        problems.push(
          `veth pair ends differ: ${name(a)} MTU ${a.mtu} <-> ${name(b)} MTU ${b.mtu}: frames over ${lo.mtu} bytes from ${name(hi)} are dropped by ${name(lo)}`,
        );
      }
      for (const br of side.filter((h) => h.kind === 'bridge')) {
        const ports = bridgePorts(s, br, external ? c.hops.filter((h) => h !== found) : c.hops);
        const off = ports.filter((p) => p.mtu !== br.mtu);
        if (off.length === 0) continue;
        for (const p of [br, ...off]) bad.add(p);
        const low = Math.min(...ports.map((p) => p.mtu));
        const why: string[] = [];
        if (ports.some((p) => p.mtu > low))
          why.push(
            `frames over ${low} bytes from ${names(ports.filter((p) => p.mtu > low))} into ${names(ports.filter((p) => p.mtu === low))} are dropped`,
          );
        if (br.mtu > low)
          why.push(
            `frames over ${low} bytes the bridge itself sends into ${names(ports.filter((p) => p.mtu < br.mtu))} are dropped`,
          );
        if (ports.some((p) => p.mtu > br.mtu))
          why.push(`what the bridge routes is fragmented or refused above ${br.mtu} bytes`);
        problems.push(
          `bridge ${name(br)} MTU ${br.mtu} but its port(s) ${off.map((p) => `${name(p)} MTU ${p.mtu}`).join(', ')}: ${why.join('; ')}`,
        );
      }
      if (problems.length === 0) continue;

      // One MTU for the whole workload side: the VTEP's, unless the VTEP itself does not fit the
      // underlay (vtep-underlay-mtu reports that); then what fits.
      const target = Math.min(vtepHop.mtu, c.underlay ? c.underlay.mtu - VXLAN_OVERHEAD : vtepHop.mtu);
      const fix = [...side, vtepHop].filter((h) => h.mtu !== target);
      const ipFor = (h: ChainHop) => {
        const n = nsById(s, h.netns);
        return n ? toolIn(n, 'ip') : 'ip';
      };
      const first = c.hops[0]!;
      out.push(
        problem(s, {
          check: 'chain-mtu',
          kind: 'mtu-mismatch',
          severity: 'warning',
          incident: 8,
          subject: name(first),
          summary: `${c.id}: MTU mismatch along the chain (${c.hops
            .filter((h) => bad.has(h))
            .map((h) => `${h.dev} ${h.mtu}`)
            .join(', ')}; VTEP ${vtepHop.dev} ${vtepHop.mtu}): large packets are dropped silently`,
          evidence: [`chain: ${c.hops.map((h) => `${name(h)} ${h.mtu}`).join(' -> ')}`, ...problems],
          remediation: `Give every hop from the workload to the VTEP MTU ${target}: ${fix.map((h) => `${ipFor(h)} link set dev ${h.dev} mtu ${target}`).join('; ')} (for CNI/Docker, fix the network's MTU option so new workloads get it).`,
        }),
      );
    }
    return out;
  },
};

/** Hops of the chain enslaved to `br` (the veth peer; the VTEP when it sits in the bridge, Docker-style). */
function bridgePorts(s: NodeSnapshot, br: ChainHop, hops: ChainHop[]): ChainHop[] {
  const links = nsById(s, br.netns)?.links ?? [];
  return hops.filter(
    (h) => h !== br && h.netns === br.netns && links.find((l) => l.name === h.dev)?.master === br.dev,
  );
}
