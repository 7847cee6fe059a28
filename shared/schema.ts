/**
 * vxdoctor message and snapshot contracts.
 *
 * Everything here is JSON-safe (no Map, no bigint, no Date objects): a snapshot travels over
 * NATS and lands in `--json` output unchanged. Times are ISO-8601 strings or epoch
 * milliseconds as named. Every message carries `schemaVersion`; the collector rejects other
 * versions with reason `unknown-version`.
 */

export const SCHEMA_VERSION = 1 as const;

/** Finding and root-cause severity. */
export type Severity = 'critical' | 'warning' | 'info';

/**
 * Something that could not be read. `what` names the piece (e.g. `netns:/var/run/netns/x`,
 * `ethtool:eth0`, `nft`), `reason` says why in words a user can act on
 * (e.g. `ethtool not installed`, `namespace vanished during read`, `permission denied (not root)`).
 */
export interface Unknown {
  what: string;
  reason: string;
}

// ---------------------------------------------------------------------------------------------
// Node snapshot (inventory output)
// ---------------------------------------------------------------------------------------------

/** VXLAN parameters of a VTEP, from `ip -j -d link` `linkinfo.info_data`. */
export interface VxlanInfo {
  /** VXLAN network identifier. */
  vni: number;
  /** Local (source) underlay address, when configured (flannel sets it, Docker does not). */
  local: string | null;
  /** Multicast group or unicast remote, when configured. */
  group: string | null;
  /** UDP destination port (4789 IANA/Docker, 8472 Linux default/flannel). */
  port: number;
  learning: boolean;
  proxy: boolean;
  l2miss: boolean;
  l3miss: boolean;
  /** Name of the lower (underlay) device when bound with `dev`, resolved from `link` ifindex. */
  lowerDevice: string | null;
  /**
   * Collect-metadata (`external`) device: VNI and remote come per packet from the datapath
   * (Cilium, Weave fast datapath, OVS/Antrea), so it has no own VNI and an empty FDB is normal.
   * Optional: absent in snapshots of older agents (read as false).
   */
  external?: boolean;
}

/**
 * Which overlay built a VTEP, recognized from what the kernel shows (flags, VNI, port, local
 * address, bridge and veth ports, namespace) with the device name only as a tie-breaker.
 */
export const OVERLAY_KINDS = ['docker', 'flannel', 'calico', 'cilium', 'weave', 'antrea', 'unknown'] as const;
export type OverlayKind = (typeof OVERLAY_KINDS)[number];

/** One network link of a namespace. */
export interface Link {
  ifindex: number;
  name: string;
  /** `info_kind` (vxlan, bridge, veth, ...) or `device` for a physical/unknown NIC, `loopback`. */
  kind: string;
  /** Kernel operstate (UP, DOWN, UNKNOWN, LOWERLAYERDOWN). */
  operstate: string;
  /** Administratively up (IFF_UP in flags). */
  adminUp: boolean;
  mtu: number;
  mac: string | null;
  /** Name of the master device (bridge) in the same namespace. */
  master: string | null;
  /** For veth and moved devices: the peer ifindex (`link_index`/`link`). */
  peerIfindex: number | null;
  /** `link_netnsid`: the peer lives in another namespace (id relative to this namespace). */
  linkNetnsid: number | null;
  vxlan: VxlanInfo | null;
  /** Addresses in CIDR form, e.g. `10.0.1.2/24`. */
  addresses: string[];
  /** Kernel driver (from ethtool -i) for non-virtual devices, when known. */
  driver?: string | null;
}

export interface Route {
  /** `default` or CIDR. */
  dst: string;
  dev: string | null;
  gateway: string | null;
  /** Source address hint (`prefsrc`). */
  prefsrc: string | null;
  /** Route flags (e.g. `onlink`). */
  flags: string[];
  /** Route MTU metric when set. */
  mtu: number | null;
  table: string;
}

export interface Neighbor {
  dst: string;
  dev: string;
  lladdr: string | null;
  /** e.g. ["PERMANENT"], ["REACHABLE"], ["INCOMPLETE"], ["FAILED"], ["NOARP"]. */
  state: string[];
}

export interface FdbEntry {
  mac: string;
  dev: string;
  /** Remote VTEP underlay address for VXLAN entries. */
  dst: string | null;
  master: string | null;
  state: string;
  flags: string[];
  vni: number | null;
}

/** How a namespace was found. */
export type NetnsOrigin = 'host' | 'netns-dir' | 'proc';

