/**
 * Node inventory: gathers every network namespace's links, addresses, routes, neighbors, FDB and
 * sysctls, plus host facts and firewall rules, into a JSON-safe NodeSnapshot. Read-only.
 *
 * Cost model (measured, `bench/inventory.ts`): process start dominates, so each namespace is read by ONE
 * `ip -j -d -force -b -` process (`ip -n NAME` for /var/run/netns names, else
 * `nsenter --net=PATH ip ...`), `bridge -j fdb show` only where bridges/VTEPs exist, and at most
 * `concurrency` processes run at once. Never throws for missing tools, dirs or namespaces: those
 * become `unknowns`.
 *
 * Measured (iproute2 6.1): `ip -n` takes only a NAME (it prepends /var/run/netns; a path fails
 * with `Cannot open network namespace`), hence nsenter for Docker's and /proc paths. Under
 * `-force` a failing batch command prints nothing on stdout, only `Command failed -:N` on
 * stderr (see splitBatch). `addr show -d` carries every `link show -d` field, so no separate
 * `link show` is needed.
 */
import { readFile, readdir, stat } from 'node:fs/promises';
import { hostname, release, type as osType } from 'node:os';
import { basename, dirname, join } from 'node:path';
import type { CommandRunner, RunResult } from '../../shared/exec.js';
import { describeFailure } from '../../shared/exec.js';
import type { Logger } from '../../shared/logging.js';
import type {
  DockerFacts,
  FirewallFacts,
  NetnsOrigin,
  NetnsSnapshot,
  NicFacts,
  NodeSnapshot,
  Unknown,
} from '../../shared/schema.js';
import { SCHEMA_VERSION } from '../../shared/schema.js';
import { parseIptablesSave, parseNftRuleset } from './parse-firewall.js';
import {
  parseEthtoolDriver,
  parseEthtoolFeatures,
  parseOsRelease,
  parseListeningTcp,
  parsePrivileged,
  parseSysctl,
  SWARM_TCP_PORTS,
} from './parse-host.js';
import {
  NETNS_BATCH,
  parseFdb,
  parseLinks,
  parseNeighbors,
  parseNetnsIds,
  parseRoutes,
  splitBatch,
} from './parse-ip.js';
import { DEFAULT_DOCKER_SOCKET, readDockerApi } from './docker-api.js';
import { buildTopology, classifyRole, detectUnderlay, type NsidMap, resolveNsids } from './topology.js';

export interface InventoryOptions {
  node: string;
  labels: Record<string, string>;
  /** Directories whose files are namespace bind mounts (default ['/var/run/netns', '/var/run/docker/netns']). */
  netnsDirs: string[];
  /** Also discover namespaces from `<procRoot>/<pid>/ns/net`. */
  procNetns: boolean;
  /** Underlay device; else detected (default route, VTEP lower device, VTEP local address). */
  underlayIf?: string;
  /** Default '/proc' (tests point it at fixtures). */
  procRoot?: string;
  /** Processes run at once (default 4). */
  concurrency?: number;
  /** Where `ip -n NAME` finds names (default ['/var/run/netns', '/run/netns']). */
  ipNetnsDirs?: string[];
  /** Per-command timeout (default 5000 ms). */
  timeoutMs?: number;
  /** Docker Engine API socket, read when it exists (default /var/run/docker.sock; null: never). */
  dockerSocket?: string | null;
}

export interface InventoryDeps {
  runner: CommandRunner;
  log: Logger;
}

export const DEFAULT_NETNS_DIRS = ['/var/run/netns', '/var/run/docker/netns'];
export const VANISHED = 'namespace vanished during read';
export const NOT_ROOT = 'permission denied (not root)';

const SYSCTLS = [
  'net.ipv4.ip_forward',
  'net.ipv4.conf.all.rp_filter',
  'net.ipv4.conf.default.rp_filter',
  'net.bridge.bridge-nf-call-iptables',
  'net.ipv4.ip_no_pmtu_disc',
];

