/**
 * Cluster state: what the collector knows about every node, built only from validated
 * messages and presence records. Pure (no I/O, no timers): the clock is injected, memory is
 * bounded (sliding window per pair, capped sample count, capped id memory), and applying the
 * same message twice changes nothing (idempotent by message id).
 */
import type {
  ArrivalReport,
  CheckRun,
  Finding,
  HopsEvidence,
  HostFacts,
  NodeDetail,
  NodePresence,
  NodeSummary,
  NodeView,
  PairsResponse,
  PairView,
  ProbePath,
  ProbeResult,
  Severity,
  VxdoctorMessage,
} from '../../shared/schema.js';
import { describeFate, probeOk } from '../../shared/fate.js';
import { PROBE_PATHS } from '../../shared/schema.js';
import { summarize } from '../../shared/summary.js';
import { type Bucket, BucketRing, BucketSlab, type Tally } from './evidence.js';

export type { Bucket, Tally } from './evidence.js';

export interface StateOptions {
  /** Epoch ms now. */
  clock?: () => number;
  /** Sliding window of pair statistics (ms). */
  windowMs?: number;
  /** Presence is expired when its `at` is older than this (ms). */
  presenceTtlMs?: number;
  /**
   * A node's findings expire when its last findings message is older than this (ms). Agents
   * publish findings on change and at least every 5 min (`--republish-interval`), so the default
   * is 6 min.
   */
  findingTtlMs?: number;
  /** A pair's latest probe older than this counts as "not probed lately" (ms). */
  staleMs?: number;
  /** Topology label grouping nodes (default `rack`). */
  groupLabel?: string;
  /** Max round buckets kept per pair, ids remembered for de-duplication, pairs tracked. */
  maxSamplesPerPair?: number;
  maxIds?: number;
  maxPairs?: number;
  /** Tolerated clock difference between nodes when matching arrivals to probes (ms). */
  skewMs?: number;
  /** A destination report this long after a probe, without it, means the probe never arrived (ms). */
  arrivalGraceMs?: number;
  /**
   * Presence gate (the collector turns it on): only nodes that have a presence record are
   * shown, observe (their probes count) or can be blamed (as a pair's end, in cross checks).
   */
  presenceGate?: boolean;
  /**
   * `prune()` forgets a node (record, pairs, findings: its series and root causes go) this long
   * after its presence was deleted or expired, or after it was first heard of without ever
   * having presence (ms; default 10 min).
   */
  forgetAfterMs?: number;
  /** Caps: nodes known, pairs per source node (beyond them, counted in `dropped`). */
  maxNodes?: number;
  maxPairsPerNode?: number;
  /**
   * `pairStatuses()` is reused for this long (ms; default 0: built on every call). The
   * collector sets its evaluation interval: a scrape or API read between two evaluations does
   * not rebuild and sort every pair again.
   */
  statusCacheMs?: number;
}

/** RTT histogram buckets (seconds) for vxdoctor_probe_rtt_seconds. */
/** Probe RTT histogram bounds (s): 25 µs (a loopback/same-rack round trip) to 5 s, ~2.5x apart. */
export const RTT_BUCKETS = [
  0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5,
  5,
];

export interface RttHistogram {
  /** Cumulative-not: count per bucket index (last = +Inf overflow). */
  buckets: number[];
  sum: number;
  count: number;
}

/** An active finding with when it was first seen in the current streak (message time). */
export interface TrackedFinding extends Finding {
  firstSeen: number;
  lastSeen: number;
  /** Number of findings messages that carried it in a row. */
  observations: number;
  /** `node` for an agent check, `cluster` for a collector cross-node check. */
  origin: 'node' | 'cluster';
}

/** The ICMP lines of a probe that had none (one frozen array shared by every pair). */
const NO_ICMP: string[] = Object.freeze([]) as unknown as string[];
/** A nullable boolean in two bits: 0 null, 1 false, 2 true. */
const tri = (v: boolean | null): number => (v === null ? 0 : v ? 2 : 1);
const untri = (v: number): boolean | null => (v === 0 ? null : v === 2);
/** The latest probe's flags, in one small integer: sent, answered, then two bits each. */
const F_SENT = 1;
const F_ANSWERED = 2;
const S_LEFT = 2;
const S_RAW_ARRIVED = 4;
const S_ARRIVED = 6;
const S_REPLY = 8;
/** Beside the latest probe's flags: the pair's path (two bits) and port + 1 (17 bits, 0: none). */
const S_PATH = 10;
const S_PORT = 12;
const PATH_PORT = (3 << S_PATH) | (0x1ffff << S_PORT);
/**
 * The record's own bits (`bits`): windowed sent and answered (13 bits each: at most 256 buckets
 * of 31), dropped, its status (two bits), whether its hop walk is in the window, and whether
 * its buckets changed since the sums were taken.
 */
const SUM_MASK = 0x1fff;
const S_ANSWERED_SUM = 13;
const F_DROPPED = 1 << 26;
const S_STATUS = 27;
const F_HOPS = 1 << 29;
const F_DIRTY = 1 << 30;
const STATUSES: readonly PairStatus['status'][] = ['unknown', 'pass', 'fail'];
const flagsOf = (r: ProbeResult): number =>
  (r.sent ? F_SENT : 0) |
  (r.answered ? F_ANSWERED : 0) |
  (tri(r.leftSrc) << S_LEFT) |
  (tri(r.arrivedDst) << S_RAW_ARRIVED) |
  (tri(r.arrivedDst) << S_ARRIVED) |
  (tri(r.replySeen) << S_REPLY);
/** RTT in whole µs (the wire's unit; -1 none): a number held as a small integer, not boxed. */
const RTT_NONE = -1;
/** An RTT that is not whole µs (a JSON-form message): the exact value is in `x.rtt`. */
const RTT_EXACT = -2;

/** What few pairs carry (a field each on every pair was 32 B more per pair). */
interface PairExtras {
  /** The latest hop walk of this pair (walks run on some rounds only). */
  walk?: HopsEvidence;
  /** The latest probe's hop walk, ICMP lines (when any) and exact RTT (see RTT_EXACT). */
  lastHops?: HopsEvidence;
  icmp?: string[];
  rtt?: number;
}

/**
 * A pair as the state keeps it, and its status: `pairStatuses()` updates the status fields in
 * place and lists the records themselves (no new object per pair and evaluation; at 1,000 nodes
 * that was 380,000 objects every 2 s, kept alive by the status cache into the old generation).
 * The latest probe is held in the record's own fields, its flags in one integer, and `last`
 * builds it as a `ProbeResult` when read (rules read it for the few pairs they look at): a copy
 * of the result per pair was ≈ 200 B of heap, 220 MB at 5,000 nodes. Small values share
 * integers (path and port with the flags; sums, status and marks in `bits`) and what few pairs
 * have is in `x`: 14 fields where there were 22 (with the ring's, 22 where there were 33), at
 * ≈ 1.26 million pairs (5,000 nodes) 130 MB of heap less.
 */
