/**
 * underlay-loss: partial loss of VXLAN-port probes that does not depend on packet size and stays
 * across rounds (a flaky optic, a congested uplink, one bad ECMP member), on a segment between
 * two topology groups or on the paths of one node. 100 % loss is filtering (an earlier rule); a
 * size-dependent failure is underlay-mtu (a later rule, which sees only what this one leaves).
 *
 * The loss figure is over the current loss episode inside the window: from the first lost probe
 * after which the probes never stayed clean for more than a few rounds. Each probe crosses the
 * place twice (probe and reply), so the per-crossing loss is estimated as 1 - sqrt(1 - round-trip
 * loss), assuming both directions lose alike.
 */
import type { RootCause } from '../../../shared/schema.js';
import { type Bucket, independent, type Tally, tally } from '../../state/evidence.js';
import type { PairStatus } from '../../state/index.js';
import { type Candidate, type Rule, type RuleContext, rootCauseId } from '../engine.js';
import { KINDS } from '../kinds.js';

/** Round-trip loss at or above this, over at least MIN_PROBES probes in MIN_ROUNDS rounds. */
export const MIN_RT_LOSS = 0.1;
export const MIN_PROBES = 12;
export const MIN_ROUNDS = 2;
/** A clean stretch longer than this many rounds ends an episode. */
const CLEAN_ROUNDS = 2;

const VX = new Set(['vxlan', 'pmtu']);
const EXPLAINS = new Set(['vxlan', 'pmtu', 'overlay']);

interface Episode {
  all: Tally;
  small: { sent: number; ok: number };
  large: { sent: number; ok: number };
  onset: number;
  rounds: number;
  /** Rounds of the episode with both a loss and a pass somewhere in the set, of `slots`. */
  mixedRounds: number;
  slots: number;
  /** Pairs (per path and port) with samples in the episode, with some loss, with all lost. */
  keys: number;
  lossyKeys: number;
  fullKeys: number;
}

function roundMs(ps: PairStatus[]): number {
  const gaps: number[] = [];
  for (const p of ps)
    for (let i = 1; i < p.buckets.length; i++)
      gaps.push((p.buckets[i] as Bucket).at - (p.buckets[i - 1] as Bucket).at);
  gaps.sort((a, b) => a - b);
  return gaps.length ? Math.max(500, gaps[Math.floor(gaps.length / 2)] as number) : 5000;
}

/**
 * When the reference pairs (inside the groups, or not touching the node) last lost a probe: an
 * episode starts after it, so the tail of another fault (a node cut off, a port dropped) that
 * also hit the reference pairs is not read as this loss.
 */
export function lastLossAt(ps: PairStatus[]): number {
  let t = Number.NEGATIVE_INFINITY;
  for (const p of ps) for (const b of p.buckets) if (b.sent > b.ok && b.at > t) t = b.at;
  return t;
}

/** The pair lost a probe somewhere in the window (its window sums, as of the listing). */
const lostSome = (p: PairStatus): boolean => p.sent > p.answered;

