/**
 * The agent's I/O shell, wired from its parts (agent/runtime/): inventory + checks, heartbeat
 * rounds, the NATS session (publisher, presence, trace responder), metrics and HTTP, all
 * publishing through the outbox, all under one Lifecycle (one stop signal, every loop awaited).
 * Everything runs through narrow ports so a test can drive it with fakes; main.ts wires the
 * real modules.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import { Registry } from 'prom-client';
import { ConfigError } from '../shared/config.js';
import { Lifecycle } from '../shared/lifecycle.js';
import type { Logger } from '../shared/logging.js';
import type { NodePresence, NodeSnapshot, VxdoctorMessage } from '../shared/schema.js';
import { buildAgentApp } from './http.js';
import { debounce } from './inventory/watch.js';
import { registerAgentMetrics } from './metrics.js';
import { LocalCrossChecker } from '../shared/crosschecks/local.js';
import { probesMessage } from './publish/messages.js';
import { Outbox, type Publisher } from './publish/outbox.js';
import { PresenceRejects } from '../shared/presence.js';
import { NodeInventory } from './runtime/inventory.js';
import { changeSignalCheck, jittered, roundGrid } from './runtime/loops.js';
import type { CheckRunner, ProbeEngine, SnapshotSource } from './runtime/ports.js';
import { PresenceRefresh, presenceRecord } from './runtime/presence-record.js';
import { NatsSession } from './runtime/session.js';
import { TraceResponder } from './runtime/trace-responder.js';
import { encodeProbes } from '../shared/probes-wire.js';

export { findingsKey, snapshotKey } from './runtime/inventory.js';
export type { CheckRunner, ProbeEngine, SnapshotSource } from './runtime/ports.js';

export interface AgentRuntimeOptions {
  node: string;
  labels: Record<string, string>;
  intervalMs: number;
  inventoryIntervalMs: number;
  /** Probes message form on the wire (default rows: shared/probes-wire.ts). */
  probesEncoding?: 'rows' | 'json';
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

const enc = new TextEncoder();

