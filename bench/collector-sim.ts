/**
 * N simulated agents for the collector scale benchmark (bench/collector-scale.ts), in one
 * process. Each simulated node publishes through the agent's OWN code: its presence with the
 * agent's `Presence` (KV `vxdoctor_nodes`), its messages through the agent's `Outbox` and
 * `NatsPublisher` (JetStream, `Nats-Msg-Id`), its probe targets from the agent's probe set
 * (`selectTargets`, the cluster-wide slot every agent agrees on) and its findings from the agent's
 * own checks (`runChecks`) over its snapshot. Messages are the shared schema's typed messages
 * (`VxdoctorMessage`), so a schema change breaks this file's build rather than drifting.
 *
 * What each node publishes, like a real agent with the defaults:
 *  - presence every third of the TTL (30 s TTL: every 10 s);
 *  - a probes message every round (`intervalMs`, 5 s) over its probe set: per target a full-size
 *    PMTU probe (standing for the small VXLAN one when it fits, as the prober reports it), a
 *    control probe on the agent's UDP port and an overlay probe; plus arrival reports for the
 *    peers that probed it in the round;
 *  - a snapshot every inventory (`snapshotEveryMs`, 30 s) with realistic per-node tables: one
 *    FDB entry, neighbor and route per peer VTEP (flannel-style), so its size grows with N as
 *    today's agent snapshot does; findings once and every `republishMs`.
 * Cheap by design (the machine's 2 cores are shared with the collector): the snapshot JSON is
 * encoded once per node (only its envelope changes), targets are computed once per slot for all
 * nodes (which also gives every node its arrivals).
 *
 * A fault can be set at run time: every VXLAN-port probe (pmtu, vxlan, overlay) between two
 * groups is lost in the underlay (left the source, never reached the destination), control
 * probes pass: `underlay-vxlan-filtered` on that segment.
 *
 * Run as a child (`fork`): options in argv[2] (JSON); messages from the parent `{fault}`,
 * `{stop}`; to the parent `{ready}`, `{stats}` every `statsEveryMs`.
 */
import { randomUUID } from 'node:crypto';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { runChecks } from '../agent/checks/index.js';
import { DEFAULT_PROBESET, type PeerRef, selectTargets } from '../agent/heartbeat/probeset.js';
import { NatsPublisher } from '../agent/publish/nats.js';
import { Outbox, type Publisher } from '../agent/publish/outbox.js';
import { Presence } from '../agent/publish/presence.js';
import { findingsMessage, presenceRecord, probesMessage, summaryMessage } from '../agent/publish/messages.js';
import { silentLogger } from '../shared/logging.js';
import {
  type ProbesWire,
  stringTable,
  WIRE_ENCODING,
  type WireArrival,
  type WireRow,
} from '../shared/probes-wire.js';
import {
  type ArrivalReport,
  type FdbEntry,
  type Finding,
  type CheckRun,
  type Neighbor,
  type NodePresence,
  type NodeSnapshot,
  type ProbePath,
  type ProbeResult,
  type Route,
  SCHEMA_VERSION,
  type SummaryMessage,
} from '../shared/schema.js';
import { MESSAGE_KINDS, type MessageKind } from '../shared/subjects.js';
import { VERSION } from '../shared/version.js';

export interface SimOptions {
  nats: string;
  nodes: number;
  /** Topology groups (label `rack`). */
  groups: number;
  intervalMs: number;
  snapshotEveryMs: number;
  republishMs: number;
  presenceTtlMs: number;
  statsEveryMs: number;
  /** Name prefix (varied per run so nothing depends on one spelling). */
  prefix: string;
  /** Probes message form (the agent's --probes-encoding; default rows). */
  encoding?: 'rows' | 'json';
  /** Peers in each node's FDB/neighbor/route tables (default 64; see `tablePeers`). */
  tablePeers: number;
}

export interface SimNode {
  name: string;
  group: string;
  index: number;
  underlay: string;
  vtepMac: string;
  subnet: string;
}

export const VXLAN_PORT = 8472;
export const PROBE_PORT = 7999;
const OVERLAY_MTU = 1450;
const REQUIRED = OVERLAY_MTU + 50;
const VXLAN_INFO = (local: string) => ({
  vni: 1,
  local,
  group: null,
  port: VXLAN_PORT,
  learning: false,
  proxy: false,
  l2miss: false,
  l3miss: false,
  lowerDevice: 'eth0',
});

