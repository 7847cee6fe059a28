/**
 * Outage history on JetStream: the stream VXDOCTOR_HISTORY (subjects
 * `vxdoctor.history.v1.<raised|changed|cleared>`, bounded by age and bytes, replicas as
 * `--js-replicas`), a writer that turns each diagnosis into transition events (published with a
 * deterministic `Nats-Msg-Id`, retried until stored), and a reader that follows the whole
 * stream (every replica's events) into memory for `GET /api/v1/history`.
 */
import {
  DeliverPolicy,
  DiscardPolicy,
  jetstream,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
} from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from '../../shared/logging.js';
import type { RootCause } from '../../shared/schema.js';
import {
  fold,
  type HistoryEvent,
  type HistoryFilter,
  msgId,
  type OpenOutage,
  type Outage,
  parseEvent,
  query,
  transitions,
} from './events.js';

export const HISTORY_STREAM = 'VXDOCTOR_HISTORY';
export const HISTORY_SUBJECT_PREFIX = 'vxdoctor.history.v1';
/** Events are kept 30 days or 256 MiB, whichever is reached first. */
export const HISTORY_MAX_AGE_MS = 30 * 24 * 3600 * 1000;
export const HISTORY_MAX_BYTES = 256 * 1024 * 1024;
/** Duplicate window: JetStream drops a repeated `Nats-Msg-Id` this long. */
export const HISTORY_DUPLICATE_WINDOW_MS = 10 * 60 * 1000;
/**
 * A root cause missing from the diagnosis for less than this is still open (the diagnosis can
 * drop one for an evaluation or two); the clear is dated when it first went missing.
 */
export const HISTORY_CLEAR_GRACE_MS = 10_000;
/** Events held in memory (oldest dropped first); about 2 KiB each. */
export const HISTORY_MAX_EVENTS = 50_000;

export function historyStreamConfig(replicas = 1) {
  return {
    name: HISTORY_STREAM,
    subjects: [`${HISTORY_SUBJECT_PREFIX}.>`],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    discard: DiscardPolicy.Old,
    num_replicas: replicas,
    max_age: HISTORY_MAX_AGE_MS * 1e6,
    max_bytes: HISTORY_MAX_BYTES,
    max_msg_size: 64 * 1024,
    duplicate_window: HISTORY_DUPLICATE_WINDOW_MS * 1e6,
  };
}