class PairRec extends BucketRing implements PairStatus {
  /** Consecutive rounds without a passing probe ending with the latest, and when they began. */
  failStreak = 0;
  failSince: number | null = null;
  /** Sums, status and marks (see F_DROPPED); dirty from the start (no sums taken yet). */
  private bits = F_DIRTY;
  /** Walks, ICMP lines and an inexact RTT, for the few pairs that have them. */
  private x: PairExtras | null = null;
  /** The next pair of the same source and destination (other path or port), in `SrcPairs`. */
  sib: PairRec | null = null;
  /** The latest probe (the one sent last): its target, round, send time and outcome. */
  target: string;
  lastRound: number;
  latestAt: number;
  /**
   * Sent, answered, leftSrc, replySeen; `arrivedDst` twice: the probe's own (its source's
   * capture verdict) and the effective one, filled in from the destination's arrival reports
   * when a listing is built; the pair's path and port.
   */
  private flags: number;
  private rttUs: number;
  /** Its own PMTU outcome object (updated in place) and note. */
  pmtu: ProbeResult['pmtu'];
  note: string | undefined;
  constructor(
    readonly src: string,
    readonly dst: string,
    path: ProbePath,
    port: number | null,
    r: ProbeResult,
    slab: BucketSlab,
  ) {
    super(slab);
    this.target = r.target;
    this.lastRound = r.round;
    this.latestAt = r.at;
    this.flags = flagsOf(r) | (PATH_SLOT[path] << S_PATH) | ((port === null ? 0 : port + 1) << S_PORT);
    this.rttUs = RTT_NONE;
    this.setRtt(r.rttSeconds);
    this.pmtu = r.pmtu ? { ...r.pmtu } : undefined;
    this.note = r.note;
    this.setExtras(r);
  }
  get path(): ProbePath {
    return PATHS_BY_SLOT[(this.flags >>> S_PATH) & 3] as ProbePath;
  }
  get port(): number | null {
    const v = (this.flags >>> S_PORT) & 0x1ffff;
    return v === 0 ? null : v - 1;
  }
  get rttSeconds(): number | null {
    const v = this.rttUs;
    return v === RTT_NONE ? null : v === RTT_EXACT ? (this.x?.rtt ?? null) : v / 1e6;
  }
  private setRtt(s: number | null): void {
    if (s === null) {
      this.rttUs = RTT_NONE;
      return;
    }
    const us = Math.round(s * 1e6);
    if (us >= 0 && us <= 0x3fffffff && us / 1e6 === s) {
      this.rttUs = us;
      if (this.x?.rtt !== undefined) this.x.rtt = undefined;
    } else {
      this.rttUs = RTT_EXACT;
      this.extras().rtt = s;
    }
  }
  /** The rarely used fields, allocated the first time one is set. */
  private extras(): PairExtras {
    if (this.x === null) this.x = {};
    return this.x;
  }
  /** The latest probe's ICMP lines and hop walk, in `x` when it has any. */
  private setExtras(r: ProbeResult): void {
    if (r.icmp.length > 0 || r.hops) {
      const x = this.extras();
      x.icmp = r.icmp.length > 0 ? r.icmp : undefined;
      x.lastHops = r.hops;
    } else if (this.x) {
      this.x.icmp = undefined;
      this.x.lastHops = undefined;
    }
  }
  get icmp(): string[] {
    return this.x?.icmp ?? NO_ICMP;
  }
  get lastHops(): HopsEvidence | undefined {
    return this.x?.lastHops;
  }
  /** The latest hop walk of this pair (walks run on some rounds only); `hops` while in the window. */
  get walk(): HopsEvidence | undefined {
    return this.x?.walk;
  }
  set walk(h: HopsEvidence | undefined) {
    if (h) this.extras().walk = h;
    else if (this.x) this.x.walk = undefined;
  }
  /** The latest hop walk within the window, as of the last listing. */
  get hops(): HopsEvidence | undefined {
    return this.bits & F_HOPS ? this.walk : undefined;
  }
  /** Takes a newer result of the same pair as its latest. */
  setLatest(r: ProbeResult): void {
    this.target = r.target;
    this.lastRound = r.round;
    this.latestAt = r.at;
    this.flags = (this.flags & PATH_PORT) | flagsOf(r);
    this.setRtt(r.rttSeconds);
    if (r.pmtu) {
      const d = this.pmtu;
      if (d) {
        d.required = r.pmtu.required;
        d.largestPassing = r.pmtu.largestPassing;
        d.fragNeededMtu = r.pmtu.fragNeededMtu;
        d.learnedPmtu = r.pmtu.learnedPmtu;
      } else this.pmtu = { ...r.pmtu };
    } else this.pmtu = undefined;
    this.note = r.note;
    this.setExtras(r);
  }
  /** Windowed: probes sent and passing (pmtu: full size fit), as of the last listing. */
  get sent(): number {
    return this.bits & SUM_MASK;
  }
  get answered(): number {
    return (this.bits >>> S_ANSWERED_SUM) & SUM_MASK;
  }
  /** The buckets changed: sums and fail streak are taken again at the next listing. */
  touch(): void {
    this.bits |= F_DIRTY;
  }
  /**
   * Takes the window sums and fail streak when the buckets changed since, and the status and
   * whether the walk shows (a listing's judgement of the pair).
   */
  judge(status: PairStatus['status'], hopsShown: boolean): void {
    let b = this.bits;
    if (b & F_DIRTY) {
      const { streak, since } = this.failRun();
      this.failStreak = streak;
      this.failSince = since;
      b =
        (b & ~(F_DIRTY | SUM_MASK | (SUM_MASK << S_ANSWERED_SUM))) |
        Math.min(SUM_MASK, this.sumsSent) |
        (Math.min(SUM_MASK, this.sumsOk) << S_ANSWERED_SUM);
    }
    b = (b & ~((3 << S_STATUS) | F_HOPS)) | ((status === 'pass' ? 1 : status === 'fail' ? 2 : 0) << S_STATUS);
    this.bits = hopsShown ? b | F_HOPS : b;
  }
  /** pass/fail from the latest probe; unknown when stale or not sent (set by a listing). */
  get status(): PairStatus['status'] {
    return STATUSES[(this.bits >>> S_STATUS) & 3] as PairStatus['status'];
  }
  /** Dropped from the map (the sort order skips it). */
  get dropped(): boolean {
    return (this.bits & F_DROPPED) !== 0;
  }
  set dropped(v: boolean) {
    this.bits = v ? this.bits | F_DROPPED : this.bits & ~F_DROPPED;
  }
  get lastSent(): boolean {
    return (this.flags & F_SENT) !== 0;
  }
  get rawArrived(): boolean | null {
    return untri((this.flags >> S_RAW_ARRIVED) & 3);
  }
  /** The effective "arrived at dst" of the latest probe (set when a listing is built). */
  setArrived(v: boolean | null): void {
    this.flags = (this.flags & ~(3 << S_ARRIVED)) | (tri(v) << S_ARRIVED);
  }
  /** `probeOk` of the latest probe, from the fields. */
  get lastOk(): boolean {
    if ((this.flags & (F_SENT | F_ANSWERED)) !== (F_SENT | F_ANSWERED)) return false;
    const p = this.pmtu;
    if (this.path === 'pmtu' && p) return p.largestPassing !== null && p.largestPassing >= p.required;
    return true;
  }
  /** The latest probe as a result (a new object each read), `arrivedDst` the effective one. */
  get last(): PairStatus['last'] {
    const f = this.flags;
    const r: PairStatus['last'] = {
      path: this.path,
      src: this.src,
      dst: this.dst,
      target: this.target,
      port: this.port,
      round: this.lastRound,
      at: this.latestAt,
      sent: (f & F_SENT) !== 0,
      leftSrc: untri((f >> S_LEFT) & 3),
      arrivedDst: untri((f >> S_ARRIVED) & 3),
      answered: (f & F_ANSWERED) !== 0,
      replySeen: untri((f >> S_REPLY) & 3),
      rttSeconds: this.rttSeconds,
      icmp: this.icmp,
    };
    if (this.pmtu) r.pmtu = { ...this.pmtu };
    if (this.note !== undefined) r.note = this.note;
    const h = this.lastHops;
    if (h) r.hops = h;
    return r;
  }
  /**
   * Its round buckets (evidence.ts), oldest first: the record is its own ring (one object a pair
   * less: at 5,000 nodes the window holds ≈ 1.1 million pairs, and the GC marks every object).
   */
  get ring(): BucketRing {
    return this;
  }
  /**
   * Built when read, for the pairs a rule looks at: a tally object per pair and round was 150 B
   * of heap per pair (and the GC's work) that only evidence lines read.
   */
  get window(): Tally {
    return this.ring.tally();
  }
  /** Plain copies, for the rules (which read the buckets of the pairs they look at). */
  get buckets(): Bucket[] {
    return this.ring.toArray();
  }
}