/** A namespace found on disk or in /proc, before it is read. */
interface Found {
  id: string;
  name: string;
  path: string | null;
  inode: number | null;
  origin: NetnsOrigin;
}

type Limit = <T>(fn: () => Promise<T>) => Promise<T>;

function limiter(n: number): Limit {
  let active = 0;
  const waiting: Array<() => void> = [];
  return async (fn) => {
    while (active >= n) await new Promise<void>((r) => waiting.push(r));
    active++;
    try {
      return await fn();
    } finally {
      active--;
      waiting.shift()?.();
    }
  };
}

const errCode = (err: unknown) => (err as NodeJS.ErrnoException).code ?? 'error';

/** Why a namespace command failed, in the vocabulary of `Unknown.reason`. */
export function classifyNetnsFailure(cmd: string, r: RunResult): string {
  if (r.failure === 'not-found') return `${cmd} not installed`;
  const e = r.stderr;
  const exec = /failed to execute (\S+): No such file/.exec(e);
  if (exec?.[1]) return `${exec[1]} not installed`;
  if (/Operation not permitted|Permission denied/i.test(e)) return NOT_ROOT;
  if (/cannot open|Cannot open network namespace|No such file|Invalid argument/i.test(e)) return VANISHED;
  return describeFailure(cmd, r);
}

async function discover(
  opts: InventoryOptions,
  procRoot: string,
  unknowns: Unknown[],
): Promise<{ host: Found; others: Found[]; presentDirs: string[] }> {
  let hostInode: number | null = null;
  let nsDev: number | null = null;
  try {
    const st = await stat(join(procRoot, 'self/ns/net'));
    hostInode = st.ino;
    nsDev = st.dev;
  } catch (err) {
    unknowns.push({ what: 'netns:host', reason: `cannot stat own namespace: ${errCode(err)}` });
  }
  const host: Found = { id: 'host', name: 'host', path: null, inode: hostInode, origin: 'host' };
  const seen = new Set<number>();
  if (hostInode !== null) seen.add(hostInode);
  const others: Found[] = [];
  const presentDirs: string[] = [];
  for (const dir of opts.netnsDirs) {
    let names: string[];
    try {
      names = (await readdir(dir)).sort();
      presentDirs.push(dir);
    } catch (err) {
      const code = errCode(err);
      unknowns.push({
        what: `netns-dir:${dir}`,
        reason:
          code === 'ENOENT' ? 'netns dir missing' : code === 'EACCES' ? NOT_ROOT : `cannot read: ${code}`,
      });
      continue;
    }
    await Promise.all(
      names.map(async (name) => {
        const path = join(dir, name);
        try {
          const st = await stat(path);
          // A file left behind after its bind mount went away is not on nsfs.
          if (nsDev !== null && st.dev !== nsDev) {
            unknowns.push({ what: `netns:${path}`, reason: 'not a mounted namespace (stale file)' });
            return;
          }
          others.push({ id: path, name, path, inode: st.ino, origin: 'netns-dir' });
        } catch (err) {
          const code = errCode(err);
          unknowns.push({
            what: `netns:${path}`,
            reason: code === 'ENOENT' ? VANISHED : code === 'EACCES' ? NOT_ROOT : code,
          });
        }
      }),
    );
  }
  others.sort((a, b) => a.id.localeCompare(b.id));
  const unique: Found[] = [];
  for (const f of others) {
    if (f.inode !== null && seen.has(f.inode)) continue;
    if (f.inode !== null) seen.add(f.inode);
    unique.push(f);
  }
  if (opts.procNetns) {
    let pids: string[] = [];
    try {
      pids = (await readdir(procRoot)).filter((p) => /^\d+$/.test(p));
    } catch (err) {
      unknowns.push({ what: `proc:${procRoot}`, reason: `cannot read: ${errCode(err)}` });
    }
    let denied = 0;
    const found: Found[] = [];
    await Promise.all(
      pids.map(async (pid) => {
        const path = join(procRoot, pid, 'ns/net');
        try {
          const st = await stat(path);
          found.push({ id: path, name: `pid:${pid}`, path, inode: st.ino, origin: 'proc' });
        } catch (err) {
          if (errCode(err) === 'EACCES' || errCode(err) === 'EPERM') denied++;
          // ENOENT/ESRCH: the process exited; nothing to report
        }
      }),
    );
    found.sort((a, b) => Number(a.name.slice(4)) - Number(b.name.slice(4)));
    for (const f of found) {
      if (f.inode !== null && seen.has(f.inode)) continue;
      if (f.inode !== null) seen.add(f.inode);
      unique.push(f);
    }
    if (denied > 0)
      unknowns.push({
        what: `proc:${procRoot}`,
        reason: `${denied} processes' namespaces not readable: ${NOT_ROOT}`,
      });
  }
  return { host, others: unique, presentDirs };
}