export interface HistoryStoreOptions {
  log: Logger;
  /** This collector's name in the events (`by`). */
  by: string;
  replicas?: number;
  clock?: () => number;
  maxEvents?: number;
  /** A root cause must be gone this long to count as cleared (default 10 s). */
  clearGraceMs?: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class HistoryStore {
  private readonly log: Logger;
  private readonly clock: () => number;
  private readonly maxEvents: number;
  private list: HistoryEvent[] = [];
  private lastSeq = 0;
  private nc: NatsConnection | null = null;
  private stopping = false;
  private caughtUp = false;
  private open = new Map<string, OpenOutage>();
  private readonly closed = new Map<string, { since: string; at: string }>();
  private seeded = false;
  private queue: HistoryEvent[] = [];
  private wake: (() => void) | null = null;
  private readonly tasks: Promise<void>[] = [];
  private iter: { stop(): void } | null = null;
  /** Events this collector published (stored or found duplicate), for tests and the log. */
  published = 0;
  duplicates = 0;

  constructor(private readonly o: HistoryStoreOptions) {
    this.log = o.log.child({ component: 'history' });
    this.clock = o.clock ?? Date.now;
    this.maxEvents = o.maxEvents ?? HISTORY_MAX_EVENTS;
  }

  /** True once the stream's stored events were read (queries are complete from then on). */
  ready(): boolean {
    return this.caughtUp;
  }

  events(): readonly HistoryEvent[] {
    return this.list;
  }

  outages(now = this.clock()): Outage[] {
    return fold(this.list, now);
  }

  query(f: HistoryFilter, now = this.clock()): Outage[] {
    return query(this.outages(now), f);
  }

  /** Starts reading and writing on `nc` (call once the connection is up). */
  attach(nc: NatsConnection): void {
    this.nc = nc;
    this.tasks.push(this.readLoop(), this.writeLoop());
  }

  /**
   * One diagnosis: writes the transitions since the last one. Call only once the collector has
   * rebuilt its state (a restarted collector would otherwise clear every outage); the first
   * call after the history is read continues the outages open in it instead of raising again.
   */
  record(rootCauses: RootCause[]): HistoryEvent[] {
    if (!this.caughtUp) return [];
    const now = this.clock();
    if (!this.seeded) {
      this.seeded = true;
      for (const o of this.outages(now)) {
        if (!o.open) continue;
        this.open.set(o.id, {
          since: o.start,
          key: '',
          facts: o.worst,
          seeded: true,
        });
      }
    }
    const r = transitions(this.open, rootCauses, new Date(now).toISOString(), this.o.by, {
      clearGraceMs: this.o.clearGraceMs ?? HISTORY_CLEAR_GRACE_MS,
      closed: this.closed,
    });
    // Reopening is for flaps: forget clears older than an hour.
    for (const [id, c] of this.closed) if (now - Date.parse(c.at) > 3600_000) this.closed.delete(id);
    // Seeded entries carried no change key: the first diagnosis fills it without a "changed".
    const evs = r.events.filter((e) => !(e.type === 'changed' && this.open.get(e.id)?.key === ''));
    this.open = r.open;
    if (evs.length) {
      for (const e of evs) this.log.info({ type: e.type, id: e.id, since: e.since }, `root cause ${e.type}`);
      this.queue.push(...evs);
      if (this.queue.length > 10_000) this.queue.splice(0, this.queue.length - 10_000);
      this.wake?.();
    }
    return evs;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.iter?.stop();
    this.wake?.();
    await Promise.race([Promise.allSettled(this.tasks), sleep(3000)]);
  }

  /** Publishes queued events in order; a failed publish is retried (the msg id dedupes). */
  private async writeLoop(): Promise<void> {
    let ensured = false;
    while (!this.stopping) {
      const e = this.queue[0];
      const nc = this.nc;
      if (!e || !nc) {
        await new Promise<void>((r) => {
          this.wake = r;
          setTimeout(r, 5000);
        });
        this.wake = null;
        continue;
      }
      try {
        if (!ensured) {
          await this.ensure(nc);
          ensured = true;
        }
        const ack = await jetstream(nc).publish(`${HISTORY_SUBJECT_PREFIX}.${e.type}`, JSON.stringify(e), {
          msgID: msgId(e),
          timeout: 5000,
        });
        if (ack.duplicate) this.duplicates++;
        this.published++;
        this.queue.shift();
      } catch (err) {
        ensured = false;
        if (!this.stopping)
          this.log.warn({ err, id: e.id, type: e.type }, 'history publish failed, retrying');
        await sleep(1000);
      }
    }
  }

  private async ensure(nc: NatsConnection): Promise<void> {
    const jsm = await jetstreamManager(nc, { timeout: 5000 });
    try {
      await jsm.streams.info(HISTORY_STREAM);
    } catch {
      try {
        await jsm.streams.add(historyStreamConfig(this.o.replicas ?? 1));
        this.log.info({ stream: HISTORY_STREAM, replicas: this.o.replicas ?? 1 }, 'created stream');
      } catch (err) {
        // Another replica created it meanwhile.
        await jsm.streams.info(HISTORY_STREAM).catch(() => {
          throw err;
        });
      }
    }
  }

  /** Follows the stream from where it left off (after a reconnect: the next sequence). */
  private async readLoop(): Promise<void> {
    const dec = new TextDecoder();
    while (!this.stopping) {
      try {
        const nc = this.nc;
        if (!nc) throw new Error('no connection');
        await this.ensure(nc);
        const jsm = await jetstreamManager(nc, { timeout: 5000 });
        const info = await jsm.streams.info(HISTORY_STREAM);
        const target = info.state.last_seq;
        if (target <= this.lastSeq) this.caughtUp = true;
        const js = jetstream(nc);
        const oc = await js.consumers.get(
          HISTORY_STREAM,
          this.lastSeq > 0
            ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: this.lastSeq + 1 }
            : { deliver_policy: DeliverPolicy.All },
        );
        const msgs = await oc.consume({ max_messages: 1000 });
        this.iter = msgs;
        for await (const m of msgs) {
          const seq = m.seq;
          if (seq <= this.lastSeq) continue;
          this.lastSeq = seq;
          let ev: HistoryEvent | null = null;
          try {
            ev = parseEvent(JSON.parse(dec.decode(m.data)));
          } catch {
            ev = null;
          }
          if (ev) {
            this.list.push(ev);
            if (this.list.length > this.maxEvents) this.list.splice(0, this.list.length - this.maxEvents);
          } else this.log.debug({ seq, subject: m.subject }, 'history event rejected');
          if (!this.caughtUp && (seq >= target || m.info.pending === 0)) {
            this.caughtUp = true;
            this.log.info({ events: this.list.length }, 'history read');
          }
        }
      } catch (err) {
        if (!this.stopping) this.log.warn({ err }, 'history reader failed, retrying');
      }
      if (!this.stopping) await sleep(1000);
    }
  }
}