/** The simulated cluster: names, groups (round-robin sizes within one), addresses. */
export function clusterOf(n: number, groups: number, prefix: string): SimNode[] {
  const out: SimNode[] = [];
  const g = Math.max(1, Math.min(groups, n));
  for (let i = 0; i < n; i++) {
    const hi = (i >> 8) & 0xff;
    const lo = i & 0xff;
    out.push({
      name: `${prefix}-${String(i).padStart(5, '0')}`,
      group: `${prefix}g${String(i % g).padStart(3, '0')}`,
      index: i,
      underlay: `10.${100 + (hi >> 6)}.${hi & 0x3f}.${lo}`,
      vtepMac: `0e:f1:00:${(i >> 16).toString(16).padStart(2, '0')}:${hi.toString(16).padStart(2, '0')}:${lo
        .toString(16)
        .padStart(2, '0')}`,
      subnet: `10.${(i >> 8) + 128}.${lo}.0/24`,
    });
  }
  return out;
}

/** The node's presence record, built by the agent's own builder from its inventory. */
export function presenceOf(n: SimNode, at: number, snapshot?: NodeSnapshot): NodePresence {
  return presenceRecord(
    { node: n.name, labels: { rack: n.group }, version: VERSION, at },
    snapshot ?? snapshotOf(n, [n], at),
    {
      probePort: PROBE_PORT,
      overlayEndpoints: [{ style: 'flannel', vni: 1, address: n.subnet.replace(/0\/24$/, '0') }],
    },
  );
}

/** A flannel node's inventory: one FDB entry, neighbor and route per peer VTEP. */
export function snapshotOf(n: SimNode, all: SimNode[], at: number): NodeSnapshot {
  const fdb: FdbEntry[] = [];
  const neighbors: Neighbor[] = [];
  const routes: Route[] = [
    {
      dst: 'default',
      dev: 'eth0',
      gateway: '10.100.0.1',
      prefsrc: null,
      flags: [],
      mtu: null,
      table: 'main',
    },
  ];
  for (const p of all) {
    if (p === n) continue;
    const gw = p.subnet.replace(/0\/24$/, '0');
    fdb.push({
      mac: p.vtepMac,
      dev: 'flannel.1',
      dst: p.underlay,
      master: null,
      state: 'permanent',
      flags: [],
      vni: null,
    });
    neighbors.push({ dst: gw, dev: 'flannel.1', lladdr: p.vtepMac, state: ['PERMANENT'] });
    routes.push({
      dst: p.subnet,
      dev: 'flannel.1',
      gateway: gw,
      prefsrc: null,
      flags: ['onlink'],
      mtu: null,
      table: 'main',
    });
  }
  return {
    schemaVersion: SCHEMA_VERSION,
    node: n.name,
    labels: { rack: n.group },
    takenAt: new Date(at).toISOString(),
    durationMs: 40,
    host: {
      hostname: n.name,
      kernel: '6.1.0-18-amd64',
      os: 'Debian GNU/Linux 12',
      privileged: true,
      nics: [],
    },
    namespaces: [
      {
        id: 'host',
        name: 'host',
        path: null,
        inode: 4026531840,
        origin: 'host',
        role: 'host',
        links: [
          {
            ifindex: 2,
            name: 'eth0',
            kind: 'device',
            operstate: 'UP',
            adminUp: true,
            mtu: 1500,
            mac: '52:54:00:00:00:01',
            master: null,
            peerIfindex: null,
            linkNetnsid: null,
            vxlan: null,
            addresses: [`${n.underlay}/16`],
          },
          {
            ifindex: 5,
            name: 'flannel.1',
            kind: 'vxlan',
            operstate: 'UNKNOWN',
            adminUp: true,
            mtu: OVERLAY_MTU,
            mac: n.vtepMac,
            master: null,
            peerIfindex: null,
            linkNetnsid: null,
            vxlan: VXLAN_INFO(n.underlay),
            addresses: [`${n.subnet.replace(/0\/24$/, '0')}/32`],
          },
        ],
        routes,
        neighbors,
        fdb,
        sysctls: { 'net.ipv4.ip_forward': '1' },
        unknowns: [],
      },
    ],
    chains: [],
    vteps: [
      {
        netns: 'host',
        dev: 'flannel.1',
        style: 'flannel',
        vni: 1,
        port: VXLAN_PORT,
        mac: n.vtepMac,
        local: n.underlay,
        mtu: OVERLAY_MTU,
        subnets: [n.subnet],
        fdbDsts: fdb.map((f) => f.dst as string),
      },
    ],
    underlay: { dev: 'eth0', mtu: 1500, addresses: [n.underlay] },
    firewall: null,
    docker: { present: false, swarm: false, overlayNamespaces: [], gwbridge: false },
    unknowns: [],
  };
}