/** The current loss episode of a set of pairs, or null when nothing was lost lately. */
export function episode(ps: PairStatus[], now: number, notBefore = -Infinity): Episode | null {
  const all = ps
    .flatMap((p) => p.buckets.map((b) => ({ b, large: p.path === 'pmtu' })))
    .filter((x) => x.b.sent > 0 && x.b.at > notBefore);
  if (!all.length) return null;
  all.sort((x, y) => y.b.at - x.b.at);
  const gap = CLEAN_ROUNDS * roundMs(ps);
  let lastLoss: number | null = null;
  let onset: number | null = null;
  for (const { b } of all) {
    const lost = b.sent - b.ok > 0;
    if (!lost) {
      if ((lastLoss ?? now) - b.at > gap) break;
      continue;
    }
    lastLoss = b.at;
    onset = b.at;
  }
  if (onset === null) return null;
  const inEp = all.filter((x) => x.b.at >= (onset as number));
  const t = tally(inEp.map((x) => x.b));
  const small = independent(tally(inEp.filter((x) => !x.large).map((x) => x.b)));
  const large = independent(tally(inEp.filter((x) => x.large).map((x) => x.b)));
  // Rounds: the most buckets any one pair has in the episode.
  let rounds = 0;
  let mixed = 0;
  for (const p of ps) {
    const bs = p.buckets.filter((b) => b.at >= (onset as number) && b.sent > 0);
    if (!bs.length) continue;
    rounds = Math.max(rounds, bs.length);
  }
  // Mixed rounds: time slots of one round length with both lost and passing probes.
  const slot = roundMs(ps);
  const slots = new Map<number, { lost: number; ok: number }>();
  for (const { b } of inEp) {
    const k = Math.floor(b.at / slot);
    const s = slots.get(k) ?? { lost: 0, ok: 0 };
    s.lost += b.sent - b.ok;
    s.ok += b.ok;
    slots.set(k, s);
  }
  for (const s of slots.values()) if (s.lost > 0 && s.ok > 0) mixed++;
  let keys = 0;
  let lossyKeys = 0;
  let fullKeys = 0;
  for (const p of ps) {
    const k = independent(tally(p.buckets.filter((b) => b.at >= (onset as number))));
    if (k.sent === 0) continue;
    keys++;
    if (k.ok < k.sent) lossyKeys++;
    if (k.ok === 0 && k.sent >= 2) fullKeys++;
  }
  return {
    all: t,
    small,
    large,
    onset,
    rounds,
    mixedRounds: mixed,
    slots: slots.size,
    keys,
    lossyKeys,
    fullKeys,
  };
}

const rt = (x: { sent: number; ok: number }) => (x.sent ? 1 - x.ok / x.sent : 0);
const pct = (x: number) => `${Math.round(x * 100)} %`;

/** Loss that is partial, size-independent and persistent. */
export function isGrayLoss(e: Episode | null): e is Episode {
  if (!e) return false;
  const probes = e.small.sent + e.large.sent;
  const ok = e.small.ok + e.large.ok;
  if (probes < MIN_PROBES || e.rounds < MIN_ROUNDS || e.mixedRounds < MIN_ROUNDS) return false;
  // Across rounds, not a step: most rounds of the episode lose some and pass some (a fault that
  // just cleared is all-lost rounds, then clean ones).
  if (e.mixedRounds * 2 < e.slots) return false;
  if (ok === 0) return false; // nothing passes: filtering or unreachable, not loss
  if (rt({ sent: probes, ok }) < MIN_RT_LOSS) return false;
  // Size-independent: small and full-size probes both lose (an MTU limit loses only the large).
  if (e.small.sent === 0 || rt(e.small) < MIN_RT_LOSS / 2) return false;
  if (e.large.sent > 0 && rt(e.large) < MIN_RT_LOSS / 2) return false;
  // Spread over the pairs and ports, not concentrated: a port or node dropped entirely (or a
  // fault that just cleared) loses all of some pairs and none of the others.
  if (e.lossyKeys * 2 < e.keys || e.fullKeys * 4 > e.keys) return false;
  return true;
}

function lossFigures(
  e: Episode,
  dirs: Array<{ from: string; to: string; ps: PairStatus[] }>,
): NonNullable<RootCause['loss']> {
  const probes = e.small.sent + e.large.sent;
  const ok = e.small.ok + e.large.ok;
  const rtLoss = rt({ sent: probes, ok });
  return {
    ratio: Math.round((1 - Math.sqrt(1 - rtLoss)) * 1000) / 1000,
    roundTripRatio: Math.round(rtLoss * 1000) / 1000,
    probes,
    rounds: e.rounds,
    directions: dirs.map((d) => {
      const de = episodeFrom(d.ps, e.onset);
      return { from: d.from, to: d.to, roundTripRatio: Math.round(rt(de) * 1000) / 1000, probes: de.sent };
    }),
  };
}

