/**
 * The collector's consumer of the VXDOCTOR stream. Before the first attach it rebuilds the
 * state from the stream (a restarted collector has acked all of it): every node's latest
 * snapshot and findings (agents republish them only on change or every few minutes), then
 * everything within the window; duplicates are dropped by message id downstream. Then a durable
 * consumer delivers what it had not acked, created once from the window start; the server
 * removes it after `inactive_threshold` without a pull (a durable named after a pod that is
 * gone), and a restart within that time resumes it. Re-attaches a second after any failure.
 */
import {
  AckPolicy,
  type Consumer,
  type ConsumerConfig,
  DeliverPolicy,
  type JetStreamClient,
  jetstream,
  jetstreamManager,
  type OrderedConsumerOptions,
} from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Lifecycle } from '../shared/lifecycle.js';
import type { Logger } from '../shared/logging.js';
import { ensureStream, streamConfig } from '../shared/nats.js';
import { STREAM_NAME, SUBJECT_PREFIX } from '../shared/subjects.js';

/** Default `inactive_threshold` of the collector's durable consumer: 1 h. */
export const DURABLE_INACTIVE_MS = 60 * 60 * 1000;

/** The collector's durable consumer (nanosecond durations, as the JetStream API wants them). */
export function durableConfig(
  durable: string,
  startTime: string,
  inactiveMs = DURABLE_INACTIVE_MS,
): Partial<ConsumerConfig> & { durable_name: string } {
  return {
    durable_name: durable,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.StartTime,
    opt_start_time: startTime,
    ack_wait: 30 * 1e9,
    max_ack_pending: 10_000,
    inactive_threshold: inactiveMs * 1e6,
  };
}

export interface ConsumerOptions {
  durable: string;
  durableInactiveMs?: number;
  /** The replay reaches back this far (the state's sliding window). */
  windowMs: number;
  /** Replicas of the stream if the collector creates it. */
  replicas: number;
  clock: () => number;
  log: Logger;
  /** Applies one message (validation and state); must not throw for bad input. */
  handle(subject: string, data: Uint8Array): void;
  /**
   * Each message the durable delivers, before `handle`: its stream sequence, what is still
   * pending and when it was stored (epoch ms) — ingest lag and messages the stream discarded
   * unread (sequence gaps).
   */
  delivered?(streamSequence: number, pending: number, storedAtMs: number): void;
  /** Once, before the first replay (e.g. the root-cause memory). */
  beforeRebuild?(nc: NatsConnection): Promise<void>;
  /** Once, after the first replay, before `onRebuilt` (e.g. read presence once). */
  afterReplay?(nc: NatsConnection): Promise<void>;
  /** The state was rebuilt from the stream: evaluation may start. */
  onRebuilt?(): void;
  /** Each time the durable consumer is attached. */
  onAttach?(): void;
}

/**
 * Bytes per consumer pull (the client keeps up to this much requested and refills at half):
 * twice the stream's largest message (a pull smaller than the next message would never deliver
 * it), far below what nats-server buffers for a client before cutting it off as a slow consumer
 * (64 MB). 512 messages with no byte limit were up to 0.5 GB of snapshots at 1,000 nodes.
 */
export const PULL_MAX_BYTES = 2 * streamConfig().max_msg_size;

export class StreamConsumer {
  /** The durable consumer is attached and delivering. */
  attached = false;
  /** The state was rebuilt from the stream (once per process). */
  rebuilt = false;
  private msgs: { stop(): void } | null = null;

  constructor(private readonly o: ConsumerOptions) {}

  /** Consumes until `life` stops. */
  async run(nc: NatsConnection, life: Lifecycle): Promise<void> {
    const { o } = this;
    while (!life.stopping) {
      try {
        const jsm = await jetstreamManager(nc, { timeout: 5000 });
        await ensureStream(jsm, o.log, o.replicas);
        const js = jetstream(nc);
        const startTime = new Date(o.clock() - o.windowMs).toISOString();
        if (!this.rebuilt) await o.beforeRebuild?.(nc);
        // Every node's latest summary (or whole snapshot, from an older agent) and findings.
        for (const kind of ['snapshot', 'summary', 'findings']) {
          await this.replay(js, life, {
            deliver_policy: DeliverPolicy.LastPerSubject,
            filter_subjects: `${SUBJECT_PREFIX}.*.${kind}`,
          });
        }
        await this.replay(js, life, { deliver_policy: DeliverPolicy.StartTime, opt_start_time: startTime });
        if (!this.rebuilt) {
          await o.afterReplay?.(nc);
          this.rebuilt = true;
          o.onRebuilt?.();
        }
        const want = durableConfig(o.durable, startTime, o.durableInactiveMs);
        let existing: Awaited<ReturnType<typeof jsm.consumers.info>> | null = null;
        try {
          existing = await jsm.consumers.info(STREAM_NAME, o.durable);
        } catch {
          await jsm.consumers.add(STREAM_NAME, want);
        }
        if (existing && existing.config.inactive_threshold !== want.inactive_threshold) {
          // Created by an older version without a threshold: set it, keep its position.
          await jsm.consumers
            .update(STREAM_NAME, o.durable, { inactive_threshold: want.inactive_threshold })
            .catch((err) => o.log.warn({ err }, 'could not set inactive_threshold on the durable'));
        }
        const consumer: Consumer = await js.consumers.get(STREAM_NAME, o.durable);
        // Pulls bounded in bytes (max_bytes alone: the client refuses it with max_messages): a
        // pull of 512 large messages is more than nats-server sends a slow reader before cutting
        // it off as a slow consumer.
        const msgs = await consumer.consume({ max_bytes: PULL_MAX_BYTES, expires: 5000 });
        this.msgs = msgs;
        if (life.stopping) msgs.stop();
        this.attached = true;
        o.onAttach?.();
        o.log.info({ durable: o.durable }, 'consumer attached');
        for await (const m of msgs) {
          try {
            o.delivered?.(m.info.streamSequence, m.info.pending, m.info.timestampNanos / 1e6);
            o.handle(m.subject, m.data);
          } catch (err) {
            o.log.error({ err, subject: m.subject }, 'message handler failed');
          }
          m.ack();
        }
        this.attached = false;
      } catch (err) {
        this.attached = false;
        if (!life.stopping) o.log.warn({ err }, 'consumer failed, retrying');
      }
      await life.sleep(1000);
    }
  }

  /** Ends the delivery (run() then returns once `life` stopped). */
  stop(): void {
    this.msgs?.stop();
  }

  /** Reads what an ordered consumer with `opts` delivers, to the end, then deletes it. */
  private async replay(
    js: JetStreamClient,
    life: Lifecycle,
    opts: Partial<OrderedConsumerOptions>,
  ): Promise<void> {
    const oc = await js.consumers.get(STREAM_NAME, opts);
    try {
      // Nothing to replay: do not wait for a fetch to expire.
      if ((await oc.info()).num_pending === 0) return;
      for (;;) {
        // By messages: a byte-bounded fetch on the ordered replay consumer stopped the rebuild
        // short (test/e2e/collector.test.ts, restart); the durable is byte-bounded.
        const batch = await oc.fetch({ max_messages: 1000, expires: 1000 });
        let n = 0;
        let pending = 0;
        for await (const m of batch) {
          n++;
          pending = m.info.pending;
          try {
            this.o.handle(m.subject, m.data);
          } catch (err) {
            this.o.log.error({ err }, 'replay handler failed');
          }
        }
        if (n === 0 || pending === 0 || life.stopping) break;
      }
    } finally {
      await oc.delete().catch(() => undefined);
    }
  }
}