/**
 * The listing's order: src, dst, path, port (no port first). Field by field, the names
 * interned (equal ones compare by identity): a key string per pair, for a map and this sort,
 * was two strings (its parts and the flat copy V8 made to hash it) and a map entry, ≈ 110 B a
 * pair.
 */
function comparePairs(a: PairRec, b: PairRec): number {
  if (a.src !== b.src) return a.src < b.src ? -1 : 1;
  if (a.dst !== b.dst) return a.dst < b.dst ? -1 : 1;
  if (a.path !== b.path) return a.path < b.path ? -1 : 1;
  return (a.port ?? -1) - (b.port ?? -1);
}

/** How long reads reuse a listing that is slow to build (see `pairStatuses`). */
export const SLOW_LISTING_REUSE_MS = 15_000;
/** A listing is slow when building it costs more than this share of the cache time (1 / 4). */
const SLOW_LISTING_SHARE = 4;

/** The group view of every path, by `PATH_SLOT`. */
type GroupPairsByPath = [
  NonNullable<PairsResponse['groups']>,
  NonNullable<PairsResponse['groups']>,
  NonNullable<PairsResponse['groups']>,
  NonNullable<PairsResponse['groups']>,
];

/**
 * Group x group sums per path, one directed pair (its ports merged) at a time, listed as the
 * group view: a listing of the pairs feeds it in its order (src, dst, path, port: a directed
 * pair's ports are adjacent), `buildGroupPairs` chain by chain. Groups by index into `names`
 * (sorted), the sums in one typed array when there are few groups (racks, zones: a cell per
 * group pair and path), else per group pair in a map by number: no string lookup per pair.
 */
export class GroupViewBuilder {
  private readonly g: number;
  private readonly dense: Float64Array | null;
  private readonly sparse: Map<number, Float64Array> | null;
  /** The directed pair being fed (`feed`): its ends, path slot, groups and sums. */
  private runSrc: string | null = null;
  private runDst = '';
  private runSlot = -1;
  private runFrom = -1;
  private runTo = -1;
  private runSent = 0;
  private runOk = 0;

  constructor(
    private readonly names: readonly string[],
    denseCells = DENSE_GROUP_CELLS,
  ) {
    this.g = names.length;
    const cells = 4 * this.g * this.g;
    this.dense = cells <= denseCells ? new Float64Array(cells * CELL) : null;
    this.sparse = this.dense ? null : new Map();
  }

  /** One directed pair on the path in `slot`, its ports merged by the caller. */
  add(from: number, to: number, slot: number, sent: number, ok: number): void {
    const cell = (slot * this.g + from) * this.g + to;
    let d: Float64Array;
    let o: number;
    if (this.dense) {
      d = this.dense;
      o = cell * CELL;
    } else {
      const m = this.sparse as Map<number, Float64Array>;
      let c = m.get(cell);
      if (!c) {
        c = new Float64Array(CELL);
        m.set(cell, c);
      }
      d = c;
      o = 0;
    }
    d[o] = (d[o] as number) + 1;
    d[o + 2] = (d[o + 2] as number) + sent;
    d[o + 3] = (d[o + 3] as number) + ok;
    if (sent > 0) {
      d[o + 1] = (d[o + 1] as number) + 1;
      d[o + 4] = (d[o + 4] as number) + (1 - ok / sent);
    }
  }

  /** One pair (path and port) of a listing in its order: its directed pair's ports are merged. */
  feed(p: PairRec, from: number, to: number): void {
    const slot = PATH_SLOT[p.path];
    if (p.src !== this.runSrc || p.dst !== this.runDst || slot !== this.runSlot) {
      this.flush();
      this.runSrc = p.src;
      this.runDst = p.dst;
      this.runSlot = slot;
      this.runFrom = from;
      this.runTo = to;
    }
    this.runSent += p.ring.sumsSent;
    this.runOk += p.ring.sumsOk;
  }

  private flush(): void {
    if (this.runSrc !== null) this.add(this.runFrom, this.runTo, this.runSlot, this.runSent, this.runOk);
    this.runSrc = null;
    this.runSent = 0;
    this.runOk = 0;
  }

  finish(): GroupPairsByPath {
    this.flush();
    const g = this.g;
    const byPath = PROBE_PATHS.map(() => [] as NonNullable<PairsResponse['groups']>) as GroupPairsByPath;
    const emit = (cell: number, d: Float64Array, o: number) => {
      const pairs = d[o] as number;
      if (pairs === 0) return;
      const probed = d[o + 1] as number;
      (byPath[Math.floor(cell / (g * g))] as NonNullable<PairsResponse['groups']>).push({
        from: this.names[Math.floor(cell / g) % g] as string,
        to: this.names[cell % g] as string,
        pairs,
        probed,
        loss: probed ? (d[o + 4] as number) / probed : null,
        sent: d[o + 2] as number,
        answered: d[o + 3] as number,
      });
    };
    // Cells in index order: by path, then from, then to, each in the names' order.
    if (this.dense) for (let c = 0; c < 4 * g * g; c++) emit(c, this.dense, c * CELL);
    else
      for (const c of [...(this.sparse as Map<number, Float64Array>).keys()].sort((a, b) => a - b))
        emit(c, (this.sparse as Map<number, Float64Array>).get(c) as Float64Array, 0);
    return byPath;
  }
}

/** A group view cell: pairs, probed, sent, answered, loss sum. */
const CELL = 5;
/** Group pairs x paths kept in one typed array (256 groups; beyond, a map of the cells used). */
const DENSE_GROUP_CELLS = 4 * 256 * 256;

/** Each node's group index for a listing (-1: not shown) and the groups' names, sorted. */
interface GroupsShown {
  names: string[];
  of: (name: string) => number;
}

/** A listing's walk over the sorted pairs (`judgePairs`). */
interface ListingRun {
  shown: GroupsShown;
  view: GroupViewBuilder;
  src: string | null;
  dst: string | null;
  from: number;
  to: number;
}

/** One source node's pairs: how many, and by destination (chained through `PairRec.sib`). */
interface SrcPairs {
  count: number;
  byDst: Map<string, PairRec>;
}

interface NodeRec {
  name: string;
  labels: Record<string, string>;
  version: string | null;
  underlay: string[];
  /** Last message or presence time (epoch ms, collector clock for presence, sender for messages). */
  lastSeen: number;
  /** Collector clock when the record was created (forgetting a node that never had presence). */
  createdAt: number;
  presenceAt: number | null;
  presenceDeleted: boolean;
  /** Latest inventory summary (a whole snapshot from an older agent is summarized on arrival). */
  snapshot: NodeSummary | null;
  snapshotAt: number;
  findingsAt: number;
  findings: Map<string, TrackedFinding>;
  /** Latest probes message time and whether the node's capture works (it reports hops). */
  probesAt: number;
  captureAvailable: boolean;
  /** Arrival reports by sending peer, one per path (`PATH_SLOT`). */
  arrivals: Map<string, PeerArrivals>;
  /** When the arrivals were last pruned (message time) and from when on they are all kept. */
  arrivalsPrunedAt: number;
  arrivalsFrom: number;
}

