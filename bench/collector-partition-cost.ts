/**
 * The collector's own work, one instance vs each of two partitions, in one process on simulated
 * time (no NATS, no timers): CPU actually spent (process.cpuUsage, which a busy shared machine
 * does not inflate the way wall time is) and heap, on the real ingest (validateMessage), state
 * (ClusterState), diagnosis (Diagnoser) and partition digest/merge code. Prints one JSON document
 * (also test-output/collector-partition-cost.json). Run with `node --expose-gc --import tsx`.
 *
 * NODES simulated agents in RACKS racks (bench/sim/partition-sim.ts: targets from the agent's
 * probe-set code), ROUNDS rounds of 5 s; from round FAULT_ROUND on, VXLAN/PMTU between the first
 * two racks is dropped; each configuration evaluates once per round and records the round its
 * (merged) diagnosis first names that segment.
 * Env: NODES (300), RACKS (10), ROUNDS (24), FAULT_ROUND (12).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Diagnoser, rootCauseId } from '../collector/diagnosis/index.js';
import { validateMessage } from '../collector/ingest/index.js';
import { ownsSubject, type Partition, partitionOf } from '../collector/partition/assign.js';
import { buildDigest, mergeView, type PartitionDigest } from '../collector/partition/view.js';
import { ClusterState } from '../collector/state/index.js';
import { subjectFor } from '../shared/subjects.js';
import { type SimFault, simCluster, simPresence, simRound } from './sim/partition-sim.js';

const NODES = Number(process.env.NODES ?? 300);
const RACKS = Number(process.env.RACKS ?? 10);
const ROUNDS = Number(process.env.ROUNDS ?? 24);
const FAULT_ROUND = Number(process.env.FAULT_ROUND ?? 12);
const ROUND_MS = 5000;
const LABEL = 'rack';
const T0 = Date.now() - ROUNDS * ROUND_MS;
const gc = (globalThis as { gc?: () => void }).gc;

const racks = Array.from({ length: RACKS }, (_, i) => `row${i % 3}.r${i}`);
const nodes = simCluster(NODES, racks, 3);
const segmentId = rootCauseId('underlay-vxlan-filtered', [], {
  label: LABEL,
  from: [racks[0], racks[1]].sort()[0] as string,
  to: [racks[0], racks[1]].sort()[1] as string,
});
const fault: SimFault = (s, d, path) =>
  path !== 'control' &&
  ((s.group === racks[0] && d.group === racks[1]) || (s.group === racks[1] && d.group === racks[0]));

// The same messages for every configuration, serialized once (the publisher's cost is not ours).
const encoder = new TextEncoder();
const rounds = Array.from({ length: ROUNDS }, (_, r) =>
  simRound(nodes, r + 1, T0 + (r + 1) * ROUND_MS, r + 1 >= FAULT_ROUND ? fault : () => false).map((m) => ({
    subject: subjectFor(m.node, 'probes'),
    data: encoder.encode(JSON.stringify(m)),
  })),
);
const bytesPerRound = Math.round(
  rounds.reduce((s, r) => s + r.reduce((t, m) => t + m.data.byteLength, 0), 0) / ROUNDS,
);

const cpuMs = (f: () => void): number => {
  const a = process.cpuUsage();
  f();
  const b = process.cpuUsage(a);
  return (b.user + b.system) / 1000;
};

interface Run {
  ingestCpuMsPerRound: number;
  evaluateCpuMsPerRound: number;
  heapMiB: number | null;
  messagesApplied: number;
  messagesSkipped: number;
  pairs: number;
  segmentNamedRound: number | null;
  digestBytes: number | null;
}

/** One instance (`part` null: the single collector) over every round. */
function run(
  part: Partition | null,
  peers: () => PartitionDigest[],
  publish: (d: PartitionDigest, r: number) => void,
): Run {
  gc?.();
  const heap0 = process.memoryUsage().heapUsed;
  let now = T0;
  const state = new ClusterState({
    clock: () => now,
    windowMs: 120_000,
    presenceTtlMs: 30_000,
    groupLabel: LABEL,
    presenceGate: true,
  });
  const diagnoser = new Diagnoser();
  for (const n of nodes) state.applyPresence(simPresence(n, LABEL, T0));
  let ingest = 0;
  let evaluate = 0;
  let applied = 0;
  let skipped = 0;
  let named: number | null = null;
  let digestBytes: number | null = null;
  for (const [r, msgs] of rounds.entries()) {
    now = T0 + (r + 1) * ROUND_MS + 1000;
    for (const n of nodes) state.applyPresence(simPresence(n, LABEL, now));
    ingest += cpuMs(() => {
      for (const m of msgs) {
        if (part && !ownsSubject(m.subject, part)) {
          skipped++;
          continue;
        }
        const v = validateMessage(m.subject, m.data, { now });
        if (v.ok && state.apply(v.msg)) applied++;
      }
    });
    let rcs: { id: string }[] = [];
    evaluate += cpuMs(() => {
      state.tick();
      const input = state.diagnosisInput();
      const local = diagnoser.evaluate(input);
      if (!part) {
        rcs = local;
        return;
      }
      const own = buildDigest({
        self: part,
        instance: 'bench',
        url: '',
        input,
        rootCauses: local,
        partitionOf: (n) => partitionOf(n, part.count),
      });
      publish(own, r);
      digestBytes = JSON.stringify(own).length;
      const byGroup = new Map<string, string[]>();
      for (const n of input.nodes) {
        const g = n.labels[LABEL] ?? '';
        byGroup.set(g, [...(byGroup.get(g) ?? []), n.name]);
      }
      rcs = mergeView({
        self: part,
        own,
        peers: peers(),
        now,
        staleMs: 10_000,
        groupLabel: LABEL,
        nodesOf: (g) => byGroup.get(g) ?? [],
        allNodes: input.nodes.map((n) => n.name),
        partitionOf: (n) => partitionOf(n, part.count),
      }).rootCauses;
    });
    if (named === null && rcs.some((x) => x.id === segmentId)) named = r + 1;
  }
  gc?.();
  const heap = gc ? (process.memoryUsage().heapUsed - heap0) / 2 ** 20 : null;
  const pairs = state.pairStatuses().length;
  return {
    ingestCpuMsPerRound: Number((ingest / ROUNDS).toFixed(1)),
    evaluateCpuMsPerRound: Number((evaluate / ROUNDS).toFixed(1)),
    heapMiB: heap === null ? null : Math.round(heap),
    messagesApplied: applied,
    messagesSkipped: skipped,
    pairs,
    segmentNamedRound: named,
    digestBytes,
    // keep the state alive until measured
    ...(state.nodeCount < 0 ? { never: true } : {}),
  };
}

