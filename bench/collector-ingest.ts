/**
 * In-process cost of the collector's hot path at N simulated nodes: what one probes message
 * costs to validate and apply (per result), and what one evaluation costs, without NATS or a
 * second process (so a profile of it is the collector's own code). Messages are the simulator's
 * (bench/collector-sim.ts: the agent's probe set, the wire form agents publish).
 *
 *   npx tsx bench/collector-ingest.ts [--nodes 5000] [--rounds 16] [--measure-from 8] [--groups N/40]
 *
 * Prints one JSON object: µs per result (validate, apply), ms per evaluation (prepare and
 * diagnose), heap and slab bytes per pair, and what one /metrics scrape costs over the same
 * state (with the listing cached, as between evaluations) in the collector's registry and in
 * a plain prom-client one, alternated in one run. Times are this machine's; compare them as ratios
 * within one run (e.g. validate vs apply), not across machines.
 */
import { PerformanceObserver } from 'node:perf_hooks';
import { Registry } from 'prom-client';
import { getHeapStatistics } from 'node:v8';
import { ClusterState } from '../collector/state/index.js';
import { Diagnoser } from '../collector/diagnosis/index.js';
import { IngestCounters } from '../collector/ingest/index.js';
import { CollectorRegistry, registerCollectorMetrics } from '../collector/metrics/index.js';
import { validateMessage } from '../collector/ingest/index.js';
import { DEFAULT_PROBESET, type PeerRef, selectTargets } from '../agent/heartbeat/probeset.js';
import { PROBE_PATHS } from '../shared/schema.js';
import { clusterOf, presenceOf, roundWire, type SimNode } from './collector-sim.js';

const arg = (name: string, dflt: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? (process.argv[i + 1] ?? dflt) : dflt;
};
const n = Number(arg('nodes', '5000'));
const rounds = Number(arg('rounds', '16'));
// Measured from this round on: by then the window's rotation is in steady state (pairs dropped
// as stale and made anew every round), at 5 s rounds and a 30 s stale time from round 8.
const from = Number(arg('measure-from', String(Math.floor(rounds / 2))));
const groups = Number(arg('groups', String(Math.max(3, Math.round(n / 40)))));
const INTERVAL = 5000;

const cluster = clusterOf(n, groups, 'bn');
const peers: PeerRef[] = cluster.map((x) => ({ name: x.name, group: x.group }));
const byName = new Map(cluster.map((x) => [x.name, x]));
let now = Date.parse('2026-12-01T00:00:00Z');
const state = new ClusterState({
  clock: () => now,
  windowMs: 120_000,
  presenceTtlMs: 30_000,
  groupLabel: 'rack',
  presenceGate: true,
  maxPairs: 10_000_000,
});
for (const x of cluster) state.applyPresence(presenceOf(x, now));
const diagnoser = new Diagnoser();
const enc = new TextEncoder();

/** One round of every node's probes message, as bytes on the wire. */
function roundBytes(slot: number, round: number): Array<{ subject: string; data: Uint8Array; rows: number }> {
  const targets = new Map<string, SimNode[]>();
  const probedBy = new Map<string, SimNode[]>();
  for (const a of cluster) {
    const ts = selectTargets({ name: a.name, group: a.group }, peers, slot, DEFAULT_PROBESET).map(
      (t) => byName.get(t) as SimNode,
    );
    targets.set(a.name, ts);
    for (const t of ts) {
      const l = probedBy.get(t.name);
      if (l) l.push(a);
      else probedBy.set(t.name, [a]);
    }
  }
  return cluster.map((a, i) => {
    const w = roundWire(
      { node: a, at: now + i, id: `${a.name}-${round}`, round },
      targets.get(a.name) ?? [],
      now + i - 300,
      probedBy.get(a.name) ?? [],
      null,
    );
    return {
      subject: `vxdoctor.v1.${a.name}.probes`,
      data: enc.encode(JSON.stringify(w)),
      rows: w.rows.length,
    };
  });
}

// GC pauses while measured, by kind: minor (scavenge) and major (mark-compact).
let measuring = false;
const gcMs = { minor: 0, major: 0 };
const obs = new PerformanceObserver((list) => {
  if (!measuring) return;
  for (const e of list.getEntries()) {
    const kind = (e as unknown as { detail?: { kind?: number } }).detail?.kind;
    if (kind === 1) gcMs.minor += e.duration;
    else gcMs.major += e.duration;
  }
});
obs.observe({ entryTypes: ['gc'] });
const started = process.hrtime.bigint();
let measuredFrom = started;

