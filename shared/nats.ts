/**
 * NATS as both sides use it (agent publisher, collector consumer): connection options from the
 * NATS flags, the VXDOCTOR stream and the KV buckets' configuration, creating them when missing,
 * and how a request that nobody answered is told apart from other errors.
 * Connections reconnect forever (the client gives up after 10 attempts per server by default)
 * with a short ping interval, so a half-open connection is noticed in ~30 s rather than ~4 min.
 */
import { readFileSync } from 'node:fs';
import { type JetStreamManager, RetentionPolicy, StorageType } from '@nats-io/jetstream';
import { type KV, Kvm } from '@nats-io/kv';
import {
  credsAuthenticator,
  type NatsConnection,
  type NodeConnectionOptions,
  NoRespondersError,
  nkeyAuthenticator,
  RequestError,
  TimeoutError,
} from '@nats-io/transport-node';
import { ConfigError, type FlagValues, natsPassword } from './config.js';
import type { Logger } from './logging.js';
import { KV_NODES, STREAM_NAME, STREAM_SUBJECTS } from './subjects.js';

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
 * The NATS flags (NATS_FLAGS in shared/config.ts) as connection settings, the same mapping on
 * the agent and the collector: empty values are absent, the password comes from
 * `--nats-password` or `--nats-password-file`.
 */
export function natsSettings(values: FlagValues, servers: string[], name: string): NatsSettings {
  const s: NatsSettings = { servers, name };
  const str = (flag: string) => {
    const x = values[flag];
    return typeof x === 'string' && x !== '' ? x : undefined;
  };
  const keys: Array<['ca' | 'cert' | 'key' | 'user' | 'nkeySeedFile' | 'credsFile', string]> = [
    ['ca', 'nats-ca'],
    ['cert', 'nats-cert'],
    ['key', 'nats-key'],
    ['user', 'nats-user'],
    ['nkeySeedFile', 'nats-nkey-seed-file'],
    ['credsFile', 'nats-creds-file'],
  ];
  for (const [k, flag] of keys) {
    const x = str(flag);
    if (x !== undefined) s[k] = x;
  }
  const password = natsPassword(values);
  if (password !== undefined) s.password = password;
  return s;
}

/**
 * The VXDOCTOR stream, the same for the agent and the collector: whoever comes first creates
 * it, with `replicas` from `--js-replicas`.
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

/** KV bucket where the collector keeps the `since` of active root causes across restarts. */
export const KV_ROOTCAUSES = 'vxdoctor_rootcauses';

/** Opens or creates the root-cause bucket (one value per key, `replicas` from `--js-replicas`). */
export function ensureRootCauseBucket(nc: NatsConnection, replicas = 1): Promise<KV> {
  return new Kvm(nc).create(KV_ROOTCAUSES, { history: 1, replicas });
}

/**
 * True when a NATS request got no answer: nobody subscribes to the subject (no responders) or
 * nobody answered in time. By the client's error classes, not by the message text.
 */
export function isUnanswered(err: unknown): boolean {
  if (err instanceof TimeoutError || err instanceof NoRespondersError) return true;
  if (err instanceof RequestError) return err.isNoResponders() || err.cause instanceof TimeoutError;
  return false;
}
