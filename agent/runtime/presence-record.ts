/**
 * This node's presence record (what peers probe by and check their tables against: underlay
 * addresses, VTEP identities with the MTU each overlay carries, the prober's port and overlay
 * endpoints; built by agent/publish/messages.ts) and its refresh policy: put
 * when it changed, else every third of the TTL (every peer watches the bucket, so each refresh
 * costs N-1 other agents a message).
 */
import type { Logger } from '../../shared/logging.js';
import type { NodePresence, NodeSnapshot } from '../../shared/schema.js';
import { checkPresence } from '../../shared/validation.js';
import { VERSION } from '../../shared/version.js';
import { presenceRecord as buildPresence } from '../publish/messages.js';
import type { ProbeEngine } from './ports.js';

/** The record from the latest snapshot (null before the first one). */
export function presenceRecord(o: {
  node: string;
  labels: Record<string, string>;
  snapshot: NodeSnapshot | null;
  extras: ReturnType<ProbeEngine['presenceExtras']> | null;
  now: number;
}): NodePresence | null {
  const { snapshot } = o;
  if (!snapshot) return null;
  const extras = o.extras ?? { probePort: 0, overlayEndpoints: [] };
  return buildPresence({ node: o.node, labels: o.labels, version: VERSION, at: o.now }, snapshot, extras);
}

/** Puts the record when it changed or is due; says once per change when it fails the schema. */
export class PresenceRefresh {
  private lastKey: string | null = null;
  /** The last record said to fail the schema (said once, not every round while NATS is down). */
  private lastBadKey: string | null = null;
  private lastAt = 0;

  /**
   * `everyMs`: the refresh period when nothing changed (default a third of the TTL). The agent
   * passes min(TTL/3, 2 rounds): a collector may judge presence by a TTL shorter than the
   * agent's own (e.g. `--presence-ttl 12s` for 2 s rounds), and a refresh that came only every
   * 10 s, plus a slow round, let such a collector see a live agent expire.
   */
  constructor(private readonly o: { ttlMs: number; everyMs?: number; log: Logger }) {}

  /** `put` is null while NATS is not connected (nothing to do until it is). */
  async refresh(p: NodePresence | null, put: ((p: NodePresence) => Promise<void>) | null): Promise<void> {
    const key = p && JSON.stringify({ ...p, at: 0 });
    const due = key !== this.lastKey || Date.now() - this.lastAt >= (this.o.everyMs ?? this.o.ttlMs / 3);
    if (p && !checkPresence.check(p) && key !== this.lastKey && key !== this.lastBadKey) {
      this.lastBadKey = key;
      // Peers and the collector would refuse it: say so here, where it can be fixed.
      this.o.log.error(
        { detail: checkPresence.firstError(p) },
        'own presence record fails the schema; peers will ignore this node',
      );
    }
    if (!p || !put || !due) return;
    try {
      await put(p);
      this.lastKey = key;
      this.lastAt = Date.now();
    } catch (err) {
      this.o.log.warn({ err }, 'presence put failed');
    }
  }
}