let validateNs = 0;
let applyNs = 0;
let results = 0;
let messages = 0;
const evals: Array<{ prepareMs: number; diagnoseMs: number; groupsMs: number }> = [];
for (let r = 0; r < rounds; r++) {
  if (r === from) {
    measuring = true;
    measuredFrom = process.hrtime.bigint();
  }
  const msgs = roundBytes(Math.floor(now / INTERVAL), r + 1);
  for (const m of msgs) {
    const t0 = process.hrtime.bigint();
    const v = validateMessage(m.subject, m.data, { now });
    const t1 = process.hrtime.bigint();
    if (!v.ok) throw new Error(`rejected: ${v.reason} ${v.detail}`);
    state.apply(v.msg);
    const t2 = process.hrtime.bigint();
    if (r >= from) {
      validateNs += Number(t1 - t0);
      applyNs += Number(t2 - t1);
      results += m.rows;
      messages++;
    }
  }
  now += INTERVAL;
  const e0 = process.hrtime.bigint();
  state.prune();
  state.tick();
  const input = state.diagnosisInput();
  const e1 = process.hrtime.bigint();
  diagnoser.evaluate(input);
  const e2 = process.hrtime.bigint();
  // What a scrape's segment gauge asks for: the group view of every path.
  for (const path of PROBE_PATHS) state.groupPairs(path);
  const e3 = process.hrtime.bigint();
  if (r >= from)
    evals.push({
      prepareMs: Number(e1 - e0) / 1e6,
      diagnoseMs: Number(e2 - e1) / 1e6,
      groupsMs: Number(e3 - e2) / 1e6,
    });
}
const measuredMs = Number(process.hrtime.bigint() - measuredFrom) / 1e6;
// The rounds' own GC (the observer reports entries a turn late: let them in before the scrapes).
await new Promise((r) => setTimeout(r, 50));
measuring = false;
const roundsGcMs = { ...gcMs };

// One /metrics scrape over this state, listing and group view cached: the collector's registry
// (the per-node and per-group families render their own text) against a plain prom-client one.
const registries = { collector: new CollectorRegistry(), promClient: new Registry() };
for (const registry of Object.values(registries))
  registerCollectorMetrics(registry, {
    state,
    ingest: new IngestCounters(),
    rootCauses: () => diagnoser.current().rootCauses,
    natsConnected: () => true,
  });
const scrapeMs: Record<keyof typeof registries, number[]> = { collector: [], promClient: [] };
let scrapeBytes = 0;
// As the collector's state (`statusCacheMs` 1 s): reads reuse the last listing and its group
// view. Set only now: the evaluations above measure the listing and the group view built anew.
(state as unknown as { statusCacheMs: number }).statusCacheMs = 1000;
for (let i = 0; i < 8; i++) {
  now += 10;
  if (i === 0) {
    state.freshPairStatuses();
    for (const path of PROBE_PATHS) state.groupPairs(path);
  }
  for (const [k, registry] of Object.entries(registries)) {
    const t0 = performance.now();
    const text = await registry.metrics();
    scrapeMs[k as keyof typeof registries].push(performance.now() - t0);
    scrapeBytes = text.length;
  }
}
await new Promise((r) => setTimeout(r, 50)); // the observer's last entries
obs.disconnect();
global.gc?.();
const heap = getHeapStatistics();
const pairs = state.pairStatuses().length;
console.log(
  JSON.stringify({
    nodes: n,
    groups,
    rounds,
    messages,
    resultsPerMessage: Math.round(results / Math.max(1, messages)),
    validateUsPerResult: +(validateNs / 1000 / results).toFixed(3),
    applyUsPerResult: +(applyNs / 1000 / results).toFixed(3),
    ingestCoreShare: +((validateNs + applyNs) / 1e9 / (messages / n) / (INTERVAL / 1000)).toFixed(3),
    evaluation: {
      prepareMsMedian: median(evals.map((e) => e.prepareMs)),
      diagnoseMsMedian: median(evals.map((e) => e.diagnoseMs)),
      groupsAllPathsMsMedian: median(evals.map((e) => e.groupsMs)),
    },
    scrape: {
      bytes: scrapeBytes,
      collectorMsMedian: median(scrapeMs.collector),
      promClientMsMedian: median(scrapeMs.promClient),
      ratio: +(median(scrapeMs.collector) / median(scrapeMs.promClient)).toFixed(2),
    },
    gcShareOfMeasured: +((roundsGcMs.minor + roundsGcMs.major) / measuredMs).toFixed(3),
    gcMs: { minor: Math.round(roundsGcMs.minor), major: Math.round(roundsGcMs.major) },
    pairs,
    rotatedOut: state.rotatedOut,
    heapUsedMiB: Math.round(heap.used_heap_size / 2 ** 20),
    heapBytesPerPair: Math.round(heap.used_heap_size / Math.max(1, pairs)),
  }),
);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return +(s[Math.floor(s.length / 2)] ?? 0).toFixed(1);
}
