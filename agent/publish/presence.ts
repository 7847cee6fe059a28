/**
 * Presence: this node's `NodePresence` in KV bucket `vxdoctor_nodes` (key = node name),
 * refreshed every heartbeat round; the bucket TTL expires agents that stopped. A watch on the
 * bucket keeps the peer set; deleted/purged/expired keys remove a peer.
 */
import type { KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from '../../shared/logging.js';
import { ensurePresenceBucket } from '../../shared/nats.js';
import { checkPresenceRecord, type PresenceRejects } from '../../shared/presence.js';
import type { NodePresence } from '../../shared/schema.js';
import { nodeFromToken, nodeToken } from '../../shared/subjects.js';

/** TTL of presence entries: 3 heartbeat intervals, at least 30 s. */
export function presenceTtlMs(intervalMs: number): number {
  return Math.max(30_000, 3 * intervalMs);
}

/** Pure peer-set bookkeeping (unit tested): applies watch entries, reports the diff. */
export class PeerSet {
  private peers = new Map<string, NodePresence>();
  /** Each peer's record without its refresh time: a refresh that changes nothing else is no change. */
  private content = new Map<string, string>();
  /** Server time of the last PUT per node: a KV TTL expiry produces no watch event. */
  private seen = new Map<string, number>();
  constructor(private readonly self: string) {}
  /** Returns true when the set changed. `at` = entry time (server clock), epoch ms. */
  put(p: NodePresence, at: number): boolean {
    if (p.node === this.self) return false;
    const content = JSON.stringify({ ...p, at: 0 });
    const changed = this.content.get(p.node) !== content;
    this.peers.set(p.node, p);
    this.content.set(p.node, content);
    this.seen.set(p.node, at);
    return changed;
  }
  remove(node: string): boolean {
    this.seen.delete(node);
    this.content.delete(node);
    return this.peers.delete(node);
  }
  /** Drops peers not refreshed within ttlMs; returns true when any was dropped. */
  prune(now: number, ttlMs: number): boolean {
    let changed = false;
    for (const [node, at] of this.seen) if (now - at > ttlMs) changed = this.remove(node) || changed;
    return changed;
  }
  list(): NodePresence[] {
    return [...this.peers.values()].sort((a, b) => a.node.localeCompare(b.node));
  }
}

export interface PresenceOptions {
  nc: NatsConnection;
  node: string;
  ttlMs: number;
  /** Replicas of the bucket if this agent creates it (`--js-replicas`; default 1). */
  replicas?: number;
  log: Logger;
  /** Called with the full peer list whenever it changes. */
  onPeers(peers: NodePresence[]): void;
  /** Where refused records are counted (one per agent; the metrics read it). */
  rejects?: PresenceRejects;
}

export class Presence {
  private kv: KV | null = null;
  private stopping = false;
  private watchTask: Promise<void> | null = null;
  private stopWatch: (() => void) | null = null;
  private syncedFlag = false;
  readonly peers: PeerSet;

  /**
   * True once the watch has delivered every record the bucket held when it started (or found
   * it empty): the peer set is then as complete as the bucket, not a start-up fraction of it.
   * Stays true across re-watches.
   */
  get synced(): boolean {
    return this.syncedFlag;
  }

  constructor(private readonly o: PresenceOptions) {
    this.peers = new PeerSet(o.node);
  }

  private async bucket(): Promise<KV> {
    if (this.kv) return this.kv;
    const kv = await ensurePresenceBucket(this.o.nc, {
      ttlMs: this.o.ttlMs,
      ...(this.o.replicas ? { replicas: this.o.replicas } : {}),
    });
    this.kv = kv;
    return kv;
  }

  /** Writes this node's record (called every round) and expires silent peers. */
  async put(p: NodePresence): Promise<void> {
    if (this.peers.prune(Date.now(), this.o.ttlMs)) this.o.onPeers(this.peers.list());
    try {
      const kv = await this.bucket();
      this.ownRevision = await kv.put(nodeToken(this.o.node), JSON.stringify(p));
    } catch (err) {
      this.kv = null; // re-open after a server restart
      throw err;
    }
  }

  /** Watches the bucket until stop(), re-watching after errors. */
  start(): void {
    this.watchTask = (async () => {
      while (!this.stopping) {
        try {
          const kv = await this.bucket();
          const w = await kv.watch();
          this.stopWatch = () => w.stop();
          if (!this.syncedFlag && (await kv.status()).values === 0) {
            this.syncedFlag = true;
            this.o.onPeers(this.peers.list());
          }
          for await (const e of w) {
            let changed = false;
            // `delta` counts the records still pending from the initial read: 0 = caught up.
            if (!this.syncedFlag && (e.delta ?? 0) === 0) {
              this.syncedFlag = true;
              changed = true;
            }
            if (e.operation === 'PUT') {
              const r = checkPresenceRecord(e.key, e.value);
              if (r.ok) {
                this.o.rejects?.accepted(e.key);
                changed = this.peers.put(r.presence, Math.min(Date.now(), e.created.getTime()));
              } else {
                // A refused record also drops the peer's previous one: it no longer says this.
                const gone = nodeFromToken(e.key);
                if (gone !== null) changed = this.peers.remove(gone);
                const key = e.key.slice(0, 253);
                if (this.o.rejects?.note(key, r.reason, r.detail) ?? true)
                  this.o.log.warn({ key, reason: r.reason, detail: r.detail }, 'presence record refused');
              }
            } else {
              const node = nodeFromToken(e.key);
              if (node !== null) changed = this.peers.remove(node);
            }
            if (changed) this.o.onPeers(this.peers.list());
          }
        } catch (err) {
          this.kv = null;
          if (!this.stopping) this.o.log.warn({ err }, 'presence watch failed, retrying');
        }
        if (!this.stopping) await new Promise((r) => setTimeout(r, 1000));
      }
    })();
  }

  /** Revision of this agent's last presence put (0: none yet). */
  private ownRevision = 0;

  /**
   * Stops the watch; with `deleteOwn`, removes this node's record, but only if it is still the
   * one this agent wrote: when another agent for the same node (a restart that overlapped, a
   * rolling update) has written since, the delete is refused by the server and its record
   * stays. (An unconditional delete here marked such a node down until its next refresh.)
   */
  async stop(deleteOwn: boolean): Promise<void> {
    this.stopping = true;
    this.stopWatch?.();
    if (deleteOwn && this.kv && this.ownRevision > 0)
      await this.kv
        .delete(nodeToken(this.o.node), { previousSeq: this.ownRevision })
        .catch((err) =>
          this.o.log.info(
            { err },
            'presence not deleted (another agent for this node wrote it since, or NATS is gone)',
          ),
        );
    await Promise.race([this.watchTask, new Promise((r) => setTimeout(r, 1000))]);
  }
}