/** A pair's current status on one path (and port, for control TCP ports). */
export interface PairStatus {
  src: string;
  dst: string;
  path: ProbePath;
  port: number | null;
  /** pass/fail from the latest probe; unknown when stale or not sent. */
  status: 'pass' | 'fail' | 'unknown';
  /** Consecutive rounds without a passing probe ending with the latest, and when they began. */
  failStreak: number;
  failSince: number | null;
  last: ProbeResult & { arrivedDst: boolean | null };
  /** Windowed: probes sent and passing (pmtu: full size fit) over the window. */
  sent: number;
  answered: number;
  /** Windowed counters over the whole window, and the per-round buckets they sum. */
  window: Tally;
  buckets: readonly Bucket[];
  /** The latest hop walk of this pair within the window, if one ran. */
  hops?: HopsEvidence;
}

export interface NodeStatus {
  name: string;
  labels: Record<string, string>;
  state: 'up' | 'expired';
  lastSeen: number;
  /** When presence expired (epoch ms), null while up. */
  expiredAt: number | null;
  /** VXLAN ports this node's VTEPs use, with the overlay style (from its latest snapshot). */
  vteps: Array<{ style: string; port: number }>;
  /** What the node's inventory could not read (latest snapshot), and whether it ran privileged. */
  unknowns: Array<{ what: string; reason: string }>;
  privileged: boolean | null;
}

export interface DiagnosisInput {
  now: number;
  /** Evidence window (ms). */
  windowMs: number;
  groupLabel: string;
  nodes: NodeStatus[];
  pairs: PairStatus[];
  findings: TrackedFinding[];
}

/**
 * A node's arrival reports from one peer: per path (PATH_SLOT i), the count at `2i` and the
 * report's `lastAt` at `2i + 1` (-Infinity: none). Plain doubles in one array (unboxed): an
 * object per report, its boxed time and a slot array were ≈ 400 B per peer, and a node keeps
 * the ≈ 100–300 peers that probed it lately.
 */
type PeerArrivals = number[];
const noArrivals = (): PeerArrivals => [0, -Infinity, 0, -Infinity, 0, -Infinity, 0, -Infinity];
const PATH_SLOT: Record<ProbePath, 0 | 1 | 2 | 3> = { vxlan: 0, control: 1, pmtu: 2, overlay: 3 };
/** The path of each slot (PATH_SLOT reversed). */
const PATHS_BY_SLOT = Object.keys(PATH_SLOT).sort(
  (a, b) => PATH_SLOT[a as ProbePath] - PATH_SLOT[b as ProbePath],
) as ProbePath[];

/** The ICMP list of the (many) probes that had none: one shared, frozen empty list. */

function findingKey(f: Finding): string {
  return `${f.node}|${f.check}|${f.subject}|${f.kind ?? ''}`;
}

/** The latest probe's RTT of a pair status (of the state's own records without building `last`). */
export function lastRtt(p: PairStatus): number | null {
  return p instanceof PairRec ? p.rttSeconds : p.last.rttSeconds;
}

export class ClusterState {
  readonly clock: () => number;
  readonly windowMs: number;
  readonly presenceTtlMs: number;
  readonly findingTtlMs: number;
  readonly staleMs: number;
  readonly groupLabel: string;
  private readonly maxBuckets: number;
  /** Where every pair's round buckets live (evidence.ts). */
  private readonly slab = new BucketSlab();
  private readonly maxIds: number;
  private readonly maxPairs: number;
  private readonly skewMs: number;
  private readonly arrivalGraceMs: number;
  readonly presenceGate: boolean;
  readonly forgetAfterMs: number;
  private readonly maxNodes: number;
  private readonly maxPairsPerNode: number;
  /**
   * Per source node: its pairs by destination (each destination's few paths and ports chained
   * through `sib`). A result finds its pair here without building the pair key (which is built
   * once, for a new pair).
   */
  private readonly bySrc = new Map<string, SrcPairs>();
  /** What the caps refused (counted, exported, alerted on) and how many nodes were forgotten. */
  readonly dropped = { nodes: 0, pairs: 0 };
  forgotten = 0;
  /**
   * How far behind the ingest is (ms; the runtime sets it from the consumer: the age of the
   * message it applies while more are pending, else 0). A pair is stale when its latest probe is
   * older than `staleMs` PLUS this lag: a collector reading late judges the probes it has read,
   * rather than turning every pair `unknown` (and diagnosing nothing pair-based).
   */
  ingestLagMs = 0;
  private readonly statusCacheMs: number;
  private statusCache: { at: number; list: PairStatus[] } | null = null;
  /**
   * The collector's own NATS link: down since (epoch ms), and after it came back, blind until
   * (one presence TTL later, when every live agent has refreshed again). Presence that expires
   * while the collector cannot hear is not an agent down: it is the NATS outage (alerted as
   * such, VxdoctorCollectorNatsDown).
   */
  private linkDownAt: number | null = null;
  private blindUntil = 0;

  private readonly nodesMap = new Map<string, NodeRec>();
  /** Pairs tracked (every one is in `bySrc`, which is the only index of them). */
  private pairCount = 0;
  private readonly ids = new Set<string>();
  private readonly idQueue: string[] = [];
  private idHead = 0;
  readonly rtt: Record<ProbePath, RttHistogram>;
  /** Bumped on every change that is visible through the API. */
  generation = 0;

  constructor(opts: StateOptions = {}) {
    this.clock = opts.clock ?? Date.now;
    this.windowMs = opts.windowMs ?? 120_000;
    this.presenceTtlMs = opts.presenceTtlMs ?? 30_000;
    this.findingTtlMs = opts.findingTtlMs ?? 360_000;
    this.staleMs = opts.staleMs ?? 30_000;
    this.groupLabel = opts.groupLabel ?? 'rack';
    this.maxBuckets = opts.maxSamplesPerPair ?? 64;
    this.maxIds = opts.maxIds ?? 100_000;
    this.maxPairs = opts.maxPairs ?? 250_000;
    this.skewMs = opts.skewMs ?? 2_000;
    this.arrivalGraceMs = opts.arrivalGraceMs ?? 500;
    this.presenceGate = opts.presenceGate ?? false;
    this.forgetAfterMs = opts.forgetAfterMs ?? 600_000;
    this.maxNodes = opts.maxNodes ?? 10_000;
    this.maxPairsPerNode = opts.maxPairsPerNode ?? 16_384;
    this.statusCacheMs = opts.statusCacheMs ?? 0;
    this.rtt = Object.fromEntries(
      PROBE_PATHS.map((p) => [p, { buckets: new Array(RTT_BUCKETS.length + 1).fill(0), sum: 0, count: 0 }]),
    ) as unknown as Record<ProbePath, RttHistogram>;
  }

  private node(name: string): NodeRec | null {
    let n = this.nodesMap.get(name);
    if (!n) {
      if (this.nodesMap.size >= this.maxNodes) {
        this.dropped.nodes++;
        return null;
      }
      n = {
        name,
        labels: {},
        version: null,
        underlay: [],
        lastSeen: 0,
        createdAt: this.clock(),
        presenceAt: null,
        presenceDeleted: false,
        snapshot: null,
        snapshotAt: 0,
        findingsAt: 0,
        findings: new Map(),
        probesAt: 0,
        captureAvailable: false,
        arrivals: new Map(),
        arrivalsPrunedAt: 0,
        arrivalsFrom: 0,
      };
      this.nodesMap.set(name, n);
    }
    return n;
  }

