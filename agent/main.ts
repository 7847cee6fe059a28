/**
 * `vxdoctor agent`: flags, validation (exit 2 naming the flag), wiring of the real modules
 * (inventory, checks, prober, NATS) into the runtime, graceful SIGTERM/SIGINT.
 */
import { readdir, readFile } from 'node:fs/promises';
import {
  type CommandSpec,
  ConfigError,
  JETSTREAM_FLAGS,
  jsReplicas,
  logLevel,
  NATS_FLAGS,
  natsServerList,
  PROC_ROOT_FLAG,
  type Parsed,
  parseListen,
  procRootOf,
  parseLabels,
  readSecretFile,
} from '../shared/config.js';
import { execRunner } from '../shared/exec.js';
import { createLogger, type Logger } from '../shared/logging.js';
import { pcapCaptureFactory } from './capture/index.js';
import { runChecks } from './checks/index.js';
import { Prober } from './heartbeat/prober.js';
import { fetchNodeLabels, inClusterApi, labelsFromNode, parseLabelFromNode, SA_DIR } from './kube-node.js';
import { NODE_NAME_RE } from '../shared/subjects.js';
import { collectSnapshot } from './inventory/index.js';
import { ifaceNames } from './inventory/parse-host.js';
import { watchNetlink } from './inventory/watch.js';
import { type NatsSettings, natsConnectionOptions, natsSettings } from '../shared/nats.js';
import { connectNats, NatsPublisher } from './publish/nats.js';
import { presenceTtlMs } from './publish/presence.js';
import { startAgent } from './runtime.js';

export const command: CommandSpec = {
  name: 'agent',
  usage: 'vxdoctor agent --node NAME --nats URL [flags]',
  summary:
    'Runs on every node: inventories namespaces/VTEPs, runs checks, exchanges signed heartbeats with peers and publishes everything to NATS JetStream.',
  flags: [
    {
      name: 'node',
      type: 'string',
      required: true,
      metavar: 'NAME',
      help: 'Node name: any Kubernetes node name or Swarm hostname (dot-separated labels of [A-Za-z0-9_-], up to 253 characters).',
    },
    { name: 'nats', type: 'list', required: true, metavar: 'URL', help: 'NATS server URL.' },
    {
      name: 'underlay-if',
      type: 'string',
      metavar: 'IF',
      help: 'Underlay interface (else detected from the default route).',
    },
    {
      name: 'netns-dir',
      type: 'list',
      metavar: 'DIR',
      default: ['/var/run/netns', '/var/run/docker/netns'],
      help: 'Directory of namespace files.',
    },
    {
      name: 'proc-netns',
      type: 'bool',
      default: true,
      help: 'Discover namespaces from <proc-root>/*/ns/net (--no-proc-netns to disable).',
    },
    PROC_ROOT_FLAG,
    {
      name: 'watch-netlink',
      type: 'bool',
      default: true,
      help: 'Re-inventory within a second of a netlink change (one `ip monitor` process; --no-watch-netlink to disable).',
    },
    { name: 'label', type: 'list', metavar: 'K=V', help: 'Node label (topology, e.g. rack=A).' },
    {
      name: 'label-from-node',
      type: 'list',
      metavar: 'K=NODE_LABEL',
      help: "Label K from this Kubernetes Node's label NODE_LABEL (e.g. rack=topology.kubernetes.io/zone), read once at start from the in-cluster API; --label wins.",
    },
    {
      name: 'kube-api',
      type: 'string',
      metavar: 'URL',
      help: 'Kubernetes API for --label-from-node (default https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT).',
    },
    {
      name: 'kube-token-file',
      type: 'string',
      metavar: 'FILE',
      help: `Bearer token for --label-from-node (default ${SA_DIR}/token).`,
    },
    {
      name: 'kube-ca-file',
      type: 'string',
      metavar: 'FILE',
      help: `CA of the Kubernetes API for --label-from-node (default ${SA_DIR}/ca.crt).`,
    },
    { name: 'interval', type: 'duration', default: '5s', help: 'Heartbeat round interval.' },
    { name: 'inventory-interval', type: 'duration', default: '30s', help: 'Inventory + checks interval.' },
    {
      name: 'republish-interval',
      type: 'duration',
      default: '5m',
      help: 'Publish snapshot/findings at least this often even when unchanged.',
    },
    {
      name: 'probe-key-file',
      type: 'string',
      metavar: 'FILE',
      help: 'HMAC key shared by all agents (not world-readable). Without it heartbeats are off.',
    },
    { name: 'probe-vni', type: 'int', default: 16777000, help: 'Reserved VNI carried by VXLAN-port probes.' },
    { name: 'probe-port', type: 'int', default: 7999, help: "UDP port of the agent's control probe." },
    { name: 'group-label', type: 'string', default: 'rack', help: 'Label that names the topology group.' },
    {
      name: 'full-mesh-max',
      type: 'int',
      default: 64,
      help: 'Probe every peer up to this many nodes; beyond it, group + rotating sample.',
    },
    {
      name: 'listen',
      type: 'string',
      default: '127.0.0.1:9701',
      metavar: 'HOST:PORT',
      help: 'Agent HTTP (/healthz, /metrics).',
    },
    {
      name: 'probes-encoding',
      type: 'string',
      default: 'rows',
      metavar: 'rows|json',
      help: 'Form of the probes message: rows (compact, since 0.3) or json (plain objects, for a collector older than 0.3).',
    },
    {
      name: 'outbox-bytes',
      type: 'int',
      default: 8 * 1024 * 1024,
      help: 'Bound on probe messages kept while NATS is unreachable (bytes).',
    },
    ...NATS_FLAGS,
    ...JETSTREAM_FLAGS,
    { name: 'log-level', type: 'string', default: 'info', help: 'trace, debug, info, warn, error.' },
  ],
};

