/**
 * One schema per type that crosses a trust boundary (presence records in KV, every NATS message,
 * trace requests and replies), written with TypeBox so each is a JSON Schema and a compiled
 * checker at once. The TypeScript interfaces in ./schema.ts stay the documented contract; the
 * `Same<...>` assertions at the bottom make `tsc` fail when a schema and its interface drift
 * apart (a field added to one and not the other), so a new optional field is one line here.
 *
 * Bounds: every string has a maximum length, every array a maximum count, ports are integers
 * 1-65535, RTTs finite and under an hour, times finite epoch ms. Nesting depth is bounded by
 * the schemas' shape plus `jsonDepth` (unknown extra fields are allowed, for newer agents, but
 * not arbitrarily deep). Node names are checked by `NodeName` only (one place to change the rule).
 */
import { FormatRegistry, type Static, type TSchema, Type } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import type {
  ArrivalReport,
  CheckRun,
  Finding,
  FindingsMessage,
  NodePresence,
  NodeSnapshot,
  ProbeResult,
  ProbesMessage,
  SnapshotMessage,
  SnapshotReply,
  SnapshotRequest,
  SummaryMessage,
  NodeSummary,
  VtepIdentity,
  TraceReply,
  TraceRequest,
  VtepSummary,
  VxlanInfo,
  OverlayChain,
  DockerFacts,
} from './schema.js';
import { OVERLAY_KINDS } from './schema.js';
import { NODE_NAME_RE } from './subjects.js';

// ---------------------------------------------------------------------------------------------
// Building blocks
// ---------------------------------------------------------------------------------------------

/**
 * Names already found valid: a cluster's node names recur in every message (a probes message
 * carries ≈ 160 of them at scale), and a set lookup is a fraction of the pattern's cost (the
 * pattern was 2.3 % of the collector's CPU at 5,000 nodes). Bounded: a flood of new names
 * empties it, never grows it.
 */
const knownNames = new Set<string>();
const MAX_KNOWN_NAMES = 65_536;

/** The one node-name rule (shared/subjects.ts NODE_NAME_RE). */
export const isNodeName = (s: unknown): s is string => {
  if (typeof s !== 'string') return false;
  if (knownNames.has(s)) return true;
  if (!NODE_NAME_RE.test(s)) return false;
  if (knownNames.size >= MAX_KNOWN_NAMES) knownNames.clear();
  knownNames.add(s);
  return true;
};
FormatRegistry.Set('vxdoctor-node-name', isNodeName);
/** The node-name rule of every schema (`isNodeName`, as a format). */
export const NodeName = Type.String({ format: 'vxdoctor-node-name', maxLength: 253 });

/** Largest tolerated JSON nesting depth of any record (the deepest contract type is 6). */
export const MAX_JSON_DEPTH = 16;

const Short = Type.String({ maxLength: 256 });
const Text = Type.String({ maxLength: 8192 });
const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);
const List = <T extends TSchema>(t: T, maxItems: number) => Type.Array(t, { maxItems });
const Strings = (maxItems: number, s = Short) => List(s, maxItems);
const Int = (minimum: number, maximum: number) => Type.Integer({ minimum, maximum });
/** A TCP/UDP port. */
export const Port = Int(1, 65535);
const Vni = Int(0, 0xffffff);
const Mtu = Int(0, 1 << 20);
/** Epoch ms, finite, before the year 2200; freshness against the receiver's clock is judged apart. */
const EpochMs = Type.Number({ minimum: 0, maximum: 7_258_118_400_000 });
const Count = Int(0, Number.MAX_SAFE_INTEGER);
const Labels = Type.Record(Type.String({ maxLength: 317 }), Type.String({ maxLength: 1024 }), {
  maxProperties: 64,
});
const Style = Type.Union([Type.Literal('docker'), Type.Literal('flannel'), Type.Literal('other')]);
/** The overlay recognized by content (optional everywhere: older agents do not send it). */
const Overlay = Type.Optional(Type.Union(OVERLAY_KINDS.map((k) => Type.Literal(k))));
const Severity = Type.Union([Type.Literal('critical'), Type.Literal('warning'), Type.Literal('info')]);
const Path = Type.Union([
  Type.Literal('vxlan'),
  Type.Literal('control'),
  Type.Literal('pmtu'),
  Type.Literal('overlay'),
]);
const Version = Type.Literal(1);
const Unknown = Type.Object({ what: Text, reason: Text });
/** An IPv4 or IPv6 address without prefix length. */
const Address = Type.String({ maxLength: 45, pattern: '^[0-9A-Fa-f:.]{2,45}$' });
const Cidr = Type.String({ maxLength: 49, pattern: '^[0-9A-Fa-f:.]{2,45}/[0-9]{1,3}$' });