/** Classification from names and contents. */
export type NetnsRole =
  | 'host'
  | 'docker-overlay' // a bridge + VTEP sandbox of its own (Docker's `1-<id>`, whatever its name)
  | 'docker-ingress' // `ingress_sbox`
  | 'container'
  | 'other';

export interface NetnsSnapshot {
  /** Stable id within the snapshot: `host` or the namespace file path. */
  id: string;
  /** Short display name (file basename, `host`). */
  name: string;
  /** Path of the namespace file, null for the host namespace. */
  path: string | null;
  /** Inode of the namespace (de-duplication key), null when unknown. */
  inode: number | null;
  origin: NetnsOrigin;
  role: NetnsRole;
  links: Link[];
  routes: Route[];
  neighbors: Neighbor[];
  fdb: FdbEntry[];
  /** Selected sysctls by dotted name (`net.ipv4.ip_forward` -> "1"). */
  sysctls: Record<string, string>;
  /** Pieces of this namespace that could not be read. */
  unknowns: Unknown[];
}

/** Offload features of one NIC from `ethtool -k`: feature name -> on/off (fixed shown). */
export interface NicFacts {
  name: string;
  driver: string | null;
  /** e.g. {"udp-fragmentation-offload": "off", "tx-udp_tnl-segmentation": "on"}. */
  offloads: Record<string, string>;
}

/** A firewall rule that touches overlay ports. */
export interface FirewallRule {
  /** `nft` (native, includes iptables-nft) or `iptables-legacy`. */
  source: 'nft' | 'iptables';
  family: string;
  table: string;
  chain: string;
  /** Hook of the base chain the rule sits in (input, forward, output, prerouting...), when known. */
  hook: string | null;
  /** Decision: accept, drop, reject, or other/none (counter/log only). */
  verdict: 'accept' | 'drop' | 'reject' | 'other';
  protocol: 'udp' | 'tcp' | 'any';
  /** Destination ports matched (expanded from sets/ranges; empty = any port). */
  dports: number[];
  /** Human-readable rule text for evidence. */
  text: string;
}

export interface FirewallFacts {
  rules: FirewallRule[];
  /** Default policy of base input/forward chains: `${family} ${table} ${chain}` -> policy. */
  policies: Record<string, string>;
}

export interface HostFacts {
  hostname: string;
  /** `uname -r`, e.g. `6.1.0-18-amd64` or `3.10.0-123.el7.x86_64`. */
  kernel: string;
  os: string;
  /** True when the effective user is root or has CAP_NET_ADMIN. */
  privileged: boolean;
  nics: NicFacts[];
}

/** Docker awareness from the filesystem and namespaces (no Docker API needed). */
export interface DockerFacts {
  /** Docker namespace directory present (`/var/run/docker/netns`). */
  present: boolean;
  /**
   * Swarm evidence: an `ingress_sbox` namespace, overlay namespaces, the Engine API saying so, or
   * the host listening on the Swarm control ports (see `swarmListening`).
   */
  swarm: boolean;
  /** Swarm TCP ports (2377 manager, 7946 gossip) the host namespace listens on (/proc/net/tcp*). */
  swarmListening?: number[];
  /** Names of Docker overlay namespaces (`1-<id>`). */
  overlayNamespaces: string[];
  /** `docker_gwbridge` exists in the host namespace. */
  gwbridge: boolean;
  /** From the Docker Engine API, only when its socket exists and answered (an optional extra). */
  api?: DockerApiFacts;
}

/** What the Docker Engine API adds (GET /info, GET /networks). */
export interface DockerApiFacts {
  /** Swarm.LocalNodeState: `active`, `inactive`, `pending`, `error`, `locked`; null if absent. */
  swarmState: string | null;
  swarmNodeId: string | null;
  /** Overlay networks, with the namespace name Docker gives each (`1-<first 10 of id>`). */
  overlays: Array<{ id: string; name: string; netns: string; subnets: string[] }>;
}

/** One hop of an overlay chain. */
export interface ChainHop {
  /** Namespace id (see NetnsSnapshot.id). */
  netns: string;
  /** Device name. */
  dev: string;
  kind: string;
  mtu: number;
  operstate: string;
}

/**
 * One overlay datapath: container eth0 -> veth peer -> bridge -> VTEP -> underlay device.
 * Hops are ordered from the workload outwards; missing tail hops mean the chain is broken.
 */