export async function startAgent(o: AgentRuntimeOptions): Promise<RunningAgent> {
  const log = o.log.child({ component: 'agent' });
  let lastLoopAt = Date.now();
  const lc = new Lifecycle({
    onError: (err, name) => log.warn({ err, loop: name }, 'loop iteration failed'),
  });
  let prober: ProbeEngine | null = null;
  /** Why heartbeats are off (prober could not be created/started), for an unknown finding. */
  let proberError: string | null = null;
  let peers: NodePresence[] = [];
  const presenceRejects = new PresenceRejects();

  const traces = new TraceResponder({
    node: o.node,
    prober: () => prober,
    knows: (dst) => peers.some((p) => p.node === dst),
  });
  const flush = (): Promise<number> =>
    outbox.flush().catch((err) => {
      log.warn({ err }, 'flush failed');
      return 0;
    });
  const session: NatsSession = new NatsSession({
    node: o.node,
    connect: o.connect,
    publisherFor: o.publisherFor,
    presenceTtlMs: o.presenceTtlMs,
    jsReplicas: o.jsReplicas ?? 1,
    presenceRejects,
    onPeers: (list) => {
      peers = list;
      const d = prober?.setPeers(list);
      // Names only when few: at 1,000 peers one line per change would be the whole list.
      log.info(
        { peers: list.length, ...(list.length <= 32 ? { names: list.map((p) => p.node) } : {}), ...d },
        'peers changed',
      );
      // Judged at the next round, not per change: at scale-up thousands of peers arrive one
      // by one, and one run over 5,000 peers costs ~0.1-0.2 s.
      crossDirty = true;
    },
    snapshot: () => inv.snapshot,
    traces,
    flush,
    log,
  });
  const outbox = new Outbox(
    {
      publish: (k, id, d) =>
        session.publisher ? session.publisher.publish(k, id, d) : Promise.reject(new Error('no NATS')),
      connected: () => session.connected(),
    },
    o.outboxBytes,
  );
  // Probes go out in the compact rows form (shared/probes-wire.ts) unless told otherwise.
  const rows = (o.probesEncoding ?? 'rows') === 'rows';
  const put = (m: VxdoctorMessage): void => {
    const body = m.type === 'probes' && rows ? encodeProbes(m) : m;
    outbox.put({ kind: m.type, id: m.id, data: enc.encode(JSON.stringify(body)) });
  };

  // Cross-node checks of this node's tables against its peers' identities (presence): run on
  // every inventory, and at the next round after peers changed or while an `unknown` waits to
  // age into a verdict.
  const crossChecker = new LocalCrossChecker({ settleMs: (2 * o.presenceTtlMs) / 3, log });
  let crossDirty = false;
  const inv: NodeInventory = new NodeInventory({
    node: o.node,
    collect: o.collect,
    checks: o.checks,
    republishMs: o.republishMs,
    unknowns: () =>
      prober ? prober.unknowns() : proberError ? [{ what: 'heartbeats', reason: proberError }] : [],
    onSnapshot: (s) => prober?.updateLocal(s),
    cross: (self) =>
      crossChecker.run({ self, peers, synced: session.presence?.synced ?? false, now: Date.now() }),
    put,
    flush,
    log,
  });
  const inventory = () => inv.run();

  const grid = roundGrid(o.intervalMs);
  const presence = new PresenceRefresh({
    ttlMs: o.presenceTtlMs,
    everyMs: Math.min(o.presenceTtlMs / 3, 2 * o.intervalMs),
    log,
  });
  let round = 0;
  const heartbeat = async (): Promise<void> => {
    if (prober) {
      round++;
      // A round that fails is logged; presence is refreshed all the same (a node whose rounds
      // throw is still there, and peers must not see it expire).
      try {
        const r = await prober.runRound(round, grid.roundOf(Date.now()));
        put(probesMessage({ node: o.node }, round, r.results, r.arrivals));
      } catch (err) {
        log.warn({ err, round }, 'heartbeat round failed');
      }
    }
    // Peers changed, or an unowned FDB destination is waiting to be judged.
    if (crossDirty || inv.findings.some((f) => f.check === 'fdb-unowned' && f.status === 'unknown')) {
      crossDirty = false;
      inv.publishFindings();
    }
    const record = presenceRecord({
      node: o.node,
      labels: o.labels,
      snapshot: inv.snapshot,
      extras: prober?.presenceExtras() ?? null,
      now: Date.now(),
    });
    const kv = session.presence;
    await presence.refresh(record, kv && session.connected() ? (p) => kv.put(p) : null);
    void flush();
  };

  // First inventory before anything else (the prober needs the underlay address).
  await inventory().catch((err) => log.error({ err }, 'first inventory failed'));
  if (inv.snapshot) {
    try {
      prober = await o.prober(inv.snapshot);
      await prober.start();
      prober.updateLocal(inv.snapshot);
      if (prober.unknowns().length) await inventory(); // publish the capture unknowns now
    } catch (err) {
      log.error({ err }, 'prober failed to start; heartbeats off');
      prober = null;
      proberError = `heartbeats off: ${(err as Error).message}`;
      await inventory().catch(() => undefined);
    }
  }

  session.start(lc);

  const registry = new Registry();
  registerAgentMetrics(registry, {
    inventorySeconds: () => (inv.snapshot ? inv.snapshot.durationMs / 1000 : null),
    probeStats: () => prober?.stats() ?? null,
    outbox: () => outbox.stats(),
    checkRuns: () => inv.checkRuns,
    natsConnected: () => session.connected(),
    presenceRejected: () => presenceRejects.counts,
  });
  const app = await buildAgentApp({
    registry,
    healthy: () => {
      const age = Date.now() - lastLoopAt;
      return {
        ok: !lc.stopping && age < 3 * Math.max(o.intervalMs, 1000) + 5000,
        detail: { loopAgeMs: age, nats: session.connected(), round, outbox: outbox.stats() },
      };
    },
  });
  let stopEvents: (() => void) | null = null;
  let changes: ReturnType<typeof debounce> | null = null;
  const stopAll = async () => {
    const loops = lc.stop(); // sleeping loops wake and end; running iterations finish
    stopEvents?.();
    changes?.stop();
    await prober?.stop().catch((err) => log.warn({ err }, 'prober stop failed'));
    await Promise.race([flush(), new Promise((r) => setTimeout(r, 2000))]);
    await session.stop();
    await loops;
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

  // Serial loops; one failing iteration is logged, the loop goes on.
  const loop = (name: string, first: number, fn: () => Promise<void>, next: (started: number) => number) =>
    lc.every(name, first, next, async () => {
      await fn();
      lastLoopAt = Date.now();
    });
  loop('heartbeat', grid.nextRound(), heartbeat, grid.nextRound);
  loop('inventory', o.inventoryIntervalMs, inventory, jittered(o.inventoryIntervalMs));
  if (o.changeSignal) {
    const signal = o.changeSignal;
    const initial = await signal().catch(() => '');
    const check = changeSignalCheck({ lc, signal, initial, inventory, log });
    loop('change-signal', 1000, check, jittered(Math.max(1000, Math.min(o.intervalMs, 5000))));
  }
  if (o.changeEvents) {
    const quiet = o.changeQuietMs ?? 300;
    const c = debounce(
      async () => {
        if (lc.stopping) return;
        log.debug('netlink change: inventory now');
        await inventory().catch((err) => log.warn({ err }, 'change-driven inventory failed'));
      },
      quiet,
      Math.max(quiet, 1000),
    );
    changes = c;
    stopEvents = o.changeEvents(() => c.poke());
  }
  log.info({ listen: `${o.listenHost}:${port}` }, 'agent running');

  return { url: `http://${o.listenHost}:${port}`, outbox, stop: stopAll };
}