  /**
   * One copy of each node name, path and target held in the pair table (every parsed message
   * brings its own copies; a pair would otherwise keep its first message's strings alive).
   * Bounded: past the cap a string is used as it came.
   */
  private readonly interned = new Map<string, string>();
  intern(s: string): string {
    const v = this.interned.get(s);
    if (v !== undefined) return v;
    if (this.interned.size < 4 * this.maxNodes + 4096) this.interned.set(s, s);
    return s;
  }

  private remember(id: string): boolean {
    if (this.ids.has(id)) return false;
    this.ids.add(id);
    this.idQueue.push(id);
    if (this.idQueue.length - this.idHead > this.maxIds) {
      const old = this.idQueue[this.idHead++] as string;
      this.ids.delete(old);
      if (this.idHead > 4096) {
        this.idQueue.splice(0, this.idHead);
        this.idHead = 0;
      }
    }
    return true;
  }

  /** Applies one validated message. Returns false when it was already applied (same id). */
  apply(msg: VxdoctorMessage): boolean {
    const n = this.node(msg.node);
    if (!n) return true; // over the node cap: counted in dropped.nodes, not a duplicate
    if (!this.remember(`${msg.node}/${msg.id}`)) return false;
    n.lastSeen = Math.max(n.lastSeen, msg.at);
    if (msg.type === 'snapshot' || msg.type === 'summary') {
      if (msg.at >= n.snapshotAt) {
        const s = msg.type === 'summary' ? msg.summary : summarize(msg.snapshot);
        n.snapshot = s;
        n.snapshotAt = msg.at;
        if (Object.keys(s.labels).length) n.labels = { ...s.labels };
        if (s.underlay) n.underlay = [...s.underlay.addresses];
      }
    } else if (msg.type === 'findings') {
      if (msg.at >= n.findingsAt) {
        const next = new Map<string, TrackedFinding>();
        for (const f of msg.findings) {
          const k = findingKey(f);
          const prev = n.findings.get(k);
          next.set(k, {
            ...f,
            origin: 'node',
            firstSeen: prev ? prev.firstSeen : msg.at,
            lastSeen: msg.at,
            observations: (prev?.observations ?? 0) + 1,
          });
        }
        n.findings = next;
        n.findingsAt = msg.at;
      }
    } else {
      const src = this.intern(msg.node);
      let sp = this.bySrc.get(src);
      if (!sp) {
        sp = { count: 0, byDst: new Map() };
        this.bySrc.set(src, sp);
      }
      for (const r of msg.results) this.addSample(sp, src, r, msg.round);
      if (msg.at >= n.probesAt) {
        n.probesAt = msg.at;
        n.captureAvailable = msg.results.some((r) => r.leftSrc !== null);
        // The latest arrival per peer and path (peers that reported nothing this round keep
        // theirs; `probesAt` says when this node last reported).
        for (const a of msg.arrivals) {
          let e = n.arrivals.get(a.from);
          if (!e) {
            e = noArrivals();
            n.arrivals.set(this.intern(a.from), e);
          }
          const i = 2 * PATH_SLOT[a.path];
          if (a.lastAt >= (e[i + 1] as number)) {
            e[i] = a.count;
            e[i + 1] = a.lastAt;
          }
        }
        // Arrivals matter only next to the probes they confirm (within skewMs of a pair's latest
        // probe, and only while that probe is fresh): older ones are forgotten, per node every
        // few seconds, so the map holds the peers that probed it lately, not every peer ever.
        const keep = this.staleMs + this.skewMs + Math.max(0, this.ingestLagMs);
        if (msg.at - n.arrivalsPrunedAt >= 5000) {
          n.arrivalsPrunedAt = msg.at;
          n.arrivalsFrom = msg.at - keep;
          for (const [k, e] of n.arrivals) {
            let left = 0;
            for (let i = 0; i < e.length; i += 2) {
              const at = e[i + 1] as number;
              if (at === -Infinity) continue;
              if (at < n.arrivalsFrom) {
                e[i] = 0;
                e[i + 1] = -Infinity;
              } else left++;
            }
            if (left === 0) n.arrivals.delete(k);
          }
        }
      }
    }
    this.generation++;
    return true;
  }

  private addSample(sp: SrcPairs, src: string, r: ProbeResult, round: number): void {
    r.src = src;
    if (r.icmp.length === 0) r.icmp = NO_ICMP;
    const first = sp.byDst.get(r.dst);
    let p: PairRec | null = first ?? null;
    let fresh = false;
    while (p !== null && (p.path !== r.path || p.port !== r.port)) p = p.sib;
    if (p) {
      // The pair's own strings (one copy per pair, not the message's).
      r.dst = p.dst;
      r.target = p.target === r.target ? p.target : this.intern(r.target);
      if (r.note !== undefined) r.note = p.note === r.note ? p.note : this.intern(r.note);
    } else {
      if (this.pairCount >= this.maxPairs || sp.count >= this.maxPairsPerNode) {
        this.dropped.pairs++;
        return;
      }
      r.dst = first ? first.dst : this.intern(r.dst);
      r.target = this.intern(r.target);
      if (r.note !== undefined) r.note = this.intern(r.note);
      p = new PairRec(src, r.dst, r.path, r.port, r, this.slab);
      fresh = true;
      p.sib = first ?? null;
      sp.byDst.set(r.dst, p);
      sp.count++;
      this.pairCount++;
      this.added.push(p);
      // Without a listing for a while (a replay), created-and-dropped pairs must not pile up.
      if (this.added.length > 2 * this.pairCount + 4096) this.added = this.added.filter((x) => !x.dropped);
    }
    p.ring.count(r, round, this.maxBuckets);
    p.touch();
    // Replays and redeliveries may arrive late: the latest probe is the one sent last.
    // Copied into the pair's own fields, not kept: a result that stayed referenced for a round
    // outlived two scavenges and died in the old generation (every result, every round).
    if (!fresh && r.at >= p.latestAt) p.setLatest(r);
    // A walk that names a router stays over later ones that saw nothing (a failing round whose
    // reply died on the way back walks a forward path that passes) while it is in the window.
    if (r.hops) {
      const cur = p.walk;
      const named = (h: HopsEvidence) => h.verdict === 'vxlan-dies-after' || h.verdict === 'frag-needed';
      const newer = !cur || r.hops.at >= cur.at;
      const curExpired = !!cur && r.hops.at - cur.at > this.windowMs;
      if (!cur || curExpired || (newer && (named(r.hops) || !named(cur)))) p.walk = r.hops;
    }
    if (r.answered && r.rttSeconds !== null && r.rttSeconds >= 0) {
      const h = this.rtt[r.path];
      const rtt = r.rttSeconds;
      let b = 0;
      while (b < RTT_BUCKETS.length && rtt > (RTT_BUCKETS[b] as number)) b++;
      h.buckets[b] = (h.buckets[b] ?? 0) + 1;
      h.sum += r.rttSeconds;
      h.count++;
    }
  }

  /** A presence record from KV `vxdoctor_nodes` (put). */
  applyPresence(p: NodePresence): void {
    const n = this.node(p.node);
    if (!n) return;
    n.presenceAt = Math.max(n.presenceAt ?? 0, p.at);
    n.presenceDeleted = false;
    n.labels = { ...p.labels };
    n.version = p.version;
    n.underlay = [...p.underlay];
    n.lastSeen = Math.max(n.lastSeen, p.at);
    this.generation++;
  }

