/**
 * The cross-partition view (docs/scale-out.md), pure. Each instance of a partitioned collector
 * holds the per-pair evidence of the pairs whose SOURCE node it owns; what segment rules need
 * from the others is compact: per (source group, destination group, path, port) counts of the
 * pairs' current status. Every instance publishes its digest (those counts plus its own root
 * causes); any instance merges the digests into one cluster diagnosis.
 */
import type { DiagnosisResponse, ProbePath, RootCause, Severity } from '../../shared/schema.js';
import { isControlUdp, rootCauseId, SEV_RANK } from '../diagnosis/engine.js';
import { KINDS } from '../diagnosis/kinds.js';
import { ONE_ROUND_PROBES } from '../diagnosis/rules/vxlan-ports.js';
import type { DiagnosisInput } from '../state/index.js';
import type { Partition } from './assign.js';

export const DIGEST_SCHEMA = 1;
/** Root causes carried in one digest; beyond, the rest is counted (`rootCausesOmitted`). */
export const MAX_DIGEST_ROOT_CAUSES = 500;
const MAX_EVIDENCE = 16;

/** Pairs from one group to another on one path/port, by their current status. */
export interface GroupAgg {
  from: string;
  to: string;
  path: ProbePath;
  port: number | null;
  /** Pairs with a current pass/fail (stale ones are not counted). */
  pairs: number;
  pass: number;
  fail: number;
  /** Over the failing pairs: fewest and most rounds failed in a row, earliest failure start. */
  minFailStreak: number;
  maxFailStreak: number;
  failSince: number | null;
}

/** What one instance publishes each evaluation (KV `vxdoctor_partitions`, key `p<I>of<N>`). */
export interface PartitionDigest {
  schemaVersion: typeof DIGEST_SCHEMA;
  partition: Partition;
  /** Who published it (host/durable) and its API address, for people reading the bucket. */
  instance: string;
  url: string;
  /** Epoch ms of the evaluation it comes from. */
  at: number;
  /** Nodes this instance owns that it holds state for (visible). */
  nodes: number;
  groups: GroupAgg[];
  rootCauses: RootCause[];
  rootCausesOmitted: number;
}

/** Cluster coverage reported with a merged diagnosis (`GET /api/v1/diagnosis` `partitions`). */
export type PartitionCoverage = NonNullable<DiagnosisResponse['partitions']>;

const aggKey = (a: { from: string; to: string; path: string; port: number | null }) =>
  `${a.from}|${a.to}|${a.path}|${a.port ?? ''}`;

/** Group-pair counts of the pairs in `input` (nodes without the group label are left out). */
export function groupAggregates(input: DiagnosisInput): GroupAgg[] {
  const group = new Map(input.nodes.map((n) => [n.name, n.labels[input.groupLabel] ?? '']));
  const acc = new Map<string, GroupAgg>();
  for (const p of input.pairs) {
    if (p.status === 'unknown') continue;
    const from = group.get(p.src) ?? '';
    const to = group.get(p.dst) ?? '';
    if (from === '' || to === '') continue;
    const k = aggKey({ from, to, path: p.path, port: p.port });
    let a = acc.get(k);
    if (!a) {
      a = {
        from,
        to,
        path: p.path,
        port: p.port,
        pairs: 0,
        pass: 0,
        fail: 0,
        minFailStreak: 0,
        maxFailStreak: 0,
        failSince: null,
      };
      acc.set(k, a);
    }
    a.pairs++;
    if (p.status === 'pass') a.pass++;
    else {
      a.minFailStreak = a.fail === 0 ? p.failStreak : Math.min(a.minFailStreak, p.failStreak);
      a.maxFailStreak = Math.max(a.maxFailStreak, p.failStreak);
      a.fail++;
      if (p.failSince !== null)
        a.failSince = a.failSince === null ? p.failSince : Math.min(a.failSince, p.failSince);
    }
  }
  return [...acc.values()].sort((x, y) => aggKey(x).localeCompare(aggKey(y)));
}

