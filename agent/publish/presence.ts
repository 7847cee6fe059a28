/**
 * Presence: this node's `NodePresence` in KV bucket `vxdoctor_nodes` (key = node name),
 * refreshed every heartbeat round; the bucket TTL expires agents that stopped. A watch on the
 * bucket keeps the peer set; deleted/purged/expired keys remove a peer.
 */
import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from '../../shared/logging.js';
import type { NodePresence } from '../../shared/schema.js';
import { KV_NODES, nodeFromToken, nodeToken } from '../../shared/subjects.js';
import { checkPresence, jsonDepth, MAX_JSON_DEPTH } from '../../shared/validation.js';

/** TTL of presence entries: 3 heartbeat intervals, at least 30 s. */
export function presenceTtlMs(intervalMs: number): number {
  return Math.max(30_000, 3 * intervalMs);
}

const utf8 = new TextDecoder();

/** Why a presence record was refused (the `reason` label of the presence-rejected counters). */
export const PRESENCE_REJECT_REASONS = [
  'too-large',
  'too-deep',
  'malformed-json',
  'schema',
  'key-mismatch',
] as const;
export type PresenceRejectReason = (typeof PRESENCE_REJECT_REASONS)[number];
/** Largest presence record accepted (a record is well under 64 KiB even with 256 VTEPs). */
export const MAX_PRESENCE_BYTES = 64 * 1024;

export type PresenceParse =
  | { ok: true; presence: NodePresence }
  | { ok: false; reason: PresenceRejectReason; detail: string };

/**
 * Validates one KV presence record against the shared schema (shared/validation.ts): every
 * field a peer acts on (ports, addresses, VTEPs) is bounded and typed, so a poisoned record is
 * refused here and never reaches the prober or the collector's state. Never throws.
 */
export function checkPresenceRecord(key: string, value: Uint8Array): PresenceParse {
  if (value.byteLength > MAX_PRESENCE_BYTES)
    return { ok: false, reason: 'too-large', detail: `${value.byteLength} bytes` };
  if (jsonDepth(value) > MAX_JSON_DEPTH) return { ok: false, reason: 'too-deep', detail: 'nesting' };
  let v: unknown;
  try {
    v = JSON.parse(utf8.decode(value));
  } catch (err) {
    return { ok: false, reason: 'malformed-json', detail: (err as Error).message };
  }
  if (!checkPresence.check(v)) return { ok: false, reason: 'schema', detail: checkPresence.firstError(v) };
  if (v.node !== nodeFromToken(key))
    return { ok: false, reason: 'key-mismatch', detail: `record of ${v.node} under ${key}` };
  return { ok: true, presence: v };
}

export function parsePresence(key: string, value: Uint8Array): NodePresence | null {
  const r = checkPresenceRecord(key, value);
  return r.ok ? r.presence : null;
}

/** Counts refused presence records by reason (read by the metrics collect()). */
export class PresenceRejects {
  readonly counts: Record<PresenceRejectReason, number> = Object.fromEntries(
    PRESENCE_REJECT_REASONS.map((r) => [r, 0]),
  ) as Record<PresenceRejectReason, number>;
  /** Last reason per key, so a record refused again every refresh is logged once. */
  private readonly last = new Map<string, string>();
  /** Returns true when this key's rejection is new (worth a warning). */
  note(key: string, reason: PresenceRejectReason, detail: string): boolean {
    this.counts[reason]++;
    const k = `${reason}:${detail}`;
    if (this.last.get(key) === k) return false;
    if (this.last.size >= 1000) this.last.clear();
    this.last.set(key, k);
    return true;
  }
  accepted(key: string): void {
    this.last.delete(key);
  }
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

/**
 * Opens the presence bucket, creating it when missing with `ttlMs` and `replicas`
 * (`--js-replicas`). An existing bucket is opened as it is.
 */
export async function ensurePresenceBucket(
  nc: NatsConnection,
  o: { ttlMs: number; replicas?: number },
): Promise<KV> {
  const kvm = new Kvm(nc);
  try {
    const kv = await kvm.open(KV_NODES);
    await kv.status();
    return kv;
  } catch {
    return kvm.create(KV_NODES, { ttl: o.ttlMs, history: 1, replicas: o.replicas ?? 1 });
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
      await kv.put(nodeToken(this.o.node), JSON.stringify(p));
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

  async stop(deleteOwn: boolean): Promise<void> {
    this.stopping = true;
    this.stopWatch?.();
    if (deleteOwn && this.kv) await this.kv.delete(this.o.node).catch(() => undefined);
    await Promise.race([this.watchTask, new Promise((r) => setTimeout(r, 1000))]);
  }
}