/** A segment fault: VXLAN-port probes between groups `a` and `b` are lost in the underlay. */
export interface SegmentFault {
  a: string;
  b: string;
}

const VXPATHS: ReadonlySet<ProbePath> = new Set(['vxlan', 'pmtu', 'overlay']);

export function faulted(f: SegmentFault | null, src: SimNode, dst: SimNode, path: ProbePath): boolean {
  if (!f || !VXPATHS.has(path)) return false;
  return (src.group === f.a && dst.group === f.b) || (src.group === f.b && dst.group === f.a);
}

/**
 * One node's results for one round toward `targets`, as the prober reports them: a full-size
 * PMTU probe that fits stands for the small VXLAN one (the same packet, noted), otherwise the
 * small one is sent on its own.
 */
export function roundResults(
  src: SimNode,
  targets: SimNode[],
  round: number,
  at: number,
  fault: SegmentFault | null,
): ProbeResult[] {
  const out: ProbeResult[] = [];
  for (const dst of targets) {
    const overlayAddr = dst.subnet.replace(/0\/24$/, '0');
    const lost = faulted(fault, src, dst, 'pmtu');
    const base = {
      src: src.name,
      dst: dst.name,
      round,
      at,
      sent: true,
      icmp: [] as string[],
    };
    const ok = (rtt: number) => ({
      leftSrc: true,
      arrivedDst: true,
      answered: true,
      replySeen: true,
      rttSeconds: rtt,
    });
    const gone = { leftSrc: true, arrivedDst: null, answered: false, replySeen: null, rttSeconds: null };
    const rtt = 0.0002 + (((src.index * 31 + dst.index) % 97) / 97) * 0.0003;
    out.push({
      ...base,
      path: 'pmtu',
      target: dst.underlay,
      port: VXLAN_PORT,
      ...(lost ? gone : ok(rtt)),
      pmtu: {
        required: REQUIRED,
        largestPassing: lost ? null : REQUIRED,
        fragNeededMtu: null,
        learnedPmtu: null,
      },
    });
    if (lost) out.push({ ...base, path: 'vxlan', target: dst.underlay, port: VXLAN_PORT, ...gone });
    else
      out.push({
        ...base,
        path: 'vxlan',
        target: dst.underlay,
        port: VXLAN_PORT,
        ...ok(rtt),
        note: `full-size probe (${REQUIRED} B) answered on this port: it stands for the small one`,
      });
    out.push({ ...base, path: 'control', target: dst.underlay, port: PROBE_PORT, ...ok(rtt * 0.9) });
    out.push({
      ...base,
      path: 'overlay',
      target: overlayAddr,
      port: null,
      ...(faulted(fault, src, dst, 'overlay')
        ? { ...gone, leftSrc: null }
        : { ...ok(rtt * 1.2), leftSrc: null, replySeen: null }),
    });
  }
  return out;
}

const PATH_IX: Record<ProbePath, number> = { vxlan: 0, control: 1, pmtu: 2, overlay: 3 };
// Row flags (shared/probes-wire.ts): answered with every capture verdict true; sent and left
// the source, then nothing; the overlay probe's (no capture on the overlay address).
const F_OK = 1 | 2 | (2 << 2) | (2 << 4) | (2 << 6);
const F_GONE = 1 | (2 << 2);
const F_OVERLAY_OK = 1 | 2 | (2 << 4);
const F_OVERLAY_GONE = 1;
const NOTE = `full-size probe (${REQUIRED} B) answered on this port: it stands for the small one`;

/**
 * The wire form of one node's round, built straight from the topology: exactly what
 * `encodeProbes(probesMessage(..., roundResults(...), arrivalsOf(...)))` publishes (a unit test
 * holds the two equal, string table order included), without building 160 result objects per
 * node and round first. At 5,000 nodes those objects were most of the simulator's CPU.
 */