/** Sums the aggregates of several partitions (disjoint sources: counts add up). */
export function mergeAggregates(lists: GroupAgg[][]): GroupAgg[] {
  const acc = new Map<string, GroupAgg>();
  for (const list of lists)
    for (const a of list) {
      const k = aggKey(a);
      const m = acc.get(k);
      if (!m) {
        acc.set(k, { ...a });
        continue;
      }
      if (a.fail > 0) {
        m.minFailStreak = m.fail === 0 ? a.minFailStreak : Math.min(m.minFailStreak, a.minFailStreak);
        m.maxFailStreak = Math.max(m.maxFailStreak, a.maxFailStreak);
        if (a.failSince !== null)
          m.failSince = m.failSince === null ? a.failSince : Math.min(m.failSince, a.failSince);
      }
      m.pairs += a.pairs;
      m.pass += a.pass;
      m.fail += a.fail;
    }
  return [...acc.values()].sort((x, y) => aggKey(x).localeCompare(aggKey(y)));
}

/**
 * underlay-vxlan-filtered on a segment over merged aggregates: the verdict of the per-pair rule
 * (rules/vxlan-filtered-segment.ts) on counts. Every probe on a VXLAN port between groups A and B
 * fails (two rounds in a row, or a round's worth of probes), no pair inside A or B fails on it,
 * and the segment is reachable (control UDP across passes, or another VXLAN port does).
 */
export function segmentVerdicts(
  aggs: GroupAgg[],
  groupLabel: string,
  nodesOf: (group: string) => string[],
): RootCause[] {
  const groups = [...new Set(aggs.flatMap((a) => [a.from, a.to]))].sort();
  const out: RootCause[] = [];
  const between = (a: string, b: string) =>
    aggs.filter((x) => (x.from === a && x.to === b) || (x.from === b && x.to === a));
  for (let i = 0; i < groups.length; i++)
    for (let j = i + 1; j < groups.length; j++) {
      const a = groups[i] as string;
      const b = groups[j] as string;
      const across = between(a, b);
      const byPort = new Map<number, GroupAgg[]>();
      for (const x of across) {
        if (x.path !== 'vxlan' || x.port === null) continue;
        const l = byPort.get(x.port);
        if (l) l.push(x);
        else byPort.set(x.port, [x]);
      }
      const dropped: number[] = [];
      const passing: number[] = [];
      for (const [port, xs] of byPort) {
        const pairs = xs.reduce((s, x) => s + x.pairs, 0);
        const fail = xs.reduce((s, x) => s + x.fail, 0);
        if (pairs > 0 && fail === pairs) dropped.push(port);
        else if (fail === 0 && pairs > 0) passing.push(port);
      }
      if (!dropped.length) continue;
      const droppedAggs = dropped.flatMap((p) => byPort.get(p) ?? []);
      const droppedPairs = droppedAggs.reduce((s, x) => s + x.pairs, 0);
      const minStreak = Math.min(...droppedAggs.map((x) => x.minFailStreak));
      if (!(minStreak >= 2 || droppedPairs >= ONE_ROUND_PROBES)) continue;
      const insideFail = aggs.some(
        (x) =>
          x.path === 'vxlan' &&
          x.from === x.to &&
          (x.from === a || x.from === b) &&
          dropped.includes(x.port ?? -1) &&
          x.fail > 0,
      );
      if (insideFail) continue;
      const ctl = across.filter((x) =>
        isControlUdp({ path: x.path, port: x.port } as Parameters<typeof isControlUdp>[0]),
      );
      const ctlPairs = ctl.reduce((s, x) => s + x.pairs, 0);
      const ctlOk = ctlPairs > 0 && ctl.every((x) => x.fail === 0);
      if (!ctlOk && !passing.length) continue;
      dropped.sort((x, y) => x - y);
      passing.sort((x, y) => x - y);
      const segment = { label: groupLabel, from: a, to: b };
      const since = Math.min(...droppedAggs.map((x) => x.failSince ?? Number.POSITIVE_INFINITY));
      const maxStreak = Math.max(...droppedAggs.map((x) => x.maxFailStreak));
      const names = dropped.map((p) => `UDP ${p}`).join(' and ');
      const also = passing.length ? ` (${passing.map((p) => `UDP ${p}`).join(', ')} passes)` : '';
      out.push({
        id: rootCauseId('underlay-vxlan-filtered', [], segment),
        kind: 'underlay-vxlan-filtered',
        severity: 'critical',
        nodes: [...new Set([...nodesOf(a), ...nodesOf(b)])].sort(),
        segment,
        summary: `The underlay between ${groupLabel} ${a} and ${groupLabel} ${b} drops VXLAN ${names}${also}: probes leave one ${groupLabel} and never reach the other, while ${ctlOk ? 'control probes pass' : 'the other VXLAN port passes'} and pairs inside each ${groupLabel} work`,
        evidence: [
          ...dropped.map((port) => {
            const xs = byPort.get(port) ?? [];
            const n = xs.reduce((s, x) => s + x.pairs, 0);
            const lo = Math.min(...xs.map((x) => x.minFailStreak));
            const hi = Math.max(...xs.map((x) => x.maxFailStreak));
            return `every probed ${groupLabel} ${a} <-> ${groupLabel} ${b} pair fails on UDP ${port} (${n} pairs, each for ${lo === hi ? lo : `${lo}-${hi}`} rounds in a row), pairs inside each ${groupLabel} pass`;
          }),
          ...(ctlOk ? [`reachability probes across the segment pass (${ctlPairs} control pairs)`] : []),
          ...passing.map(
            (port) =>
              `UDP ${port} across the segment passes (${(byPort.get(port) ?? []).reduce((s, x) => s + x.pairs, 0)} pairs)`,
          ),
          'counted across every collector partition (cross-partition view)',
        ],
        remediation: `Allow ${dropped.map((p) => `UDP ${p}`).join(' and ')} between ${groupLabel} ${a} and ${b} on every hop (switch port modes and ACLs, routers and firewalls in between). Verify with \`vxdoctor trace SRC DST\`.`,
        since: new Date(Number.isFinite(since) ? since : Date.now()).toISOString(),
        confidence: minStreak >= 2 && maxStreak >= 2 ? 'high' : 'medium',
      });
    }
  return out;
}