// Warm-up (discarded): the JIT optimizes the hot paths, so the first measured configuration is
// not penalized against the later ones.
run(
  { index: 0, count: 2 },
  () => [],
  () => undefined,
);
const single = run(
  null,
  () => [],
  () => undefined,
);
// Two partitions in turn; each sees the other's digest of the same round (as over KV, without the
// network): partition 1 runs first recording its digests, partition 0 then merges them, and the
// verdict round reported for the cluster view is partition 0's merged one.
const digests1: PartitionDigest[] = [];
const p1 = run(
  { index: 1, count: 2 },
  () => [],
  (d, r) => {
    digests1[r] = d;
  },
);
let round = -1;
const p0 = run(
  { index: 0, count: 2 },
  () => (digests1[round] ? [digests1[round] as PartitionDigest] : []),
  (_d, r) => {
    round = r;
  },
);
const out = {
  bench: 'collector-partition-cost',
  measuredAt: new Date().toISOString(),
  nodes: NODES,
  racks: RACKS,
  rounds: ROUNDS,
  faultRound: FAULT_ROUND,
  bytesPerRound,
  heapMeasured: gc !== undefined,
  single,
  partitions: [p0, p1],
  ratios: {
    ingestCpuMaxPartitionVsSingle: Number(
      (Math.max(p0.ingestCpuMsPerRound, p1.ingestCpuMsPerRound) / single.ingestCpuMsPerRound).toFixed(2),
    ),
    evaluateCpuMaxPartitionVsSingle: Number(
      (Math.max(p0.evaluateCpuMsPerRound, p1.evaluateCpuMsPerRound) / single.evaluateCpuMsPerRound).toFixed(
        2,
      ),
    ),
    heapMaxPartitionVsSingle:
      single.heapMiB && p0.heapMiB !== null && p1.heapMiB !== null
        ? Number((Math.max(p0.heapMiB, p1.heapMiB) / single.heapMiB).toFixed(2))
        : null,
  },
};
mkdirSync(join(import.meta.dirname, '..', 'test-output'), { recursive: true });
writeFileSync(
  join(import.meta.dirname, '..', 'test-output', 'collector-partition-cost.json'),
  `${JSON.stringify(out, null, 2)}\n`,
);
process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