// ---------------------------------------------------------------------------------------------
// Snapshot
// ---------------------------------------------------------------------------------------------

const VxlanInfoS = Type.Object({
  vni: Vni,
  local: Nullable(Short),
  group: Nullable(Short),
  port: Int(0, 65535),
  learning: Type.Boolean(),
  proxy: Type.Boolean(),
  l2miss: Type.Boolean(),
  l3miss: Type.Boolean(),
  external: Type.Optional(Type.Boolean()),
  lowerDevice: Nullable(Short),
});
const LinkS = Type.Object({
  ifindex: Int(0, 2 ** 32),
  name: Short,
  kind: Short,
  operstate: Short,
  adminUp: Type.Boolean(),
  mtu: Mtu,
  mac: Nullable(Short),
  master: Nullable(Short),
  peerIfindex: Nullable(Int(0, 2 ** 32)),
  linkNetnsid: Nullable(Int(-1, 2 ** 32)),
  vxlan: Nullable(VxlanInfoS),
  addresses: Strings(4096),
  driver: Type.Optional(Nullable(Short)),
});
const RouteS = Type.Object({
  dst: Short,
  dev: Nullable(Short),
  gateway: Nullable(Short),
  prefsrc: Nullable(Short),
  flags: Strings(32),
  mtu: Nullable(Mtu),
  table: Short,
});
const NeighborS = Type.Object({ dst: Short, dev: Short, lladdr: Nullable(Short), state: Strings(16) });
const FdbS = Type.Object({
  mac: Short,
  dev: Short,
  dst: Nullable(Short),
  master: Nullable(Short),
  state: Short,
  flags: Strings(32),
  vni: Nullable(Vni),
});
const NetnsS = Type.Object({
  id: Text,
  name: Short,
  path: Nullable(Text),
  inode: Nullable(Count),
  origin: Type.Union([Type.Literal('host'), Type.Literal('netns-dir'), Type.Literal('proc')]),
  role: Type.Union([
    Type.Literal('host'),
    Type.Literal('docker-overlay'),
    Type.Literal('docker-ingress'),
    Type.Literal('container'),
    Type.Literal('other'),
  ]),
  links: List(LinkS, 8192),
  routes: List(RouteS, 20_000),
  neighbors: List(NeighborS, 20_000),
  fdb: List(FdbS, 20_000),
  sysctls: Type.Record(Short, Short, { maxProperties: 512 }),
  unknowns: List(Unknown, 1024),
});
const HostS = Type.Object({
  hostname: Short,
  kernel: Short,
  os: Short,
  privileged: Type.Boolean(),
  nics: List(
    Type.Object({
      name: Short,
      driver: Nullable(Short),
      offloads: Type.Record(Short, Short, { maxProperties: 256 }),
    }),
    1024,
  ),
});
const FirewallS = Type.Object({
  rules: List(
    Type.Object({
      source: Type.Union([Type.Literal('nft'), Type.Literal('iptables')]),
      family: Short,
      table: Short,
      chain: Short,
      hook: Nullable(Short),
      verdict: Type.Union([
        Type.Literal('accept'),
        Type.Literal('drop'),
        Type.Literal('reject'),
        Type.Literal('other'),
      ]),
      protocol: Type.Union([Type.Literal('udp'), Type.Literal('tcp'), Type.Literal('any')]),
      dports: List(Int(0, 65535), 65536),
      text: Text,
    }),
    10_000,
  ),
  policies: Type.Record(Short, Short, { maxProperties: 1024 }),
});
const DockerS = Type.Object({
  present: Type.Boolean(),
  swarm: Type.Boolean(),
  overlayNamespaces: Strings(4096),
  gwbridge: Type.Boolean(),
  swarmListening: Type.Optional(List(Port, 16)),
  api: Type.Optional(
    Type.Object({
      swarmState: Nullable(Short),
      swarmNodeId: Nullable(Short),
      overlays: List(Type.Object({ id: Short, name: Short, netns: Short, subnets: Strings(64) }), 4096),
    }),
  ),
});
const ChainHopS = Type.Object({ netns: Text, dev: Short, kind: Short, mtu: Mtu, operstate: Short });
const ChainS = Type.Object({
  id: Text,
  style: Style,
  overlay: Overlay,
  hops: List(ChainHopS, 32),
  vtep: Nullable(Type.Object({ netns: Text, dev: Short, vni: Vni, port: Int(0, 65535) })),
  underlay: Nullable(Type.Object({ dev: Short, mtu: Mtu, address: Nullable(Short) })),
});
const VtepS = Type.Object({
  netns: Text,
  dev: Short,
  style: Style,
  overlay: Overlay,
  vni: Vni,
  port: Int(0, 65535),
  mac: Nullable(Short),
  local: Nullable(Short),
  mtu: Mtu,
  overlayMtu: Type.Optional(Int(68, 65535)),
  subnets: Strings(256),
  fdbDsts: Strings(20_000),
});
export const NodeSnapshotSchema = Type.Object({
  schemaVersion: Version,
  node: NodeName,
  labels: Labels,
  takenAt: Short,
  durationMs: Type.Number({ minimum: 0, maximum: 86_400_000 }),
  host: HostS,
  namespaces: List(NetnsS, 4096),
  chains: List(ChainS, 8192),
  vteps: List(VtepS, 1024),
  underlay: Nullable(Type.Object({ dev: Short, mtu: Mtu, addresses: Strings(256) })),
  firewall: Nullable(FirewallS),
  docker: DockerS,
  unknowns: List(Unknown, 1024),
});

