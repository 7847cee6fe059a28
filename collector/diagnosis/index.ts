/**
 * Diagnosis: pure correlation of cluster state into root causes (DESIGN.md vocabulary).
 *
 * Order of reasoning, so that one fault yields one root cause and the pair failures it causes
 * are attached to it as evidence instead of being raised again:
 *   1. agent-down (presence expired)            explains every pair touching the node
 *   2. node-unreachable (every path to it fails) explains every pair touching the node
 *   3. configuration root causes from findings  explain overlay (and related) pairs of their nodes
 *   4. probe patterns over what is left: segment / node VXLAN filtering, host firewall
 *      (probe reached the NIC, not answered), control ports blocked, underlay MTU.
 * A candidate is raised when it was seen in two consecutive evaluations, or its evidence spans
 * two probe rounds / two findings messages, or two independent observers report it.
 */
import type { RootCause, RootCauseKind, Severity } from '../../shared/schema.js';
import {
  type DiagnosisInput,
  describeFate,
  type NodeStatus,
  type PairStatus,
  type TrackedFinding,
} from '../state/index.js';

/** Swarm control ports probed with TCP on the control path. */
export const SWARM_PORTS = new Set([2377, 7946]);
const MAX_EVIDENCE = 16;

export interface DiagnosisMemory {
  /** Candidate id -> consecutive evaluations seen, and the `since` it was raised with. */
  seen: Map<string, { consecutive: number; since: string | null }>;
}

export function emptyMemory(): DiagnosisMemory {
  return { seen: new Map() };
}

interface Candidate {
  kind: RootCauseKind;
  severity: Severity;
  nodes: Set<string>;
  segment?: { from: string; to: string; label: string };
  summary: string;
  evidence: string[];
  remediation: string;
  observers: Set<string>;
  /** Evidence spans two rounds / two findings messages. */
  repeated: boolean;
  onset: number;
  /**
   * Presence expiry and findings may also be confirmed by two consecutive evaluations; probe
   * patterns only by two probe rounds or two observers (evaluations run faster than rounds,
   * so two evaluations may see one transient round twice).
   */
  byEvaluations?: boolean;
}

const SEV_RANK: Record<Severity, number> = { critical: 0, warning: 1, info: 2 };