/** Reads the probe key; missing, unreadable, empty or group/world-readable => ConfigError. */
export function readProbeKey(path: string): Buffer {
  // Bytes as they are (a key from /dev/urandom is not UTF-8).
  const key = readSecretFile('probe-key-file', path);
  if (key.length < 16) throw new ConfigError(`--probe-key-file: ${path} holds fewer than 16 bytes`);
  return key;
}

export interface AgentConfig {
  node: string;
  nats: NatsSettings;
  labels: Record<string, string>;
  /** vxdoctor label -> Node label key (`--label-from-node`). */
  labelFromNode: Record<string, string>;
  kube: { url?: string; tokenFile?: string; caFile?: string };
  underlayIf?: string;
  netnsDirs: string[];
  procNetns: boolean;
  watchNetlink: boolean;
  procRoot: string;
  intervalMs: number;
  inventoryIntervalMs: number;
  republishMs: number;
  probeKey: Buffer | null;
  probeVni: number;
  probePort: number;
  groupLabel: string;
  fullMeshMax: number;
  listen: { host: string; port: number };
  outboxBytes: number;
  probesEncoding: 'rows' | 'json';
  /** Replicas of the stream and presence bucket when this agent creates them. */
  jsReplicas: number;
  logLevel: string;
}

export function agentConfig(p: Parsed): AgentConfig {
  const v = p.values;
  const node = String(v.node);
  if (!NODE_NAME_RE.test(node))
    throw new ConfigError(
      `--node: "${node.slice(0, 300)}" is not a node name (dot-separated labels of [A-Za-z0-9_-], 1-63 characters each, at most 253 in all; e.g. ip-10-0-1-5.ec2.internal)`,
    );
  const servers = natsServerList(v.nats as string[]);
  const int = (name: string, min: number, max: number): number => {
    const n = v[name] as number;
    if (!Number.isInteger(n) || n < min || n > max)
      throw new ConfigError(`--${name}: ${n} is outside ${min}..${max}`);
    return n;
  };
  const dur = (name: string, min: number): number => {
    const n = v[name] as number;
    if (n < min) throw new ConfigError(`--${name}: ${n} ms is below ${min} ms`);
    return n;
  };
  logLevel(v['log-level']);
  const nats = natsSettings(v, servers, `vxdoctor-agent-${node}`);
  const str = (n: string) => (typeof v[n] === 'string' && v[n] !== '' ? (v[n] as string) : undefined);
  natsConnectionOptions(nats); // validate files/combinations now (exit 2)
  const underlayIf = str('underlay-if');
  return {
    node,
    nats,
    labels: parseLabels(v.label as string[] | undefined),
    labelFromNode: parseLabelFromNode(v['label-from-node'] as string[] | undefined),
    kube: {
      ...(str('kube-api') ? { url: str('kube-api') as string } : {}),
      ...(str('kube-token-file') ? { tokenFile: str('kube-token-file') as string } : {}),
      ...(str('kube-ca-file') ? { caFile: str('kube-ca-file') as string } : {}),
    },
    ...(underlayIf ? { underlayIf } : {}),
    netnsDirs: v['netns-dir'] as string[],
    procNetns: v['proc-netns'] as boolean,
    watchNetlink: v['watch-netlink'] as boolean,
    procRoot: procRootOf(v['proc-root']),
    intervalMs: dur('interval', 200),
    inventoryIntervalMs: dur('inventory-interval', 1000),
    republishMs: dur('republish-interval', 1000),
    probeKey: str('probe-key-file') ? readProbeKey(str('probe-key-file') as string) : null,
    probeVni: int('probe-vni', 0, 16777215),
    probePort: int('probe-port', 1, 65535),
    groupLabel: String(v['group-label']),
    fullMeshMax: int('full-mesh-max', 2, 100000),
    listen: parseListen(String(v.listen)),
    outboxBytes: int('outbox-bytes', 64 * 1024, 1024 * 1024 * 1024),
    probesEncoding: probesEncoding(String(v['probes-encoding'])),
    jsReplicas: jsReplicas(v),
    logLevel: String(v['log-level']),
  };
}

