/**
 * The agent's side of NATS: its JetStream publisher (publishes carry `Nats-Msg-Id` = message id,
 * so the server de-duplicates retries) and its connect, which ensures the stream and the
 * presence bucket (shared/nats.ts) when it may.
 */
import { type JetStreamClient, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { Logger } from '../../shared/logging.js';
import {
  ensurePresenceBucket,
  ensureStream,
  type NatsSettings,
  natsConnectionOptions,
} from '../../shared/nats.js';
import { logNatsStatus } from '../../shared/nats-status.js';
import { type MessageKind, subjectFor } from '../../shared/subjects.js';
import type { Publisher } from './outbox.js';

/** JetStream publisher for one node. `connected()` follows the connection's status events. */
export class NatsPublisher implements Publisher {
  private js: JetStreamClient;
  private up = true;
  private streamOk = false;

  constructor(
    readonly nc: NatsConnection,
    private readonly node: string,
    private readonly log: Logger,
    private readonly timeoutMs = 5000,
    /** `--js-replicas`: replicas of the stream if this publisher creates it. */
    private readonly replicas = 1,
  ) {
    this.js = jetstream(nc, { timeout: timeoutMs });
    void (async () => {
      for await (const s of nc.status()) {
        if (s.type === 'disconnect') this.up = false;
        else if (s.type === 'reconnect') {
          this.up = true;
          this.streamOk = false; // server may have lost its store: ensure again
        }
        logNatsStatus(log, s as { type: string });
      }
    })();
  }

  connected(): boolean {
    return this.up && !this.nc.isClosed();
  }

  async ensure(): Promise<void> {
    if (this.streamOk) return;
    const jsm = await jetstreamManager(this.nc, { timeout: this.timeoutMs });
    await ensureStream(jsm, this.log, this.replicas);
    this.streamOk = true;
  }

  async publish(kind: MessageKind, id: string, data: Uint8Array): Promise<void> {
    await this.ensure();
    // msgID sets the Nats-Msg-Id header.
    await this.js.publish(subjectFor(this.node, kind), data, { msgID: id, timeout: this.timeoutMs });
  }
}

export interface JetStreamSetup {
  /** `--js-replicas` for the stream and the presence bucket. */
  replicas: number;
  /** TTL of the presence bucket if this process creates it. */
  presenceTtlMs: number;
}

/**
 * Connects; with `js`, also creates the stream and the presence bucket when missing, with the
 * configured replicas, before anything else uses them (best effort: an agent whose user may not
 * create them, as in deploy/kubernetes, relies on the collector having done it).
 */
export async function connectNats(
  s: NatsSettings,
  log: Logger,
  js?: JetStreamSetup,
): Promise<NatsConnection> {
  const nc = await connect(natsConnectionOptions(s));
  log.info({ server: nc.getServer() }, 'connected to NATS');
  if (js) {
    try {
      const jsm = await jetstreamManager(nc, { timeout: 5000 });
      await ensureStream(jsm, log, js.replicas);
      await ensurePresenceBucket(nc, { ttlMs: js.presenceTtlMs, replicas: js.replicas });
    } catch (err) {
      log.debug({ err }, 'stream/presence bucket not ensured at connect (created later or by the collector)');
    }
  }
  return nc;
}