  /**
   * A node whose agent was down before a collector restart (its `agent-down` root cause was
   * persisted): it had presence, which expired at `expiredAt`. Keeps it visible through the
   * presence gate, as expired, and forgotten on the same schedule as before the restart.
   */
  restoreGone(node: string, expiredAt: number): void {
    const n = this.node(node);
    if (!n || n.presenceAt !== null) return;
    n.presenceAt = expiredAt - this.presenceTtlMs;
    n.lastSeen = Math.max(n.lastSeen, n.presenceAt);
    this.generation++;
  }

  /** Presence key deleted or purged (agent stopped cleanly, or TTL marker). */
  removePresence(node: string): void {
    const n = this.nodesMap.get(node);
    if (!n) return;
    n.presenceDeleted = true;
    this.generation++;
  }

  /** Drops round buckets outside the window and pairs with none left. */
  tick(): void {
    const now = this.clock();
    const cutoff = now - this.windowMs;
    // A pair the sender rotated away from (more peers than a full mesh: its later rounds, for
    // the stale window and more, did not probe it) is kept only while it is fresh. Stale, it is
    // `unknown` to every rule (they read known pairs only), and at 5,000 nodes such pairs were
    // four fifths of the table. A sender that stopped publishing keeps its pairs, as unknown,
    // for the whole window. Both times are the sender's (its later probes messages did not
    // carry the pair), so the ingest lag does not count: kept for the lag, such pairs doubled the
    // state at 5,000 nodes 35 s behind and filled the pair cap.
    const stale = this.staleMs + this.skewMs;
    let src: NodeRec | undefined;
    this.forEachPair((p) => {
      if (p.ring.dropBefore(cutoff)) p.touch();
      let gone = p.ring.length === 0;
      if (!gone && now - p.latestAt > stale) {
        if (src?.name !== p.src) src = this.nodesMap.get(p.src);
        gone = src !== undefined && src.probesAt - p.latestAt > stale;
        if (gone) this.rotatedOut++;
      }
      if (gone) {
        this.dropPair(p);
        this.generation++;
      }
    });
  }

  /**
   * Every pair, by source and destination (the callback may drop the pair it is given: the
   * next one is taken first).
   */
  private forEachPair(fn: (p: PairRec) => void): void {
    for (const sp of this.bySrc.values()) {
      for (const first of sp.byDst.values()) {
        let p: PairRec | null = first;
        while (p !== null) {
          const next: PairRec | null = p.sib;
          fn(p);
          p = next;
        }
      }
    }
  }

  /** Pairs dropped as stale after their sender's probe set rotated away from them. */
  rotatedOut = 0;

  private dropPair(p: PairRec): void {
    this.pairCount--;
    p.dropped = true;
    p.ring.release();
    const sp = this.bySrc.get(p.src);
    if (!sp) return;
    // Unchained from its destination's list.
    const first = sp.byDst.get(p.dst);
    if (first === p) {
      if (p.sib) sp.byDst.set(p.dst, p.sib);
      else sp.byDst.delete(p.dst);
    } else {
      let q: PairRec | null = first ?? null;
      while (q && q.sib !== p) q = q.sib;
      if (q) q.sib = p.sib;
    }
    p.sib = null;
    if (--sp.count <= 0) this.bySrc.delete(p.src);
  }

  /** Forgets a node: its record, its pairs either way, what others reported about it. */
  forget(name: string): boolean {
    const n = this.nodesMap.get(name);
    if (!n) return false;
    this.nodesMap.delete(name);
    this.forEachPair((p) => {
      if (p.src === name || p.dst === name) this.dropPair(p);
    });
    for (const o of this.nodesMap.values()) o.arrivals.delete(name);
    this.forgotten++;
    this.generation++;
    return true;
  }

  /**
   * Forgets nodes gone for longer than `forgetAfterMs`: presence deleted or expired that long
   * ago, or never any presence since the record was created that long ago. Returns their names.
   */
  prune(now = this.clock()): string[] {
    const gone: string[] = [];
    for (const n of this.nodesMap.values()) {
      if (n.presenceAt === null) {
        if (now - n.createdAt > this.forgetAfterMs) gone.push(n.name);
        continue;
      }
      const { expiredAt } = this.nodeState(n, now);
      if (expiredAt !== null && now - expiredAt > this.forgetAfterMs) gone.push(n.name);
    }
    for (const name of gone) this.forget(name);
    return gone;
  }

  /** With the presence gate on, only nodes that have had a presence record count. */
  private visible(n: NodeRec | undefined): n is NodeRec {
    return n !== undefined && (!this.presenceGate || n.presenceAt !== null);
  }

  /** The collector lost its NATS connection (`at` epoch ms). */
  linkDown(at = this.clock()): void {
    if (this.linkDownAt === null) this.linkDownAt = at;
    this.blindUntil = Number.POSITIVE_INFINITY;
    this.generation++;
  }
  /** The connection is back: presence is judged again once agents had a TTL to refresh. */
  linkUp(at = this.clock()): void {
    if (this.linkDownAt === null) return;
    this.blindUntil = at + this.presenceTtlMs;
    this.generation++;
  }

  private nodeState(n: NodeRec, now: number): { state: 'up' | 'expired'; expiredAt: number | null } {
    const ref = n.presenceAt ?? n.lastSeen;
    const expiry = ref + this.presenceTtlMs;
    // Expiring while the collector is deaf: not evidence about the agent.
    if (this.linkDownAt !== null && !n.presenceDeleted && expiry >= this.linkDownAt) {
      if (now < this.blindUntil) return { state: 'up', expiredAt: null };
      this.linkDownAt = null;
    }
    if (n.presenceDeleted) return { state: 'expired', expiredAt: Math.min(expiry, now) };
    if (now > expiry) return { state: 'expired', expiredAt: expiry };
    return { state: 'up', expiredAt: null };
  }

  nodeNames(): string[] {
    const out: string[] = [];
    for (const n of this.nodesMap.values()) if (this.visible(n)) out.push(n.name);
    return out.sort();
  }

  hasNode(name: string): boolean {
    return this.visible(this.nodesMap.get(name));
  }

  /** Node records held, visible or not (the caps' measure). */
  get nodeCount(): number {
    return this.nodesMap.size;
  }

  nodeStatuses(): NodeStatus[] {
    const now = this.clock();
    return this.nodeNames().map((name) => {
      const n = this.nodesMap.get(name) as NodeRec;
      const snap = n.snapshot;
      return {
        name,
        labels: n.labels,
        lastSeen: n.lastSeen,
        ...this.nodeState(n, now),
        vteps: (snap?.vteps ?? []).map((v) => ({ style: v.style, port: v.port })),
        unknowns: [...(snap?.unknowns ?? []), ...(snap?.namespaces ?? []).flatMap((ns) => ns.unknowns ?? [])],
        privileged: snap?.host ? snap.host.privileged : null,
      };
    });
  }

  /** Active node findings (not expired) plus cluster-check findings. */
  activeFindings(): TrackedFinding[] {
    const now = this.clock();
    const out: TrackedFinding[] = [];
    for (const name of this.nodeNames()) {
      const n = this.nodesMap.get(name) as NodeRec;
      if (now - n.findingsAt > this.findingTtlMs) continue;
      out.push(...n.findings.values());
    }
    return out;
  }