// Summary: the snapshot with tables as counts and digests.
const Digest = Type.Object({ count: Count, digest: Type.String({ pattern: '^[0-9a-f]{16}$' }) });
const NetnsSummaryS = Type.Object({
  id: Text,
  name: Short,
  path: Nullable(Text),
  inode: Nullable(Count),
  origin: NetnsS.properties.origin,
  role: NetnsS.properties.role,
  tables: Type.Object({ links: Digest, routes: Digest, neighbors: Digest, fdb: Digest }),
  sysctls: NetnsS.properties.sysctls,
  unknowns: List(Unknown, 1024),
});
const { fdbDsts: _fdbDsts, ...vtepFields } = VtepS.properties;
const VtepIdentityS = Type.Object({ ...vtepFields, fdb: Digest });
export const NodeSummarySchema = Type.Object({
  ...NodeSnapshotSchema.properties,
  digest: Type.String({ pattern: '^[0-9a-f]{16}$' }),
  namespaces: List(NetnsSummaryS, 4096),
  vteps: List(VtepIdentityS, 1024),
});

// ---------------------------------------------------------------------------------------------
// Findings, probes, messages
// ---------------------------------------------------------------------------------------------

export const FindingSchema = Type.Object({
  // Check ids become a metric label: a bounded, label-safe vocabulary.
  check: Type.String({ pattern: '^[A-Za-z0-9_.-]{1,64}$' }),
  status: Type.Union([Type.Literal('problem'), Type.Literal('unknown')]),
  severity: Severity,
  // A kind this collector does not know (newer agent) is mapped to null by ingest.
  kind: Nullable(Type.String({ maxLength: 64 })),
  incident: Nullable(Int(0, 10_000)),
  node: NodeName,
  subject: Text,
  summary: Text,
  evidence: Strings(256, Text),
  remediation: Type.String({ maxLength: 16_384 }),
});
export const CheckRunSchema = Type.Object({
  check: Type.String({ maxLength: 128 }),
  ok: Type.Boolean(),
  durationSeconds: Type.Number({ minimum: 0, maximum: 86_400 }),
  error: Type.Optional(Text),
});
/** RTT: finite, non-negative, under an hour (a histogram sum must never become +Inf). */
const Rtt = Type.Number({ minimum: 0, maximum: 3600 });
export const ProbeResultSchema = Type.Object({
  path: Path,
  src: NodeName,
  dst: NodeName,
  target: Short,
  port: Nullable(Port),
  // -1 for a trace's probes (outside the heartbeat rounds).
  round: Int(-1, Number.MAX_SAFE_INTEGER),
  at: EpochMs,
  sent: Type.Boolean(),
  leftSrc: Nullable(Type.Boolean()),
  arrivedDst: Nullable(Type.Boolean()),
  answered: Type.Boolean(),
  replySeen: Nullable(Type.Boolean()),
  rttSeconds: Nullable(Rtt),
  icmp: Strings(64),
  pmtu: Type.Optional(
    Type.Object({
      required: Int(0, 65535),
      largestPassing: Nullable(Int(0, 65535)),
      fragNeededMtu: Nullable(Int(0, 65535)),
      learnedPmtu: Nullable(Int(0, 65535)),
    }),
  ),
  note: Type.Optional(Type.String({ maxLength: 1024 })),
  hops: Type.Optional(
    Type.Object({
      at: EpochMs,
      sport: Port,
      port: Port,
      controlPort: Nullable(Port),
      size: Int(0, 65535),
      verdict: Type.Union([
        Type.Literal('vxlan-dies-after'),
        Type.Literal('frag-needed'),
        Type.Literal('same'),
        Type.Literal('could-not-walk'),
      ]),
      hop: Nullable(Short),
      next: Nullable(Short),
      mtu: Nullable(Int(0, 65535)),
      text: Type.String({ maxLength: 1024 }),
      rows: Type.Array(
        Type.Object({
          ttl: Int(1, 64),
          address: Nullable(Short),
          name: Nullable(Type.String({ maxLength: 253 })),
          vxlan: Type.Boolean(),
          control: Type.Boolean(),
          controlAddress: Nullable(Short),
          fragNeededMtu: Nullable(Int(0, 65535)),
        }),
        { maxItems: 16 },
      ),
    }),
  ),
});
export const ArrivalSchema = Type.Object({ from: NodeName, path: Path, count: Count, lastAt: EpochMs });

