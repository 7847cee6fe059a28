/**
 * The diagnosis engine: the machinery every rule shares. Rules (./rules, in the explicit order of
 * ./rules/index.ts) propose candidates over the evidence model and attach the failing pairs a
 * verdict explains, so that one fault yields one root cause and the pair failures it causes are
 * its evidence instead of being raised again. The engine then raises candidates with hysteresis:
 * a candidate is raised when it was seen in two consecutive evaluations (findings, presence), or
 * its evidence spans two probe rounds, or two independent observers report it; `since` is kept
 * across evaluations (and restarts, through `seed`).
 */
import { describeFate } from '../../shared/fate.js';
import type { HopsEvidence, RootCause, RootCauseKind, Severity } from '../../shared/schema.js';
import { lastRounds } from '../state/evidence.js';
import type { DiagnosisInput, NodeStatus, PairStatus } from '../state/index.js';
import { KINDS } from './kinds.js';

/** Swarm control ports probed with TCP on the control path. */
export const SWARM_PORTS = new Set([2377, 7946]);
const MAX_EVIDENCE = 16;

export interface DiagnosisMemory {
  /** Candidate id -> consecutive evaluations seen, and the `since` it was raised with. */
  seen: Map<string, { consecutive: number; since: string | null }>;
}

export function emptyMemory(): DiagnosisMemory {
  return { seen: new Map() };
}

export interface Candidate {
  kind: RootCauseKind;
  severity: Severity;
  nodes: Set<string>;
  segment?: { from: string; to: string; label: string };
  summary: string;
  evidence: string[];
  remediation: string;
  observers: Set<string>;
  /** Evidence spans two rounds / two findings messages. */
  repeated: boolean;
  onset: number;
  /**
   * Presence expiry and findings may also be confirmed by two consecutive evaluations; probe
   * patterns only by two probe rounds or two observers (evaluations run faster than rounds,
   * so two evaluations may see one transient round twice).
   */
  byEvaluations?: boolean;
  confidence?: RootCause['confidence'];
  loss?: RootCause['loss'];
  /** The best hop walk among the attached pairs, and their flows (segment/underlay kinds). */
  hops?: NonNullable<RootCause['hops']>;
  flows?: { failing: number; total: number };
}

/** Kinds whose verdict a hop walk can localize further (the fault is on the path, not a node). */
const HOP_KINDS = new Set<RootCauseKind>(['underlay-vxlan-filtered', 'underlay-mtu', 'underlay-loss']);
const HOP_RANK: Record<HopsEvidence['verdict'], number> = {
  'vxlan-dies-after': 0,
  'frag-needed': 0,
  'could-not-walk': 1,
  same: 2,
};
/** Flows judged per pair: the last FLOW_ROUNDS rounds, each sent from its own source port. */
export const FLOW_ROUNDS = 16;

/** Attaches the pair's walk when it says more than the one the candidate has (or is newer). */
function attachHops(c: Candidate, p: PairStatus): void {
  if (!HOP_KINDS.has(c.kind)) return;
  const h = p.hops;
  if (h) {
    const cur = c.hops;
    if (
      !cur ||
      HOP_RANK[h.verdict] < HOP_RANK[cur.verdict] ||
      (HOP_RANK[h.verdict] === HOP_RANK[cur.verdict] && h.at > cur.at)
    )
      c.hops = { ...h, src: p.src, dst: p.dst };
  }
  // Every round leaves from a new source port: a round is a flow. Fully failed and fully passed
  // rounds of the VXLAN-port pairs tell loss that follows flows (an ECMP member) from loss on all.
  if (p.path === 'vxlan' || p.path === 'pmtu') {
    c.flows ??= { failing: 0, total: 0 };
    const f = c.flows;
    for (const b of lastRounds(p.buckets, FLOW_ROUNDS)) {
      f.total++;
      if (b.ok === 0) f.failing++;
    }
  }
}