interface NsRead {
  snap: NetnsSnapshot;
  names: Array<{ nsid: number; name: string | null }>;
}

/** The argv prefix that runs `cmd` inside namespace `f`. */
function inNs(f: Found, ipNetnsDirs: string[], cmd: 'ip' | 'bridge' | 'sysctl'): [string, string[]] {
  if (f.path === null) return [cmd, []];
  if ((cmd === 'ip' || cmd === 'bridge') && ipNetnsDirs.includes(dirname(f.path)))
    return [cmd, ['-n', basename(f.path)]];
  return ['nsenter', [`--net=${f.path}`, cmd]];
}

async function readNamespace(
  f: Found,
  opts: InventoryOptions,
  deps: InventoryDeps,
  limit: Limit,
  procRoot: string,
  underlayDevs: () => string[],
  afterBatch?: (r: RunResult) => void,
): Promise<{ read: NsRead } | { vanished: true; reason: string } | { failed: Unknown }> {
  const ipDirs = opts.ipNetnsDirs ?? ['/var/run/netns', '/run/netns'];
  const timeoutMs = opts.timeoutMs ?? 5000;
  const what = `netns:${f.path ?? 'host'}`;
  const unknowns: Unknown[] = [];
  const [ipCmd, ipPre] = inNs(f, ipDirs, 'ip');
  const r = await limit(() =>
    deps.runner(ipCmd, [...ipPre, '-j', '-d', '-force', '-b', '-'], {
      input: `${NETNS_BATCH.join('\n')}\n`,
      timeoutMs,
    }),
  );
  afterBatch?.(r);
  const batch = splitBatch(r.stdout, r.stderr, NETNS_BATCH.length);
  const [addrs, routes, neigh, ids] = batch.results;
  if (r.failure !== null || !addrs) {
    const reason = classifyNetnsFailure(ipCmd === 'nsenter' ? 'nsenter' : 'ip', r);
    if (reason === VANISHED) return { vanished: true, reason };
    return { failed: { what, reason } };
  }
  if (!routes)
    unknowns.push({ what: `${what}:routes`, reason: `ip route failed: ${batch.errors[0] ?? 'no output'}` });
  if (!neigh)
    unknowns.push({
      what: `${what}:neighbors`,
      reason: `ip neigh failed: ${batch.errors[0] ?? 'no output'}`,
    });
  const links = parseLinks(addrs);
  const snap: NetnsSnapshot = {
    id: f.id,
    name: f.name,
    path: f.path,
    inode: f.inode,
    origin: f.origin,
    role: 'other',
    links,
    routes: routes ? parseRoutes(routes) : [],
    neighbors: neigh ? parseNeighbors(neigh) : [],
    fdb: [],
    sysctls: {},
    unknowns,
  };
  const hasBridge = links.some((l) => l.kind === 'bridge');
  const needFdb = hasBridge || links.some((l) => l.kind === 'vxlan');
  const tasks: Promise<void>[] = [];
  if (needFdb) {
    const [bCmd, bPre] = inNs(f, ipDirs, 'bridge');
    tasks.push(
      limit(() => deps.runner(bCmd, [...bPre, '-j', 'fdb', 'show'], { timeoutMs })).then((b) => {
        if (b.failure === null && b.code === 0) {
          try {
            const v: unknown = JSON.parse(b.stdout || '[]');
            snap.fdb = parseFdb(Array.isArray(v) ? v : []);
            return;
          } catch {
            unknowns.push({ what: `${what}:fdb`, reason: 'bridge fdb output is not JSON' });
            return;
          }
        }
        unknowns.push({
          what: `${what}:fdb`,
          reason: classifyNetnsFailure(bCmd === 'nsenter' ? 'nsenter' : 'bridge', b),
        });
      }),
    );
  }
  if (f.origin === 'host') {
    tasks.push(
      readHostSysctls(procRoot, underlayDevs()).then((s) => {
        snap.sysctls = s;
      }),
    );
  } else if (hasBridge && f.path !== null) {
    tasks.push(
      limit(() =>
        deps.runner('nsenter', [`--net=${f.path}`, 'sysctl', '-e', ...SYSCTLS], { timeoutMs }),
      ).then((s) => {
        if (s.failure === null && s.stdout.trim() !== '') snap.sysctls = parseSysctl(s.stdout);
        else unknowns.push({ what: `${what}:sysctl`, reason: classifyNetnsFailure('nsenter', s) });
      }),
    );
  }
  await Promise.all(tasks);
  if (unknowns.some((u) => u.reason === VANISHED)) return { vanished: true, reason: VANISHED };
  if (f.path !== null && f.inode !== null) {
    // The file still names the same namespace? (deleted, or deleted and a new one mounted there)
    try {
      if ((await stat(f.path)).ino !== f.inode) return { vanished: true, reason: VANISHED };
    } catch {
      return { vanished: true, reason: VANISHED };
    }
  }
  return { read: { snap, names: ids ? parseNetnsIds(ids) : [] } };
}