export interface OverlayChain {
  /** e.g. `docker:1-abcd/vxlan0` or `flannel:flannel.1`. */
  id: string;
  style: 'docker' | 'flannel' | 'other';
  /** The overlay recognized by content (style keeps its three values for older readers). */
  overlay?: OverlayKind;
  hops: ChainHop[];
  /** VTEP the chain ends in, when found. */
  vtep: { netns: string; dev: string; vni: number; port: number } | null;
  /** Underlay device carrying the VTEP traffic, when resolved. */
  underlay: { dev: string; mtu: number; address: string | null } | null;
}

/** A VTEP summarized for presence and cross-node checks. */
export interface VtepSummary {
  netns: string;
  dev: string;
  style: 'docker' | 'flannel' | 'other';
  /** The overlay recognized by content (optional: older agents do not send it). */
  overlay?: OverlayKind;
  vni: number;
  port: number;
  mac: string | null;
  /** Local underlay address the VTEP sends from (explicit `local`, else the node's underlay address). */
  local: string | null;
  mtu: number;
  /**
   * MTU of the traffic this overlay carries, when it differs from the device's own: a
   * collect-metadata VTEP (Weave's datapath port, cilium_vxlan, an OVS tunnel port) is created
   * with a large MTU while the pods' MTU is set elsewhere (datapath, route metric, gateway).
   * Absent: the device MTU is the overlay MTU.
   */
  overlayMtu?: number;
  /** Overlay subnets reachable through this VTEP's bridge/device (CIDR). */
  subnets: string[];
  /** Remote VTEP addresses programmed in the FDB. */
  fdbDsts: string[];
}

/** The whole node, as inventory sees it. */
export interface NodeSnapshot {
  schemaVersion: typeof SCHEMA_VERSION;
  node: string;
  labels: Record<string, string>;
  /** ISO time the inventory started. */
  takenAt: string;
  durationMs: number;
  host: HostFacts;
  namespaces: NetnsSnapshot[];
  chains: OverlayChain[];
  vteps: VtepSummary[];
  /** Underlay device and address the node uses (from `--underlay-if`, else the default route). */
  underlay: { dev: string; mtu: number; addresses: string[] } | null;
  firewall: FirewallFacts | null;
  docker: DockerFacts;
  /** Pieces that could not be read at all (whole tools or dirs missing). */
  unknowns: Unknown[];
}

// ---------------------------------------------------------------------------------------------
// Node summary (what the agent publishes instead of the whole snapshot)
// ---------------------------------------------------------------------------------------------

/**
 * One table reduced to its size and a content digest: `digest` is the first 16 hex digits of
 * the SHA-256 of the table's canonical JSON (shared/summary.ts; neighbor entries without their
 * volatile NUD state). Equal digests, same table.
 */
export interface TableDigest {
  count: number;
  digest: string;
}

/** A namespace without its tables: counts and digests instead of links/routes/neighbors/FDB. */
export interface NetnsSummary {
  id: string;
  name: string;
  path: string | null;
  inode: number | null;
  origin: NetnsOrigin;
  role: NetnsRole;
  tables: { links: TableDigest; routes: TableDigest; neighbors: TableDigest; fdb: TableDigest };
  sysctls: Record<string, string>;
  unknowns: Unknown[];
}

/** A VTEP's identity and parameters; its FDB as a count and digest instead of every destination. */
export interface VtepIdentity extends Omit<VtepSummary, 'fdbDsts'> {
  fdb: TableDigest;
}

/**
 * A node's inventory in a size that does not grow with the cluster: everything the collector's
 * rules, API and page read (host facts, overlay chains, VTEP identities, underlay, firewall
 * rules on overlay ports, Docker facts, what could not be read), with each namespace's tables
 * as counts and digests. The whole `NodeSnapshot` is fetched from the agent on demand
 * (`vxdoctor.snapshot.v1.<token>`, docs/contracts.md).
 */
export interface NodeSummary {
  schemaVersion: typeof SCHEMA_VERSION;
  node: string;
  labels: Record<string, string>;
  takenAt: string;
  durationMs: number;
  /** Digest of the whole inventory without times (16 hex digits): changes when anything does. */
  digest: string;
  host: HostFacts;
  namespaces: NetnsSummary[];
  chains: OverlayChain[];
  vteps: VtepIdentity[];
  underlay: { dev: string; mtu: number; addresses: string[] } | null;
  firewall: FirewallFacts | null;
  docker: DockerFacts;
  unknowns: Unknown[];
}

// ---------------------------------------------------------------------------------------------
// Findings (checks output)
// ---------------------------------------------------------------------------------------------