/** What a rule sees and may do. */
export interface RuleContext {
  readonly input: DiagnosisInput;
  readonly groupLabel: string;
  /** Topology groups present (sorted), a node's group ('' without the label). */
  readonly groups: string[];
  group(node: string): string;
  node(name: string): NodeStatus | undefined;
  /** Pairs with a current pass/fail (not stale, sent). */
  readonly known: PairStatus[];
  /**
   * Pairs of groups (a < b, sorted) with at least one known pair between them, and the index
   * behind it: segment rules look at the pairs of one segment, never rescan every pair for every
   * pair of groups (groups² × pairs at 500 nodes was a third of the collector's CPU).
   */
  readonly segments: ReadonlyArray<readonly [string, string]>;
  /** Known pairs between groups a and b, either direction. */
  across(a: string, b: string): PairStatus[];
  /** Known pairs inside group g (both ends in it). */
  inside(g: string): PairStatus[];
  /** Known pairs into a node. */
  toNode(node: string): PairStatus[];
  /**
   * Failing known pairs into a node, across a segment (either direction): a rule that needs a
   * failure there skips the place at once (at 1,000 nodes nearly every node and segment is
   * healthy, and listing their pairs was most of an evaluation).
   */
  failingTo(node: string): number;
  failingAcross(a: string, b: string): number;
  /** Failing pairs no candidate explains yet. */
  unexplained(): PairStatus[];
  isExplained(p: PairStatus): boolean;
  touching(ps: PairStatus[], nodes: Set<string>, paths?: ReadonlySet<string>): PairStatus[];
  /** Adds (or merges into) the candidate with this id. */
  add(id: string, c: Candidate): Candidate;
  /** Marks pairs as explained by `c` and lists them as its evidence. */
  attach(c: Candidate, pairs: PairStatus[]): void;
  readonly candidates: Map<string, Candidate>;
}

export interface Rule {
  id: string;
  /** Kinds this rule can produce. */
  kinds: readonly RootCauseKind[];
  run(ctx: RuleContext): void;
}

export const SEV_RANK: Record<Severity, number> = { critical: 0, warning: 1, info: 2 };

export function portLabel(p: { path: string; port: number | null }): string {
  if (p.port === null) return '';
  return `${p.path === 'control' && SWARM_PORTS.has(p.port) ? 'TCP' : 'UDP'} ${p.port}`;
}

/** One evidence line for a pair: its latest fate plus its windowed counts. */
export function pairLine(p: PairStatus): string {
  const port = p.port !== null ? ` ${portLabel(p)}` : '';
  const w = p.window;
  const counts = w.sent > 1 ? ` [${w.sent - w.ok}/${w.sent} failed in ${w.rounds} rounds]` : '';
  return `${p.src} -> ${p.dst} ${p.path}${port}: ${describeFate(p.last)}${p.failStreak > 1 ? ` (${p.failStreak} rounds)` : ''}${counts}`;
}

export function rootCauseId(
  kind: string,
  nodes: string[],
  segment?: { label: string; from: string; to: string },
): string {
  return segment
    ? `${kind}:${segment.label}:${segment.from}:${segment.to}`
    : `${kind}:${[...nodes].sort().join(',')}`;
}

export function isControlUdp(p: PairStatus): boolean {
  return p.path === 'control' && (p.port === null || !SWARM_PORTS.has(p.port));
}

function capEvidence(lines: string[]): string[] {
  const uniq = [...new Set(lines)];
  if (uniq.length <= MAX_EVIDENCE) return uniq;
  return [...uniq.slice(0, MAX_EVIDENCE - 1), `... and ${uniq.length - MAX_EVIDENCE + 1} more`];
}

export function makeContext(input: DiagnosisInput): RuleContext {
  const steps = contextSteps(input, Number.POSITIVE_INFINITY);
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
  }
}

/**
 * The context built in steps: the generator yields after every `step` pairs of each pass over
 * the listing (two passes; at 5,000 nodes 1.1 million pairs, ≈ 0.3–0.36 s in one piece),
 * so a caller can give the event loop back between them (`evaluateInSteps`).
 */