/** Segment root causes are judged from the merged counts, never from one partition's half. */
const isSegmentVerdict = (rc: RootCause) => rc.kind === 'underlay-vxlan-filtered' && rc.segment !== undefined;

/** Root causes of several partitions as one list: one per id, most severe, earliest since. */
export function unionRootCauses(lists: RootCause[][]): RootCause[] {
  const byId = new Map<string, RootCause>();
  for (const list of lists)
    for (const rc of list) {
      const prev = byId.get(rc.id);
      if (!prev) {
        byId.set(rc.id, { ...rc, nodes: [...rc.nodes], evidence: [...rc.evidence] });
        continue;
      }
      if (SEV_RANK[rc.severity as Severity] < SEV_RANK[prev.severity]) prev.severity = rc.severity;
      if (Date.parse(rc.since) < Date.parse(prev.since)) prev.since = rc.since;
      prev.nodes = [...new Set([...prev.nodes, ...rc.nodes])].sort();
      const ev = [...new Set([...prev.evidence, ...rc.evidence])];
      prev.evidence =
        ev.length <= MAX_EVIDENCE
          ? ev
          : [...ev.slice(0, MAX_EVIDENCE - 1), `... and ${ev.length - MAX_EVIDENCE + 1} more`];
      if (rc.confidence === 'high') prev.confidence = 'high';
    }
  return [...byId.values()].sort(
    (a, b) => SEV_RANK[a.severity] - SEV_RANK[b.severity] || a.id.localeCompare(b.id),
  );
}

