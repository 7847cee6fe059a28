/**
 * A cluster of simulated agents for the partitioned-collector e2e test and benchmark
 * (docs/scale-out.md): presence in KV `vxdoctor_nodes` and one probes message per node per round
 * on `vxdoctor.v1.<token>.probes`, published through a real nats-server. Each node probes the
 * targets the agent's own probe-set code picks (agent/heartbeat/probeset.ts `selectTargets`), on
 * VXLAN (the node's VTEP port), PMTU and control UDP, and reports the arrivals its peers' probes
 * made; a fault function decides each probe's fate.
 */
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { ensurePresenceBucket, ensureStream } from '../../shared/nats.js';
import { type PeerRef, selectTargets } from '../../agent/heartbeat/probeset.js';
import { silentLogger } from '../../shared/logging.js';
import type {
  ArrivalReport,
  Finding,
  FindingsMessage,
  NodePresence,
  ProbePath,
  ProbeResult,
  ProbesMessage,
} from '../../shared/schema.js';
import { nodeToken, subjectFor } from '../../shared/subjects.js';

export interface SimNode {
  name: string;
  group: string;
  underlay: string;
}

/** Whether a probe from src to dst on path/port is lost in the underlay. */
export type SimFault = (src: SimNode, dst: SimNode, path: ProbePath, port: number) => boolean;
export const noFault: SimFault = () => false;

export const SIM_VXLAN_PORT = 8472;
export const SIM_PROBE_PORT = 7999;

const SLOTS: Array<{ path: ProbePath; port: number }> = [
  { path: 'vxlan', port: SIM_VXLAN_PORT },
  { path: 'pmtu', port: SIM_VXLAN_PORT },
  { path: 'control', port: SIM_PROBE_PORT },
];

/** `count` nodes spread over `groups` (names of several shapes, dotted ones included). */
export function simCluster(count: number, groups: string[], seed = 0): SimNode[] {
  const out: SimNode[] = [];
  for (let i = 0; i < count; i++) {
    const g = groups[i % groups.length] as string;
    const a = (i >> 8) & 255;
    const b = i & 255;
    const shape = (i + seed) % 4;
    const name =
      shape === 0
        ? `ip-10-${a}-${b}-${seed % 250}.eu-west-1.compute.internal`
        : shape === 1
          ? `worker_${i}.${g.toLowerCase().replace(/[^a-z0-9-]/g, '-')}.example.org`
          : shape === 2
            ? `gke-pool-${seed}-${i}`
            : `n${i}-s${seed}`;
    out.push({ name, group: g, underlay: `10.${100 + (seed % 100)}.${a}.${b}` });
  }
  return out;
}

export function simPresence(n: SimNode, groupLabel: string, at: number): NodePresence {
  return {
    schemaVersion: 1,
    node: n.name,
    labels: { [groupLabel]: n.group },
    version: '0.1.0',
    at,
    underlay: [n.underlay],
    probePort: SIM_PROBE_PORT,
    vteps: [],
    overlayEndpoints: [],
  };
}

function result(
  src: SimNode,
  dst: SimNode,
  path: ProbePath,
  port: number,
  round: number,
  at: number,
  lost: boolean,
): ProbeResult {
  const r: ProbeResult = {
    path,
    src: src.name,
    dst: dst.name,
    target: dst.underlay,
    port,
    round,
    at,
    sent: true,
    leftSrc: true,
    arrivedDst: lost ? false : true,
    answered: !lost,
    replySeen: !lost,
    rttSeconds: lost ? null : 0.0004,
    icmp: [],
  };
  if (path === 'pmtu')
    r.pmtu = { required: 1500, largestPassing: lost ? null : 1500, fragNeededMtu: null, learnedPmtu: null };
  return r;
}

/** Every node's probes message of one round (targets by the agent's probe-set code). */
export function simRound(nodes: SimNode[], round: number, at: number, fault: SimFault): ProbesMessage[] {
  const peers: PeerRef[] = nodes.map((n) => ({ name: n.name, group: n.group }));
  const byName = new Map(nodes.map((n) => [n.name, n]));
  const inbound = new Map<string, ArrivalReport[]>();
  const out: ProbesMessage[] = [];
  for (const src of nodes) {
    const results: ProbeResult[] = [];
    for (const t of selectTargets({ name: src.name, group: src.group }, peers, round)) {
      const dst = byName.get(t) as SimNode;
      for (const s of SLOTS) {
        const lost = fault(src, dst, s.path, s.port);
        results.push(result(src, dst, s.path, s.port, round, at, lost));
        if (!lost) {
          const l = inbound.get(dst.name) ?? [];
          l.push({ from: src.name, path: s.path, count: 1, lastAt: at + 2 });
          inbound.set(dst.name, l);
        }
      }
    }
    out.push({
      schemaVersion: 1,
      type: 'probes',
      node: src.name,
      at: at + 500,
      id: `${nodeToken(src.name)}-probes-${round}`,
      round,
      results,
      arrivals: [],
    });
  }
  for (const m of out) m.arrivals = inbound.get(m.node) ?? [];
  return out;
}

/** Publishes the simulated cluster through a real nats-server, as the agents do. */
export class SimPublisher {
  private kv: KV | null = null;
  /** Messages and bytes published per node (what each node's owner must ingest). */
  readonly sent = new Map<string, number>();
  bytes = 0;
  constructor(
    private readonly nc: NatsConnection,
    private readonly groupLabel: string,
    private readonly presenceTtlMs = 30_000,
  ) {}

  async init(): Promise<void> {
    await ensureStream(await jetstreamManager(this.nc), silentLogger());
    this.kv = await ensurePresenceBucket(this.nc, { ttlMs: this.presenceTtlMs });
  }

  async presence(nodes: SimNode[], at = Date.now()): Promise<void> {
    const kv = this.kv;
    if (!kv) throw new Error('init() first');
    await Promise.all(
      nodes.map((n) => kv.put(nodeToken(n.name), JSON.stringify(simPresence(n, this.groupLabel, at)))),
    );
  }

  /** A findings message of one node (what its checks found), dated now. */
  async findings(node: string, findings: Finding[], at = Date.now()): Promise<void> {
    const m: FindingsMessage = {
      schemaVersion: 1,
      type: 'findings',
      node,
      at,
      id: `${nodeToken(node)}-findings-${at}`,
      findings,
      checkRuns: [...new Set(findings.map((f) => f.check))].map((check) => ({
        check,
        ok: true,
        durationSeconds: 0.001,
      })),
    };
    this.sent.set(node, (this.sent.get(node) ?? 0) + 1);
    await jetstream(this.nc).publish(subjectFor(node, 'findings'), JSON.stringify(m), { msgID: m.id });
  }

  async round(nodes: SimNode[], round: number, fault: SimFault, at = Date.now()): Promise<void> {
    const js = jetstream(this.nc);
    const msgs = simRound(nodes, round, at, fault);
    const acks: Promise<unknown>[] = [];
    for (const m of msgs) {
      const data = JSON.stringify(m);
      this.bytes += data.length;
      this.sent.set(m.node, (this.sent.get(m.node) ?? 0) + 1);
      acks.push(js.publish(subjectFor(m.node, 'probes'), data, { msgID: m.id }));
      // Bounded in flight: the server's ack is the pace.
      if (acks.length >= 256) await Promise.all(acks.splice(0));
    }
    await Promise.all(acks);
  }
}