/**
 * A check result that needs attention. A check returns [] when everything it looked at is fine;
 * `status: 'unknown'` when it could not look (then `summary` says why).
 */
export interface Finding {
  /** Check id (file name), e.g. `vtep-mtu`. */
  check: string;
  status: 'problem' | 'unknown';
  severity: Severity;
  /** Root-cause kind this finding supports (DESIGN.md vocabulary), when it maps to one. */
  kind: RootCauseKind | null;
  /** INCIDENTS.md row number the check covers, when it maps to one. */
  incident: number | null;
  /** Node name. */
  node: string;
  /** What it is about: `netns/dev` or a short subject, stable across runs (dedup key part). */
  subject: string;
  summary: string;
  evidence: string[];
  /** Concrete fix, with commands. Empty for unknown findings. */
  remediation: string;
}

export interface CheckContext {
  /** Per-check options from config `checks.<id>.*`. */
  options: Record<string, unknown>;
}

/** A pure check over one node's snapshot. */
export interface Check {
  id: string;
  title: string;
  /** INCIDENTS.md row(s) this check covers. */
  incident: number[];
  run(snapshot: NodeSnapshot, ctx: CheckContext): Finding[];
}

/**
 * What a cross-node check needs of one node: its VTEPs and underlay addresses. A whole
 * `NodeSnapshot` is one; a peer's presence record makes one too (with no FDB destinations: each
 * agent checks only its own tables against its peers' identities).
 */
export interface ClusterMember {
  node: string;
  vteps: VtepSummary[];
  underlay: { addresses: string[] } | null;
}

/** A pure check over several nodes (run by each agent over its peers' presence records). */
export interface ClusterCheck {
  id: string;
  title: string;
  incident: number[];
  run(members: ClusterMember[], ctx: CheckContext): Finding[];
}

/** Per-check health for metrics: did the check itself run? */
export interface CheckRun {
  check: string;
  ok: boolean;
  durationSeconds: number;
  error?: string;
}

// ---------------------------------------------------------------------------------------------
// Probes (heartbeat output)
// ---------------------------------------------------------------------------------------------

/** Probe paths, also the `path` metric label. */
export type ProbePath = 'vxlan' | 'control' | 'pmtu' | 'overlay';
export const PROBE_PATHS: readonly ProbePath[] = ['vxlan', 'control', 'pmtu', 'overlay'];

/** Tri-state observation: true seen, false looked and not seen, null could not look. */
export type Seen = boolean | null;

/**
 * The fate of one probe (or one PMTU search) from `src` to `dst`, hop by hop.
 * Chain: sent -> leftSrc (captured on src NIC) -> arrivedDst (captured on dst NIC, reported by
 * dst in its reply or its own probe report) -> answered (reply received) -> replySeen (reply
 * captured on src NIC).
 */
export interface ProbeResult {
  path: ProbePath;
  /** Source and destination node names. */
  src: string;
  dst: string;
  /** Destination address and port probed (underlay address; overlay address for `overlay`). */
  target: string;
  port: number | null;
  /** Heartbeat round number of the sender and the send time (epoch ms). */
  round: number;
  at: number;
  sent: boolean;
  leftSrc: Seen;
  arrivedDst: Seen;
  answered: boolean;
  replySeen: Seen;
  /** Round-trip time in seconds when answered. */
  rttSeconds: number | null;
  /** ICMP errors seen for this probe, e.g. `frag-needed mtu=1454 from 10.200.0.254`. */
  icmp: string[];
  /** PMTU search outcome (path `pmtu` only). */
  pmtu?: {
    /** Outer IP packet size the overlay needs (overlay MTU + 50). */
    required: number;
    /** Largest outer size that passed, null if none did. */
    largestPassing: number | null;
    /** MTU from an ICMP frag-needed, when one came back. */
    fragNeededMtu: number | null;
    /** Path MTU the kernel learned for the target (route cache), when any. */
    learnedPmtu: number | null;
  };
  /** Free-form note, e.g. `no libpcap: hop capture unavailable`, `tcp 7946 refused`. */
  note?: string;
}

/** Observations by the receiver, reported in its own probes message. */
export interface ArrivalReport {
  /** Node that sent the probes that arrived here. */
  from: string;
  path: ProbePath;
  /** How many probes from `from` arrived at this node's NIC in the window. */
  count: number;
  /** Last arrival (epoch ms). */
  lastAt: number;
}

// ---------------------------------------------------------------------------------------------
// NATS messages (subjects in ./subjects.ts)
// ---------------------------------------------------------------------------------------------

