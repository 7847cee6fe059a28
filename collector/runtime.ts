import { logNatsStatus } from '../shared/nats-status.js';
import {
  AckPolicy,
  type Consumer,
  type ConsumerConfig,
  DeliverPolicy,
  jetstream,
  jetstreamManager,
  type JsMsg,
  type OrderedConsumerOptions,
} from '@nats-io/jetstream';
import { hostname } from 'node:os';
import { Kvm, type KV } from '@nats-io/kv';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { connect, type NatsConnection, type NodeConnectionOptions } from '@nats-io/transport-node';
import type { FastifyInstance } from 'fastify';
import { collectDefaultMetrics, Registry } from 'prom-client';
import {
  ensureStream,
  type NatsSettings,
  natsConnectionOptions,
  streamConfig,
} from '../agent/publish/nats.js';
import type { Logger } from '../shared/logging.js';
import { checkPresenceRecord } from '../agent/publish/presence.js';
import type { NodeSnapshot, TraceReply, TraceRequest, Finding, CheckRun } from '../shared/schema.js';
import {
  KV_NODES,
  nodeFromToken,
  STREAM_NAME,
  SUBJECT_PREFIX,
  snapshotSubject,
  traceSubject,
} from '../shared/subjects.js';
import { parseSnapshotReply } from '../shared/snapshot-reply.js';
import { checkTraceReply, isNodeName } from '../shared/validation.js';
import { buildApp, TraceTimeoutError } from './app.js';
import { ConfigError } from '../shared/config.js';
import { isLoopbackHost, TraceLimiter, type TraceLimits } from './limits.js';
import { Diagnoser } from './diagnosis/index.js';
import { SegmentRing, segmentSamples } from './history/segments.js';
import { HistoryStore } from './history/store.js';
import { IngestCounters, validateMessage } from './ingest/index.js';
import { registerCollectorMetrics } from './metrics/index.js';
import { ClusterState } from './state/index.js';

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

/** Stream configuration (replicas 1), identical to what the agent creates when it is missing. */
export const STREAM_CONFIG = streamConfig(1);

/** Default `inactive_threshold` of the collector's durable consumer: 1 h. */
export const DURABLE_INACTIVE_MS = 60 * 60 * 1000;

/** The collector's durable consumer (nanosecond durations, as the JetStream API wants them). */
export function durableConfig(
  durable: string,
  startTime: string,
  inactiveMs = DURABLE_INACTIVE_MS,
): Partial<ConsumerConfig> & { durable_name: string } {
  return {
    durable_name: durable,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.StartTime,
    opt_start_time: startTime,
    ack_wait: 30 * 1e9,
    max_ack_pending: 10_000,
    inactive_threshold: inactiveMs * 1e6,
  };
}

export const PRESENCE_TTL_MS = 30_000;
/**
 * Bytes per consumer pull (the client keeps up to this much requested and refills at half):
 * twice the stream's largest message (a pull smaller than the next message would never deliver
 * it), far below what nats-server buffers for a client before cutting it off as a slow consumer
 * (64 MB). 512 messages with no byte limit were up to 0.5 GB of snapshots at 1,000 nodes.
 */
export const PULL_MAX_BYTES = 2 * STREAM_CONFIG.max_msg_size;
/** KV bucket where the collector keeps the `since` of active root causes across restarts. */
export const KV_ROOTCAUSES = 'vxdoctor_rootcauses';

const rcKey = (id: string) => Buffer.from(id, 'utf8').toString('base64url');

