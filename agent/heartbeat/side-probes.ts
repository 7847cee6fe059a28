/**
 * The side probes of a round, besides the signed UDP probes: TCP connects to the Swarm ports
 * (control path; refused = reachable) and, on Docker overlays, one fping per round from a local
 * container to the remote containers (overlay path, through the kernel VTEP).
 */
import { connect as tcpConnect } from 'node:net';
import type { CommandRunner } from '../../shared/exec.js';
import type { NodePresence, NodeSnapshot, ProbeResult } from '../../shared/schema.js';

/** The Swarm manager and gossip ports a control-path TCP probe connects to. */
export const SWARM_TCP = [2377, 7946];

/** One TCP connect to `addr:port` from `localAddress`; refused counts as reachable. */
export function tcpProbe(o: {
  node: string;
  peer: string;
  addr: string;
  port: number;
  round: number;
  localAddress: string;
  timeoutMs: number;
}): Promise<ProbeResult> {
  const { port } = o;
  const at = Date.now();
  const base = {
    path: 'control' as const,
    src: o.node,
    dst: o.peer,
    target: o.addr,
    port,
    round: o.round,
    at,
    sent: true,
    leftSrc: null,
    arrivedDst: null,
    replySeen: null,
    icmp: [],
  };
  return new Promise((resolve) => {
    const sock = tcpConnect({ host: o.addr, port, localAddress: o.localAddress });
    const done = (answered: boolean, note: string) => {
      clearTimeout(timer);
      sock.destroy();
      resolve({ ...base, answered, rttSeconds: answered ? (Date.now() - at) / 1000 : null, note });
    };
    const timer = setTimeout(() => done(false, `tcp ${port} timed out (filtered)`), o.timeoutMs);
    sock.once('connect', () => done(true, `tcp ${port} open`));
    sock.once('error', (err: NodeJS.ErrnoException) =>
      done(
        err.code === 'ECONNREFUSED',
        err.code === 'ECONNREFUSED' ? `tcp ${port} refused (reachable)` : `tcp ${port} ${err.code}`,
      ),
    );
  });
}

/** A remote container on the Docker overlay and the underlay address of the node hosting it. */
export interface DockerTarget {
  ip: string;
  /** Underlay address of its node (the FDB entry's dst); the peer's name is resolved per round. */
  peer: string;
}

/** What the Docker overlay probe needs from the local snapshot. */
export interface DockerPlan {
  /** netns path of a local container on the overlay (fping runs there), null: none. */
  source: string | null;
  targets: DockerTarget[];
}

/**
 * The Docker overlay probe's plan from the snapshot (pure): remote containers from the overlay
 * namespace's PERMANENT neighbor + FDB entries, and a local container on that overlay's subnet.
 */
export function dockerPlan(s: NodeSnapshot): DockerPlan {
  const docker = s.vteps.find((v) => v.style === 'docker');
  const ov = docker && s.namespaces.find((n) => n.id === docker.netns);
  if (!docker || !ov) return { source: null, targets: [] };
  const targets: DockerTarget[] = [];
  const dstOfMac = new Map(ov.fdb.filter((e) => e.dev === docker.dev && e.dst).map((e) => [e.mac, e.dst!]));
  for (const n of ov.neighbors) {
    const under = n.lladdr && n.dev === docker.dev ? dstOfMac.get(n.lladdr) : undefined;
    if (under) targets.push({ ip: n.dst, peer: under });
  }
  const subnet = docker.subnets[0]?.split('/')[0]?.split('.').slice(0, 3).join('.');
  const ctr = s.namespaces.find(
    (n) =>
      n.role === 'container' &&
      n.path &&
      n.links.some((l) => l.addresses.some((a) => subnet && a.startsWith(`${subnet}.`))),
  );
  return { source: ctr?.path ?? null, targets };
}

/**
 * One fping from the plan's container to the remote containers of the round's `targets`.
 * `missing` is set when nsenter/fping is not installed (the probe is then off); `sent` counts
 * the echo requests.
 */
export async function dockerProbe(o: {
  node: string;
  plan: DockerPlan;
  peers: Iterable<NodePresence>;
  targets: string[];
  round: number;
  roundTimeoutMs: number;
  runner: CommandRunner;
}): Promise<{ results: ProbeResult[]; sent: number; missing: boolean }> {
  const none = { results: [], sent: 0, missing: false };
  if (!o.plan.source || o.plan.targets.length === 0) return none;
  const byUnderlay = new Map<string, string>();
  for (const p of o.peers) for (const a of p.underlay) byUnderlay.set(a, p.node);
  const want = new Set(o.targets);
  const list = o.plan.targets
    .map((t) => ({ ip: t.ip, peer: byUnderlay.get(t.peer) }))
    .filter((t): t is { ip: string; peer: string } => !!t.peer && want.has(t.peer));
  if (list.length === 0) return none;
  const at = Date.now();
  const ms = Math.max(100, o.roundTimeoutMs - 100);
  const r = await o.runner(
    'nsenter',
    [`--net=${o.plan.source}`, 'fping', '-c1', `-t${ms}`, '-q', ...list.map((t) => t.ip)],
    { timeoutMs: ms + 2000 },
  );
  if (r.failure === 'not-found') return { ...none, missing: true };
  const rtt = parseFping(r.stderr);
  const results = list.map((t) => {
    const v = rtt.get(t.ip);
    return {
      path: 'overlay' as const,
      src: o.node,
      dst: t.peer,
      target: t.ip,
      port: null,
      round: o.round,
      at,
      sent: true,
      leftSrc: null,
      arrivedDst: null,
      answered: v !== undefined && v !== null,
      replySeen: null,
      rttSeconds: v ?? null,
      icmp: [],
      note: 'icmp echo container to container (docker overlay)',
    };
  });
  return { results, sent: list.length, missing: false };
}

/** `10.0.1.13 : xmt/rcv/%loss = 1/1/0%, min/avg/max = 0.05/0.05/0.05` -> rtt seconds (null: lost). */
export function parseFping(text: string): Map<string, number | null> {
  const out = new Map<string, number | null>();
  for (const line of text.split('\n')) {
    const m =
      /^(\S+)\s*:\s*xmt\/rcv\/%loss = (\d+)\/(\d+)\/\d+%(?:, min\/avg\/max = [\d.]+\/([\d.]+)\/)?/.exec(
        line.trim(),
      );
    if (!m) continue;
    out.set(m[1]!, Number(m[3]) > 0 ? Number(m[4] ?? 0) / 1000 : null);
  }
  return out;
}