interface MessageBase {
  schemaVersion: typeof SCHEMA_VERSION;
  /** Sending node name. */
  node: string;
  /** Send time, epoch ms. */
  at: number;
  /** Unique id used as `Nats-Msg-Id` for JetStream de-duplication. */
  id: string;
}

/** `vxdoctor.v1.<node>.snapshot` */
export interface SnapshotMessage extends MessageBase {
  type: 'snapshot';
  snapshot: NodeSnapshot;
}

/**
 * `vxdoctor.v1.<node>.summary` — what agents publish since 0.x (README changelog): on every
 * change of the inventory's digest and at least every `--republish-interval`.
 */
export interface SummaryMessage extends MessageBase {
  type: 'summary';
  summary: NodeSummary;
}

/** `vxdoctor.v1.<node>.findings` */
export interface FindingsMessage extends MessageBase {
  type: 'findings';
  findings: Finding[];
  checkRuns: CheckRun[];
}

/** `vxdoctor.v1.<node>.probes` — one heartbeat round's results. */
export interface ProbesMessage extends MessageBase {
  type: 'probes';
  round: number;
  results: ProbeResult[];
  arrivals: ArrivalReport[];
}

export type VxdoctorMessage = SnapshotMessage | SummaryMessage | FindingsMessage | ProbesMessage;

/** Request on `vxdoctor.snapshot.v1.<token>` (collector -> that node's agent, request/reply). */
export interface SnapshotRequest {
  node: string;
}

/**
 * The agent's answer: gzip-compressed JSON of this object. `snapshot` is its latest whole
 * inventory; `error` says why there is none (no inventory yet, too large for the server's
 * max_payload even compressed, not this node).
 */
export interface SnapshotReply {
  node: string;
  snapshot?: NodeSnapshot;
  error?: string;
}

/** Presence record in KV bucket `vxdoctor_nodes`, key = node name. */
export interface NodePresence {
  schemaVersion: typeof SCHEMA_VERSION;
  node: string;
  labels: Record<string, string>;
  version: string;
  /** Epoch ms of the last update (presence expiry is measured from it). */
  at: number;
  /** Underlay addresses (no prefix length). */
  underlay: string[];
  /** UDP port of the agent's control probe socket. */
  probePort: number;
  /** VTEPs this node has (for probe ports and cross-checks). */
  vteps: Array<
    Pick<VtepSummary, 'style' | 'vni' | 'port' | 'mac' | 'local' | 'dev' | 'overlay' | 'overlayMtu'> & {
      /** Overlay subnets (groups Docker overlays for the cross-node checks; optional: older agents). */
      subnets?: string[];
    }
  >;
  /** Overlay endpoints peers can probe through the overlay. */
  overlayEndpoints: Array<{ style: 'docker' | 'flannel' | 'other'; vni: number; address: string }>;
}

// ---------------------------------------------------------------------------------------------
// Diagnosis (collector output, HTTP contract)
// ---------------------------------------------------------------------------------------------

export const ROOT_CAUSE_KINDS = [
  'underlay-vxlan-filtered',
  'host-firewall-vxlan',
  'underlay-mtu',
  'fdb-wrong-destination',
  'duplicate-vtep-address',
  'missing-gwbridge',
  'vni-mismatch',
  'dstport-mismatch',
  'neighbor-missing',
  'control-ports-blocked',
  'vtep-down',
  'node-unreachable',
  'agent-down',
  'kernel-unsupported',
  'offload-risk',
  'subnet-overlap',
  // Added kinds (never rename the ones above):
  'duplicate-vtep-mac',
  'mtu-mismatch',
  'sysctl-risk',
  'inventory-incomplete',
  'underlay-loss',
] as const;
export type RootCauseKind = (typeof ROOT_CAUSE_KINDS)[number];

export interface RootCause {
  /** Stable id: kind + place, e.g. `underlay-vxlan-filtered:rack:A:B`. */
  id: string;
  kind: RootCauseKind;
  severity: Severity;
  nodes: string[];
  segment?: { from: string; to: string; label: string };
  summary: string;
  evidence: string[];
  remediation: string;
  /** ISO time the root cause was first raised (unchanged while it stays active). */
  since: string;
  /**
   * How sure the verdict is: `high` when several observers or rounds agree and the pattern is
   * unambiguous, `medium` when it rests on fewer samples, `low` for a plausible reading only.
   */
  confidence?: 'high' | 'medium' | 'low';
  /** Measured loss behind an `underlay-loss` verdict (windowed, per packet crossing). */
  loss?: {
    /** Estimated loss per packet crossing the place (probe or reply), 0..1. */
    ratio: number;
    /** Share of round trips (probe + reply) that failed, 0..1, and over how many probes/rounds. */
    roundTripRatio: number;
    probes: number;
    rounds: number;
    /** Per direction (`from -> to`, groups or nodes): round-trip loss and probe count. */
    directions: Array<{ from: string; to: string; roundTripRatio: number; probes: number }>;
  };
}