export function roundWire(
  e: { node: SimNode; at: number; id: string; round: number },
  targets: SimNode[],
  probedAt: number,
  probers: SimNode[],
  fault: SegmentFault | null,
): ProbesWire {
  const { strings, index: str } = stringTable();
  const src = e.node;
  const dAt = probedAt - e.at;
  const rows: WireRow[] = [];
  for (const dst of targets) {
    const lost = faulted(fault, src, dst, 'pmtu');
    const rtt = 0.0002 + (((src.index * 31 + dst.index) % 97) / 97) * 0.0003;
    const d = str(dst.name);
    const t = str(dst.underlay);
    rows.push(
      lost
        ? [d, PATH_IX.pmtu, t, VXLAN_PORT, 0, dAt, F_GONE, -1, { p: [REQUIRED, -1, -1, -1] }]
        : [
            d,
            PATH_IX.pmtu,
            t,
            VXLAN_PORT,
            0,
            dAt,
            F_OK,
            Math.round(rtt * 1e6),
            { p: [REQUIRED, REQUIRED, -1, -1] },
          ],
    );
    rows.push(
      lost
        ? [d, PATH_IX.vxlan, t, VXLAN_PORT, 0, dAt, F_GONE, -1]
        : [d, PATH_IX.vxlan, t, VXLAN_PORT, 0, dAt, F_OK, Math.round(rtt * 1e6), { n: str(NOTE) }],
    );
    rows.push([d, PATH_IX.control, t, PROBE_PORT, 0, dAt, F_OK, Math.round(rtt * 0.9 * 1e6)]);
    const o = str(dst.subnet.replace(/0\/24$/, '0'));
    rows.push(
      faulted(fault, src, dst, 'overlay')
        ? [d, PATH_IX.overlay, o, -1, 0, dAt, F_OVERLAY_GONE, -1]
        : [d, PATH_IX.overlay, o, -1, 0, dAt, F_OVERLAY_OK, Math.round(rtt * 1.2 * 1e6)],
    );
  }
  const arrived: WireArrival[] = [];
  for (const s of probers)
    for (const path of ['vxlan', 'control', 'pmtu'] as ProbePath[])
      if (!faulted(fault, s, src, path)) arrived.push([str(s.name), PATH_IX[path], 1, dAt]);
  return {
    schemaVersion: SCHEMA_VERSION,
    type: 'probes',
    node: src.name,
    at: e.at,
    id: e.id,
    round: e.round,
    encoding: WIRE_ENCODING,
    strings,
    rows,
    arrived,
  };
}

/** Arrival reports of `dst` for the peers that probed it this round (what its capture saw). */
export function arrivalsOf(
  dst: SimNode,
  from: SimNode[],
  at: number,
  fault: SegmentFault | null,
): ArrivalReport[] {
  const out: ArrivalReport[] = [];
  for (const s of from)
    for (const path of ['vxlan', 'control', 'pmtu'] as ProbePath[])
      if (!faulted(fault, s, dst, path)) out.push({ from: s.name, path, count: 1, lastAt: at });
  return out;
}

/** Bytes and messages handed to the publisher (agent side), by kind. */
export class PublishedCounter {
  readonly bytes = Object.fromEntries(MESSAGE_KINDS.map((k) => [k, 0])) as Record<MessageKind, number>;
  readonly messages = Object.fromEntries(MESSAGE_KINDS.map((k) => [k, 0])) as Record<MessageKind, number>;
  failures = 0;
  /** Wraps a publisher: counts what it acknowledged. */
  wrap(p: Publisher): Publisher {
    return {
      connected: () => p.connected(),
      publish: async (kind, id, data) => {
        try {
          await p.publish(kind, id, data);
        } catch (err) {
          this.failures++;
          throw err;
        }
        this.bytes[kind] += data.length;
        this.messages[kind]++;
      },
    };
  }
}

const enc = new TextEncoder();

interface Agent {
  node: SimNode;
  outbox: Outbox;
  presence: Presence;
  /** Small inventory for the presence record (identities only, no per-peer tables). */
  own: NodeSnapshot;
  round: number;
  /** The first summary message (the inventory never changes here: republished as is). */
  summary: SummaryMessage | null;
  findings: Finding[];
  checkRuns: CheckRun[];
  lastSummaryAt: number;
  lastFindingsAt: number;
}