export const DEFAULT_REMEDIATION: Record<RootCauseKind, string> = {
  'underlay-vxlan-filtered':
    'Allow UDP 4789 (Docker overlay) and UDP 8472 (flannel) on every hop of the underlay path: switch port modes and ACLs (Huawei CE ToR ports: `interface <port>` then `port nvo3 mode access`), routers and firewalls in between. Verify with `vxdoctor trace SRC DST`.',
  'host-firewall-vxlan':
    "Allow VXLAN in the node's own firewall, e.g. `nft insert rule inet filter input udp dport { 4789, 8472 } accept` or `iptables -I INPUT -p udp -m multiport --dports 4789,8472 -j ACCEPT`, and persist it.",
  'underlay-mtu':
    'Raise the underlay MTU on every hop (NIC, switch ports) to at least overlay MTU + 50, or lower the overlay MTU (Docker: `-o com.docker.network.driver.mtu=N`; flannel: `--iface-mtu`/net-conf MTU).',
  'fdb-wrong-destination':
    'The VTEP forwards to a wrong underlay address (often a NAT address such as 10.0.2.15): start flannel with `--iface=<unique underlay interface>` (or `--public-ip=<node address>`), then restart it so the FDB is reprogrammed.',
  'duplicate-vtep-address':
    'Several nodes advertise the same VTEP address (e.g. Vagrant NAT 10.0.2.15): set flannel `--iface=<unique interface>` / `--public-ip` on every node and restart flannel.',
  'missing-gwbridge':
    'Recreate docker_gwbridge: `docker network create --subnet 172.18.0.0/16 --gateway 172.18.0.1 -o com.docker.network.bridge.enable_icc=false -o com.docker.network.bridge.name=docker_gwbridge docker_gwbridge`, then restart the service tasks.',
  'vni-mismatch':
    "Nodes disagree on the overlay VNI: recreate the overlay network (or the node's VTEP) so every node uses the same VNI; on Docker, leave and rejoin the overlay network on the odd node.",
  'dstport-mismatch':
    'Nodes disagree on the VXLAN destination port: use the same port everywhere (Docker `--data-path-port`, flannel backend Port), then recreate the VTEP on the odd node.',
  'neighbor-missing':
    "The remote endpoint's neighbor entry is missing on the VTEP: restart the overlay agent (Docker daemon / flannel) on the node, or re-add the PERMANENT entry with `ip neigh replace`.",
  'control-ports-blocked':
    'Open the Swarm control ports between the nodes: TCP 2377 (management), TCP and UDP 7946 (gossip), plus UDP 4789 (data), in switches, routers and firewalls.',
  'vtep-down':
    'Bring the VTEP back up (`ip link set <vtep> up` in its namespace) and check why it went down (overlay driver logs).',
  'node-unreachable':
    "Every probe path to the node fails while its agent still reports: check the node's underlay link, switch port and routes (`ip link`, `ip route`, switch port state).",
  'agent-down':
    'The agent stopped reporting (presence expired): check the agent process/pod on the node (`kubectl -n vxdoctor get pods -o wide`, `docker service ps vxdoctor_agent`) and its NATS connectivity.',
  'kernel-unsupported':
    'Upgrade the kernel: Docker overlay needs >= 3.16 (3.10 may assign overlapping subnets); UFO + virtio needs >= 3.13 / 3.10.0-229.',
  'offload-risk': 'Disable the risky offload (`ethtool -K <nic> ufo off`) or upgrade the kernel/driver.',
  'subnet-overlap':
    'An overlay subnet overlaps a host route or address: recreate the overlay network with a non-overlapping `--subnet`, or remove the conflicting route.',
  'duplicate-vtep-mac':
    'Two VTEPs share one MAC address: recreate the VTEP on one node so it gets a unique MAC.',
  'mtu-mismatch':
    'Make the MTUs along the overlay chain consistent (container eth0 and VTEP <= underlay MTU - 50).',
  'sysctl-risk': 'Set the sysctl to the recommended value and persist it in /etc/sysctl.d/.',
  'inventory-incomplete':
    'The agent could not read part of the node: run it privileged (CAP_NET_ADMIN, host network, /var/run/docker/netns mounted).',
};

/** Kinds raised from findings that span several nodes as one fault. */
const MERGED_KINDS = new Set<RootCauseKind>(['duplicate-vtep-address', 'duplicate-vtep-mac']);
/** Which probe paths a configuration root cause on a node explains. */
const EXPLAINS: Partial<Record<RootCauseKind, Set<string>>> = {
  'host-firewall-vxlan': new Set(['overlay', 'vxlan', 'pmtu']),
  'fdb-wrong-destination': new Set(['overlay']),
  'duplicate-vtep-address': new Set(['overlay', 'vxlan']),
  'duplicate-vtep-mac': new Set(['overlay']),
  'vni-mismatch': new Set(['overlay']),
  'dstport-mismatch': new Set(['overlay', 'vxlan']),
  'neighbor-missing': new Set(['overlay']),
  'vtep-down': new Set(['overlay']),
  'subnet-overlap': new Set(['overlay']),
  'underlay-mtu': new Set(['pmtu', 'overlay']),
  'mtu-mismatch': new Set(['overlay']),
  'missing-gwbridge': new Set(['overlay']),
};

function pairKey(p: PairStatus): string {
  return `${p.src}|${p.dst}|${p.path}|${p.port ?? ''}`;
}

function pairLine(p: PairStatus): string {
  const port =
    p.port !== null ? ` ${p.path === 'control' && SWARM_PORTS.has(p.port) ? 'TCP' : 'UDP'} ${p.port}` : '';
  return `${p.src} -> ${p.dst} ${p.path}${port}: ${describeFate(p.last)}${p.failStreak > 1 ? ` (${p.failStreak} rounds)` : ''}`;
}