export interface DiagnosisResponse {
  generatedAt: string;
  rootCauses: RootCause[];
}

// ---------------------------------------------------------------------------------------------
// Collector HTTP API views (besides DiagnosisResponse)
// ---------------------------------------------------------------------------------------------

/** One element of `GET /api/v1/nodes`. */
export interface NodeView {
  name: string;
  labels: Record<string, string>;
  /** ISO time of the last message or presence update from the node. */
  lastSeen: string;
  version: string | null;
  /** `up`: presence fresh; `expired`: presence TTL passed (agent down). */
  state: 'up' | 'expired';
  underlay: string[];
  /** Counts of active findings by severity. */
  findings: Record<Severity, number>;
}

/**
 * `GET /api/v1/nodes/:name`: the node plus its latest findings, overlay chains and summary;
 * with `?tables=1` (the default) also the whole snapshot, fetched from the node's agent.
 */
export interface NodeDetail extends NodeView {
  findingList: Finding[];
  chains: OverlayChain[];
  vteps: VtepIdentity[];
  host: HostFacts | null;
  /** The latest summary the agent published (null before the first one). */
  summary: NodeSummary | null;
  /** The whole inventory from the agent (request/reply), when asked for and it answered. */
  snapshot?: NodeSnapshot;
  /** Why `snapshot` is missing although asked for (agent did not answer in time, ...). */
  snapshotError?: string;
}

/**
 * One directed pair on one path over the collector's sliding window.
 * `loss` = 1 - answered/sent; null when nothing was sent yet ("not probed").
 */
export interface PairView {
  src: string;
  dst: string;
  path: ProbePath;
  sent: number;
  answered: number;
  loss: number | null;
  rttSeconds: number | null;
  /** Human hop fate of the latest probe, e.g. `left n1, not seen at n3`, `ok`. */
  fate: string;
  /** The latest probe's per-hop record. */
  last: Pick<
    ProbeResult,
    'sent' | 'leftSrc' | 'arrivedDst' | 'answered' | 'replySeen' | 'icmp' | 'pmtu'
  > | null;
  lastAt: number | null;
}

/** `GET /api/v1/pairs?path=vxlan[&group=rack]`; with `aggregate=group`, `groups` replaces `pairs`. */
export interface PairsResponse {
  generatedAt: string;
  path: ProbePath;
  /** Topology label used for grouping (default `rack`). */
  groupLabel: string;
  pairs: PairView[];
  /** Every loss figure here is over the last `windowSeconds` (the collector's `--window`). */
  windowSeconds?: number;
  /**
   * Group x group aggregation (when requested): mean loss over the pairs probed, and the probes
   * sent / passing over the window behind it.
   */
  groups?: Array<{
    from: string;
    to: string;
    pairs: number;
    probed: number;
    loss: number | null;
    sent?: number;
    answered?: number;
  }>;
}

/** `GET /api/v1/findings`: active node findings plus cluster-check findings. */
export interface FindingsResponse {
  generatedAt: string;
  findings: Finding[];
}

/** Server-sent event on `GET /api/v1/events` (`event: state`), emitted on change and every 5 s. */
export interface StateEvent {
  generation: number;
  generatedAt: string;
  natsConnected: boolean;
  nodes: number;
  rootCauses: number;
}

/** `POST /api/v1/trace` body, and the NATS request sent to `vxdoctor.trace.v1.<src>`. */
export interface TraceRequest {
  src: string;
  dst: string;
}

/** The agent's reply to a trace request, and the HTTP response body. */
export interface TraceReply {
  src: string;
  dst: string;
  results: ProbeResult[];
  /** One line per path, e.g. `vxlan: left n1, never reached n3 (filtered between them)`. */
  verdict: string[];
  error?: string;
  /**
   * The other direction (DST's agent probing SRC), asked at the same time by the collector;
   * absent in an agent's own reply. Carries `error` when DST's agent did not answer.
   */
  reverse?: TraceReply;
}
