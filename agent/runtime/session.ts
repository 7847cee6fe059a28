/**
 * The agent's NATS session, in the background: the agent keeps inventorying and probing while
 * NATS is down. The client reconnects by itself; should it give up for good (or the first
 * connect fail, e.g. on credentials), a new connection is made here, with backoff from 1 s to
 * 30 s, forever. Each connection gets a publisher, the presence watch and the trace responder.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import type { Lifecycle } from '../../shared/lifecycle.js';
import type { Logger } from '../../shared/logging.js';
import type { NodePresence, NodeSnapshot, SnapshotReply } from '../../shared/schema.js';
import { encodeSnapshotReply } from '../../shared/snapshot-reply.js';
import { snapshotSubject, traceSubject } from '../../shared/subjects.js';
import { checkSnapshotRequest } from '../../shared/validation.js';
import type { Publisher } from '../publish/outbox.js';
import type { PresenceRejects } from '../../shared/presence.js';
import { Presence } from '../publish/presence.js';
import type { TraceResponder } from './trace-responder.js';

export interface NatsSessionOptions {
  node: string;
  /** Resolves once connected (may take forever while NATS is down). */
  connect: () => Promise<NatsConnection>;
  publisherFor: (nc: NatsConnection) => Publisher;
  presenceTtlMs: number;
  /** Replicas of the presence bucket if this agent creates it. */
  jsReplicas: number;
  presenceRejects: PresenceRejects;
  onPeers: (peers: NodePresence[]) => void;
  traces: TraceResponder;
  /** The latest whole snapshot, sent on request (details on demand for the node detail API). */
  snapshot: () => NodeSnapshot | null;
  /** Connected (and reconnected): send what the outbox holds. */
  flush: () => Promise<unknown>;
  log: Logger;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

export class NatsSession {
  /** The current connection's publisher, null while not connected. */
  publisher: Publisher | null = null;
  /** The current connection's presence bucket, null while not connected. */
  presence: Presence | null = null;
  private nc: NatsConnection | null = null;

  constructor(private readonly o: NatsSessionOptions) {}

  connected(): boolean {
    return this.publisher?.connected() ?? false;
  }

  /** Connects (and reconnects) until `lc` stops. */
  start(lc: Lifecycle): void {
    const { log } = this.o;
    lc.spawn('nats', async () => {
      let backoffMs = 1000;
      while (!lc.stopping) {
        const connecting = this.o.connect();
        let got: { stopped: false; value: NatsConnection } | { stopped: true };
        try {
          got = await lc.untilStopped(connecting);
        } catch (err) {
          if (lc.stopping) return;
          log.error({ err, retryInMs: backoffMs }, 'NATS connect failed; trying again');
          if (!(await lc.sleep(backoffMs))) return;
          backoffMs = Math.min(30_000, backoffMs * 2);
          continue;
        }
        if (got.stopped) {
          // Stopped while connecting: a connection that still comes is closed at once.
          connecting.then((c) => c.close()).catch(() => undefined);
          return;
        }
        const conn = got.value;
        backoffMs = 1000;
        try {
          await this.open(conn, lc);
        } catch (err) {
          log.error({ err }, 'NATS session setup failed');
        }
        const closed = await lc.untilStopped(conn.closed());
        if (closed.stopped) return; // stop() drains and closes it
        log.error({ err: closed.value }, 'NATS connection closed for good; connecting again');
        await this.presence?.stop(false).catch(() => undefined);
        this.presence = null;
        this.publisher = null;
        this.nc = null;
      }
    });
  }

  private async open(conn: NatsConnection, lc: Lifecycle): Promise<void> {
    const o = this.o;
    this.nc = conn;
    this.publisher = o.publisherFor(conn);
    this.presence = new Presence({
      rejects: o.presenceRejects,
      nc: conn,
      node: o.node,
      ttlMs: o.presenceTtlMs,
      replicas: o.jsReplicas,
      log: o.log,
      onPeers: o.onPeers,
    });
    this.presence.start();
    conn.subscribe(traceSubject(o.node), {
      callback: (err, msg) => {
        if (err) return;
        void o.traces
          .answer(msg.data)
          .then((reply) => msg.respond(enc.encode(JSON.stringify(reply))))
          .catch((e) => o.log.debug({ err: e }, 'trace reply not sent'));
      },
    });
    // Details on demand: the whole latest snapshot, asked by the collector's node detail API.
    conn.subscribe(snapshotSubject(o.node), {
      callback: (err, msg) => {
        if (err) return;
        let req: unknown = null;
        try {
          req = JSON.parse(dec.decode(msg.data));
        } catch {
          /* answered below */
        }
        const reply: SnapshotReply = { node: o.node };
        const snapshot = o.snapshot();
        if (!checkSnapshotRequest.check(req)) reply.error = 'malformed snapshot request';
        else if (req.node !== o.node) reply.error = `this is ${o.node}, not ${req.node}`;
        else if (!snapshot) reply.error = 'no inventory yet';
        else reply.snapshot = snapshot;
        msg.respond(encodeSnapshotReply(reply, conn.info?.max_payload ?? 1024 * 1024));
      },
    });
    lc.spawn('nats-status', async () => {
      for await (const s of conn.status()) if (s.type === 'reconnect') void o.flush();
    });
    await o.flush();
  }

  /** Leaves the presence bucket's watch and drains the connection (at most 1.5 s). */
  async stop(): Promise<void> {
    await this.presence?.stop(false);
    const nc = this.nc;
    if (nc) await Promise.race([nc.drain().catch(() => undefined), new Promise((r) => setTimeout(r, 1500))]);
    await nc?.close().catch(() => undefined);
  }
}