async function readHostSysctls(procRoot: string, devs: string[]): Promise<Record<string, string>> {
  const keys = [...SYSCTLS, ...devs.map((d) => `net.ipv4.conf.${d}.rp_filter`)];
  const out: Record<string, string> = {};
  await Promise.all(
    keys.map(async (k) => {
      // Dotted key -> path; a device name keeps its own dots (net.ipv4.conf.flannel.1.rp_filter).
      const m = /^net\.ipv4\.conf\.(.+)\.rp_filter$/.exec(k);
      const rel = m?.[1] ? `sys/net/ipv4/conf/${m[1]}/rp_filter` : `sys/${k.replaceAll('.', '/')}`;
      try {
        out[k] = (await readFile(join(procRoot, rel), 'utf8')).trim();
      } catch {
        // absent key (module not loaded, device gone): left out, like `sysctl -e`
      }
    }),
  );
  return out;
}

async function readNics(
  devs: string[],
  deps: InventoryDeps,
  limit: Limit,
  unknowns: Unknown[],
  timeoutMs: number,
): Promise<NicFacts[]> {
  const nics: NicFacts[] = [];
  let missing = false;
  for (const dev of devs) {
    if (missing) break;
    const [i, k] = await Promise.all([
      limit(() => deps.runner('ethtool', ['-i', dev], { timeoutMs })),
      limit(() => deps.runner('ethtool', ['-k', dev], { timeoutMs })),
    ]);
    if (i.failure === 'not-found' || k.failure === 'not-found') {
      unknowns.push({ what: 'ethtool', reason: 'ethtool not installed' });
      missing = true;
      break;
    }
    if (i.code !== 0)
      unknowns.push({ what: `ethtool:${dev}:driver`, reason: describeFailure('ethtool -i', i) });
    if (k.code !== 0)
      unknowns.push({ what: `ethtool:${dev}:offloads`, reason: describeFailure('ethtool -k', k) });
    nics.push({
      name: dev,
      driver: i.code === 0 ? parseEthtoolDriver(i.stdout) : null,
      offloads: k.code === 0 ? parseEthtoolFeatures(k.stdout) : {},
    });
  }
  return nics;
}

