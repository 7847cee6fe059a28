/**
 * The windowed evidence model: per directed pair, path and destination port, one compact
 * counter bucket per probe round over the last `--window` (not one object per sample). PMTU
 * results carry their size class: the full-size probe (overlay MTU + 50) is counted as passing
 * only when it fit; the size search's outcome (largest passing), ICMP frag-needed (its MTU and
 * the hop that sent it) and the kernel's learned PMTU are kept as the round's minimum.
 *
 * Pure: no clock, no I/O. Rules (collector/diagnosis/rules) read these buckets; the API,
 * `status`, metrics and the page show rates over them with their sample counts.
 */
import { probeOk } from '../../shared/fate.js';
import type { ProbeResult } from '../../shared/schema.js';

/** Counters of one pair (src, dst, path, port) over one probe round. */
export interface Bucket {
  /** The sender's round number and the first probe's send time (epoch ms). */
  round: number;
  at: number;
  /** Probes sent; seen leaving the source NIC (capture), of `leftKnown` with a capture verdict. */
  sent: number;
  leftSrc: number;
  leftKnown: number;
  /** Seen at the destination NIC, of `arrivedKnown` with a verdict (reply or arrival report). */
  arrived: number;
  arrivedKnown: number;
  /** Answered (for pmtu: the full-size probe answered and fitting). */
  ok: number;
  /** Answered probes whose reply the source's capture saw. */
  replySeen: number;
  /**
   * vxlan results that are the full-size pmtu probe standing for the small one (same packet,
   * counted on the pmtu pair too): excluded from loss estimates so no packet counts twice.
   */
  proxy: number;
  /** Probes with an ICMP frag-needed, its smallest MTU and the hop that sent it. */
  fragNeeded: number;
  fragMtu: number | null;
  fragFrom: string | null;
  /** Smallest path MTU the kernel learned for the target this round. */
  learnedPmtu: number | null;
  /** PMTU size class: required outer size and the largest size that passed (smallest seen). */
  required: number | null;
  largestPassing: number | null;
}

const minOf = (a: number | null, b: number | null): number | null =>
  a === null ? b : b === null ? a : Math.min(a, b);

/** `frag-needed mtu=1454 from 10.200.2.254` -> the hop address, when the capture named it. */
export function fragHop(icmp: string[]): string | null {
  for (const s of icmp) {
    const m = /frag-needed.*\bfrom ([0-9a-f.:]+)/i.exec(s);
    if (m?.[1]) return m[1];
  }
  return null;
}

/** The rarely set fields of a bucket (PMTU outcome, frag-needed), apart: most rounds have none. */
interface BucketExtra {
  fragMtu: number | null;
  fragFrom: string | null;
  learnedPmtu: number | null;
  required: number | null;
  largestPassing: number | null;
}

const MASK = 1023;
/** Counters saturate here (a pair sends one probe per round and port; this is never reached). */
const CAP = MASK;
const put = (word: number, shift: number, v: number): number =>
  (word & ~(MASK << shift)) | (Math.max(0, Math.min(CAP, v)) << shift);

/**
 * A `Bucket` as the state keeps it: the nine counters packed three to a small integer, the
 * nullable fields in an object only when set. 72 bytes of heap instead of 150 for sixteen
 * fields: at 1,000 nodes the window holds ≈ 4 million buckets. Reads and writes go through
 * accessors, so it is a `Bucket` to every reader.
 */
/**
 * Times are kept as offsets from this process's start: small integers for ±24 days (an epoch
 * ms is a boxed double, 16 more bytes per bucket). Beyond that they are doubles again, as exact.
 */
const AT_BASE = Date.now();

