/**
 * NATS connection for the agent: reconnect forever (the client gives up after 10 attempts per
 * server by default), a short ping interval so a half-open connection is noticed in ~30 s
 * rather than ~4 min, the VXDOCTOR stream ensured, and JetStream publishes carrying
 * `Nats-Msg-Id` = message id (server-side de-duplication of retries).
 */
import { logNatsStatus } from '../../shared/nats-status.js';
import { readFileSync } from 'node:fs';
import {
  type JetStreamClient,
  type JetStreamManager,
  jetstream,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
} from '@nats-io/jetstream';
import {
  connect,
  credsAuthenticator,
  type NatsConnection,
  type NodeConnectionOptions,
  nkeyAuthenticator,
} from '@nats-io/transport-node';
import { ConfigError } from '../../shared/config.js';
import type { Logger } from '../../shared/logging.js';
import { STREAM_NAME, STREAM_SUBJECTS, type MessageKind, subjectFor } from '../../shared/subjects.js';
import type { Publisher } from './outbox.js';
import { ensurePresenceBucket } from './presence.js';

export interface NatsSettings {
  servers: string[];
  name: string;
  ca?: string;
  cert?: string;
  key?: string;
  user?: string;
  password?: string;
  nkeySeedFile?: string;
  credsFile?: string;
  pingIntervalMs?: number;
  reconnectTimeWaitMs?: number;
}

/**
 * The VXDOCTOR stream, the same for the agent and the collector (collector/runtime.ts uses this
 * function): whoever comes first creates it, with `replicas` from `--js-replicas`.
 */
export function streamConfig(replicas = 1) {
  return {
    name: STREAM_NAME,
    subjects: STREAM_SUBJECTS,
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    num_replicas: replicas,
    max_age: 60 * 60 * 1e9,
    max_bytes: 1024 * 1024 * 1024,
    max_msg_size: 8 * 1024 * 1024,
    duplicate_window: 120 * 1e9,
  };
}

/** The stream as a single server creates it (replicas 1). */
export const AGENT_STREAM_CONFIG = streamConfig(1);

function readFlagFile(flag: string, path: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new ConfigError(`--${flag}: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? err}`);
  }
}

/** Builds connection options; throws ConfigError naming the flag on unreadable files. */
export function natsConnectionOptions(s: NatsSettings): NodeConnectionOptions {
  const o: NodeConnectionOptions = {
    servers: s.servers,
    name: s.name,
    maxReconnectAttempts: -1,
    // Two authentication errors in a row would otherwise end reconnecting for good (a
    // credentials rotation on the server must not strand the agent).
    ignoreAuthErrorAbort: true,
    reconnectTimeWait: s.reconnectTimeWaitMs ?? 1000,
    reconnectJitter: 500,
    pingInterval: s.pingIntervalMs ?? 10_000,
    maxPingOut: 3,
    timeout: 5000,
    waitOnFirstConnect: true,
  };
  const auths = [s.credsFile, s.nkeySeedFile, s.user].filter(Boolean).length;
  if (auths > 1)
    throw new ConfigError('--nats-creds-file, --nats-nkey-seed-file and --nats-user are exclusive');
  if (s.credsFile) o.authenticator = credsAuthenticator(readFlagFile('nats-creds-file', s.credsFile));
  if (s.nkeySeedFile) {
    const seed = new TextDecoder().decode(readFlagFile('nats-nkey-seed-file', s.nkeySeedFile)).trim();
    if (!seed.startsWith('SU'))
      throw new ConfigError(`--nats-nkey-seed-file: ${s.nkeySeedFile} holds no user seed (SU...)`);
    o.authenticator = nkeyAuthenticator(new TextEncoder().encode(seed));
  }
  if (s.user) {
    o.user = s.user;
    o.pass = s.password ?? '';
  }
  if (s.ca || s.cert || s.key) {
    if (Boolean(s.cert) !== Boolean(s.key)) throw new ConfigError('--nats-cert and --nats-key go together');
    for (const [flag, p] of [
      ['nats-ca', s.ca],
      ['nats-cert', s.cert],
      ['nats-key', s.key],
    ] as const)
      if (p) readFlagFile(flag, p);
    o.tls = {
      ...(s.ca ? { caFile: s.ca } : {}),
      ...(s.cert ? { certFile: s.cert } : {}),
      ...(s.key ? { keyFile: s.key } : {}),
    };
  }
  return o;
}

/** Creates the stream when it is missing (an existing one is left as it is). */
export async function ensureStream(jsm: JetStreamManager, log: Logger, replicas = 1): Promise<void> {
  try {
    await jsm.streams.info(STREAM_NAME);
  } catch {
    try {
      await jsm.streams.add(streamConfig(replicas));
      log.info({ stream: STREAM_NAME, replicas }, 'created stream');
    } catch (err) {
      await jsm.streams.info(STREAM_NAME).catch(() => {
        throw err;
      });
    }
  }
}

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