async function readFirewall(
  deps: InventoryDeps,
  limit: Limit,
  unknowns: Unknown[],
  timeoutMs: number,
  procRoot: string,
): Promise<FirewallFacts | null> {
  const [nft, ver, legacyTables] = await Promise.all([
    limit(() => deps.runner('nft', ['-j', 'list', 'ruleset'], { timeoutMs, maxBytes: 64 * 1024 * 1024 })),
    limit(() => deps.runner('iptables', ['-V'], { timeoutMs })),
    // Tables of the legacy x_tables backend in this namespace (empty when only nf_tables is used).
    readFile(join(procRoot, 'net/ip_tables_names'), 'utf8').then(
      (t) => t.trim() !== '',
      () => false,
    ),
  ]);
  let facts: FirewallFacts | null = null;
  let opaque = 0;
  if (nft.failure === null && nft.code === 0) {
    try {
      const p = parseNftRuleset(JSON.parse(nft.stdout || '{"nftables":[]}'));
      facts = { rules: p.rules, policies: p.policies };
      opaque = p.opaqueRules;
    } catch {
      unknowns.push({ what: 'nft', reason: 'nft -j output is not JSON' });
    }
  } else {
    unknowns.push({
      what: 'nft',
      reason: /Operation not permitted/i.test(nft.stderr) ? `nft: ${NOT_ROOT}` : describeFailure('nft', nft),
    });
  }
  const add = (
    p: { rules: FirewallFacts['rules']; policies: FirewallFacts['policies'] },
    withPolicies: boolean,
  ) => {
    facts = {
      rules: [...(facts?.rules ?? []), ...p.rules],
      policies: { ...(facts?.policies ?? {}), ...(withPolicies ? p.policies : {}) },
    };
  };
  const defaultIsLegacy = ver.failure === null && /legacy/.test(ver.stdout);
  // Legacy rules are invisible to nft: read them with whichever tool speaks the legacy backend.
  if (defaultIsLegacy || legacyTables) {
    const tool = defaultIsLegacy ? 'iptables-save' : 'iptables-legacy-save';
    const save = await limit(() => deps.runner(tool, [], { timeoutMs, maxBytes: 64 * 1024 * 1024 }));
    if (save.failure === null && save.code === 0) add(parseIptablesSave(save.stdout), true);
    else unknowns.push({ what: 'iptables-legacy', reason: describeFailure(tool, save) });
  }
  if (!defaultIsLegacy && opaque > 0 && ver.failure === null) {
    // iptables-nft extension matches (multiport) show in nft only as opaque `xt` expressions.
    const save = await limit(() =>
      deps.runner('iptables-save', [], { timeoutMs, maxBytes: 64 * 1024 * 1024 }),
    );
    if (save.failure === null && save.code === 0) {
      add(
        parseIptablesSave(save.stdout, (line) => / -m multiport /.test(line)),
        false,
      );
    } else unknowns.push({ what: 'iptables', reason: describeFailure('iptables-save', save) });
  }
  return facts;
}

/** Listening TCP ports of the agent's (host) namespace, IPv4 and IPv6; [] when unreadable. */
async function readListening(procRoot: string): Promise<number[]> {
  const texts = await Promise.all(
    ['net/tcp', 'net/tcp6'].map((f) => readFile(join(procRoot, f), 'utf8').catch(() => '')),
  );
  return [...new Set(texts.flatMap(parseListeningTcp))];
}

async function readOs(): Promise<string> {
  try {
    return parseOsRelease(await readFile('/etc/os-release', 'utf8')) ?? osType();
  } catch {
    return osType();
  }
}