export class PackedBucket implements Bucket {
  round: number;
  private atOff: number;
  private c0 = 0; // sent | leftSrc | leftKnown
  private c1 = 0; // arrived | arrivedKnown | ok
  private c2 = 0; // replySeen | proxy | fragNeeded
  private x: BucketExtra | null = null;
  constructor(round: number, at: number) {
    this.round = round;
    this.atOff = at - AT_BASE;
  }
  get at() {
    return this.atOff + AT_BASE;
  }
  set at(v: number) {
    this.atOff = v - AT_BASE;
  }
  get sent() {
    return this.c0 & MASK;
  }
  set sent(v: number) {
    this.c0 = put(this.c0, 0, v);
  }
  get leftSrc() {
    return (this.c0 >> 10) & MASK;
  }
  set leftSrc(v: number) {
    this.c0 = put(this.c0, 10, v);
  }
  get leftKnown() {
    return (this.c0 >> 20) & MASK;
  }
  set leftKnown(v: number) {
    this.c0 = put(this.c0, 20, v);
  }
  get arrived() {
    return this.c1 & MASK;
  }
  set arrived(v: number) {
    this.c1 = put(this.c1, 0, v);
  }
  get arrivedKnown() {
    return (this.c1 >> 10) & MASK;
  }
  set arrivedKnown(v: number) {
    this.c1 = put(this.c1, 10, v);
  }
  get ok() {
    return (this.c1 >> 20) & MASK;
  }
  set ok(v: number) {
    this.c1 = put(this.c1, 20, v);
  }
  get replySeen() {
    return this.c2 & MASK;
  }
  set replySeen(v: number) {
    this.c2 = put(this.c2, 0, v);
  }
  get proxy() {
    return (this.c2 >> 10) & MASK;
  }
  set proxy(v: number) {
    this.c2 = put(this.c2, 10, v);
  }
  get fragNeeded() {
    return (this.c2 >> 20) & MASK;
  }
  set fragNeeded(v: number) {
    this.c2 = put(this.c2, 20, v);
  }
  private extra(): BucketExtra {
    this.x ??= { fragMtu: null, fragFrom: null, learnedPmtu: null, required: null, largestPassing: null };
    return this.x;
  }
  get fragMtu() {
    return this.x?.fragMtu ?? null;
  }
  set fragMtu(v: number | null) {
    if (v !== null || this.x) this.extra().fragMtu = v;
  }
  get fragFrom() {
    return this.x?.fragFrom ?? null;
  }
  set fragFrom(v: string | null) {
    if (v !== null || this.x) this.extra().fragFrom = v;
  }
  get learnedPmtu() {
    return this.x?.learnedPmtu ?? null;
  }
  set learnedPmtu(v: number | null) {
    if (v !== null || this.x) this.extra().learnedPmtu = v;
  }
  get required() {
    return this.x?.required ?? null;
  }
  set required(v: number | null) {
    if (v !== null || this.x) this.extra().required = v;
  }
  get largestPassing() {
    return this.x?.largestPassing ?? null;
  }
  set largestPassing(v: number | null) {
    if (v !== null || this.x) this.extra().largestPassing = v;
  }
}

function emptyBucket(round: number, at: number): Bucket {
  return new PackedBucket(round, at);
}

/** Counts one result into its round's bucket (created in time order). Returns the bucket. */
export function countInto(buckets: Bucket[], r: ProbeResult, round: number, maxBuckets: number): Bucket {
  let b: Bucket | undefined;
  for (let i = buckets.length - 1; i >= 0 && i >= buckets.length - 4; i--) {
    const c = buckets[i] as Bucket;
    if (c.round === round && Math.abs(c.at - r.at) < 60_000) {
      b = c;
      break;
    }
  }
  if (!b) {
    b = emptyBucket(round, r.at);
    let i = buckets.length;
    while (i > 0 && (buckets[i - 1] as Bucket).at > b.at) i--;
    buckets.splice(i, 0, b);
    if (buckets.length > maxBuckets) buckets.shift();
  }
  b.at = Math.min(b.at, r.at);
  if (!r.sent) return b;
  b.sent++;
  if (r.leftSrc !== null) {
    b.leftKnown++;
    if (r.leftSrc) b.leftSrc++;
  }
  if (r.answered || r.arrivedDst !== null) {
    b.arrivedKnown++;
    if (r.answered || r.arrivedDst === true) b.arrived++;
  }
  if (probeOk(r)) b.ok++;
  if (r.path === 'vxlan' && r.note?.includes('stands for')) b.proxy++;
  if (r.answered && r.replySeen === true) b.replySeen++;
  const frag = r.pmtu?.fragNeededMtu ?? null;
  const icmpFrag = r.icmp.some((s) => s.startsWith('frag-needed'));
  if (frag !== null || icmpFrag) {
    b.fragNeeded++;
    const m = frag ?? Number(/mtu=(\d+)/.exec(r.icmp.join(' '))?.[1] ?? Number.NaN);
    if (Number.isFinite(m)) b.fragMtu = minOf(b.fragMtu, m);
    b.fragFrom ??= fragHop(r.icmp);
  }
  if (r.pmtu) {
    b.required = Math.max(b.required ?? 0, r.pmtu.required);
    b.learnedPmtu = minOf(b.learnedPmtu, r.pmtu.learnedPmtu);
    b.largestPassing = minOf(b.largestPassing, r.pmtu.largestPassing);
  }
  return b;
}