/** Upper bounds on one message's lists: peers x paths x control ports, with room. */
export const MAX_PROBE_RESULTS = 16_384;
export const MAX_FINDINGS = 4096;

const base = {
  schemaVersion: Version,
  node: NodeName,
  at: EpochMs,
  id: Type.String({ minLength: 1, maxLength: 200 }),
};
export const SnapshotMessageSchema = Type.Object({
  ...base,
  type: Type.Literal('snapshot'),
  snapshot: NodeSnapshotSchema,
});
export const SummaryMessageSchema = Type.Object({
  ...base,
  type: Type.Literal('summary'),
  summary: NodeSummarySchema,
});
export const FindingsMessageSchema = Type.Object({
  ...base,
  type: Type.Literal('findings'),
  findings: List(FindingSchema, MAX_FINDINGS),
  checkRuns: List(CheckRunSchema, 1024),
});
export const ProbesMessageSchema = Type.Object({
  ...base,
  type: Type.Literal('probes'),
  round: Count,
  results: List(ProbeResultSchema, MAX_PROBE_RESULTS),
  arrivals: List(ArrivalSchema, MAX_PROBE_RESULTS),
});

// ---------------------------------------------------------------------------------------------
// Presence, trace
// ---------------------------------------------------------------------------------------------

export const NodePresenceSchema = Type.Object({
  schemaVersion: Version,
  node: NodeName,
  labels: Labels,
  version: Type.String({ maxLength: 64 }),
  at: EpochMs,
  underlay: List(Address, 64),
  probePort: Port,
  vteps: List(
    Type.Object({
      style: Style,
      overlay: Overlay,
      vni: Vni,
      port: Port,
      mac: Nullable(Short),
      local: Nullable(Address),
      dev: Short,
      // Sizes the full-size probe a peer sends: bounded to what an IPv4 packet can carry.
      overlayMtu: Type.Optional(Int(68, 65535)),
      subnets: Type.Optional(List(Cidr, 64)),
    }),
    256,
  ),
  overlayEndpoints: List(Type.Object({ style: Style, vni: Vni, address: Address }), 256),
});

export const SnapshotRequestSchema = Type.Object({ node: NodeName });
export const SnapshotReplySchema = Type.Object({
  node: Type.String({ maxLength: 253 }),
  snapshot: Type.Optional(NodeSnapshotSchema),
  error: Type.Optional(Text),
});

export const TraceRequestSchema = Type.Object({ src: NodeName, dst: NodeName });
const TraceReplyBase = {
  src: Type.String({ maxLength: 253 }),
  dst: Type.String({ maxLength: 253 }),
  results: List(ProbeResultSchema, 64),
  verdict: Strings(64, Text),
  error: Type.Optional(Text),
};
export const TraceReplySchema = Type.Object({
  ...TraceReplyBase,
  reverse: Type.Optional(Type.Object(TraceReplyBase)),
});