function connectOptions(o: CollectorOptions): NodeConnectionOptions {
  return natsConnectionOptions({ ...(o.auth ?? {}), servers: o.nats, name: 'vxdoctor-collector' });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function startCollector(o: CollectorOptions): Promise<RunningCollector> {
  // Bad TLS/credential files are configuration errors: fail at start-up, naming the flag.
  const natsOpts = connectOptions(o);
  const log = o.log.child({ component: 'collector' });
  const clock = o.clock ?? Date.now;
  const replicas = o.jsReplicas ?? 1;
  const state = new ClusterState({
    clock,
    windowMs: o.windowMs,
    presenceTtlMs: o.presenceTtlMs,
    ...(o.findingTtlMs ? { findingTtlMs: o.findingTtlMs } : {}),
    groupLabel: o.groupLabel,
    presenceGate: true,
    ...(o.forgetAfterMs ? { forgetAfterMs: o.forgetAfterMs } : {}),
    // Scrapes and API reads between evaluations reuse the pair statuses.
    statusCacheMs: Math.min(1000, o.evaluateEveryMs ?? 2000),
  });
  const ingest = new IngestCounters();
  const diagnoser = new Diagnoser();
  const registry = new Registry();
  if (o.defaultMetrics) collectDefaultMetrics({ register: registry });
  let nc: NatsConnection | null = null;
  let connected = false;
  let consumerAttached = false;
  /** Evaluation waits until the stream's recent messages were replayed (no premature clears). */
  let rebuilt = false;
  let sinceKv: KV | null = null;
  const persisted = new Map<string, string>();
  let stopping = false;
  registerCollectorMetrics(registry, {
    state,
    ingest,
    rootCauses: () => diagnoser.current().rootCauses,
    natsConnected: () => connected,
    ...(o.pageUrl ? { pageUrl: o.pageUrl } : {}),
  });

  const handle = (subject: string, data: Uint8Array): void => {
    const parts = subject.split('.');
    // Trace requests share the stream's subject space; they are not agent reports.
    if (parts.length === 4 && `${parts[0]}.${parts[1]}` === SUBJECT_PREFIX && parts[3] === 'trace') {
      ingest.traceSubjects++;
      return;
    }
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
  const applyJs = (m: JsMsg): void => {
    const now = clock();
    ingest.delivered(m.info.streamSequence, m.info.pending, m.info.timestampNanos / 1e6, now);
    state.ingestLagMs = ingest.lagSeconds * 1000;
    try {
      handle(m.subject, m.data);
    } catch (err) {
      log.error({ err, subject: m.subject }, 'message handler failed');
    }
    m.ack();
  };

  /** One agent's trace toward one peer over NATS request/reply. */
  const ask = async (src: string, dst: string): Promise<TraceReply> => {
    if (!nc || !connected) throw new Error('not connected to NATS');
    const timeout = o.traceTimeoutMs ?? 15_000;
    let data: Uint8Array;
    try {
      // The trace subject is outside the stream, so only the agent answers.
      data = (await nc.request(traceSubject(src), JSON.stringify({ src, dst }), { timeout })).data;
    } catch (err) {
      const msg = String((err as Error).message);
      // Nobody subscribed (no responders) or no answer in time: the agent is not there to answer.
      if (/no responders|timeout|TIMEOUT|503/i.test(msg)) {
        throw new TraceTimeoutError(`no agent answers on ${traceSubject(src)} (${msg})`);
      }
      throw err;
    }
    let body: unknown;
    try {
      body = JSON.parse(new TextDecoder().decode(data));
    } catch {
      body = null;
    }
    if (!checkTraceReply.check(body)) throw new Error(`malformed trace reply from ${src}`);
    return body;
  };
  // Both agents at once: SRC probes DST (the answer), DST probes SRC (the reverse direction).
  const trace = async (req: TraceRequest): Promise<TraceReply> => {
    const [fwd, rev] = await Promise.allSettled([ask(req.src, req.dst), ask(req.dst, req.src)]);
    if (fwd.status === 'rejected') throw fwd.reason;
    const reverse: TraceReply =
      rev.status === 'fulfilled'
        ? { ...rev.value, reverse: undefined }
        : {
            src: req.dst,
            dst: req.src,
            results: [],
            verdict: [],
            error: String((rev.reason as Error).message),
          };
    return { ...fwd.value, reverse };
  };

  /** The whole snapshot of one node, from its agent (request/reply, gzip'd reply). */
  const fetchSnapshot = async (node: string): Promise<NodeSnapshot> => {
    if (!nc || !connected) throw new Error('not connected to NATS');
    const timeout = o.snapshotTimeoutMs ?? 3000;
    let data: Uint8Array;
    try {
      data = (await nc.request(snapshotSubject(node), JSON.stringify({ node }), { timeout })).data;
    } catch (err) {
      const msg = String((err as Error).message);
      if (/no responders|timeout|TIMEOUT|503/i.test(msg))
        throw new Error(`no agent answers on ${snapshotSubject(node)} within ${timeout} ms (${msg})`);
      throw err;
    }
    return parseSnapshotReply(node, data);
  };

  const traceLimiter = new TraceLimiter(o.traceLimits);
  let evaluationsSinceRebuild = 0;
  let lastPairStatuses: ReturnType<ClusterState['pairStatuses']> = [];
  const history = new HistoryStore({ log, by: `${hostname()}/${o.durable}`, replicas, clock });
  const segments = new SegmentRing({ ...(o.segmentStepMs ? { stepMs: o.segmentStepMs } : {}) });
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
    trace,
    fetchSnapshot,
    natsConnected: () => connected,
    apiToken: o.apiToken ?? null,
    tokenForReads: o.tokenForReads ?? false,
    exposed: !isLoopbackHost(o.listenHost),
    allowedHosts: o.allowedHosts !== undefined ? o.allowedHosts : isLoopbackHost(o.listenHost) ? [] : null,
    traceLimiter,
    ready: () => connected && consumerAttached && rebuilt,
    // Two evaluations after the rebuild: root causes that need two rounds are raised again.
    metricsReady: () => rebuilt && evaluationsSinceRebuild >= 2,
    diagnosis: () =>
      rebuilt ? diagnoser.current() : { generatedAt: new Date(clock()).toISOString(), rootCauses: [] },
  });

  const persistSince = (rcs: { id: string; since: string }[]): void => {
    const kv = sinceKv;
    if (!kv) return;
    const now = new Set<string>();
    for (const rc of rcs) {
      now.add(rc.id);
      if (persisted.get(rc.id) === rc.since) continue;
      persisted.set(rc.id, rc.since);
      kv.put(rcKey(rc.id), JSON.stringify({ id: rc.id, since: rc.since })).catch((err) =>
        log.warn({ err, id: rc.id }, 'persisting root cause since failed'),
      );
    }
    for (const id of [...persisted.keys()]) {
      if (now.has(id)) continue;
      persisted.delete(id);
      kv.delete(rcKey(id)).catch((err) => log.warn({ err, id }, 'clearing root cause since failed'));
    }
  };
  const evaluate = (): void => {
    if (!rebuilt) return;
    try {
      const gone = state.prune();
      if (gone.length) log.info({ nodes: gone.slice(0, 20), count: gone.length }, 'nodes forgotten');
      state.tick();
      const input = state.diagnosisInput();
      lastPairStatuses = input.pairs;
      const rcs = diagnoser.evaluate(input);
      persistSince(rcs);
      evaluationsSinceRebuild++;
      // As /metrics: from the second evaluation after the rebuild (two-round root causes are
      // back), so a restart neither clears nor re-raises outages in the history.
      if (evaluationsSinceRebuild >= 2) history.record(rcs);
    } catch (err) {
      log.error({ err }, 'evaluation failed');
    }
  };
  const evalTimer = setInterval(evaluate, o.evaluateEveryMs ?? 2000);
  const sampleSegments = (): void => {
    if (!rebuilt) return;
    try {
      const label = o.groupLabel;
      // RTTs from the pair statuses the last evaluation built anyway (at 500 nodes building
      // them again costs seconds of CPU); loss from the state's group aggregation.
      const rtts = [];
      for (const p of lastPairStatuses)
        if (p.path === 'vxlan') rtts.push({ src: p.src, dst: p.dst, rttSeconds: p.last.rttSeconds });
      segments.sample(
        clock(),
        segmentSamples(state.groupPairs('vxlan', label), rtts, (n) => state.groupOf(n, label)),
      );
    } catch (err) {
      log.error({ err }, 'segment sampling failed');
    }
  };
  const segmentTimer = setInterval(sampleSegments, segments.stepMs);

  const tasks: Promise<void>[] = [];
  let kvWatch: { stop(): void } | null = null;
  let consumerMsgs: { stop(): void } | null = null;

  const replay = async (
    js: ReturnType<typeof jetstream>,
    opts: Partial<OrderedConsumerOptions>,
  ): Promise<void> => {
    const oc = await js.consumers.get(STREAM_NAME, opts);
    try {
      // Nothing to replay: do not wait for a fetch to expire.
      if ((await oc.info()).num_pending === 0) return;
      for (;;) {
        // By messages: a byte-bounded fetch on the ordered replay consumer stopped the rebuild
        // short (test/e2e/collector.test.ts, restart); the durable below is byte-bounded.
        const batch = await oc.fetch({ max_messages: 1000, expires: 1000 });
        let n = 0;
        let pending = 0;
        for await (const m of batch) {
          n++;
          pending = m.info.pending;
          try {
            handle(m.subject, m.data);
          } catch (err) {
            log.error({ err }, 'replay handler failed');
          }
        }
        if (n === 0 || pending === 0 || stopping) break;
      }
    } finally {
      await oc.delete().catch(() => undefined);
    }
  };

  const runConsumer = async (): Promise<void> => {
    while (!stopping) {
      try {
        if (!nc) throw new Error('no connection');
        const jsm = await jetstreamManager(nc, { timeout: 5000 });
        await ensureStream(jsm, log, replicas);
        const js = jetstream(nc);
        const startTime = new Date(clock() - o.windowMs).toISOString();
        if (!rebuilt) {
          // Root causes active before a restart keep their `since`.
          try {
            const kv = await new Kvm(nc).create(KV_ROOTCAUSES, { history: 1, replicas });
            const seeds: Array<{ id: string; since: string }> = [];
            for await (const key of await kv.keys()) {
              const e = await kv.get(key);
              if (e?.operation !== 'PUT') continue;
              try {
                const v = JSON.parse(new TextDecoder().decode(e.value)) as { id?: unknown; since?: unknown };
                if (
                  typeof v.id === 'string' &&
                  typeof v.since === 'string' &&
                  !Number.isNaN(Date.parse(v.since))
                ) {
                  seeds.push({ id: v.id, since: v.since });
                  persisted.set(v.id, v.since);
                }
              } catch {
                // ignore a corrupt entry
              }
            }
            diagnoser.seed(seeds);
            // Agents that were down before the restart had presence (the gate must show them).
            for (const s of seeds)
              if (s.id.startsWith('agent-down:'))
                state.restoreGone(s.id.slice('agent-down:'.length), Date.parse(s.since));
            sinceKv = kv;
          } catch (err) {
            log.warn({ err }, 'root cause bucket unavailable: since resets on restart');
          }
        }
        // Rebuild state from the stream (a restarted collector has acked all of it): every node's
        // latest summary (or snapshot, older agents) and findings (agents republish them only on change or every few
        // minutes), then everything within the window. Duplicates are dropped by message id.
        for (const kind of ['snapshot', 'summary', 'findings']) {
          await replay(js, {
            deliver_policy: DeliverPolicy.LastPerSubject,
            filter_subjects: `${SUBJECT_PREFIX}.*.${kind}`,
          });
        }
        await replay(js, { deliver_policy: DeliverPolicy.StartTime, opt_start_time: startTime });
        if (!rebuilt) {
          // The presence gate hides nodes without presence: read the bucket once now, so the
          // first evaluation does not see an empty cluster (and clear every root cause's since)
          // when the watch is slower than the replay.
          try {
            const kv = await new Kvm(nc).open(KV_NODES);
            for await (const key of await kv.keys()) {
              const e = await kv.get(key);
              if (e?.operation !== 'PUT') continue;
              const r = checkPresenceRecord(e.key, e.value);
              if (r.ok)
                state.applyPresence({ ...r.presence, at: Math.min(r.presence.at, e.created.getTime()) });
            }
          } catch (err) {
            log.warn({ err }, 'presence bucket not read before the first evaluation');
          }
          rebuilt = true;
          evaluate();
        }
        // Durable consumer: delivers what it had not acked; created once from the window start.
        // The server removes it after `inactive_threshold` without a pull (a durable named after
        // a pod that is gone), and a restart within that time resumes it.
        const want = durableConfig(o.durable, startTime, o.durableInactiveMs);
        let existing: Awaited<ReturnType<typeof jsm.consumers.info>> | null = null;
        try {
          existing = await jsm.consumers.info(STREAM_NAME, o.durable);
        } catch {
          await jsm.consumers.add(STREAM_NAME, want);
        }
        if (existing && existing.config.inactive_threshold !== want.inactive_threshold) {
          // Created by an older version without a threshold: set it, keep its position.
          await jsm.consumers
            .update(STREAM_NAME, o.durable, { inactive_threshold: want.inactive_threshold })
            .catch((err) => log.warn({ err }, 'could not set inactive_threshold on the durable'));
        }
        const consumer: Consumer = await js.consumers.get(STREAM_NAME, o.durable);
        // Pulls bounded in bytes as well as messages: a pull of 512 snapshots of ~0.5 MB each
        // is more than nats-server sends a slow reader before cutting it off.
        const msgs = await consumer.consume({ max_bytes: PULL_MAX_BYTES, expires: 5000 });
        consumerMsgs = msgs;
        consumerAttached = true;
        state.generation++;
        log.info({ durable: o.durable }, 'consumer attached');
        for await (const m of msgs) applyJs(m);
        consumerAttached = false;
      } catch (err) {
        consumerAttached = false;
        if (!stopping) log.warn({ err }, 'consumer failed, retrying');
      }
      if (!stopping) await sleep(1000);
    }
  };

  const runKv = async (): Promise<void> => {
    while (!stopping) {
      try {
        if (!nc) throw new Error('no connection');
        const kvm = new Kvm(nc);
        let kv: KV;
        try {
          kv = await kvm.open(KV_NODES);
          await kv.status();
        } catch {
          kv = await kvm.create(KV_NODES, { ttl: o.presenceTtlMs, history: 1, replicas });
        }
        const w = await kv.watch();
        kvWatch = w;
        for await (const e of w) {
          if (e.operation === 'PUT') {
            const r = checkPresenceRecord(e.key, e.value);
            // Presence age is measured on the server's clock (entry time), not the agent's.
            if (r.ok) {
              ingest.presenceRejects.accepted(e.key);
              state.applyPresence({ ...r.presence, at: Math.min(r.presence.at, e.created.getTime()) });
            } else {
              // The key no longer holds a usable record: the node is as good as deleted.
              const gone = nodeFromToken(e.key);
              if (gone !== null) state.removePresence(gone);
              const key = e.key.slice(0, 253);
              if (ingest.presenceRejects.note(key, r.reason, r.detail))
                log.warn({ key, reason: r.reason, detail: r.detail }, 'presence record refused');
            }
          } else if (nodeFromToken(e.key) !== null) {
            state.removePresence(nodeFromToken(e.key) as string);
          }
        }
      } catch (err) {
        if (!stopping) log.warn({ err }, 'presence watch failed, retrying');
      }
      if (!stopping) await sleep(1000);
    }
  };

  const runNats = async (): Promise<void> => {
    // The first connect waits for the server without a word: say what is off, every 10 s.
    for (const s of o.nats) {
      const host = /^(?:[a-z]+:\/\/)?(?:[^@/]*@)?(\[[^\]]+\]|[^:/]+)/i.exec(s)?.[1]?.replace(/^\[|\]$/g, '');
      if (host && isIP(host) === 0)
        lookup(host).catch((err: NodeJS.ErrnoException) =>
          log.error({ host, code: err.code }, `--nats: cannot resolve ${host} (${err.code}); retrying`),
        );
    }
    const waiting = setInterval(() => {
      if (stopping) clearInterval(waiting);
      else if (!connected)
        log.warn({ servers: o.nats }, 'not connected to NATS (server down or --nats wrong?)');
    }, 10_000);
    waiting.unref();
    while (!stopping && !nc) {
      try {
        nc = await connect(natsOpts);
      } catch (err) {
        log.warn({ err, servers: o.nats }, 'NATS connect failed, retrying');
        await sleep(2000);
      }
    }
    if (nc && stopping) {
      // Connected only after stop() (a first connect waits for the server): let it go.
      await nc.close().catch(() => undefined);
      return;
    }
    if (!nc) return;
    connected = true;
    log.info({ server: nc.getServer() }, 'connected to NATS');
    const conn = nc;
    void (async () => {
      for await (const s of conn.status()) {
        if (s.type === 'disconnect') {
          connected = false;
          state.linkDown();
        } else if (s.type === 'reconnect') {
          connected = true;
          state.linkUp();
        }
        logNatsStatus(log, s as { type: string });
      }
    })();
    tasks.push(runConsumer(), runKv());
    history.attach(conn);
  };
  let natsTask: Promise<void> = Promise.resolve();

  const stop = async () => {
    stopping = true;
    clearInterval(evalTimer);
    clearInterval(segmentTimer);
    await history.stop();
    consumerMsgs?.stop();
    kvWatch?.stop();
    await app.close();
    // A first connect waits for the server as long as it takes: do not wait for it here.
    await Promise.race([natsTask, sleep(3000)]);
    if (nc) await nc.drain().catch(() => nc?.close());
    await Promise.race([Promise.allSettled(tasks), sleep(3000)]);
  };
  try {
    await app.listen({ host: o.listenHost, port: o.listenPort });
  } catch (err) {
    // Fatal at start-up (never a collector consuming without its HTTP side): stop, name the flag.
    await stop().catch(() => undefined);
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new ConfigError(`--listen: cannot listen on ${o.listenHost}:${o.listenPort}: ${code}`);
  }
  // NATS only once the HTTP side is up: a collector never consumes without it.
  natsTask = runNats();
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : o.listenPort;
  const url = `http://${o.listenHost.includes(':') ? `[${o.listenHost}]` : o.listenHost}:${port}`;
  log.info({ url }, 'collector listening');

  return {
    app,
    state,
    ingest,
    diagnoser,
    history,
    segments,
    url,
    stop,
  };
}
