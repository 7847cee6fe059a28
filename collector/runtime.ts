/**
 * The collector, wired: HTTP side first (a collector never consumes without it), then the NATS
 * session, which attaches the named parts once connected — the stream consumer (replay, then the
 * durable), the presence watch, the trace client, the root-cause memory (`since` KV) and the
 * evaluate loop. One Lifecycle owns every timer and task; stop() ends them together.
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { hostname } from 'node:os';
import { getHeapStatistics } from 'node:v8';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { FastifyInstance } from 'fastify';
import { collectDefaultMetrics } from 'prom-client';
import { ConfigError } from '../shared/config.js';
import { Lifecycle } from '../shared/lifecycle.js';
import type { Logger } from '../shared/logging.js';
import { type NatsSettings, natsConnectionOptions } from '../shared/nats.js';
import { logNatsStatus } from '../shared/nats-status.js';
import type { CheckRun, Finding, NodeSnapshot } from '../shared/schema.js';
import { buildApp } from './app.js';
import { StreamConsumer } from './consumer.js';
import { Diagnoser } from './diagnosis/index.js';
import { EvaluateLoop } from './evaluate.js';
import { SegmentRing } from './history/segments.js';
import { HistoryStore } from './history/store.js';
import { IngestCounters, validateMessage } from './ingest/index.js';
import { isLoopbackHost, TraceLimiter, type TraceLimits } from './limits.js';
import { CollectorRegistry, registerCollectorMetrics } from './metrics/index.js';
import { PresenceWatch } from './presence-watch.js';
import { RootCauseMemory } from './rootcause-memory.js';
import { type Partition, Partitioning } from './partition/index.js';
import { ClusterState } from './state/index.js';
import { type NatsLink, snapshotClient, traceClient } from './trace-client.js';

/** NATS authentication and TLS: the same flags and meaning as the agent's. */
export type NatsAuth = Omit<NatsSettings, 'servers' | 'name'>;

export interface CollectorOptions {
  nats: string[];
  auth?: NatsAuth;
  listenHost: string;
  listenPort: number;
  groupLabel: string;
  windowMs: number;
  presenceTtlMs: number;
  /** Node findings expire this long after the node's last findings message (default 6 min). */
  findingTtlMs?: number;
  durable: string;
  /** Replicas of the stream and KV buckets when the collector creates them (`--js-replicas`). */
  jsReplicas?: number;
  /**
   * The server deletes the durable consumer after this long without a pull (ms; default 1 h):
   * a durable named after a pod that is gone does not live forever.
   */
  durableInactiveMs?: number;
  /** The collector page as people reach it (`--page-url`): alerts link root causes there. */
  pageUrl?: string;
  maxMessageBytes?: number;
  /** Messages dated further ahead of the collector's clock are rejected (default 2 min). */
  maxSkewMs?: number;
  /** A node gone (presence deleted/expired, or never present) this long is forgotten (default 10 min). */
  forgetAfterMs?: number;
  evaluateEveryMs?: number;
  traceTimeoutMs?: number;
  /** Segment loss/RTT sampling period (ms, default 10 s). */
  segmentStepMs?: number;
  /** Bearer token for the API (`--api-token-file`); see AppOptions.apiToken. */
  apiToken?: string | null;
  tokenForReads?: boolean;
  /** Host names served besides IP literals and localhost (`--allowed-hosts`); default: any when
   * listening beyond loopback, none on loopback (DNS rebinding). */
  allowedHosts?: string[] | null;
  traceLimits?: TraceLimits;
  /** Register process/default metrics (off in tests for a stable /metrics). */
  defaultMetrics?: boolean;
  /** `--partition I/N` (docs/scale-out.md): share the work with N-1 other instances. */
  partition?: Partition;
  /** How long `GET /api/v1/nodes/:name` waits for the agent's whole snapshot (ms, default 3000). */
  snapshotTimeoutMs?: number;
  log: Logger;
  clock?: () => number;
}

export interface RunningCollector {
  app: FastifyInstance;
  state: ClusterState;
  ingest: IngestCounters;
  diagnoser: Diagnoser;
  /** Outage history on JetStream (collector/history). */
  history: HistoryStore;
  segments: SegmentRing;
  /** Bound HTTP address, e.g. http://127.0.0.1:9700 */
  url: string;
  stop(): Promise<void>;
}