function episodeFrom(ps: PairStatus[], onset: number): { sent: number; ok: number } {
  return independent(tally(ps.flatMap((p) => p.buckets.filter((b) => b.at >= onset))));
}

function candidate(
  ctx: RuleContext,
  e: Episode,
  loss: NonNullable<RootCause['loss']>,
  where: string,
  nodes: Set<string>,
  segment?: { label: string; from: string; to: string },
): Candidate {
  const small = rt(e.small);
  const large = rt(e.large);
  const dirs = loss.directions
    .filter((d) => d.probes > 0)
    .map((d) => `${d.from} -> ${d.to}: ${pct(d.roundTripRatio)} of ${d.probes} round trips`)
    .join('; ');
  return {
    kind: 'underlay-loss',
    severity: 'critical',
    nodes,
    ...(segment ? { segment } : {}),
    summary: `${where} loses VXLAN packets: about ${pct(loss.ratio)} per crossing (${pct(loss.roundTripRatio)} of ${loss.probes} round trips in ${loss.rounds} rounds since ${new Date(e.onset).toISOString()}), alike for small and full-size packets (${pct(small)} of ${e.small.sent} small, ${pct(large)} of ${e.large.sent} full-size): random loss, not an MTU limit`,
    evidence: [
      `VXLAN-port probes ${where}: ${loss.probes - Math.round(loss.roundTripRatio * loss.probes)}/${loss.probes} answered over ${loss.rounds} rounds (${e.mixedRounds} rounds with both losses and passes)`,
      `small probes: ${e.small.sent - e.small.ok}/${e.small.sent} lost; full-size (pmtu) probes: ${e.large.sent - e.large.ok}/${e.large.sent} lost`,
      `directions: ${dirs}`,
      'each probe crosses twice (probe and reply): per-crossing loss = 1 - sqrt(1 - round-trip loss), both directions assumed alike',
    ],
    remediation: KINDS['underlay-loss'].remediation,
    observers: new Set(),
    repeated: e.rounds >= MIN_ROUNDS,
    onset: e.onset,
    confidence: loss.probes >= 3 * MIN_PROBES ? 'high' : 'medium',
    loss,
  };
}