export async function collectSnapshot(opts: InventoryOptions, deps: InventoryDeps): Promise<NodeSnapshot> {
  const started = performance.now();
  const takenAt = new Date().toISOString();
  const procRoot = opts.procRoot ?? '/proc';
  const timeoutMs = opts.timeoutMs ?? 5000;
  const limit = limiter(Math.max(1, opts.concurrency ?? 4));
  const log = deps.log.child({ component: 'inventory' });
  const unknowns: Unknown[] = [];

  const [found, statusText, os, listening] = await Promise.all([
    discover(opts, procRoot, unknowns),
    readFile(join(procRoot, 'self/status'), 'utf8').catch(() => ''),
    readOs(),
    readListening(procRoot),
  ]);
  const privileged = parsePrivileged(statusText);

  // The host's ip batch runs first, alone: when ip is missing, no namespace is tried. Everything
  // else (host FDB, other namespaces, firewall) then runs at once under the limit.
  let ipMissing = false;
  let hostBatchDone: () => void = () => {};
  const hostBatch = new Promise<void>((resolve) => {
    hostBatchDone = resolve;
  });
  const hostP = readNamespace(
    found.host,
    opts,
    deps,
    limit,
    procRoot,
    () => (opts.underlayIf ? [opts.underlayIf] : []),
    (r) => {
      ipMissing = r.failure === 'not-found';
      hostBatchDone();
    },
  );
  const othersP = Promise.all(
    found.others.map(async (f) => {
      await hostBatch;
      if (ipMissing)
        return { f, res: { failed: { what: `netns:${f.path}`, reason: 'ip not installed' } } as const };
      return { f, res: await readNamespace(f, opts, deps, limit, procRoot, () => []) };
    }),
  );
  await hostBatch;
  const firewallP = readFirewall(deps, limit, unknowns, timeoutMs, procRoot);
  const hostRes = await hostP;
  const namespaces: NetnsSnapshot[] = [];
  const names = new Map<string, Array<{ nsid: number; name: string | null }>>();
  if ('read' in hostRes) {
    namespaces.push(hostRes.read.snap);
    names.set('host', hostRes.read.names);
  } else {
    unknowns.push('failed' in hostRes ? hostRes.failed : { what: 'netns:host', reason: hostRes.reason });
  }
  const hostSnap = namespaces[0];

  // NICs: the underlay device plus physical NICs of the host namespace. Started now, from the
  // host alone; a device only the other namespaces reveal (VTEP local address) is added later.
  const nicDevs = new Set<string>();
  const early = hostSnap ? detectUnderlay(hostSnap, [hostSnap], opts.underlayIf).underlay : null;
  if (early) nicDevs.add(early.dev);
  for (const l of hostSnap?.links ?? []) if (l.kind === 'device') nicDevs.add(l.name);
  const nicsP = hostSnap ? readNics([...nicDevs], deps, limit, unknowns, timeoutMs) : Promise.resolve([]);
  const results = await othersP;
  for (const { f, res } of results) {
    if ('read' in res) {
      namespaces.push(res.read.snap);
      names.set(f.id, res.read.names);
    } else if ('vanished' in res) {
      log.debug({ netns: f.id }, 'namespace vanished during read');
      unknowns.push({ what: `netns:${f.path}`, reason: VANISHED });
    } else {
      unknowns.push(res.failed);
    }
  }

  // nsids that `ip netns list-id` named: match the name's inode to a namespace we read.
  const known: NsidMap = new Map();
  const byInode = new Map<number, string>();
  for (const n of namespaces) if (n.inode !== null) byInode.set(n.inode, n.id);
  const ipDirs = opts.ipNetnsDirs ?? ['/var/run/netns', '/run/netns'];
  const nameInode = new Map<string, number | null>();
  await Promise.all(
    [
      ...new Set(
        [...names.values()]
          .flat()
          .map((x) => x.name)
          .filter((x): x is string => x !== null),
      ),
    ].map(async (name) => {
      for (const d of ipDirs) {
        try {
          nameInode.set(name, (await stat(join(d, name))).ino);
          return;
        } catch {
          // try the next dir
        }
      }
      nameInode.set(name, null);
    }),
  );
  for (const [id, list] of names) {
    const m = new Map<number, string>();
    for (const { nsid, name } of list) {
      const ino = name === null ? null : nameInode.get(name);
      const target = ino === null || ino === undefined ? undefined : byInode.get(ino);
      if (target !== undefined) m.set(nsid, target);
    }
    known.set(id, m);
  }
  const nsids = resolveNsids(namespaces, known);
  for (const n of namespaces) n.role = classifyRole(n);

  let underlay = null;
  if (hostSnap) {
    const u = detectUnderlay(hostSnap, namespaces, opts.underlayIf);
    underlay = u.underlay;
    if (u.reason) unknowns.push({ what: 'underlay', reason: u.reason });
    if (underlay && !opts.underlayIf) {
      // rp_filter of the detected device (the host read only knew an explicit --underlay-if)
      Object.assign(hostSnap.sysctls, await readHostSysctls(procRoot, [underlay.dev]));
    }
  }
  const topo = buildTopology(namespaces, nsids, underlay);

  const [nics, firewall] = await Promise.all([nicsP, firewallP]);
  if (underlay && !nicDevs.has(underlay.dev) && !unknowns.some((u) => u.what === 'ethtool')) {
    nics.push(...(await readNics([underlay.dev], deps, limit, unknowns, timeoutMs)));
  }
  for (const nic of nics) {
    const l = hostSnap?.links.find((x) => x.name === nic.name);
    if (l) l.driver = nic.driver;
  }

  const overlayNs = namespaces.filter((n) => n.role === 'docker-overlay');
  const docker: DockerFacts = {
    present: found.presentDirs.some((d) => d.includes('docker')),
    swarm: overlayNs.length > 0 || namespaces.some((n) => n.role === 'docker-ingress'),
    overlayNamespaces: overlayNs.map((n) => n.name),
    gwbridge: hostSnap?.links.some((l) => l.name === 'docker_gwbridge') ?? false,
  };
  // What the node does: a Swarm node listens on its control ports in the host namespace.
  const swarmListening = listening.filter((p) => (SWARM_TCP_PORTS as readonly number[]).includes(p));
  if (swarmListening.length) {
    docker.swarmListening = swarmListening;
    docker.swarm = true;
  }
  const socket = opts.dockerSocket === undefined ? DEFAULT_DOCKER_SOCKET : opts.dockerSocket;
  if (
    socket &&
    (await stat(socket).then(
      (st) => st.isSocket(),
      () => false,
    ))
  ) {
    const api = await readDockerApi(socket, timeoutMs);
    if ('facts' in api) {
      docker.api = api.facts;
      if (api.facts.swarmState === 'active') docker.swarm = true;
    } else unknowns.push({ what: 'docker-api', reason: api.unavailable });
  }
  if (!privileged)
    unknowns.push({
      what: 'privileges',
      reason: `${NOT_ROOT}: other namespaces, nft and some NIC facts may be unreadable`,
    });

  const snapshot: NodeSnapshot = {
    schemaVersion: SCHEMA_VERSION,
    node: opts.node,
    labels: opts.labels,
    takenAt,
    durationMs: 0,
    host: { hostname: hostname(), kernel: release(), os, privileged, nics },
    namespaces,
    chains: topo.chains,
    vteps: topo.vteps,
    underlay,
    firewall,
    docker,
    unknowns,
  };
  snapshot.durationMs = Math.round((performance.now() - started) * 10) / 10;
  log.debug(
    { durationMs: snapshot.durationMs, namespaces: namespaces.length, unknowns: unknowns.length },
    'inventory done',
  );
  return snapshot;
}
