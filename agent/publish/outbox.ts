/**
 * The agent's outbox. The NATS client has no reconnect buffer (LAB-NOTES: what is published
 * while disconnected is dropped), so everything goes through here:
 * - summary (or whole snapshot) and findings: only the LATEST one is kept (replace, never queue) — an older
 *   inventory is worthless once a newer one exists;
 * - probes: a window bounded in BYTES; beyond it the oldest round is dropped and counted.
 * A message keeps its id from creation, so a retry after a lost ack publishes the same
 * `Nats-Msg-Id` and JetStream de-duplicates it.
 * Flush order: snapshot, findings (the state), then probe rounds oldest first.
 */
import type { MessageKind } from '../../shared/subjects.js';

/** The narrow publisher port (real: JetStream publish with Nats-Msg-Id; tests: a fake). */
export interface Publisher {
  /** Resolves once the server acknowledged (stored); rejects when not connected/timeout. */
  publish(kind: MessageKind, id: string, data: Uint8Array): Promise<void>;
  connected(): boolean;
}

export interface OutboxEntry {
  kind: MessageKind;
  id: string;
  data: Uint8Array;
}

export interface OutboxStats {
  /** Messages waiting. */
  depth: number;
  /** Bytes waiting (all kinds). */
  bytes: number;
  /** Probe rounds dropped because the window was full (since start). */
  dropped: number;
  /** Messages published (acknowledged) since start. */
  published: number;
  /** Publish attempts that failed (since start). */
  failures: number;
}

export class Outbox {
  private snapshot: OutboxEntry | null = null;
  private findings: OutboxEntry | null = null;
  private probes: OutboxEntry[] = [];
  private probeBytes = 0;
  private dropped = 0;
  private published = 0;
  private failures = 0;
  private flushing: Promise<number> | null = null;

  constructor(
    private readonly publisher: Publisher,
    /** Bound on the probes window in bytes. */
    private readonly maxProbeBytes: number,
  ) {}

  /** Queues a message; snapshot (or summary)/findings replace the pending one of their kind. */
  put(e: OutboxEntry): void {
    if (e.kind === 'snapshot' || e.kind === 'summary') this.snapshot = e;
    else if (e.kind === 'findings') this.findings = e;
    else {
      this.probes.push(e);
      this.probeBytes += e.data.length;
      while (this.probeBytes > this.maxProbeBytes && this.probes.length > 0) {
        const old = this.probes.shift() as OutboxEntry;
        this.probeBytes -= old.data.length;
        this.dropped++;
      }
    }
  }

  stats(): OutboxStats {
    const depth = (this.snapshot ? 1 : 0) + (this.findings ? 1 : 0) + this.probes.length;
    const bytes = (this.snapshot?.data.length ?? 0) + (this.findings?.data.length ?? 0) + this.probeBytes;
    return { depth, bytes, dropped: this.dropped, published: this.published, failures: this.failures };
  }

  /**
   * Publishes what is pending, in order, until empty or the first failure (the rest stays,
   * with the same ids). Concurrent calls share one flush. Returns how many were published.
   */
  flush(): Promise<number> {
    if (this.flushing) return this.flushing;
    this.flushing = this.doFlush().finally(() => {
      this.flushing = null;
    });
    return this.flushing;
  }

  private next(): OutboxEntry | null {
    return this.snapshot ?? this.findings ?? this.probes[0] ?? null;
  }

  private remove(e: OutboxEntry): void {
    // Only remove the entry we sent: a newer snapshot may have replaced it meanwhile.
    if (this.snapshot === e) this.snapshot = null;
    else if (this.findings === e) this.findings = null;
    else {
      const i = this.probes.indexOf(e);
      if (i >= 0) {
        this.probes.splice(i, 1);
        this.probeBytes -= e.data.length;
      }
    }
  }

  private async doFlush(): Promise<number> {
    let n = 0;
    for (;;) {
      if (!this.publisher.connected()) return n;
      const e = this.next();
      if (!e) return n;
      try {
        await this.publisher.publish(e.kind, e.id, e.data);
      } catch {
        this.failures++;
        return n;
      }
      this.remove(e);
      this.published++;
      n++;
    }
  }
}