  /**
   * Cross-node checks the collector ran: none since agents run them over their peers' presence
   * (shared/crosschecks/local.ts; their runs are in each agent's findings message and metrics).
   * Kept so `vxdoctor_check_*` stays a series family of the collector.
   */
  clusterCheckRuns(): CheckRun[] {
    return [];
  }

  private findingCounts(name: string, all: TrackedFinding[]): Record<Severity, number> {
    const c: Record<Severity, number> = { critical: 0, warning: 0, info: 0 };
    for (const f of all) if (f.node === name && f.status === 'problem') c[f.severity]++;
    return c;
  }

  nodes(): NodeView[] {
    const now = this.clock();
    const all = this.activeFindings();
    return this.nodeNames().map((name) => this.view(this.nodesMap.get(name) as NodeRec, now, all));
  }

  private view(n: NodeRec, now: number, all: TrackedFinding[]): NodeView {
    return {
      name: n.name,
      labels: n.labels,
      lastSeen: new Date(n.lastSeen).toISOString(),
      version: n.version,
      state: this.nodeState(n, now).state,
      underlay: n.underlay,
      findings: this.findingCounts(n.name, all),
    };
  }

  nodeDetail(name: string): NodeDetail | null {
    const n = this.nodesMap.get(name);
    if (!this.visible(n)) return null;
    const all = this.activeFindings();
    const host: HostFacts | null = n.snapshot?.host ?? null;
    return {
      ...this.view(n, this.clock(), all),
      findingList: all.filter((f) => f.node === name).map(stripTracking),
      chains: n.snapshot?.chains ?? [],
      vteps: n.snapshot?.vteps ?? [],
      host,
      summary: n.snapshot,
    };
  }

  /** Fills a probe's unknown "arrived at dst" from the destination's own arrival reports. */
  private arrivedOf(
    src: string,
    dst: string,
    path: ProbePath,
    at: number,
    own: boolean | null,
  ): boolean | null {
    if (own !== null) return own;
    const d = this.nodesMap.get(dst);
    if (!this.visible(d)) return null;
    const e = d.arrivals.get(src);
    const i = 2 * PATH_SLOT[path];
    if (e && (e[i] as number) > 0 && (e[i + 1] as number) >= at - this.skewMs) return true;
    // Its arrival report, if any, has been forgotten (the probe is long stale): unknown.
    if (at - this.skewMs < d.arrivalsFrom) return null;
    // The destination reported after this probe and did not see it: left A, never reached B.
    if (d.captureAvailable && d.probesAt >= at + this.arrivalGraceMs) return false;
    return null;
  }

  /** Built now (an evaluation never judges a listing a scrape made earlier); cached for reads. */
  freshPairStatuses(): PairStatus[] {
    const now = this.clock();
    const list = this.timedBuild(now);
    this.statusCache = { at: now, list };
    return list;
  }

  /** How long the last listing took to build (ms, the process's own clock). */
  lastBuildMs = 0;
  private timedBuild(now: number): PairStatus[] {
    const t0 = performance.now();
    const list = this.buildPairStatuses(now);
    this.lastBuildMs = performance.now() - t0;
    return list;
  }

  /**
   * For reads (scrapes, the API, the page): the last listing while it is younger than
   * `statusCacheMs`. Where building one costs more than a quarter of that (0.7 s at 5,000
   * nodes, 0.25 s at ≈ 1,500), a read would rebuild on nearly every call, in one piece, and
   * every read, scrape and message behind it waited: reads then serve the last listing for up to
   * `SLOW_LISTING_REUSE_MS`, the one the last evaluation built (as old as the root causes beside
   * it, refreshed by every evaluation), and build only when evaluations stopped. (With the
   * threshold at the whole cache time, listings made faster than 1 s at 5,000 nodes were rebuilt
   * by scrapes: /metrics p50 1.8 s.)
   */
  pairStatuses(): PairStatus[] {
    const now = this.clock();
    const c = this.statusCache;
    if (c && this.statusCacheMs > 0 && now >= c.at) {
      const age = now - c.at;
      if (age < this.statusCacheMs) return c.list;
      if (this.lastBuildMs * SLOW_LISTING_SHARE > this.statusCacheMs && age < SLOW_LISTING_REUSE_MS)
        return c.list;
    }
    const out = this.timedBuild(now);
    this.statusCache = { at: now, list: out };
    return out;
  }

  /**
   * Every pair in sort order as of the last listing, and the pairs created since: the next
   * listing walks the old order (skipping dropped pairs), appends the new ones and sorts that,
   * which is nearly sorted already (a sorted run and a short tail: close to linear).
   */
  private order: PairRec[] = [];
  private added: PairRec[] = [];

  private buildPairStatuses(now: number): PairStatus[] {
    const all = this.sortedPairs();
    const run = this.listingRun();
    const out: PairStatus[] = [];
    this.judgePairs(all, 0, all.length, now, out, run);
    this.groupCache = { at: now, byPath: run.view.finish() };
    return out;
  }

  /** Every pair in the listing's order (the last order, the pairs made since, sorted). */
  private sortedPairs(): PairRec[] {
    const all: PairRec[] = [];
    for (const p of this.order) if (!p.dropped) all.push(p);
    for (const p of this.added) if (!p.dropped) all.push(p);
    this.added = [];
    all.sort(comparePairs);
    this.order = all;
    return all;
  }

  /** A listing's walk: the groups shown, the group view it feeds, the current ends' groups. */
  private listingRun(): ListingRun {
    const shown = this.groupsShown(this.groupLabel);
    return { shown, view: new GroupViewBuilder(shown.names), src: null, dst: null, from: -1, to: -1 };
  }

  /**
   * Judges `all[from..to)` as of `now` (in place), lists the shown ones into `out` and feeds
   * them to the group view (so the segment gauge, the page's matrix and the segment sampler
   * read the group view of the listing the root causes came from, without another pass).
   */
  private judgePairs(
    all: PairRec[],
    from: number,
    to: number,
    now: number,
    out: PairStatus[],
    run: ListingRun,
  ): void {
    const staleMs = this.staleMs + Math.max(0, this.ingestLagMs);
    for (let i = from; i < to; i++) {
      const p = all[i] as PairRec;
      // A listing built in steps: a pair may have been dropped since it was sorted.
      if (p.dropped || p.ring.length === 0) continue;
      // Shown when both ends are (the groups looked up once per source and destination run).
      if (p.src !== run.src) {
        run.src = p.src;
        run.from = run.shown.of(p.src);
        run.dst = null;
      }
      if (run.from < 0) continue;
      if (p.dst !== run.dst) {
        run.dst = p.dst;
        run.to = run.shown.of(p.dst);
      }
      if (run.to < 0) continue;
      // The latest probe, its "arrived" filled in from the destination's arrival reports (in
      // place: the pair's own object, from its own capture verdict every time).
      const at = p.latestAt;
      p.setArrived(this.arrivedOf(p.src, p.dst, p.path, at, p.rawArrived));
      // Window sums and fail streak change only with the buckets: recomputed when they did.
      p.judge(
        now - at > staleMs || !p.lastSent ? 'unknown' : p.lastOk ? 'pass' : 'fail',
        !!p.walk && now - p.walk.at <= this.windowMs,
      );
      run.view.feed(p, run.from, run.to);
      out.push(p);
    }
  }

