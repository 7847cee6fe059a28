/**
 * The agent's I/O shell: schedules inventory + checks, heartbeat rounds, publishing through the
 * outbox, presence, trace replies. Everything runs through narrow ports so a test can drive it
 * with fakes; main.ts wires the real modules.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import { Registry } from 'prom-client';
import { ConfigError } from '../shared/config.js';
import { checkPresence, checkSnapshotRequest, checkTraceRequest } from '../shared/validation.js';
import type { Logger } from '../shared/logging.js';
import {
  type ArrivalReport,
  type CheckRun,
  type Finding,
  type NodePresence,
  type NodeSnapshot,
  type ProbePath,
  type ProbeResult,
  type SnapshotReply,
  type TraceReply,
  type TraceRequest,
  type Unknown,
  type VxdoctorMessage,
} from '../shared/schema.js';
import { snapshotSubject, traceSubject } from '../shared/subjects.js';
import { LocalCrossChecker } from '../shared/crosschecks/local.js';
import { encodeSnapshotReply } from '../shared/snapshot-reply.js';
import { snapshotDigest } from '../shared/summary.js';
import {
  findingsMessage,
  presenceRecord as buildPresence,
  probesMessage,
  summaryMessage,
} from './publish/messages.js';
import { VERSION } from '../shared/version.js';
import { buildAgentApp } from './http.js';
import { registerAgentMetrics } from './metrics.js';
import { Outbox, type Publisher } from './publish/outbox.js';
import { debounce } from './inventory/watch.js';
import { Presence, PresenceRejects } from './publish/presence.js';

/** The slice of the heartbeat Prober the runtime uses (agent/heartbeat/prober.ts). */
/** Trace requests running or waiting on one agent; beyond, the request is answered `busy`. */
const MAX_TRACES_QUEUED = 3;

export interface ProbeEngine {
  start(): Promise<void>;
  updateLocal(s: NodeSnapshot): void;
  setPeers(peers: NodePresence[]): { added: string[]; removed: string[] };
  /**
   * `round` counts this agent's rounds (consecutive, in messages); `slot` is the cluster-wide
   * round number (time / interval) every node agrees on, which picks the probe targets.
   */
  runRound(round: number, slot?: number): Promise<{ results: ProbeResult[]; arrivals: ArrivalReport[] }>;
  trace(dst: string): Promise<ProbeResult[]>;
  presenceExtras(): Pick<NodePresence, 'probePort' | 'overlayEndpoints'>;
  unknowns(): Unknown[];
  stats(): {
    sent: Record<ProbePath, number>;
    received: Record<ProbePath, number>;
    rejected: Record<string, number>;
    captureDropped: number;
  };
  stop(): Promise<void>;
}

export type SnapshotSource = () => Promise<NodeSnapshot>;
export type CheckRunner = (s: NodeSnapshot) => { findings: Finding[]; checkRuns: CheckRun[] };

export interface AgentRuntimeOptions {
  node: string;
  labels: Record<string, string>;
  intervalMs: number;
  inventoryIntervalMs: number;
  /** Publish snapshot/findings at least this often even when unchanged. */
  republishMs: number;
  listenHost: string;
  listenPort: number;
  outboxBytes: number;
  collect: SnapshotSource;
  /** Cheap change signal (e.g. link count per namespace); a difference triggers inventory. */
  changeSignal?: () => Promise<string>;
  /**
   * Netlink change events (agent/inventory/watch.ts): each call of `onChange` is one relevant
   * change; a burst is debounced into one inventory. Returns the function that stops watching.
   */
  changeEvents?: (onChange: () => void) => () => void;
  /** Quiet time after the last change event before the inventory (default 300 ms; at most 1 s after the first). */
  changeQuietMs?: number;
  checks: CheckRunner;
  /** Created once the first snapshot exists (it needs the underlay address). */
  prober: (s: NodeSnapshot) => Promise<ProbeEngine>;
  /** Resolves once connected (may take forever while NATS is down). */
  connect: () => Promise<NatsConnection>;
  publisherFor: (nc: NatsConnection) => Publisher;
  presenceTtlMs: number;
  /** Replicas of the presence bucket if this agent creates it (`--js-replicas`). */
  jsReplicas?: number;
  log: Logger;
}

export interface RunningAgent {
  url: string;
  outbox: Outbox;
  stop(): Promise<void>;
}