function probesEncoding(v: string): 'rows' | 'json' {
  if (v === 'rows' || v === 'json') return v;
  throw new ConfigError(`--probes-encoding: "${v.slice(0, 40)}" is not rows or json`);
}

/** What the inventory is told (collectSnapshot's options) from the agent's flags. */
export function inventoryOptions(cfg: AgentConfig): Parameters<typeof collectSnapshot>[0] {
  return {
    node: cfg.node,
    labels: cfg.labels,
    netnsDirs: cfg.netnsDirs,
    procNetns: cfg.procNetns,
    procRoot: cfg.procRoot,
    ...(cfg.underlayIf ? { underlayIf: cfg.underlayIf } : {}),
  };
}

/**
 * `--label-from-node`: the Node's labels, read at start (5 tries, 2 s apart). Without an answer
 * the agent runs without them (logged): it still diagnoses per node, only the group is missing.
 */
async function nodeLabels(cfg: AgentConfig, log: Logger): Promise<Record<string, string>> {
  if (Object.keys(cfg.labelFromNode).length === 0) return {};
  const api = inClusterApi(process.env, cfg.kube);
  for (let attempt = 1; ; attempt++) {
    try {
      const { labels, missing } = labelsFromNode(await fetchNodeLabels(api, cfg.node), cfg.labelFromNode);
      if (missing.length) log.warn({ missing }, 'node has no such label(s): not set');
      log.info({ labels }, 'labels read from the Kubernetes Node');
      return labels;
    } catch (err) {
      if (attempt >= 5) {
        log.error({ err }, 'could not read the Kubernetes Node: running without --label-from-node labels');
        return {};
      }
      await new Promise((r) => setTimeout(r, 2000));
    }
  }
}