export interface MergeInput {
  self: Partition;
  /** This instance's digest (always fresh). */
  own: PartitionDigest;
  /** Digests read from the other instances (any age; stale ones count as missing). */
  peers: PartitionDigest[];
  now: number;
  /** A digest older than this is a missing partition. */
  staleMs: number;
  groupLabel: string;
  /** Visible nodes of a group, and every visible node's name (from presence: all instances see it). */
  nodesOf: (group: string) => string[];
  allNodes: string[];
  partitionOf: (node: string) => number;
}

/**
 * One cluster diagnosis from the partitions' digests: the union of their root causes (segment
 * verdicts replaced by the ones judged on the merged counts) and which partitions are missing,
 * with the nodes nobody judges while they are (never silently half a view).
 */
export function mergeView(m: MergeInput): { rootCauses: RootCause[]; partitions: PartitionCoverage } {
  const fresh = new Map<number, PartitionDigest>([[m.self.index, m.own]]);
  for (const d of m.peers) {
    if (d.partition.count !== m.self.count || d.partition.index === m.self.index) continue;
    if (m.now - d.at > m.staleMs) continue;
    const prev = fresh.get(d.partition.index);
    if (!prev || prev.at < d.at) fresh.set(d.partition.index, d);
  }
  const present = [...fresh.keys()].sort((a, b) => a - b);
  const missing: number[] = [];
  for (let i = 0; i < m.self.count; i++) if (!fresh.has(i)) missing.push(i);
  const digests = [...fresh.values()];
  const segments = segmentVerdicts(mergeAggregates(digests.map((d) => d.groups)), m.groupLabel, m.nodesOf);
  const local = digests.map((d) => d.rootCauses.filter((rc) => !isSegmentVerdict(rc)));
  const unjudged = missing.length ? m.allNodes.filter((n) => missing.includes(m.partitionOf(n))) : [];
  return {
    rootCauses: unionRootCauses([...local, segments]),
    partitions: {
      count: m.self.count,
      index: m.self.index,
      present,
      missing,
      unjudgedNodes: unjudged.length,
      unjudgedSample: unjudged.slice(0, 20),
      rootCausesOmitted: digests.reduce((s, d) => s + d.rootCausesOmitted, 0),
    },
  };
}

/** This instance's digest from its evaluation. */
export function buildDigest(o: {
  self: Partition;
  instance: string;
  url: string;
  input: DiagnosisInput;
  rootCauses: RootCause[];
  partitionOf: (node: string) => number;
}): PartitionDigest {
  const own = o.input.nodes.filter((n) => o.partitionOf(n.name) === o.self.index).length;
  return {
    schemaVersion: DIGEST_SCHEMA,
    partition: o.self,
    instance: o.instance,
    url: o.url,
    at: o.input.now,
    nodes: own,
    groups: groupAggregates(o.input),
    rootCauses: o.rootCauses.slice(0, MAX_DIGEST_ROOT_CAUSES),
    rootCausesOmitted: Math.max(0, o.rootCauses.length - MAX_DIGEST_ROOT_CAUSES),
  };
}

/** Checks a digest read from the bucket (bad input: null, the reader counts it as missing). */
export function parseDigest(bytes: Uint8Array): PartitionDigest | null {
  let v: unknown;
  try {
    v = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return null;
  }
  const d = v as Partial<PartitionDigest>;
  if (
    !d ||
    typeof d !== 'object' ||
    d.schemaVersion !== DIGEST_SCHEMA ||
    typeof d.at !== 'number' ||
    !d.partition ||
    !Number.isInteger(d.partition.index) ||
    !Number.isInteger(d.partition.count) ||
    !Array.isArray(d.groups) ||
    !Array.isArray(d.rootCauses) ||
    !d.groups.every(
      (g) =>
        g &&
        typeof g.from === 'string' &&
        typeof g.to === 'string' &&
        typeof g.path === 'string' &&
        Number.isInteger(g.pairs) &&
        Number.isInteger(g.fail) &&
        Number.isInteger(g.pass),
    ) ||
    !d.rootCauses.every(
      (rc) => rc && typeof rc.id === 'string' && rc.kind in KINDS && Array.isArray(rc.nodes),
    )
  )
    return null;
  return d as PartitionDigest;
}