// ---------------------------------------------------------------------------------------------
// Compiled checkers
// ---------------------------------------------------------------------------------------------

export interface Checked<T> {
  /** True when `v` satisfies the schema (a type guard). */
  check(v: unknown): v is T;
  /** The first violation, as `path: message`, for logs and reject details. */
  firstError(v: unknown): string;
}

function compile<T>(schema: TSchema): Checked<T> {
  const c = TypeCompiler.Compile(schema);
  return {
    check: (v): v is T => c.Check(v),
    firstError: (v) => {
      const e = c.Errors(v).First();
      return e ? `${e.path || '/'}: ${e.message}`.slice(0, 300) : 'ok';
    },
  };
}

export const checkPresence = compile<NodePresence>(NodePresenceSchema);
export const checkSnapshotMessage = compile<SnapshotMessage>(SnapshotMessageSchema);
export const checkSummaryMessage = compile<SummaryMessage>(SummaryMessageSchema);
export const checkSnapshotRequest = compile<SnapshotRequest>(SnapshotRequestSchema);
export const checkSnapshotReply = compile<SnapshotReply>(SnapshotReplySchema);
export const checkFindingsMessage = compile<FindingsMessage>(FindingsMessageSchema);
export const checkProbesMessage = compile<ProbesMessage>(ProbesMessageSchema);
export const checkTraceRequest = compile<TraceRequest>(TraceRequestSchema);
export const checkTraceReply = compile<TraceReply>(TraceReplySchema);

/**
 * Nesting depth of a JSON text, scanning bytes (no parse, no recursion): stops counting at
 * `limit + 1`. Strings are skipped so brackets inside them do not count.
 */
export function jsonDepth(b: Uint8Array, limit = MAX_JSON_DEPTH): number {
  let depth = 0;
  let max = 0;
  let inStr = false;
  for (let i = 0; i < b.length; i++) {
    const c = b[i] as number;
    if (inStr) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inStr = false;
    } else if (c === 0x22) inStr = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) {
        max = depth;
        if (max > limit) return max;
      }
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return max;
}

// ---------------------------------------------------------------------------------------------
// Drift guard: each schema's static type and its interface must be mutually assignable.
// ---------------------------------------------------------------------------------------------

// Mutual assignability alone lets an optional field be missing on one side, so the key sets
// must match too (at the top level and for the nested types listed below).
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? SameKeys<A, B> : false) : false;
type SameKeys<A, B> = [keyof A] extends [keyof B] ? ([keyof B] extends [keyof A] ? true : false) : false;
type Assert<T extends true> = T;
export type _Drift = [
  Assert<Same<Static<typeof NodePresenceSchema>, NodePresence>>,
  Assert<Same<Static<typeof NodeSnapshotSchema>, NodeSnapshot>>,
  Assert<Same<Omit<Static<typeof FindingSchema>, 'kind'>, Omit<Finding, 'kind'>>>,
  Assert<Same<Static<typeof CheckRunSchema>, CheckRun>>,
  Assert<Same<Static<typeof ProbeResultSchema>, ProbeResult>>,
  Assert<Same<Static<typeof ArrivalSchema>, ArrivalReport>>,
  Assert<Same<Static<typeof ProbesMessageSchema>, ProbesMessage>>,
  Assert<Same<Static<typeof SnapshotMessageSchema>, SnapshotMessage>>,
  Assert<Same<Static<typeof TraceRequestSchema>, TraceRequest>>,
  Assert<Same<Static<typeof SummaryMessageSchema>, SummaryMessage>>,
  Assert<Same<Static<typeof NodeSummarySchema>, NodeSummary>>,
  Assert<Same<Static<typeof VtepIdentityS>, VtepIdentity>>,
  Assert<Same<Static<typeof SnapshotReplySchema>, SnapshotReply>>,
  Assert<Same<Static<typeof SnapshotRequestSchema>, SnapshotRequest>>,
  Assert<Same<Static<typeof TraceReplySchema>, TraceReply>>,
  Assert<Same<Static<typeof VtepS>, VtepSummary>>,
  Assert<Same<Static<typeof VxlanInfoS>, VxlanInfo>>,
  Assert<Same<Static<typeof ChainS>, OverlayChain>>,
  Assert<Same<Static<typeof DockerS>, DockerFacts>>,
  Assert<Same<Static<typeof NodePresenceSchema>['vteps'][number], NodePresence['vteps'][number]>>,
];