  /**
   * As `freshPairStatuses`, giving the event loop back (`pause`) after every `step` pairs: at
   * 5,000 nodes a listing is ≈ 1.3 s of one piece, and every scrape, API read and message waited
   * behind it. Messages applied meanwhile update the pairs not yet judged (a pair is judged
   * whole, as of `now`); pairs made meanwhile are in the next listing, dropped ones are skipped.
   */
  async freshPairStatusesInSteps(pause: () => Promise<void>, step = 100_000): Promise<PairStatus[]> {
    // Its own time, not the pauses' (what a read would have waited for, `pairStatuses`).
    let busy = 0;
    let t = performance.now();
    const now = this.clock();
    const all = this.sortedPairs();
    const run = this.listingRun();
    const out: PairStatus[] = [];
    for (let from = 0; from < all.length; from += step) {
      this.judgePairs(all, from, Math.min(all.length, from + step), now, out, run);
      busy += performance.now() - t;
      await pause();
      t = performance.now();
    }
    const byPath = run.view.finish();
    busy += performance.now() - t;
    this.lastBuildMs = busy;
    this.statusCache = { at: now, list: out };
    this.groupCache = { at: now, byPath };
    return out;
  }

  /** Directed pairs on one path (ports merged), for the API. */
  pairs(path: ProbePath): PairView[] {
    const byPair = new Map<string, PairStatus[]>();
    for (const s of this.pairStatuses()) {
      if (s.path !== path) continue;
      const k = `${s.src}|${s.dst}`;
      const l = byPair.get(k);
      if (l) l.push(s);
      else byPair.set(k, [s]);
    }
    const out: PairView[] = [];
    for (const list of byPair.values()) {
      const first = list[0] as PairStatus;
      const sent = list.reduce((a, s) => a + s.sent, 0);
      const answered = list.reduce((a, s) => a + s.answered, 0);
      // The latest failing sub-probe (e.g. one TCP port) is the most telling.
      const latest = list.reduce((a, s) => (s.last.at > a.last.at ? s : a), first);
      const shown = list.find((s) => s.status === 'fail') ?? latest;
      const rtts = list.map((s) => s.last.rttSeconds).filter((x): x is number => x !== null);
      const l = shown.last;
      out.push({
        src: first.src,
        dst: first.dst,
        path,
        sent,
        answered,
        loss: sent === 0 ? null : 1 - answered / sent,
        rttSeconds: rtts.length ? Math.min(...rtts) : null,
        fate: (list.length > 1 && shown.port !== null ? `port ${shown.port}: ` : '') + describeFate(l),
        last: {
          sent: l.sent,
          leftSrc: l.leftSrc,
          arrivedDst: l.arrivedDst,
          answered: l.answered,
          replySeen: l.replySeen,
          icmp: l.icmp,
          ...(l.pmtu ? { pmtu: l.pmtu } : {}),
        },
        lastAt: latest.last.at,
      });
    }
    return out;
  }

  groupOf(name: string, label = this.groupLabel): string {
    return this.nodesMap.get(name)?.labels[label] ?? '';
  }

  /** Group x group loss for every path for the configured label (built or of a listing). */
  private groupCache: { at: number; byPath: GroupPairsByPath } | null = null;

  /**
   * Group x group loss on one path (mean loss over probed pairs), grouped by `label`. Every
   * listing of the pairs leaves the group view of its pairs (an evaluation's is the one its root
   * causes came from); reads reuse it as they reuse the listing (`pairStatuses`), else one pass
   * builds every path (a scrape asks for all four paths, the page and the segment sampler one).
   */
  groupPairs(path: ProbePath, label = this.groupLabel): NonNullable<PairsResponse['groups']> {
    // Only the configured label is cached (an API caller may ask for any label).
    if (label !== this.groupLabel) return this.buildGroupPairs(label)[PATH_SLOT[path]];
    const now = this.clock();
    const c = this.groupCache;
    if (c && this.statusCacheMs > 0 && now >= c.at) {
      const age = now - c.at;
      // As the listing it came with (`pairStatuses`): while listings are slow to build, the last
      // evaluation's group view serves reads.
      if (age < this.statusCacheMs) return c.byPath[PATH_SLOT[path]];
      if (this.lastBuildMs * SLOW_LISTING_SHARE > this.statusCacheMs && age < SLOW_LISTING_REUSE_MS)
        return c.byPath[PATH_SLOT[path]];
    }
    const byPath = this.buildGroupPairs(label);
    this.groupCache = { at: now, byPath };
    return byPath[PATH_SLOT[path]];
  }

  /**
   * Straight from the samples, as pairs() counts them (ports merged per directed pair), without
   * a view, key string or map entry per pair: a destination's chain is one directed pair (its
   * paths and ports), so it is summed in place, and the groups are looked up once per chain.
   */
  private buildGroupPairs(label: string): GroupPairsByPath {
    const shown = this.groupsShown(label);
    const view = new GroupViewBuilder(shown.names);
    const sent = [0, 0, 0, 0];
    const answered = [0, 0, 0, 0];
    const seen = [false, false, false, false];
    for (const [src, sp] of this.bySrc) {
      const from = shown.of(src);
      if (from < 0) continue;
      for (const [dst, first] of sp.byDst) {
        const to = shown.of(dst);
        if (to < 0) continue;
        sent.fill(0);
        answered.fill(0);
        seen.fill(false);
        for (let p: PairRec | null = first; p !== null; p = p.sib) {
          if (p.ring.length === 0) continue;
          const i = PATH_SLOT[p.path];
          seen[i] = true;
          sent[i] = (sent[i] as number) + p.ring.sumsSent;
          answered[i] = (answered[i] as number) + p.ring.sumsOk;
        }
        for (let i = 0; i < 4; i++)
          if (seen[i]) view.add(from, to, i, sent[i] as number, answered[i] as number);
      }
    }
    return view.finish();
  }

  /**
   * Each node's group, read once per listing (not per pair): null for a node not shown; a
   * pair's end without a record is ungrouped unless the presence gate hides it.
   */
  private groupsShown(label: string): GroupsShown {
    const groupOf = new Map<string, string | null>();
    const set = new Set<string>(['']);
    for (const n of this.nodesMap.values()) {
      const g = !this.presenceGate || this.visible(n) ? (n.labels[label] ?? '') : null;
      groupOf.set(n.name, g);
      if (g !== null) set.add(g);
    }
    const names = [...set].sort((a, b) => a.localeCompare(b));
    const index = new Map(names.map((g, i) => [g, i]));
    const ungrouped = this.presenceGate ? -1 : (index.get('') as number);
    const idx = new Map<string, number>();
    for (const [name, g] of groupOf) idx.set(name, g === null ? -1 : (index.get(g) as number));
    return { names, of: (name) => idx.get(name) ?? ungrouped };
  }

  /** As `diagnosisInput`, the pairs listed in steps (`freshPairStatusesInSteps`). */
  async diagnosisInputInSteps(pause: () => Promise<void>, step?: number): Promise<DiagnosisInput> {
    const now = this.clock();
    const pairs = await this.freshPairStatusesInSteps(pause, step);
    return {
      now,
      windowMs: this.windowMs,
      groupLabel: this.groupLabel,
      nodes: this.nodeStatuses(),
      pairs,
      findings: this.activeFindings(),
    };
  }

  diagnosisInput(): DiagnosisInput {
    return {
      now: this.clock(),
      windowMs: this.windowMs,
      groupLabel: this.groupLabel,
      nodes: this.nodeStatuses(),
      pairs: this.freshPairStatuses(),
      findings: this.activeFindings(),
    };
  }
}

export function stripTracking(f: TrackedFinding): Finding {
  const { firstSeen: _a, lastSeen: _b, observations: _c, origin: _d, ...rest } = f;
  return rest;
}