export async function run(parsed: Parsed): Promise<number> {
  const cfg0 = agentConfig(parsed);
  const log = createLogger({ level: cfg0.logLevel, name: 'vxdoctor-agent' }).child({ node: cfg0.node });
  const cfg: AgentConfig = { ...cfg0, labels: { ...(await nodeLabels(cfg0, log)), ...cfg0.labels } };
  const runner = execRunner;
  const inventoryOpts = inventoryOptions(cfg);
  // Installed before start-up so a SIGTERM during it still ends in a clean stop.
  const stopRequested = new Promise<void>((resolve) => {
    const onSig = (sig: string) => {
      log.info({ signal: sig }, 'stopping');
      resolve();
    };
    process.once('SIGTERM', () => onSig('SIGTERM'));
    process.once('SIGINT', () => onSig('SIGINT'));
  });
  const agent = await startAgent({
    node: cfg.node,
    labels: cfg.labels,
    intervalMs: cfg.intervalMs,
    inventoryIntervalMs: cfg.inventoryIntervalMs,
    republishMs: cfg.republishMs,
    listenHost: cfg.listen.host,
    listenPort: cfg.listen.port,
    outboxBytes: cfg.outboxBytes,
    probesEncoding: cfg.probesEncoding,
    collect: () => collectSnapshot(inventoryOpts, { runner, log: log.child({ component: 'inventory' }) }),
    changeEvents: cfg.watchNetlink
      ? (onChange) => {
          const w = watchNetlink({ onChange, log: log.child({ component: 'watch' }) });
          return () => w.stop();
        }
      : undefined,
    changeSignal: async () => {
      // Cheap, and no process spawned (a fork of the agent costs more than the read): the
      // interface names of the agent's own (host) namespace plus the namespace directories.
      const dev = await readFile('/proc/self/net/dev', 'utf8').catch(() => '');
      const names = ifaceNames(dev).join(',');
      const dirs = await Promise.all(cfg.netnsDirs.map((d) => readdir(d).catch(() => [] as string[])));
      return `${names}|${dirs.map((d) => d.sort().join(',')).join(';')}`;
    },
    checks: (s) => runChecks(s, { log }),
    prober: async (s) => {
      if (!cfg.probeKey) throw new Error('no --probe-key-file: heartbeats off');
      const underlayAddr = s.underlay?.addresses[0]?.split('/')[0];
      const underlayIf = cfg.underlayIf ?? s.underlay?.dev;
      if (!underlayAddr || !underlayIf) throw new Error('underlay address unknown: heartbeats off');
      return new Prober({
        node: cfg.node,
        labels: cfg.labels,
        key: cfg.probeKey,
        probeVni: cfg.probeVni,
        probePort: cfg.probePort,
        underlayIf,
        underlayAddr,
        groupLabel: cfg.groupLabel,
        fullMeshMax: cfg.fullMeshMax,
        roundTimeoutMs: Math.min(1000, Math.max(200, Math.floor(cfg.intervalMs / 3))),
        capture: pcapCaptureFactory,
        runner,
        log: log.child({ component: 'heartbeat' }),
      });
    },
    connect: () =>
      connectNats(cfg.nats, log, {
        replicas: cfg.jsReplicas,
        presenceTtlMs: presenceTtlMs(cfg.intervalMs),
      }),
    publisherFor: (nc) =>
      new NatsPublisher(nc, cfg.node, log.child({ component: 'nats' }), 5000, cfg.jsReplicas),
    presenceTtlMs: presenceTtlMs(cfg.intervalMs),
    jsReplicas: cfg.jsReplicas,
    log,
  }).catch((err) => {
    // e.g. --listen in use (ConfigError, exit 2): what was started is stopped; make sure a
    // pending NATS connect attempt does not keep the process alive.
    setTimeout(() => process.exit(err instanceof ConfigError ? 2 : 70), 500).unref();
    throw err;
  });
  await stopRequested;
  const hard = setTimeout(() => {
    log.error('stop took too long, exiting');
    process.exit(0);
  }, 8000);
  hard.unref();
  await agent.stop();
  log.info('stopped');
  // A pending first NATS connect (server down) would keep the event loop alive.
  setTimeout(() => process.exit(0), 100).unref();
  return 0;
}