function* contextSteps(input: DiagnosisInput, step: number): Generator<void, RuleContext, void> {
  const nodeByName = new Map<string, NodeStatus>();
  // Each node's group read once per evaluation (not twice per pair).
  const groupOf = new Map<string, string>();
  for (const n of input.nodes) {
    nodeByName.set(n.name, n);
    groupOf.set(n.name, n.labels[input.groupLabel] ?? '');
  }
  const group = (n: string): string => groupOf.get(n) ?? '';
  const known: PairStatus[] = [];
  const failing: PairStatus[] = [];
  const byDst = new Map<string, PairStatus[]>();
  const failTo = new Map<string, number>();
  // The listing is in (src, dst, path, port) order: a directed pair's paths are adjacent, so the
  // destination's list is looked up once per directed pair, not per path and port (at 5,000
  // nodes, 1.1 million pairs per evaluation).
  let lastDst: string | null = null;
  let dstList: PairStatus[] = [];
  let untilStep = step;
  for (const p of input.pairs) {
    if (--untilStep <= 0) {
      untilStep = step;
      yield;
    }
    if (p.status === 'unknown') continue;
    known.push(p);
    if (p.dst !== lastDst) {
      lastDst = p.dst;
      const l = byDst.get(p.dst);
      if (l) dstList = l;
      else {
        dstList = [];
        byDst.set(p.dst, dstList);
      }
    }
    dstList.push(p);
    if (p.status === 'fail') {
      failing.push(p);
      failTo.set(p.dst, (failTo.get(p.dst) ?? 0) + 1);
    }
  }
  // Pairs by identity (each pair is one object in an evaluation's listing): no key string per
  // pair and question (underlay-loss asks for every known pair).
  const explained = new Set<PairStatus>();
  const candidates = new Map<string, Candidate>();
  const groups = [...new Set(groupOf.values())].filter((g) => g !== '').sort();
  const present = new Set(groups);
  // One pass over the known pairs: by segment (unordered group pair: the lower group, then the
  // higher, as nested maps, so no key string per pair) and inside each group.
  const bySegment = new Map<string, Map<string, { pairs: PairStatus[]; failing: number }>>();
  const byInside = new Map<string, PairStatus[]>();
  const segments: Array<readonly [string, string]> = [];
  // Looked up once per run of the same source (its group) and destination (the place's list).
  let runSrc: string | null = null;
  let runDst: string | null = null;
  let gs = '';
  let into: PairStatus[] | null = null; // the group's own list, for a pair inside one group
  let seg: { pairs: PairStatus[]; failing: number } | null = null; // or the segment's
  untilStep = step;
  for (const p of known) {
    if (--untilStep <= 0) {
      untilStep = step;
      yield;
    }
    if (p.src !== runSrc || p.dst !== runDst) {
      if (p.src !== runSrc) {
        runSrc = p.src;
        gs = group(p.src);
      }
      runDst = p.dst;
      const gd = group(p.dst);
      into = null;
      seg = null;
      if (gs === gd) {
        if (present.has(gs)) {
          into = byInside.get(gs) ?? null;
          if (!into) {
            into = [];
            byInside.set(gs, into);
          }
        }
      } else if (present.has(gs) && present.has(gd)) {
        const a = gs < gd ? gs : gd;
        const b = gs < gd ? gd : gs;
        let inner = bySegment.get(a);
        if (!inner) {
          inner = new Map();
          bySegment.set(a, inner);
        }
        seg = inner.get(b) ?? null;
        if (!seg) {
          seg = { pairs: [], failing: 0 };
          inner.set(b, seg);
          segments.push([a, b] as const);
        }
      }
    }
    if (into) into.push(p);
    else if (seg) {
      seg.pairs.push(p);
      if (p.status === 'fail') seg.failing++;
    }
  }
  const segOf = (x: string, y: string) => (x <= y ? bySegment.get(x)?.get(y) : bySegment.get(y)?.get(x));
  const order = new Map(groups.map((g, i) => [g, i]));
  segments.sort(
    (x, y) =>
      (order.get(x[0]) as number) - (order.get(y[0]) as number) ||
      (order.get(x[1]) as number) - (order.get(y[1]) as number),
  );
  return {
    input,
    groupLabel: input.groupLabel,
    groups,
    group,
    node: (n) => nodeByName.get(n),
    known,
    segments,
    across: (a, b) => segOf(a, b)?.pairs ?? [],
    inside: (g) => byInside.get(g) ?? [],
    toNode: (n) => byDst.get(n) ?? [],
    failingTo: (n) => failTo.get(n) ?? 0,
    failingAcross: (a, b) => segOf(a, b)?.failing ?? 0,
    unexplained: () => failing.filter((p) => !explained.has(p)),
    isExplained: (p) => explained.has(p),
    touching: (ps, nodes, paths) =>
      ps.filter((p) => (nodes.has(p.src) || nodes.has(p.dst)) && (!paths || paths.has(p.path))),
    candidates,
    add(id, c) {
      const prev = candidates.get(id);
      if (!prev) {
        candidates.set(id, c);
        return c;
      }
      for (const n of c.nodes) prev.nodes.add(n);
      for (const o of c.observers) prev.observers.add(o);
      prev.evidence.push(...c.evidence);
      prev.repeated ||= c.repeated;
      prev.onset = Math.min(prev.onset, c.onset);
      if (SEV_RANK[c.severity] < SEV_RANK[prev.severity]) prev.severity = c.severity;
      return prev;
    },
    attach(c, pairs) {
      for (const p of pairs) {
        if (explained.has(p)) continue;
        explained.add(p);
        c.evidence.push(pairLine(p));
        attachHops(c, p);
        c.observers.add(p.src);
        if (p.failStreak >= 2) c.repeated = true;
        if (p.failSince !== null) c.onset = Math.min(c.onset, p.failSince);
      }
    },
  };
}

