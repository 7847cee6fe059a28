/**
 * underlay-mtu from PMTU probes: size-dependent and consistent. A pair counts when its full-size
 * probe failed in each of its last MTU_ROUNDS rounds with a measured limit (some smaller size
 * passed, an ICMP frag-needed came back, or the kernel learned a smaller path MTU), while its
 * small VXLAN-port probes passed in those rounds. Frag-needed (captured, naming the hop that sent
 * it) and the kernel's learned PMTU tell a router hop answering from a silent black hole.
 */
import { lastRounds, tally } from '../../state/evidence.js';
import type { PairStatus } from '../../state/index.js';
import { type Rule, rootCauseId } from '../engine.js';

export const MTU_ROUNDS = 2;

/** The small VXLAN-port probes between the two nodes (either way) since `since` all passed. */
function smallPass(toNode: (n: string) => PairStatus[], p: PairStatus, since: number): boolean {
  // Through the by-destination index: per failing pair its two nodes' pairs, not every pair.
  const small = [
    ...toNode(p.dst).filter((q) => q.path === 'vxlan' && q.src === p.src),
    ...toNode(p.src).filter((q) => q.path === 'vxlan' && q.src === p.dst),
  ];
  if (!small.length) return true; // nothing says otherwise (no capture: no vxlan probes)
  const t = tally(small.flatMap((q) => q.buckets.filter((b) => b.at >= since)));
  return t.sent === t.ok;
}

/** Small-probe loss among the given nodes since `since`: an MTU limit loses no small packet. */
function smallLoss(all: PairStatus[], nodes: Set<string>, since: number): { sent: number; ok: number } {
  const t = tally(
    all
      .filter((q) => q.path === 'vxlan' && nodes.has(q.src) && nodes.has(q.dst))
      .flatMap((q) => q.buckets.filter((b) => b.at >= since)),
  );
  return { sent: t.sent, ok: t.ok };
}

export const underlayMtu: Rule = {
  id: 'underlay-mtu',
  kinds: ['underlay-mtu'],
  run(ctx) {
    const fails = ctx.unexplained().filter((p) => {
      if (p.path !== 'pmtu' || !p.last.pmtu) return false;
      const recent = lastRounds(p.buckets, MTU_ROUNDS);
      if (recent.length < MTU_ROUNDS || recent.some((b) => b.ok > 0)) return false;
      const t = tally(recent);
      const required = t.required ?? p.last.pmtu.required;
      const measured =
        t.largestPassing !== null ||
        t.fragMtu !== null ||
        (t.learnedPmtu !== null && t.learnedPmtu < required);
      return measured && smallPass(ctx.toNode, p, (recent[0] as { at: number }).at);
    });
    if (!fails.length) return;
    // Random loss makes some full-size rounds fail and some small probes pass: judged over every
    // pair among the nodes involved since the failures began, small probes must not be lost.
    const since = Math.min(...fails.map((p) => p.failSince ?? ctx.input.now));
    const among = new Set(fails.flatMap((p) => [p.src, p.dst]));
    const sl = smallLoss(ctx.known, among, since);
    if (sl.sent > 0 && (sl.sent - sl.ok) / sl.sent > 0.05) return;
    const involved = new Map<string, number>();
    for (const p of fails) for (const n of [p.src, p.dst]) involved.set(n, (involved.get(n) ?? 0) + 1);
    const common = [...involved].filter(([, c]) => c === fails.length).map(([n]) => n);
    let nodes: string[];
    if (common.length === 1) nodes = common;
    else if (common.length === 2 && fails.length <= 2) nodes = common;
    else nodes = [...involved.keys()].sort();
    const tallies = fails.map((p) => tally(lastRounds(p.buckets, MTU_ROUNDS)));
    const required = Math.max(...tallies.map((t, i) => t.required ?? fails[i]?.last.pmtu?.required ?? 0));
    const passing = tallies.map((t) => t.largestPassing).filter((x): x is number => x !== null);
    const largest = passing.length ? Math.min(...passing) : null;
    const frag = tallies.map((t) => t.fragMtu).filter((x): x is number => x !== null);
    const fragMtu = frag.length ? Math.min(...frag) : null;
    const hop = tallies.map((t) => t.fragFrom).find((x) => x !== null) ?? null;
    const learned = tallies.map((t) => t.learnedPmtu).filter((x): x is number => x !== null && x < required);
    const learnedMtu = learned.length ? Math.min(...learned) : null;
    const limit = largest ?? fragMtu ?? learnedMtu;
    const how =
      fragMtu !== null
        ? ` (ICMP frag-needed says mtu ${fragMtu}${hop ? `, sent by ${hop}` : ''}${learnedMtu !== null ? `; the kernel learned PMTU ${learnedMtu}` : ''})`
        : learnedMtu !== null
          ? ` (frag-needed: the kernel learned PMTU ${learnedMtu} from an ICMP frag-needed the capture did not see)`
          : ' (silent drop, no ICMP frag-needed, no learned PMTU: a black hole)';
    const where = nodes.length === 1 ? `the path to ${nodes[0]}` : `paths between ${nodes.join(', ')}`;
    const sent = tallies.reduce((s, t) => s + t.sent, 0);
    const id = rootCauseId('underlay-mtu', nodes);
    // A local check may already have said so (underlay NIC MTU): the measurement leads.
    const local = ctx.candidates.get(id);
    const localLines = local
      ? [`(also explains) ${local.summary}`, ...local.evidence.map((e) => `  ${e}`)]
      : [];
    if (local) ctx.candidates.delete(id);
    const c = ctx.add(id, {
      kind: 'underlay-mtu',
      severity: 'critical',
      nodes: new Set(nodes),
      summary: `Underlay MTU too small on ${where}: largest packet that passes is ${limit ?? 'none'} bytes, the overlay needs ${required}${how}`,
      evidence: [
        `largest passing outer size ${limit ?? 'none'}, required ${required} (overlay MTU + 50)`,
        `full-size probes failed ${sent}/${sent} over the last ${MTU_ROUNDS} rounds of ${fails.length} pairs; their small VXLAN probes passed`,
        ...(fragMtu !== null
          ? [`ICMP frag-needed captured: mtu ${fragMtu}${hop ? ` from ${hop}` : ''}`]
          : []),
        ...(learnedMtu !== null ? [`kernel route cache: learned PMTU ${learnedMtu}`] : []),
        ...localLines,
      ],
      remediation: `Raise the MTU to at least ${required} on every underlay hop of ${where} (NICs, switch ports${hop ? `, the router ${hop}` : ''}), or lower the overlay MTU to ${
        limit !== null ? limit - 50 : 'the largest passing size - 50'
      } (Docker: \`docker network create -o com.docker.network.driver.mtu=${limit !== null ? limit - 50 : 'N'} ...\`; flannel: MTU in net-conf / --iface-mtu).`,
      observers: new Set(local?.observers ?? []),
      repeated: true,
      onset: Math.min(ctx.input.now, local?.onset ?? ctx.input.now),
      ...(local?.byEvaluations ? { byEvaluations: true } : {}),
      confidence: fails.length >= 2 ? 'high' : 'medium',
    });
    ctx.attach(c, fails);
    // Large overlay packets die on the same hop.
    ctx.attach(c, ctx.touching(ctx.unexplained(), c.nodes, new Set(['overlay'])));
  },
};