async function main(): Promise<void> {
  const o = JSON.parse(process.argv[2] ?? '{}') as SimOptions;
  const send = (m: unknown) => process.send?.(m);
  const cluster = clusterOf(o.nodes, o.groups, o.prefix);
  const peers: PeerRef[] = cluster.map((n) => ({ name: n.name, group: n.group }));
  const byName = new Map(cluster.map((n) => [n.name, n]));
  const log = silentLogger();
  // A few connections (a real cluster has one per agent; one per simulated node would only
  // cost this process memory): nodes are spread over them.
  const conns: NatsConnection[] = [];
  for (let i = 0; i < 4; i++)
    conns.push(await connect({ servers: o.nats, name: `vxdoctor-sim-${i}`, maxReconnectAttempts: -1 }));
  const counter = new PublishedCounter();
  let fault: SegmentFault | null = null;
  let stopping = false;
  const agents: Agent[] = [];
  const t0 = Date.now();
  for (const node of cluster) {
    const nc = conns[node.index % conns.length] as NatsConnection;
    const pub = counter.wrap(new NatsPublisher(nc, node.name, log, 10_000));
    agents.push({
      node,
      outbox: new Outbox(pub, 8 * 1024 * 1024),
      presence: new Presence({ nc, node: node.name, ttlMs: o.presenceTtlMs, log, onPeers: () => undefined }),
      own: snapshotOf(node, [node], t0),
      round: 0,
      summary: null,
      findings: [],
      checkRuns: [],
      lastSummaryAt: 0,
      lastFindingsAt: 0,
    });
  }
  // The inventory is built when the node first publishes, summarized and checked by the agent's
  // own code, then dropped. Its tables hold one FDB entry, neighbor and route per peer VTEP, up
  // to `tablePeers` peers (the node's group first): the summary is counts and digests, so its
  // size does not depend on how many (measured: the same bytes, but for the digits of the
  // counts, at 64 and at 5,000 peers), while building 5,000 tables of 5,000 entries each is
  // what kept this simulator from ever publishing at 5,000 nodes.
  let summaryBytes = 0;
  const tablePeers = (n: SimNode): SimNode[] => {
    if (cluster.length <= o.tablePeers) return cluster;
    const mates = cluster.filter((p) => p.group === n.group);
    const rest: SimNode[] = [];
    for (let i = 1; mates.length + rest.length < o.tablePeers && i < cluster.length; i++) {
      const p = cluster[(n.index + i * 97) % cluster.length] as SimNode;
      if (p.group !== n.group && !rest.includes(p)) rest.push(p);
    }
    return [n, ...mates.filter((p) => p !== n), ...rest].slice(0, o.tablePeers + 1);
  };
  const inventory = (a: Agent): void => {
    const snap = snapshotOf(a.node, tablePeers(a.node), Date.now());
    a.summary = summaryMessage({ node: a.node.name }, snap);
    const r = runChecks(snap);
    a.findings = r.findings;
    a.checkRuns = r.checkRuns;
    summaryBytes ||= JSON.stringify(a.summary).length;
  };
  const flush = (a: Agent) => void a.outbox.flush().catch(() => undefined);
  // Presence first, so the collector's gate shows every node.
  let presenceLag = 0;
  const putPresence = async (a: Agent): Promise<void> => {
    const t = Date.now();
    await a.presence.put(presenceOf(a.node, t, a.own)).catch(() => undefined);
    presenceLag = Math.max(presenceLag, Date.now() - t);
  };
  for (let i = 0; i < agents.length; i += 200) await Promise.all(agents.slice(i, i + 200).map(putPresence));
  send({ ready: true, setupMs: Date.now() - t0 });
  process.on('message', (m: { fault?: SegmentFault | null; stop?: boolean }) => {
    if (m.fault !== undefined) fault = m.fault;
    if (m.stop) stopping = true;
  });

  // Rounds on the cluster-wide slot; each node's send is spread over the round.
  const slotOf = (t: number) => Math.floor(t / o.intervalMs);
  let roundsLate = 0;
  let maxLateMs = 0;
  const timers: NodeJS.Timeout[] = [];
  const runSlot = (slot: number): void => {
    const targets = new Map<string, SimNode[]>();
    const probedBy = new Map<string, SimNode[]>();
    for (const a of agents) {
      const ts = selectTargets({ name: a.node.name, group: a.node.group }, peers, slot, DEFAULT_PROBESET).map(
        (n) => byName.get(n) as SimNode,
      );
      targets.set(a.node.name, ts);
      for (const t of ts) {
        const l = probedBy.get(t.name);
        if (l) l.push(a.node);
        else probedBy.set(t.name, [a.node]);
      }
    }
    const slotStart = slot * o.intervalMs;
    for (const a of agents) {
      const due = slotStart + (a.node.index / agents.length) * o.intervalMs;
      const t = setTimeout(
        () => {
          if (stopping) return;
          const now = Date.now();
          const late = now - due;
          if (late > o.intervalMs) roundsLate++;
          maxLateMs = Math.max(maxLateMs, late);
          a.round++;
          const at = now - 300;
          const f = fault;
          // On the wire as the agent sends it by default (--probes-encoding rows), or plain.
          const ts = targets.get(a.node.name) ?? [];
          const from = probedBy.get(a.node.name) ?? [];
          const body =
            o.encoding === 'json'
              ? probesMessage(
                  { node: a.node.name },
                  a.round,
                  roundResults(a.node, ts, a.round, at, f),
                  arrivalsOf(a.node, from, at, f),
                )
              : roundWire({ node: a.node, at: now, id: randomUUID(), round: a.round }, ts, at, from, f);
          a.outbox.put({ kind: 'probes', id: body.id, data: enc.encode(JSON.stringify(body)) });
          // Inventory every snapshotEveryMs: the summary on change (first time) or when due.
          if (now - a.lastSummaryAt >= o.snapshotEveryMs) {
            const first = a.summary === null;
            if (first) inventory(a);
            if (first || now - a.lastSummaryAt >= o.republishMs) {
              const s = first
                ? (a.summary as SummaryMessage)
                : { ...(a.summary as SummaryMessage), at: now, id: randomUUID() };
              a.outbox.put({ kind: 'summary', id: s.id, data: enc.encode(JSON.stringify(s)) });
              a.lastSummaryAt = now;
            }
          }
          if (now - a.lastFindingsAt >= o.republishMs && a.summary) {
            a.lastFindingsAt = now;
            const fm = findingsMessage({ node: a.node.name }, a.findings, a.checkRuns);
            a.outbox.put({ kind: 'findings', id: fm.id, data: enc.encode(JSON.stringify(fm)) });
          }
          flush(a);
          if (a.round % Math.max(1, Math.round(o.presenceTtlMs / 3 / o.intervalMs)) === 0)
            void putPresence(a);
        },
        Math.max(0, due - Date.now()),
      );
      timers.push(t);
    }
  };
  let slot = slotOf(Date.now()) + 1;
  const schedule = (): void => {
    if (stopping) return;
    timers.length = 0;
    runSlot(slot);
    slot++;
    setTimeout(schedule, Math.max(0, slot * o.intervalMs - Date.now() - 50));
  };
  setTimeout(schedule, Math.max(0, slot * o.intervalMs - Date.now() - 50));

  const stats = setInterval(() => {
    let depth = 0;
    let dropped = 0;
    for (const a of agents) {
      const s = a.outbox.stats();
      depth += s.depth;
      dropped += s.dropped;
    }
    send({
      stats: {
        at: Date.now(),
        bytes: counter.bytes,
        messages: counter.messages,
        failures: counter.failures,
        outboxDepth: depth,
        outboxDropped: dropped,
        roundsLate,
        maxLateMs,
        presenceLagMs: presenceLag,
        summaryBytes,
      },
    });
    maxLateMs = 0;
    presenceLag = 0;
  }, o.statsEveryMs);
  await new Promise<void>((resolve) => {
    const check = setInterval(() => {
      if (stopping) {
        clearInterval(check);
        clearInterval(stats);
        for (const t of timers) clearTimeout(t);
        resolve();
      }
    }, 200);
  });
  await Promise.all(conns.map((c) => c.close().catch(() => undefined)));
  process.exit(0);
}

if (process.argv[1]?.endsWith('collector-sim.ts') && process.send) {
  main().catch((err) => {
    process.stderr.write(`collector-sim: ${err?.stack ?? err}\n`);
    process.exit(1);
  });
}