/** One fault, one root cause: a kind's `absorbs` on a subset of its nodes become its evidence. */
function absorb(cands: Map<string, Candidate>): void {
  for (const c of [...cands.values()]) {
    const absorbs = KINDS[c.kind].absorbs;
    if (!absorbs || ![...cands.values()].includes(c)) continue;
    for (const [id, other] of cands) {
      if (other === c || !absorbs.includes(other.kind)) continue;
      // A cluster-wide kind (merged) absorbs wherever; others only on their own nodes.
      if (!KINDS[c.kind].merged && ![...other.nodes].every((n) => c.nodes.has(n))) continue;
      // Right after the candidate's own first line, so the evidence cap never hides it.
      c.evidence.splice(1, 0, `(also explains) ${other.summary}`, ...other.evidence.map((e) => `  ${e}`));
      for (const n of other.nodes) c.nodes.add(n);
      c.onset = Math.min(c.onset, other.onset);
      c.repeated ||= other.repeated;
      cands.delete(id);
    }
  }
}

/** Runs the rules in order, then raises candidates with hysteresis. */
export function evaluate(
  rules: readonly Rule[],
  input: DiagnosisInput,
  memory: DiagnosisMemory,
): { rootCauses: RootCause[]; memory: DiagnosisMemory } {
  const ctx = makeContext(input);
  for (const r of rules) r.run(ctx);
  return conclude(ctx, memory);
}

/**
 * As `evaluate`, giving the event loop back (`pause`) every `step` pairs while the context is
 * built and after each rule: reads, scrapes and ingest wait for a step, not for the whole
 * diagnosis (≈ 0.45 s in one piece at 5,000 nodes). Pairs are the listing's: what ingest
 * changes meanwhile is read as it is then, as between the listing and the rules.
 */
export async function evaluateInSteps(
  rules: readonly Rule[],
  input: DiagnosisInput,
  memory: DiagnosisMemory,
  pause: () => Promise<void>,
  step = 100_000,
): Promise<{ rootCauses: RootCause[]; memory: DiagnosisMemory }> {
  const steps = contextSteps(input, step);
  let ctx: RuleContext;
  for (;;) {
    const r = steps.next();
    if (r.done) {
      ctx = r.value;
      break;
    }
    await pause();
  }
  for (const r of rules) {
    await pause();
    r.run(ctx);
  }
  return conclude(ctx, memory);
}

/** Absorbs candidates into each other, then raises them with hysteresis against `memory`. */
function conclude(
  ctx: RuleContext,
  memory: DiagnosisMemory,
): { rootCauses: RootCause[]; memory: DiagnosisMemory } {
  absorb(ctx.candidates);
  const nextSeen = new Map<string, { consecutive: number; since: string | null }>();
  const out: RootCause[] = [];
  for (const [id0, c] of ctx.candidates) {
    const nodes = [...c.nodes].sort();
    const id = id0.endsWith(':*') ? rootCauseId(c.kind, nodes) : id0;
    const prev = memory.seen.get(id);
    const consecutive = (prev?.consecutive ?? 0) + 1;
    const raised = (c.byEvaluations === true && consecutive >= 2) || c.repeated || c.observers.size >= 2;
    const since = prev?.since ?? (raised ? new Date(c.onset).toISOString() : null);
    nextSeen.set(id, { consecutive, since });
    if (!raised || since === null) continue;
    const hopLines: string[] = [];
    if (c.flows && c.flows.failing > 0 && c.flows.failing < c.flows.total)
      hopLines.push(
        `${c.flows.failing} of ${c.flows.total} flows fail: one of the parallel paths drops VXLAN (each round leaves from its own source port)`,
      );
    if (c.hops) hopLines.push(`hop walk ${c.hops.src} -> ${c.hops.dst}: ${c.hops.text}`);
    if (hopLines.length) c.evidence.unshift(...hopLines);
    out.push({
      id,
      kind: c.kind,
      severity: c.severity,
      nodes,
      ...(c.segment ? { segment: c.segment } : {}),
      summary: c.summary,
      evidence: capEvidence(c.evidence),
      remediation: c.remediation,
      since,
      confidence: c.confidence ?? (c.observers.size >= 2 && c.repeated ? 'high' : 'medium'),
      ...(c.loss ? { loss: c.loss } : {}),
      ...(c.hops ? { hops: c.hops } : {}),
      ...(c.flows && c.flows.total > 0 ? { flows: c.flows } : {}),
    });
  }
  out.sort((a, b) => SEV_RANK[a.severity] - SEV_RANK[b.severity] || a.id.localeCompare(b.id));
  return { rootCauses: out, memory: { seen: nextSeen } };
}
