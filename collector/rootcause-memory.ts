/**
 * Root-cause memory: the `since` of every active root cause, kept in KV bucket
 * `vxdoctor_rootcauses` (shared/nats.ts) so a restarted collector (or another replica) reports
 * an outage that was already going on with its original start, not as new.
 */
import type { KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from '../shared/logging.js';
import { ensureRootCauseBucket } from '../shared/nats.js';

const rcKey = (id: string) => Buffer.from(id, 'utf8').toString('base64url');

export interface Since {
  id: string;
  since: string;
}

/** Entries of the bucket that hold a usable `{id, since}` (a corrupt one is skipped). */
export function parseSince(value: Uint8Array): Since | null {
  try {
    const v = JSON.parse(new TextDecoder().decode(value)) as { id?: unknown; since?: unknown };
    if (typeof v.id === 'string' && typeof v.since === 'string' && !Number.isNaN(Date.parse(v.since)))
      return { id: v.id, since: v.since };
  } catch {
    // ignore a corrupt entry
  }
  return null;
}

export class RootCauseMemory {
  private kv: KV | null = null;
  /** What the bucket holds, as this collector last wrote or read it. */
  private readonly persisted = new Map<string, string>();

  constructor(private readonly log: Logger) {}

  /** Opens the bucket and returns what it remembers; from then on `remember` writes to it. */
  async restore(nc: NatsConnection, replicas: number): Promise<Since[]> {
    const kv = await ensureRootCauseBucket(nc, replicas);
    const seeds: Since[] = [];
    for await (const key of await kv.keys()) {
      const e = await kv.get(key);
      if (e?.operation !== 'PUT') continue;
      const s = parseSince(e.value);
      if (!s) continue;
      seeds.push(s);
      this.persisted.set(s.id, s.since);
    }
    this.kv = kv;
    return seeds;
  }

  /** Writes the active root causes' `since` that changed, deletes those no longer active. */
  remember(rcs: Since[]): void {
    const kv = this.kv;
    if (!kv) return;
    const now = new Set<string>();
    for (const rc of rcs) {
      now.add(rc.id);
      if (this.persisted.get(rc.id) === rc.since) continue;
      this.persisted.set(rc.id, rc.since);
      kv.put(rcKey(rc.id), JSON.stringify({ id: rc.id, since: rc.since })).catch((err) =>
        this.log.warn({ err, id: rc.id }, 'persisting root cause since failed'),
      );
    }
    for (const id of [...this.persisted.keys()]) {
      if (now.has(id)) continue;
      this.persisted.delete(id);
      kv.delete(rcKey(id)).catch((err) => this.log.warn({ err, id }, 'clearing root cause since failed'));
    }
  }
}