export const underlayLoss: Rule = {
  id: 'underlay-loss',
  kinds: ['underlay-loss'],
  run(ctx) {
    // Nothing lost on a VXLAN-port pair in the window: no episode anywhere (the common case).
    if (!ctx.known.some((p) => VX.has(p.path) && lostSome(p))) return;
    const open = ctx.known.filter((p) => VX.has(p.path) && !ctx.isExplained(p));
    const g = ctx.group;
    const done = new Set<string>();
    // 1. Segments between two topology groups, pairs inside each group clean.
    const openSet = new Set(open);
    // Per group, once: its open inside pairs and when they last lost a probe (a group is in
    // G-1 segments; recomputed per segment this was groups x inside pairs x rounds).
    const insideOpen = new Map<string, PairStatus[]>();
    const insideLossAt = new Map<string, number>();
    const insOf = (x: string): PairStatus[] => {
      let l = insideOpen.get(x);
      if (!l) {
        l = ctx.inside(x).filter((p) => openSet.has(p));
        insideOpen.set(x, l);
      }
      return l;
    };
    const lossAtOf = (x: string): number => {
      let t = insideLossAt.get(x);
      if (t === undefined) {
        t = lastLossAt(insOf(x).filter(lostSome));
        insideLossAt.set(x, t);
      }
      return t;
    };
    for (const [a, b] of ctx.segments) {
      const seg = ctx.across(a, b).filter((p) => openSet.has(p));
      // No probe lost across it in the window: no episode (what episode() would find).
      if (!seg.some(lostSome)) continue;
      const ab = seg.filter((p) => g(p.src) === a);
      const ba = seg.filter((p) => g(p.src) === b);
      const e = episode([...ab, ...ba], ctx.input.now, Math.max(lossAtOf(a), lossAtOf(b)));
      if (!isGrayLoss(e)) continue;
      const ins = [...insOf(a), ...insOf(b)];
      const ie = ins.length ? episodeFrom(ins, e.onset) : { sent: 0, ok: 0 };
      if (ie.sent > 0 && rt(ie) >= MIN_RT_LOSS / 2) continue;
      const segment = { label: ctx.groupLabel, from: a, to: b };
      const loss = lossFigures(e, [
        { from: `${ctx.groupLabel} ${a}`, to: `${ctx.groupLabel} ${b}`, ps: ab },
        { from: `${ctx.groupLabel} ${b}`, to: `${ctx.groupLabel} ${a}`, ps: ba },
      ]);
      const c = ctx.add(
        rootCauseId('underlay-loss', [], segment),
        candidate(
          ctx,
          e,
          loss,
          `the underlay between ${ctx.groupLabel} ${a} and ${ctx.groupLabel} ${b}`,
          new Set(),
          segment,
        ),
      );
      c.evidence.push(`pairs inside ${ctx.groupLabel} ${a} and ${b}: ${pct(rt(ie))} of ${ie.sent} lost`);
      for (const p of [...ab, ...ba]) {
        c.nodes.add(p.src);
        c.nodes.add(p.dst);
        c.observers.add(p.src);
        done.add(`${p.src}|${p.dst}`);
      }
      ctx.attach(
        c,
        ctx.across(a, b).filter((p) => p.status === 'fail' && EXPLAINS.has(p.path) && !ctx.isExplained(p)),
      );
    }
    // 2. One node: the pairs touching it lose, the others do not.
    // Indexed by node, and the pairs that lost a probe by when (latest first): per node the
    // cost is its own pairs, not every pair (nodes × pairs × rounds was quadratic).
    const rest = open.filter((p) => !done.has(`${p.src}|${p.dst}`));
    const lossy: Array<{ p: PairStatus; at: number }> = [];
    for (const p of rest) {
      const at = lostSome(p) ? lastLossAt([p]) : Number.NEGATIVE_INFINITY;
      if (at > Number.NEGATIVE_INFINITY) lossy.push({ p, at });
    }
    if (!lossy.length) return;
    lossy.sort((x, y) => y.at - x.at);
    const lossyNodes = new Set(lossy.flatMap((x) => [x.p.src, x.p.dst]));
    // Pairs by node, for the nodes that lost something only.
    const byNode = new Map<string, PairStatus[]>();
    for (const p of rest) {
      for (const end of [p.src, p.dst]) {
        if (!lossyNodes.has(end)) continue;
        const l = byNode.get(end);
        if (l) l.push(p);
        else byNode.set(end, [p]);
      }
    }
    for (const n of ctx.input.nodes) {
      // Without a lost probe on its pairs there is no episode (episode() returns null).
      if (!lossyNodes.has(n.name)) continue;
      const mine = byNode.get(n.name) ?? [];
      const touches = (p: PairStatus) => p.src === n.name || p.dst === n.name;
      const ref = lossy.find((x) => !touches(x.p))?.at ?? Number.NEGATIVE_INFINITY;
      const e = episode(mine, ctx.input.now, ref);
      if (!isGrayLoss(e)) continue;
      const others = rest.filter((p) => !touches(p));
      const oe = episodeFrom(others, e.onset);
      if (oe.sent > 0 && rt(oe) >= MIN_RT_LOSS / 2) continue;
      const loss = lossFigures(e, [
        { from: 'peers', to: n.name, ps: mine.filter((p) => p.dst === n.name) },
        { from: n.name, to: 'peers', ps: mine.filter((p) => p.src === n.name) },
      ]);
      const c = ctx.add(
        rootCauseId('underlay-loss', [n.name]),
        candidate(ctx, e, loss, `the underlay path of ${n.name}`, new Set([n.name])),
      );
      for (const p of mine) c.observers.add(p.src);
      ctx.attach(
        c,
        ctx.unexplained().filter((p) => EXPLAINS.has(p.path) && (p.src === n.name || p.dst === n.name)),
      );
    }
  },
};