/** Sums over buckets (a window, or the trailing rounds a rule looks at). */
export interface Tally {
  rounds: number;
  sent: number;
  ok: number;
  proxy: number;
  leftSrc: number;
  leftKnown: number;
  arrived: number;
  arrivedKnown: number;
  /** Unanswered probes known to have reached the destination NIC (reply or answer lost after it). */
  lostAfterDst: number;
  /** Unanswered probes known not to have reached the destination NIC. */
  lostBeforeDst: number;
  fragNeeded: number;
  fragMtu: number | null;
  fragFrom: string | null;
  learnedPmtu: number | null;
  required: number | null;
  largestPassing: number | null;
}

export function tally(buckets: readonly Bucket[]): Tally {
  const t: Tally = {
    rounds: 0,
    sent: 0,
    ok: 0,
    proxy: 0,
    leftSrc: 0,
    leftKnown: 0,
    arrived: 0,
    arrivedKnown: 0,
    lostAfterDst: 0,
    lostBeforeDst: 0,
    fragNeeded: 0,
    fragMtu: null,
    fragFrom: null,
    learnedPmtu: null,
    required: null,
    largestPassing: null,
  };
  for (const b of buckets) {
    if (b.sent === 0) continue;
    t.rounds++;
    t.sent += b.sent;
    t.ok += b.ok;
    t.proxy += b.proxy;
    t.leftSrc += b.leftSrc;
    t.leftKnown += b.leftKnown;
    t.arrived += b.arrived;
    t.arrivedKnown += b.arrivedKnown;
    // Known-arrived probes that were not answered; known-not-arrived ones.
    const answered = Math.min(b.ok, b.arrived);
    t.lostAfterDst += Math.max(0, b.arrived - answered);
    t.lostBeforeDst += Math.max(0, b.arrivedKnown - b.arrived);
    t.fragNeeded += b.fragNeeded;
    t.fragMtu = minOf(t.fragMtu, b.fragMtu);
    t.fragFrom ??= b.fragFrom;
    t.learnedPmtu = minOf(t.learnedPmtu, b.learnedPmtu);
    t.required = b.required === null ? t.required : Math.max(t.required ?? 0, b.required);
    t.largestPassing = minOf(t.largestPassing, b.largestPassing);
  }
  return t;
}

/** Independent samples of a tally (proxies removed: each packet once). */
export const independent = (t: Tally): { sent: number; ok: number } => ({
  sent: t.sent - t.proxy,
  ok: t.ok - t.proxy,
});

/** Round-trip loss of a tally, null without samples. */
export const lossOf = (t: { sent: number; ok: number }): number | null =>
  t.sent === 0 ? null : 1 - t.ok / t.sent;

/** The last `n` rounds that sent something. */
export function lastRounds(buckets: readonly Bucket[], n: number): Bucket[] {
  const out: Bucket[] = [];
  for (let i = buckets.length - 1; i >= 0 && out.length < n; i--) {
    const b = buckets[i] as Bucket;
    if (b.sent > 0) out.unshift(b);
  }
  return out;
}

/** Human "loss 33 % of 36 probes in the last 2 min". */
export function describeLoss(t: { sent: number; ok: number }, windowMs: number): string {
  const l = lossOf(t);
  if (l === null) return 'not probed';
  return `loss ${Math.round(l * 100)} % of ${t.sent} probe${t.sent === 1 ? '' : 's'} in the last ${describeSpan(windowMs)}`;
}

export function describeSpan(ms: number): string {
  if (ms >= 60_000 && ms % 60_000 === 0) return `${ms / 60_000} min`;
  return `${Math.round(ms / 1000)} s`;
}
