/**
 * `vxdoctor collector --nats URL [--listen 127.0.0.1:9700]`: consumes every agent's reports
 * from JetStream, correlates them into root causes and serves the HTTP API, web page and
 * /metrics. Runs until SIGINT/SIGTERM.
 */
import {
  type CommandSpec,
  ConfigError,
  JETSTREAM_FLAGS,
  jsReplicas,
  logLevel,
  NATS_FLAGS,
  natsPassword,
  natsServerList,
  type Parsed,
  readSecretFile,
} from '../shared/config.js';
import { createLogger } from '../shared/logging.js';
import type { CheckRun, Finding, NodeSnapshot } from '../shared/schema.js';
import { PRESENCE_TTL_MS, startCollector } from './runtime.js';

export const command: CommandSpec = {
  name: 'collector',
  usage: 'vxdoctor collector --nats URL [--listen 127.0.0.1:9700] [flags]',
  summary:
    'Correlate what every agent saw into root causes; serve the HTTP API, the web page and Prometheus /metrics.',
  flags: [
    {
      name: 'nats',
      type: 'list',
      required: true,
      metavar: 'URL',
      help: 'NATS server URL (comma-separated or repeated)',
    },
    {
      name: 'listen',
      type: 'string',
      default: '127.0.0.1:9700',
      metavar: 'HOST:PORT',
      help: 'HTTP listen address',
    },
    ...NATS_FLAGS,
    ...JETSTREAM_FLAGS,
    {
      name: 'page-url',
      type: 'string',
      metavar: 'URL',
      help: "the collector page's address as people reach it (e.g. https://vxdoctor.example.com/); alerts link each root cause there (default http://<listen>/)",
    },
    {
      name: 'group-label',
      type: 'string',
      default: 'rack',
      metavar: 'KEY',
      help: 'node label that names topology groups (segments are between its values)',
    },
    {
      name: 'window',
      type: 'duration',
      default: '2m',
      metavar: 'DURATION',
      help: 'sliding window for pair statistics and state rebuild on restart',
    },
    {
      name: 'presence-ttl',
      type: 'duration',
      default: '30s',
      metavar: 'DURATION',
      help: 'a node whose presence is older than this counts as agent-down',
    },
    {
      name: 'finding-ttl',
      type: 'duration',
      default: '6m',
      metavar: 'DURATION',
      help: "node findings expire this long after the node's last findings message (agents republish every 5m)",
    },
    {
      name: 'durable',
      type: 'string',
      default: 'vxdoctor-collector',
      metavar: 'NAME',
      help: 'JetStream durable consumer name',
    },
    {
      name: 'durable-inactive',
      type: 'duration',
      default: '1h',
      metavar: 'DURATION',
      help: 'the server deletes the durable consumer after this long unused (a durable per pod name does not pile up across rollouts)',
    },
    {
      name: 'max-message-bytes',
      type: 'int',
      default: 4 * 1024 * 1024,
      metavar: 'BYTES',
      help: 'larger messages are rejected (reason too-large) and acked',
    },
    {
      name: 'api-token-file',
      type: 'string',
      metavar: 'PATH',
      help: 'bearer token file (chmod 600): required for POST /api/v1/trace, which is refused without it when listening beyond loopback',
    },
    {
      name: 'api-token-reads',
      type: 'bool',
      default: false,
      help: 'with --api-token-file: every /api/v1 request needs the token (the web page then cannot read the API)',
    },
    {
      name: 'allowed-hosts',
      type: 'list',
      metavar: 'NAME',
      help: 'Host header names served besides IP literals and localhost (default: any beyond loopback, none on loopback)',
    },
    {
      name: 'log-level',
      type: 'string',
      default: 'info',
      metavar: 'LEVEL',
      help: 'pino log level (trace, debug, info, warn, error)',
    },
  ],
};

export function parseListen(text: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(text);
  const port = Number(m?.[3]);
  if (!m || port > 65535) throw new ConfigError(`--listen: want HOST:PORT, got "${text}"`);
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port };
}

/** `--durable-inactive`: at least 1 minute (shorter would drop the durable during a NATS blip). */
export function durableInactive(ms: number): number {
  if (!(ms >= 60_000)) throw new ConfigError(`--durable-inactive: ${ms} ms is below 1m`);
  return ms;
}

export async function run(parsed: Parsed): Promise<number> {
  const v = parsed.values;
  const log = createLogger({ level: logLevel(v['log-level']), name: 'vxdoctor-collector' });
  const { host, port } = parseListen(v.listen as string);
  const nats = natsServerList(v.nats as string[]);
  const positive = (flag: string, min: number, unit: string): number => {
    const n = v[flag] as number;
    if (!(Number.isFinite(n) && n >= min)) throw new ConfigError(`--${flag}: ${n} is below ${min} ${unit}`);
    return n;
  };
  const windowMs = positive('window', 1000, 'ms');
  const presenceTtl = positive('presence-ttl', 1000, 'ms');
  const findingTtl = positive('finding-ttl', 1000, 'ms');
  const maxMessageBytes = positive('max-message-bytes', 1024, 'bytes');
  const tokenFile =
    typeof v['api-token-file'] === 'string' && v['api-token-file'] ? (v['api-token-file'] as string) : null;
  const apiToken = tokenFile ? readSecretFile('api-token-file', tokenFile).toString('utf8') : null;
  if (v['api-token-reads'] && !apiToken) throw new ConfigError('--api-token-reads: needs --api-token-file');
  const allowedHosts = (v['allowed-hosts'] as string[] | undefined)
    ?.flatMap((s) => s.split(','))
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);
  const str = (k: string) => (typeof v[k] === 'string' ? (v[k] as string) : undefined);
  const running = await startCollector({
    nats,
    auth: {
      ca: str('nats-ca'),
      cert: str('nats-cert'),
      key: str('nats-key'),
      user: str('nats-user'),
      password: natsPassword(v),
      nkeySeedFile: str('nats-nkey-seed-file'),
      credsFile: str('nats-creds-file'),
    },
    listenHost: host,
    listenPort: port,
    groupLabel: v['group-label'] as string,
    windowMs,
    presenceTtlMs: presenceTtl ?? PRESENCE_TTL_MS,
    findingTtlMs: findingTtl,
    apiToken,
    tokenForReads: Boolean(v['api-token-reads']),
    ...(allowedHosts?.length ? { allowedHosts } : {}),
    durable: v.durable as string,
    pageUrl:
      typeof v['page-url'] === 'string' && v['page-url'] !== ''
        ? (v['page-url'] as string)
        : `http://${host}:${port}/`,
    durableInactiveMs: durableInactive(v['durable-inactive'] as number),
    jsReplicas: jsReplicas(v),
    maxMessageBytes,
    defaultMetrics: true,
    log,
  }).catch((err) => {
    // e.g. --listen in use (ConfigError, exit 2): make sure nothing keeps the process alive.
    setTimeout(() => process.exit(err instanceof ConfigError ? 2 : 70), 500).unref();
    throw err;
  });
  await new Promise<void>((resolve) => {
    const done = () => resolve();
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
  });
  log.info({}, 'stopping');
  await running.stop();
  return 0;
}