export const PRESENCE_TTL_MS = 30_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Pairs tracked for a heap of `heapBytes`: 55 % of it at 560 bytes per pair (measured: 467 heap
 * bytes per pair at 5,000 nodes, everything else on the heap included; the rest of the heap is
 * the collector's headroom to collect in). The round buckets are off the heap (≈ 235 B a pair).
 */
export function pairCap(heapBytes: number): number {
  return Math.max(10_000, Math.floor((heapBytes * 0.55) / PAIR_BYTES));
}
const PAIR_BYTES = 560;

export async function startCollector(o: CollectorOptions): Promise<RunningCollector> {
  // Bad TLS/credential files are configuration errors: fail at start-up, naming the flag.
  const natsOpts = natsConnectionOptions({ ...(o.auth ?? {}), servers: o.nats, name: 'vxdoctor-collector' });
  const log = o.log.child({ component: 'collector' });
  const clock = o.clock ?? Date.now;
  const replicas = o.jsReplicas ?? 1;
  const life = new Lifecycle({
    onError: (err, name) => log.error({ err, task: name }, 'collector task failed'),
    graceMs: 3000, // a task stuck on I/O must not hold the collector's stop
  });
  const state = new ClusterState({
    clock,
    windowMs: o.windowMs,
    presenceTtlMs: o.presenceTtlMs,
    ...(o.findingTtlMs ? { findingTtlMs: o.findingTtlMs } : {}),
    groupLabel: o.groupLabel,
    presenceGate: true,
    ...(o.forgetAfterMs ? { forgetAfterMs: o.forgetAfterMs } : {}),
    // Scrapes and API reads between evaluations reuse the pair statuses for up to 1 s (the page
    // must not show pairs older than the root causes it shows: with the whole evaluation
    // interval, a cell could still pass while its root cause was on the page).
    statusCacheMs: Math.min(1000, o.evaluateEveryMs ?? 2000),
    // As many pairs as the heap holds (a pair is ≈ 1.1 KB measured at 1,000 nodes, by
    // bench/collector-scale.ts): past that they are refused and counted
    // (vxdoctor_state_dropped_total{what="pairs"}, alert VxdoctorStateCapped), not an OOM kill.
    maxPairs: pairCap(getHeapStatistics().heap_size_limit),
  });
  const ingest = new IngestCounters();
  const diagnoser = new Diagnoser();
  const link: NatsLink = { nc: null, connected: false };
  const history = new HistoryStore({ log, by: `${hostname()}/${o.durable}`, replicas, clock });
  const segments = new SegmentRing({ ...(o.segmentStepMs ? { stepMs: o.segmentStepMs } : {}) });
  const memory = new RootCauseMemory(log);
  const registry = new CollectorRegistry();
  if (o.defaultMetrics) collectDefaultMetrics({ register: registry });
  const partitioning = o.partition
    ? new Partitioning({
        self: o.partition,
        instance: `${hostname()}/${o.durable}`,
        log,
        registry,
        evaluateEveryMs: o.evaluateEveryMs ?? 2000,
        replicas,
        clock,
      })
    : null;
  const loop = new EvaluateLoop({
    partitioning,
    state,
    diagnoser,
    memory,
    history,
    segments,
    groupLabel: o.groupLabel,
    clock,
    log,
    behind: () => ingest.lagSeconds * 1000 > 2 * (o.evaluateEveryMs ?? 2000),
  });
  const presence = new PresenceWatch({ state, ingest, log, ttlMs: o.presenceTtlMs, replicas });

  /** One message from the stream: validated, counted, applied to the state. */
  const handle = (subject: string, data: Uint8Array): void => {
    if (partitioning && !partitioning.owns(subject)) return;
    const r = validateMessage(subject, data, {
      ...(o.maxMessageBytes ? { maxBytes: o.maxMessageBytes } : {}),
      now: clock(),
      ...(o.maxSkewMs ? { maxSkewMs: o.maxSkewMs } : {}),
    });
    ingest.count(r);
    if (!r.ok) {
      log.debug({ subject: subject.slice(0, 200), reason: r.reason, detail: r.detail }, 'message rejected');
      return;
    }
    if (!state.apply(r.msg)) ingest.duplicates++;
  };
  const consumer = new StreamConsumer({
    durable: o.durable,
    ...(o.durableInactiveMs ? { durableInactiveMs: o.durableInactiveMs } : {}),
    windowMs: o.windowMs,
    replicas,
    clock,
    log,
    handle,
    delivered: (seq, pending, storedAtMs) => {
      ingest.delivered(seq, pending, storedAtMs, clock());
      state.ingestLagMs = ingest.lagSeconds * 1000;
    },
    beforeRebuild: async (nc) => {
      // Root causes active before a restart keep their `since`.
      try {
        const seeds = await memory.restore(nc, replicas);
        diagnoser.seed(seeds);
        // Agents that were down before the restart had presence (the gate must show them).
        for (const s of seeds)
          if (s.id.startsWith('agent-down:'))
            state.restoreGone(s.id.slice('agent-down:'.length), Date.parse(s.since));
      } catch (err) {
        log.warn({ err }, 'root cause bucket unavailable: since resets on restart');
      }
    },
    afterReplay: async (nc) => {
      // The presence gate hides nodes without presence: read the bucket once now, so the first
      // evaluation does not see an empty cluster (and clear every root cause's since) when the
      // watch is slower than the replay.
      await presence
        .readOnce(nc)
        .catch((err) => log.warn({ err }, 'presence bucket not read before the first evaluation'));
    },
    onRebuilt: () => loop.begin(),
    onAttach: () => {
      state.generation++;
    },
  });

  registerCollectorMetrics(registry, {
    state,
    ingest,
    rootCauses: () => partitioning?.view()?.rootCauses ?? diagnoser.current().rootCauses,
    natsConnected: () => link.connected,
    ...(o.pageUrl ? { pageUrl: o.pageUrl } : {}),
  });
  const app = await buildApp({
    history: {
      query: (f, now) => history.query(f, now),
      ready: () => history.ready(),
      segments,
      groupLabel: o.groupLabel,
      clock,
    },
    state,
    registry,
    log,
    trace: traceClient(link, o.traceTimeoutMs),
    fetchSnapshot: snapshotClient(link, o.snapshotTimeoutMs),
    natsConnected: () => link.connected,
    apiToken: o.apiToken ?? null,
    tokenForReads: o.tokenForReads ?? false,
    exposed: !isLoopbackHost(o.listenHost),
    allowedHosts: o.allowedHosts !== undefined ? o.allowedHosts : isLoopbackHost(o.listenHost) ? [] : null,
    traceLimiter: new TraceLimiter(o.traceLimits),
    ready: () => link.connected && consumer.attached && loop.rebuilt,
    // Two evaluations after the rebuild: root causes that need two rounds are raised again.
    metricsReady: () => loop.rebuilt && loop.evaluations >= 2,
    diagnosis: () => {
      if (!loop.rebuilt) return { generatedAt: new Date(clock()).toISOString(), rootCauses: [] };
      const merged = partitioning?.view();
      return merged ? { generatedAt: diagnoser.current().generatedAt, ...merged } : diagnoser.current();
    },
    ...(partitioning
      ? { nodeDetail: (n: string) => partitioning.nodeDetail(n, (x) => state.nodeDetail(x)) }
      : {}),
  });
  loop.start(life, o.evaluateEveryMs ?? 2000);

  /** Connects (waiting for the server as long as it takes), then attaches the NATS parts. */
  const session = async (): Promise<void> => {
    // The first connect waits for the server without a word: say what is off, every 10 s.
    for (const s of o.nats) {
      const host = /^(?:[a-z]+:\/\/)?(?:[^@/]*@)?(\[[^\]]+\]|[^:/]+)/i.exec(s)?.[1]?.replace(/^\[|\]$/g, '');
      if (host && isIP(host) === 0)
        lookup(host).catch((err: NodeJS.ErrnoException) =>
          log.error({ host, code: err.code }, `--nats: cannot resolve ${host} (${err.code}); retrying`),
        );
    }
    life.every('nats-link', 10_000, 10_000, async () => {
      if (!link.connected)
        log.warn({ servers: o.nats }, 'not connected to NATS (server down or --nats wrong?)');
    });
    let nc: NatsConnection | null = null;
    while (!life.stopping && !nc) {
      try {
        nc = await connect(natsOpts);
      } catch (err) {
        log.warn({ err, servers: o.nats }, 'NATS connect failed, retrying');
        await life.sleep(2000);
      }
    }
    if (nc && life.stopping) {
      // Connected only after stop() (a first connect waits for the server): let it go.
      await nc.close().catch(() => undefined);
      return;
    }
    if (!nc) return;
    link.nc = nc;
    link.connected = true;
    log.info({ server: nc.getServer() }, 'connected to NATS');
    const conn = nc;
    void (async () => {
      for await (const s of conn.status()) {
        if (s.type === 'disconnect') {
          link.connected = false;
          state.linkDown();
        } else if (s.type === 'reconnect') {
          link.connected = true;
          state.linkUp();
        }
        logNatsStatus(log, s as { type: string });
      }
    })();
    life.spawn('consumer', () => consumer.run(conn, life));
    life.spawn('presence watch', () => presence.run(conn, life));
    partitioning?.attach(conn, (n) => state.nodeDetail(n));
    history.attach(conn);
  };
  let sessionTask: Promise<void> = Promise.resolve();

  // stop(): timers cleared and tasks told (life.signal), then in this order, then the tasks awaited.
  life.onStop(() => history.stop());
  life.onStop(() => partitioning?.stop());
  life.onStop(() => consumer.stop());
  life.onStop(() => presence.stop());
  life.onStop(async () => {
    await app.close();
    // A first connect waits for the server as long as it takes: do not wait for it here.
    await Promise.race([sessionTask, sleep(3000)]);
    if (link.nc) await link.nc.drain().catch(() => link.nc?.close());
  });
  const stop = () => life.stop();
  try {
    await app.listen({ host: o.listenHost, port: o.listenPort });
  } catch (err) {
    // Fatal at start-up (never a collector consuming without its HTTP side): stop, name the flag.
    await stop().catch(() => undefined);
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new ConfigError(`--listen: cannot listen on ${o.listenHost}:${o.listenPort}: ${code}`);
  }
  // NATS only once the HTTP side is up: a collector never consumes without it.
  sessionTask = session();
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : o.listenPort;
  const url = `http://${o.listenHost.includes(':') ? `[${o.listenHost}]` : o.listenHost}:${port}`;
  if (partitioning) partitioning.url = url;
  log.info({ url, ...(o.partition ? { partition: o.partition } : {}) }, 'collector listening');

  return { app, state, ingest, diagnoser, history, segments, url, stop };
}