function capEvidence(lines: string[]): string[] {
  const uniq = [...new Set(lines)];
  if (uniq.length <= MAX_EVIDENCE) return uniq;
  return [...uniq.slice(0, MAX_EVIDENCE - 1), `... and ${uniq.length - MAX_EVIDENCE + 1} more`];
}

export function rootCauseId(
  kind: string,
  nodes: string[],
  segment?: { label: string; from: string; to: string },
): string {
  return segment
    ? `${kind}:${segment.label}:${segment.from}:${segment.to}`
    : `${kind}:${[...nodes].sort().join(',')}`;
}

function isControlUdp(p: PairStatus): boolean {
  return p.path === 'control' && (p.port === null || !SWARM_PORTS.has(p.port));
}

export function diagnose(
  input: DiagnosisInput,
  memory: DiagnosisMemory,
): { rootCauses: RootCause[]; memory: DiagnosisMemory } {
  const { groupLabel } = input;
  const nodeByName = new Map<string, NodeStatus>(input.nodes.map((n) => [n.name, n]));
  const group = (n: string): string => nodeByName.get(n)?.labels[groupLabel] ?? '';
  const known = input.pairs.filter((p) => p.status !== 'unknown');
  const failing = known.filter((p) => p.status === 'fail');
  const knownByDst = new Map<string, PairStatus[]>();
  for (const p of known) {
    const l = knownByDst.get(p.dst);
    if (l) l.push(p);
    else knownByDst.set(p.dst, [p]);
  }
  const toNode = (n: string): PairStatus[] => knownByDst.get(n) ?? [];
  const explained = new Set<string>();
  const cands = new Map<string, Candidate>();

  const add = (id: string, c: Candidate): Candidate => {
    const prev = cands.get(id);
    if (!prev) {
      cands.set(id, c);
      return c;
    }
    for (const n of c.nodes) prev.nodes.add(n);
    for (const o of c.observers) prev.observers.add(o);
    prev.evidence.push(...c.evidence);
    prev.repeated ||= c.repeated;
    prev.onset = Math.min(prev.onset, c.onset);
    if (SEV_RANK[c.severity] < SEV_RANK[prev.severity]) prev.severity = c.severity;
    return prev;
  };
  const attach = (c: Candidate, pairs: PairStatus[]): void => {
    for (const p of pairs) {
      if (explained.has(pairKey(p))) continue;
      explained.add(pairKey(p));
      c.evidence.push(pairLine(p));
      c.observers.add(p.src);
      if (p.failStreak >= 2) c.repeated = true;
      if (p.failSince !== null) c.onset = Math.min(c.onset, p.failSince);
    }
  };
  const unexplained = (): PairStatus[] => failing.filter((p) => !explained.has(pairKey(p)));
  const touching = (ps: PairStatus[], nodes: Set<string>, paths?: Set<string>): PairStatus[] =>
    ps.filter((p) => (nodes.has(p.src) || nodes.has(p.dst)) && (!paths || paths.has(p.path)));

  // 1. agent-down
  for (const n of input.nodes) {
    if (n.state !== 'expired') continue;
    const c = add(rootCauseId('agent-down', [n.name]), {
      kind: 'agent-down',
      severity: 'critical',
      nodes: new Set([n.name]),
      summary: `The agent on ${n.name} stopped reporting: presence expired at ${new Date(n.expiredAt ?? input.now).toISOString()}`,
      evidence: [
        `presence of ${n.name} expired at ${new Date(n.expiredAt ?? input.now).toISOString()}, last message ${new Date(n.lastSeen).toISOString()}`,
      ],
      remediation: DEFAULT_REMEDIATION['agent-down'],
      observers: new Set(),
      repeated: false,
      onset: n.expiredAt ?? input.now,
      byEvaluations: true,
    });
    const obs = c.observers.size;
    attach(c, touching(failing, new Set([n.name])));
    // Pair failures of a dead agent's peers are consequences, not independent observers.
    if (obs === 0) c.observers.clear();
  }

  // 2. node-unreachable: every incoming path fails, at least one underlay/control probe among them.
  for (const n of input.nodes) {
    if (n.state !== 'up') continue;
    const incoming = toNode(n.name).filter((p) => !explained.has(pairKey(p)));
    const base = incoming.filter((p) => p.path === 'control' || p.path === 'vxlan');
    if (!base.length || incoming.some((p) => p.status === 'pass')) continue;
    const c = add(rootCauseId('node-unreachable', [n.name]), {
      kind: 'node-unreachable',
      severity: 'critical',
      nodes: new Set([n.name]),
      summary: `${n.name} is unreachable on every probe path (vxlan, control, pmtu, overlay) while its agent still reports`,
      evidence: [`presence of ${n.name} is fresh (last seen ${new Date(n.lastSeen).toISOString()})`],
      remediation: DEFAULT_REMEDIATION['node-unreachable'],
      observers: new Set(),
      repeated: false,
      onset: input.now,
    });
    attach(c, incoming);
    attach(c, touching(unexplained(), new Set([n.name])));
  }

  // 3. configuration root causes from node findings and cluster-check findings.
  const problems = input.findings.filter((f) => f.status === 'problem' && f.kind !== null);
  const byId = new Map<string, TrackedFinding[]>();
  for (const f of problems) {
    const kind = f.kind as RootCauseKind;
    const id = MERGED_KINDS.has(kind) ? `${kind}:*` : rootCauseId(kind, [f.node]);
    const l = byId.get(id);
    if (l) l.push(f);
    else byId.set(id, [f]);
  }
  const configCands: Candidate[] = [];
  for (const list of byId.values()) {
    const kind = (list[0] as TrackedFinding).kind as RootCauseKind;
    const nodes = new Set(list.map((f) => f.node));
    const sorted = [...nodes].sort();
    const severity = list.reduce<Severity>(
      (s, f) => (SEV_RANK[f.severity] < SEV_RANK[s] ? f.severity : s),
      'info',
    );
    const first = list[0] as TrackedFinding;
    const c = add(rootCauseId(kind, sorted), {
      kind,
      severity,
      nodes,
      summary:
        list.length === 1 ? `${first.node}: ${first.summary}` : `${sorted.join(', ')}: ${first.summary}`,
      evidence: list.flatMap((f) => [
        `${f.origin === 'cluster' ? 'cluster check' : 'check'} ${f.check} on ${f.node} (${f.subject}): ${f.summary}`,
        ...f.evidence.map((e) => `  ${e}`),
      ]),
      remediation: list.find((f) => f.remediation)?.remediation || DEFAULT_REMEDIATION[kind],
      observers: new Set(list.filter((f) => f.origin === 'node').map((f) => f.node)),
      byEvaluations: true,
      repeated: list.some((f) => f.observations >= 2),
      onset: Math.min(...list.map((f) => f.firstSeen)),
    });
    configCands.push(c);
  }
  // A duplicate VTEP address also points every FDB at the wrong place: one fault, one root cause.
  const dup = [...cands.values()].find((c) => c.kind === 'duplicate-vtep-address');
  if (dup) {
    for (const [id, c] of cands) {
      if (c.kind !== 'fdb-wrong-destination') continue;
      dup.evidence.push(`(also explains) ${c.summary}`, ...c.evidence.map((e) => `  ${e}`));
      for (const n of c.nodes) dup.nodes.add(n);
      cands.delete(id);
    }
  }
  for (const c of configCands) {
    if (![...cands.values()].includes(c)) continue;
    const paths = EXPLAINS[c.kind];
    if (paths) attach(c, touching(unexplained(), c.nodes, paths));
  }

  // 4a. VXLAN filtered between two topology groups (segment), or in front of one node.
  const groups = [...new Set(input.nodes.map((n) => group(n.name)).filter((g) => g !== ''))].sort();
  const segmentOf = (p: PairStatus, a: string, b: string): boolean =>
    (group(p.src) === a && group(p.dst) === b) || (group(p.src) === b && group(p.dst) === a);
  const inside = (p: PairStatus, a: string, b: string): boolean =>
    group(p.src) === group(p.dst) && (group(p.src) === a || group(p.src) === b);
  const segmentRule = (
    kind: 'underlay-vxlan-filtered' | 'control-ports-blocked',
    select: (p: PairStatus) => boolean,
    reachable: (p: PairStatus) => boolean,
    summary: (a: string, b: string) => string,
    explainPaths: Set<string>,
  ): void => {
    for (let i = 0; i < groups.length; i++) {
      for (let j = i + 1; j < groups.length; j++) {
        const a = groups[i] as string;
        const b = groups[j] as string;
        const cross = known.filter((p) => select(p) && segmentOf(p, a, b) && !explained.has(pairKey(p)));
        if (!cross.length || cross.some((p) => p.status !== 'fail')) continue;
        if (known.some((p) => select(p) && inside(p, a, b) && p.status === 'fail')) continue;
        const reach = known.filter((p) => reachable(p) && segmentOf(p, a, b));
        if (!reach.length || reach.some((p) => p.status !== 'pass')) continue;
        const segment = { label: groupLabel, from: a, to: b };
        const c = add(rootCauseId(kind, [], segment), {
          kind,
          severity: 'critical',
          nodes: new Set(),
          segment,
          summary: summary(a, b),
          evidence: [
            `every probed ${groupLabel} ${a} <-> ${groupLabel} ${b} pair fails (${cross.length} probes), pairs inside each ${groupLabel} pass`,
            `reachability probes across the segment pass (${reach.length}): ${[...new Set(reach.map((p) => p.path + (p.port ? ` ${p.port}` : '')))].join(', ')}`,
          ],
          remediation: DEFAULT_REMEDIATION[kind],
          observers: new Set(),
          repeated: false,
          onset: input.now,
        });
        attach(c, cross);
        attach(
          c,
          unexplained().filter((p) => explainPaths.has(p.path) && segmentOf(p, a, b)),
        );
        for (const p of cross) {
          c.nodes.add(p.src);
          c.nodes.add(p.dst);
        }
      }
    }
  };
  segmentRule(
    'underlay-vxlan-filtered',
    (p) => p.path === 'vxlan',
    isControlUdp,
    (a, b) =>
      `The underlay between ${groupLabel} ${a} and ${groupLabel} ${b} drops VXLAN (UDP 4789/8472): probes leave one ${groupLabel} and never reach the other, while control probes pass and pairs inside each ${groupLabel} work`,
    new Set(['vxlan', 'overlay', 'pmtu']),
  );
  segmentRule(
    'control-ports-blocked',
    (p) => p.path === 'control' && p.port !== null && SWARM_PORTS.has(p.port),
    (p) => isControlUdp(p) || p.path === 'vxlan',
    (a, b) =>
      `Swarm control ports (TCP 2377, TCP/UDP 7946) are blocked between ${groupLabel} ${a} and ${groupLabel} ${b}`,
    new Set(['control']),
  );

  // 4b. Per node: VXLAN failing from every observer while control passes.
  const filteredPerNode: Array<[string, Candidate]> = [];
  for (const n of input.nodes) {
    const vx = toNode(n.name).filter((p) => p.path === 'vxlan' && !explained.has(pairKey(p)));
    if (!vx.length || vx.some((p) => p.status !== 'fail')) continue;
    const ctl = toNode(n.name).filter(isControlUdp);
    if (ctl.some((p) => p.status === 'fail')) continue;
    const reachedNic = vx.every((p) => p.last.arrivedDst === true);
    const kind: RootCauseKind = reachedNic ? 'host-firewall-vxlan' : 'underlay-vxlan-filtered';
    const c = add(rootCauseId(kind, [n.name]), {
      kind,
      severity: 'critical',
      nodes: new Set([n.name]),
      summary: reachedNic
        ? `${n.name} drops VXLAN after its NIC: probes reach ${n.name}'s NIC and are never answered (host firewall)`
        : `VXLAN (UDP 4789/8472) to ${n.name} is dropped on the path in front of it; control probes pass`,
      evidence: [],
      remediation: DEFAULT_REMEDIATION[kind],
      observers: new Set(),
      repeated: false,
      onset: input.now,
    });
    attach(c, vx);
    attach(
      c,
      touching(unexplained(), new Set([n.name]), new Set(['overlay', 'pmtu'])).filter(
        (p) => p.dst === n.name,
      ),
    );
    if (kind === 'underlay-vxlan-filtered') filteredPerNode.push([rootCauseId(kind, [n.name]), c]);
  }
  // The same filtering in front of several nodes (no topology labels to name a segment): one fault.
  if (filteredPerNode.length >= 2) {
    const nodes = filteredPerNode.flatMap(([, c]) => [...c.nodes]).sort();
    const merged: Candidate = {
      kind: 'underlay-vxlan-filtered',
      severity: 'critical',
      nodes: new Set(nodes),
      summary: `VXLAN (UDP 4789/8472) is dropped on the underlay between ${nodes.join(', ')}: probes leave and never arrive while control probes pass (set --group-label to localize the segment)`,
      evidence: filteredPerNode.flatMap(([, c]) => c.evidence),
      remediation: DEFAULT_REMEDIATION['underlay-vxlan-filtered'],
      observers: new Set(filteredPerNode.flatMap(([, c]) => [...c.observers])),
      repeated: filteredPerNode.some(([, c]) => c.repeated),
      onset: Math.min(...filteredPerNode.map(([, c]) => c.onset)),
    };
    for (const [id] of filteredPerNode) cands.delete(id);
    add(rootCauseId('underlay-vxlan-filtered', nodes), merged);
  }

  // 4c. Swarm control ports blocked to single nodes.
  for (const n of input.nodes) {
    const tcp = toNode(n.name).filter(
      (p) => p.path === 'control' && p.port !== null && SWARM_PORTS.has(p.port) && !explained.has(pairKey(p)),
    );
    if (!tcp.some((p) => p.status === 'fail')) continue;
    const c = add(rootCauseId('control-ports-blocked', [n.name]), {
      kind: 'control-ports-blocked',
      severity: 'critical',
      nodes: new Set([n.name]),
      summary: `Swarm control ports to ${n.name} are blocked (${[...new Set(tcp.filter((p) => p.status === 'fail').map((p) => p.port))].join(', ')})`,
      evidence: [],
      remediation: DEFAULT_REMEDIATION['control-ports-blocked'],
      observers: new Set(),
      repeated: false,
      onset: input.now,
    });
    attach(
      c,
      tcp.filter((p) => p.status === 'fail'),
    );
  }

  // 4d. Underlay MTU from PMTU probes.
  // Only measured MTU failures: some size passed, or an ICMP frag-needed came back.
  const mtuFails = unexplained().filter(
    (p) =>
      p.path === 'pmtu' &&
      p.last.pmtu &&
      (p.last.answered || p.last.pmtu.largestPassing !== null || p.last.pmtu.fragNeededMtu !== null),
  );
  if (mtuFails.length) {
    const involved = new Map<string, number>();
    for (const p of mtuFails) for (const n of [p.src, p.dst]) involved.set(n, (involved.get(n) ?? 0) + 1);
    const common = [...involved].filter(([, c]) => c === mtuFails.length).map(([n]) => n);
    let nodes: string[];
    if (common.length === 1) nodes = common;
    else if (common.length === 2 && mtuFails.length <= 2) nodes = common;
    else nodes = [...involved.keys()].sort();
    const required = Math.max(...mtuFails.map((p) => p.last.pmtu?.required ?? 0));
    const passing = mtuFails
      .map((p) => p.last.pmtu?.largestPassing)
      .filter((x): x is number => typeof x === 'number');
    const largest = passing.length ? Math.min(...passing) : null;
    const frag = mtuFails.map((p) => p.last.pmtu?.fragNeededMtu).find((x) => typeof x === 'number');
    const where = nodes.length === 1 ? `the path to ${nodes[0]}` : `paths between ${nodes.join(', ')}`;
    const c = add(rootCauseId('underlay-mtu', nodes), {
      kind: 'underlay-mtu',
      severity: 'critical',
      nodes: new Set(nodes),
      summary: `Underlay MTU too small on ${where}: largest packet that passes is ${largest ?? 'none'} bytes, the overlay needs ${required}${frag ? ` (ICMP frag-needed says mtu ${frag})` : ' (silent drop, no ICMP frag-needed)'}`,
      evidence: [`largest passing outer size ${largest ?? 'none'}, required ${required} (overlay MTU + 50)`],
      remediation: `Raise the MTU to at least ${required} on every underlay hop of ${where} (NICs, switch ports), or lower the overlay MTU to ${
        largest !== null ? largest - 50 : 'the largest passing size - 50'
      } (Docker: \`docker network create -o com.docker.network.driver.mtu=${largest !== null ? largest - 50 : 'N'} ...\`; flannel: MTU in net-conf / --iface-mtu).`,
      observers: new Set(),
      repeated: false,
      onset: input.now,
    });
    attach(c, mtuFails);
    // Large overlay packets die on the same hop; a local MTU finding on those nodes is the same fault.
    attach(c, touching(unexplained(), c.nodes, new Set(['overlay'])));
    for (const [id, other] of cands) {
      if (other === c || (other.kind !== 'mtu-mismatch' && other.kind !== 'underlay-mtu')) continue;
      if (![...other.nodes].every((n) => c.nodes.has(n))) continue;
      c.evidence.push(`(also explains) ${other.summary}`, ...other.evidence.map((e) => `  ${e}`));
      c.onset = Math.min(c.onset, other.onset);
      c.repeated ||= other.repeated;
      cands.delete(id);
    }
  }

  // Raise: two consecutive evaluations, two rounds of evidence, or two observers.
  const nextSeen = new Map<string, { consecutive: number; since: string | null }>();
  const out: RootCause[] = [];
  for (const [id0, c] of cands) {
    const nodes = [...c.nodes].sort();
    const id = id0.endsWith(':*') ? rootCauseId(c.kind, nodes) : id0;
    const prev = memory.seen.get(id);
    const consecutive = (prev?.consecutive ?? 0) + 1;
    const raised = (c.byEvaluations === true && consecutive >= 2) || c.repeated || c.observers.size >= 2;
    const since = prev?.since ?? (raised ? new Date(c.onset).toISOString() : null);
    nextSeen.set(id, { consecutive, since });
    if (!raised || since === null) continue;
    out.push({
      id,
      kind: c.kind,
      severity: c.severity,
      nodes,
      ...(c.segment ? { segment: c.segment } : {}),
      summary: c.summary,
      evidence: capEvidence(c.evidence),
      remediation: c.remediation,
      since,
    });
  }
  out.sort((a, b) => SEV_RANK[a.severity] - SEV_RANK[b.severity] || a.id.localeCompare(b.id));
  return { rootCauses: out, memory: { seen: nextSeen } };
}

/** Holds diagnosis memory between evaluations (the only mutable part, owned by its caller). */
export class Diagnoser {
  private memory = emptyMemory();
  private last: RootCause[] = [];
  private lastAt = 0;

  /**
   * Seeds `since` of root causes that were active before a restart (persisted by the caller),
   * so a root cause that is still active keeps its original `since`. Seeds that are not
   * confirmed by the next evaluation are dropped.
   */
  seed(entries: Array<{ id: string; since: string }>): void {
    for (const e of entries) this.memory.seen.set(e.id, { consecutive: 1, since: e.since });
  }

  evaluate(input: DiagnosisInput): RootCause[] {
    const r = diagnose(input, this.memory);
    this.memory = r.memory;
    this.last = r.rootCauses;
    this.lastAt = input.now;
    return r.rootCauses;
  }

  current(): { generatedAt: string; rootCauses: RootCause[] } {
    return { generatedAt: new Date(this.lastAt).toISOString(), rootCauses: this.last };
  }
}