/** Stable content key: what changed between snapshots, ignoring times. */
export function snapshotKey(s: NodeSnapshot): string {
  return JSON.stringify({ ...s, takenAt: '', durationMs: 0 });
}
export function findingsKey(f: Finding[]): string {
  return JSON.stringify(
    [...f].sort((a, b) => `${a.check}/${a.subject}`.localeCompare(`${b.check}/${b.subject}`)),
  );
}

const enc = new TextEncoder();
/** How long a changed node must stay unchanged before the change-triggered inventory. */
const SETTLE_MS = 1000;

export function verdictLines(results: ProbeResult[]): string[] {
  return results.map((r) => {
    const hop = r.answered
      ? 'ok'
      : r.leftSrc === false
        ? `never left ${r.src}`
        : r.arrivedDst === false
          ? `left ${r.src}, never reached ${r.dst}`
          : r.arrivedDst === true
            ? `reached ${r.dst}, no answer`
            : 'no answer';
    const pm = r.pmtu
      ? ` (largest passing ${r.pmtu.largestPassing ?? 'none'}, required ${r.pmtu.required})`
      : '';
    return `${r.path}: ${hop}${pm}${r.note ? ` — ${r.note}` : ''}`;
  });
}

export async function startAgent(o: AgentRuntimeOptions): Promise<RunningAgent> {
  const log = o.log.child({ component: 'agent' });
  let stopping = false;
  let publisher: Publisher | null = null;
  let nc: NatsConnection | null = null;
  let presence: Presence | null = null;
  const presenceRejects = new PresenceRejects();
  const traces = { running: 0, waiting: 0, tail: Promise.resolve() as Promise<void> };
  let prober: ProbeEngine | null = null;
  let snapshot: NodeSnapshot | null = null;
  /** Node checks' results (latest inventory) and, with the cross-node checks', what is published. */
  let nodeFindings: Finding[] = [];
  let nodeCheckRuns: CheckRun[] = [];
  let findings: Finding[] = [];
  let checkRuns: CheckRun[] = [];
  let lastSnapKey = '';
  let lastFindKey = '';
  let lastPublishAt = 0;
  let lastSignal = '';
  let lastLoopAt = Date.now();
  let round = 0;
  let roundOf: (t: number) => number = () => 0;
  /** Why heartbeats are off (prober could not be created/started), for an unknown finding. */
  let proberError: string | null = null;
  let lastPeers: NodePresence[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const outbox = new Outbox(
    {
      publish: (k, id, d) => (publisher ? publisher.publish(k, id, d) : Promise.reject(new Error('no NATS'))),
      connected: () => publisher?.connected() ?? false,
    },
    o.outboxBytes,
  );

  const put = (m: VxdoctorMessage): void => {
    outbox.put({ kind: m.type, id: m.id, data: enc.encode(JSON.stringify(m)) });
  };
  const flush = () =>
    outbox.flush().catch((err) => {
      log.warn({ err }, 'flush failed');
      return 0;
    });

  // One inventory at a time (the periodic loop, the change signal and change events all ask).
  let inventoryRunning: Promise<void> | null = null;
  const inventory = async (): Promise<void> => {
    while (inventoryRunning) await inventoryRunning.catch(() => undefined);
    const p = inventoryOnce();
    inventoryRunning = p;
    try {
      await p;
    } finally {
      inventoryRunning = null;
    }
  };
  const inventoryOnce = async (): Promise<void> => {
    const t0 = performance.now();
    const s = await o.collect();
    const r = o.checks(s);
    const extra: Finding[] = [];
    const unknowns = prober
      ? prober.unknowns()
      : proberError
        ? [{ what: 'heartbeats', reason: proberError }]
        : [];
    for (const u of unknowns)
      extra.push({
        check: 'heartbeat-capture',
        status: 'unknown',
        severity: 'warning',
        kind: null,
        incident: null,
        node: o.node,
        subject: u.what,
        summary: `${u.what}: ${u.reason}`,
        evidence: [u.reason],
        remediation: '',
      });
    snapshot = s;
    nodeFindings = [...r.findings, ...extra];
    nodeCheckRuns = r.checkRuns;
    prober?.updateLocal(s);
    const sk = snapshotDigest(s);
    const due = Date.now() - lastPublishAt >= o.republishMs;
    if (sk !== lastSnapKey || due) put(summaryMessage({ node: o.node }, s));
    if (sk !== lastSnapKey || due) lastPublishAt = Date.now();
    lastSnapKey = sk;
    publishFindings(due);
    log.debug({ durationMs: Math.round(performance.now() - t0), findings: findings.length }, 'inventory');
    void flush();
  };

  // Cross-node checks of this node's tables against its peers' identities (presence): run on
  // every inventory, every peer change and every round (a waiting `unknown` may have aged into
  // a verdict); the findings message goes out only when its content changed (or is due).
  const crossChecker = new LocalCrossChecker({ settleMs: (2 * o.presenceTtlMs) / 3, log });
  const publishFindings = (due = false): void => {
    if (!snapshot) return;
    const cross = crossChecker.run({
      self: snapshot,
      peers: lastPeers,
      synced: presence?.synced ?? false,
      now: Date.now(),
    });
    findings = [...nodeFindings, ...cross.findings];
    checkRuns = [...nodeCheckRuns, ...cross.checkRuns];
    const fk = findingsKey(findings);
    if (fk !== lastFindKey || due) put(findingsMessage({ node: o.node }, findings, checkRuns));
    lastFindKey = fk;
  };

  const presenceRecord = (): NodePresence | null => {
    if (!snapshot) return null;
    const extras = prober?.presenceExtras() ?? { probePort: 0, overlayEndpoints: [] };
    return buildPresence({ node: o.node, labels: o.labels, version: VERSION }, snapshot, extras);
  };

  let lastPresenceKey: string | null = null;
  let lastPresenceAt = 0;
  const heartbeat = async (): Promise<void> => {
    if (prober) {
      round++;
      // A round that fails is logged; presence is refreshed all the same (a node whose rounds
      // throw is still there, and peers must not see it expire).
      try {
        const r = await prober.runRound(round, roundOf(Date.now()));
        put(probesMessage({ node: o.node }, round, r.results, r.arrivals));
      } catch (err) {
        log.warn({ err, round }, 'heartbeat round failed');
      }
    }
    // Presence is refreshed when it changes and otherwise every third of its TTL: every peer
    // watches the bucket, so each refresh costs N-1 other agents a message.
    publishFindings();
    const p = presenceRecord();
    const key = p && JSON.stringify({ ...p, at: 0 });
    const due = key !== lastPresenceKey || Date.now() - lastPresenceAt >= o.presenceTtlMs / 3;
    if (p && !checkPresence.check(p) && key !== lastPresenceKey) {
      // Peers and the collector would refuse it: say so here, where it can be fixed.
      log.error(
        { detail: checkPresence.firstError(p) },
        'own presence record fails the schema; peers will ignore this node',
      );
    }
    if (p && presence && publisher?.connected() && due) {
      try {
        await presence.put(p);
        lastPresenceKey = key;
        lastPresenceAt = Date.now();
      } catch (err) {
        log.warn({ err }, 'presence put failed');
      }
    }
    void flush();
  };

  // Serial loops; one failing iteration is logged, the loop goes on. `nextIn(started)` says when
  // the next iteration is due.
  const loop = (
    name: string,
    firstMs: number,
    fn: () => Promise<void>,
    nextIn: (started: number) => number,
  ) => {
    const tick = async () => {
      timers.delete(t);
      if (stopping) return;
      const started = Date.now();
      try {
        await fn();
        lastLoopAt = Date.now();
      } catch (err) {
        log.warn({ err, loop: name }, 'loop iteration failed');
      }
      if (stopping) return;
      t = setTimeout(tick, Math.max(10, nextIn(started)));
      timers.add(t);
    };
    let t = setTimeout(tick, firstMs);
    timers.add(t);
  };
  // Fixed rate with ±10 % jitter: due `everyMs` after the last one started (not after it ended).
  const every = (everyMs: number) => (started: number) =>
    started + everyMs + (Math.random() - 0.5) * 0.2 * everyMs - Date.now();

  // First inventory before anything else (the prober needs the underlay address).
  await inventory().catch((err) => log.error({ err }, 'first inventory failed'));
  if (snapshot) {
    try {
      prober = await o.prober(snapshot);
      await prober.start();
      prober.updateLocal(snapshot);
      if (prober.unknowns().length) await inventory(); // publish the capture unknowns now
    } catch (err) {
      log.error({ err }, 'prober failed to start; heartbeats off');
      prober = null;
      proberError = `heartbeats off: ${(err as Error).message}`;
      await inventory().catch(() => undefined);
    }
  }

  // NATS in the background: the agent keeps inventorying and probing while it is down. The
  // client reconnects by itself; should it give up for good (or the first connect fail, e.g. on
  // credentials), a new connection is made here, with backoff from 1 s to 30 s, forever.
  const session = async (conn: NatsConnection): Promise<void> => {
    nc = conn;
    publisher = o.publisherFor(conn);
    presence = new Presence({
      rejects: presenceRejects,
      nc: conn,
      node: o.node,
      ttlMs: o.presenceTtlMs,
      replicas: o.jsReplicas ?? 1,
      log,
      onPeers: (peers) => {
        lastPeers = peers;
        const d = prober?.setPeers(peers);
        // Names only when few: at 1,000 peers one line per change would be the whole list.
        log.info(
          { peers: peers.length, ...(peers.length <= 32 ? { names: peers.map((p) => p.node) } : {}), ...d },
          'peers changed',
        );
        publishFindings();
      },
    });
    presence.start();
    conn.subscribe(traceSubject(o.node), {
      callback: (err, msg) => {
        if (err) return;
        void (async () => {
          let req: TraceRequest | null = null;
          try {
            const v: unknown = JSON.parse(new TextDecoder().decode(msg.data));
            req = checkTraceRequest.check(v) ? v : null;
          } catch {
            /* answered below */
          }
          const reply: TraceReply = { src: o.node, dst: req?.dst ?? '', results: [], verdict: [] };
          if (!req) reply.error = 'malformed trace request';
          else if (traces.running + traces.waiting >= MAX_TRACES_QUEUED)
            reply.error = 'busy: too many traces on this node; try again shortly';
          else if (!prober) reply.error = 'heartbeats unavailable on this node';
          else if (!lastPeers.some((p) => p.node === req?.dst)) reply.error = `unknown peer ${req.dst}`;
          else {
            // One trace at a time on this node (each one probes every path): a burst waits in a
            // short queue instead of flooding the sockets the heartbeats use.
            const p = prober;
            const dst = req.dst;
            traces.waiting++;
            const run = traces.tail.then(async () => {
              traces.waiting--;
              traces.running++;
              try {
                reply.results = await p.trace(dst);
                reply.verdict = verdictLines(reply.results);
              } catch (e) {
                reply.error = (e as Error).message;
              } finally {
                traces.running--;
              }
            });
            traces.tail = run;
            await run;
          }
          msg.respond(enc.encode(JSON.stringify(reply)));
        })();
      },
    });
    // Details on demand: the whole latest snapshot, asked by the collector's node detail API.
    conn.subscribe(snapshotSubject(o.node), {
      callback: (err, msg) => {
        if (err) return;
        let req: unknown = null;
        try {
          req = JSON.parse(new TextDecoder().decode(msg.data));
        } catch {
          /* answered below */
        }
        const reply: SnapshotReply = { node: o.node };
        if (!checkSnapshotRequest.check(req)) reply.error = 'malformed snapshot request';
        else if (req.node !== o.node) reply.error = `this is ${o.node}, not ${req.node}`;
        else if (!snapshot) reply.error = 'no inventory yet';
        else reply.snapshot = snapshot;
        msg.respond(encodeSnapshotReply(reply, conn.info?.max_payload ?? 1024 * 1024));
      },
    });
    void (async () => {
      for await (const s of conn.status()) if (s.type === 'reconnect') void flush();
    })();
    await flush();
  };
  void (async () => {
    let backoffMs = 1000;
    while (!stopping) {
      let conn: NatsConnection;
      try {
        conn = await o.connect();
      } catch (err) {
        if (stopping) return;
        log.error({ err, retryInMs: backoffMs }, 'NATS connect failed; trying again');
        await new Promise((r) => setTimeout(r, backoffMs).unref());
        backoffMs = Math.min(30_000, backoffMs * 2);
        continue;
      }
      backoffMs = 1000;
      if (stopping) {
        await conn.close();
        return;
      }
      try {
        await session(conn);
      } catch (err) {
        log.error({ err }, 'NATS session setup failed');
      }
      const err = await conn.closed();
      if (stopping) return;
      log.error({ err }, 'NATS connection closed for good; connecting again');
      const old = presence as Presence | null; // set by session(); TypeScript cannot see that
      await old?.stop(false).catch(() => undefined);
      presence = null;
      publisher = null;
      nc = null;
    }
  })();

  const registry = new Registry();
  registerAgentMetrics(registry, {
    inventorySeconds: () => (snapshot ? snapshot.durationMs / 1000 : null),
    probeStats: () => prober?.stats() ?? null,
    outbox: () => outbox.stats(),
    checkRuns: () => checkRuns,
    natsConnected: () => publisher?.connected() ?? false,
    presenceRejected: () => presenceRejects.counts,
  });
  const app = await buildAgentApp({
    registry,
    healthy: () => {
      const age = Date.now() - lastLoopAt;
      return {
        ok: !stopping && age < 3 * Math.max(o.intervalMs, 1000) + 5000,
        detail: { loopAgeMs: age, nats: publisher?.connected() ?? false, round, outbox: outbox.stats() },
      };
    },
  });
  const stopAll = async () => {
    stopping = true;
    for (const t of timers) clearTimeout(t);
    timers.clear();
    await prober?.stop().catch((err) => log.warn({ err }, 'prober stop failed'));
    await Promise.race([flush(), new Promise((r) => setTimeout(r, 2000))]);
    await presence?.stop(false);
    if (nc) await Promise.race([nc.drain().catch(() => undefined), new Promise((r) => setTimeout(r, 1500))]);
    await nc?.close().catch(() => undefined);
    await app.close();
  };
  try {
    await app.listen({ host: o.listenHost, port: o.listenPort });
  } catch (err) {
    // Fatal at start-up: never an agent running without its /healthz and /metrics.
    await stopAll().catch(() => undefined);
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new ConfigError(`--listen: cannot listen on ${o.listenHost}:${o.listenPort}: ${code}`);
  }
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : o.listenPort;

  // Heartbeat rounds sit on a cluster-wide grid: round r starts at r × interval plus this node's
  // stagger (random, under 40 % of an interval) plus up to 10 % jitter. Every node thus agrees
  // on the round's slot number, which the probe set's per-round coverage of group pairs relies on.
  const stagger = Math.floor(Math.random() * 0.4 * o.intervalMs);
  roundOf = (t) => Math.floor((t - stagger) / o.intervalMs);
  const nextRound = () => {
    const now = Date.now();
    return (roundOf(now) + 1) * o.intervalMs + stagger + Math.random() * 0.1 * o.intervalMs - now;
  };
  loop('heartbeat', nextRound(), heartbeat, nextRound);
  loop('inventory', o.inventoryIntervalMs, inventory, every(o.inventoryIntervalMs));
  if (o.changeSignal) {
    const sig = o.changeSignal;
    lastSignal = await sig().catch(() => '');
    const signalMs = Math.max(1000, Math.min(o.intervalMs, 5000));
    loop(
      'change-signal',
      1000,
      async () => {
        let s = await sig();
        if (s !== lastSignal) {
          // A change is often several steps (Docker or flannel recreating a VTEP, then putting
          // its neighbors and FDB entries back): let it settle so the snapshot is not taken
          // halfway, which would report a transient fault as a finding until the next inventory.
          for (let i = 0; i < 5 && !stopping; i++) {
            await new Promise((r) => setTimeout(r, SETTLE_MS));
            const again = await sig();
            if (again === s) break;
            s = again;
          }
          if (stopping) return;
          lastSignal = s;
          log.info('change signal differs: inventory now');
          await inventory();
        }
      },
      every(signalMs),
    );
  }
  let stopEvents: (() => void) | null = null;
  let changes: ReturnType<typeof debounce> | null = null;
  if (o.changeEvents) {
    const quiet = o.changeQuietMs ?? 300;
    changes = debounce(
      async () => {
        if (stopping) return;
        log.debug('netlink change: inventory now');
        await inventory().catch((err) => log.warn({ err }, 'change-driven inventory failed'));
      },
      quiet,
      Math.max(quiet, 1000),
    );
    const c = changes;
    stopEvents = o.changeEvents(() => c.poke());
  }
  log.info({ listen: `${o.listenHost}:${port}` }, 'agent running');

  return {
    url: `http://${o.listenHost}:${port}`,
    outbox,
    async stop() {
      stopEvents?.();
      changes?.stop();
      await stopAll();
    },
  };
}
