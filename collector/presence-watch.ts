/**
 * Presence watch: the collector's view of which agents are alive, from KV bucket
 * `vxdoctor_nodes` (written by every agent, expired by the bucket TTL). Each record is checked
 * (shared/presence.ts) before it reaches the state; a refused one counts as the node's record
 * being gone. Presence age is measured on the server's clock (the entry time), not the agent's.
 */
import { Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Lifecycle } from '../shared/lifecycle.js';
import type { Logger } from '../shared/logging.js';
import { ensurePresenceBucket } from '../shared/nats.js';
import { checkPresenceRecord } from '../shared/presence.js';
import { KV_NODES, nodeFromToken } from '../shared/subjects.js';
import type { IngestCounters } from './ingest/index.js';
import type { ClusterState } from './state/index.js';

export interface PresenceWatchOptions {
  state: ClusterState;
  ingest: IngestCounters;
  log: Logger;
  /** TTL of the bucket if the collector creates it. */
  ttlMs: number;
  replicas: number;
}

export class PresenceWatch {
  private watch: { stop(): void } | null = null;

  constructor(private readonly o: PresenceWatchOptions) {}

  /**
   * Reads the bucket once (before the first evaluation: the presence gate hides nodes without
   * presence, and the watch may be slower than the replay).
   */
  async readOnce(nc: NatsConnection): Promise<void> {
    const kv = await new Kvm(nc).open(KV_NODES);
    for await (const key of await kv.keys()) {
      const e = await kv.get(key);
      if (e?.operation !== 'PUT') continue;
      const r = checkPresenceRecord(e.key, e.value);
      if (r.ok)
        this.o.state.applyPresence({ ...r.presence, at: Math.min(r.presence.at, e.created.getTime()) });
    }
  }

  /** Ends the watch (run() then returns once `life` stopped). */
  stop(): void {
    this.watch?.stop();
  }

  /** Watches the bucket until `life` stops, re-watching a second after a failure. */
  async run(nc: NatsConnection, life: Lifecycle): Promise<void> {
    const { state, ingest, log } = this.o;
    while (!life.stopping) {
      try {
        const kv = await ensurePresenceBucket(nc, { ttlMs: this.o.ttlMs, replicas: this.o.replicas });
        const w = await kv.watch();
        this.watch = w;
        if (life.stopping) w.stop();
        for await (const e of w) {
          if (e.operation === 'PUT') {
            const r = checkPresenceRecord(e.key, e.value);
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
        if (!life.stopping) log.warn({ err }, 'presence watch failed, retrying');
      }
      await life.sleep(1000);
    }
  }
}
