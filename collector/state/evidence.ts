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

const MASK = 1023;
/** Counters saturate here (a pair sends one probe per round and port; this is never reached). */
const CAP = MASK;
const put = (word: number, shift: number, v: number): number =>
  (word & ~(MASK << shift)) | (Math.max(0, Math.min(CAP, v)) << shift);
const get = (word: number, shift: number): number => (word >> shift) & MASK;
const INT_MAX = 2 ** 31 - 1;
const fits = (v: number): boolean => v >= -INT_MAX && v <= INT_MAX;
/** A nullable size as an int32 (null: -1; sizes are 0..65535 by schema, a parsed ICMP MTU clamped). */
const enc = (v: number | null): number => (v === null ? -1 : Math.max(0, Math.min(INT_MAX, Math.round(v))));
const dec = (v: number): number | null => (v < 0 ? null : v);

/**
 * Int32s per bucket: round and send time as offsets from the ring's base and the nine counters
 * three to a word (a narrow ring: 20 B); a wide ring adds the PMTU outcome (required, largest
 * passing, learned PMTU, frag-needed MTU; -1 for none) and the frag-needed hop (index + 1 into the
 * ring's short list of hop addresses): 40 B. A ring is narrow until a result carries them.
 */
const NARROW = 5;
const WIDE = 10;
const ROUND = 0;
const AT = 1;
const C0 = 2; // sent | leftSrc | leftKnown
const C1 = 3; // arrived | arrivedKnown | ok
const C2 = 4; // replySeen | proxy | fragNeeded
const REQ = 5;
const LP = 6;
const LEARN = 7;
const FRAG = 8;
const FROM = 9;
const EMPTY = [0, 0, 0, 0, 0, -1, -1, -1, -1, 0] as const;
const EMPTY_NARROW = [0, 0, 0, 0, 0] as const;

/**
 * Block sizes in buckets; a ring moves to the next when it fills (up to its pair's cap). Steps
 * of about 1.5 keep a full window's ring at least two thirds used (25 rounds of 5 s in 28).
 */
const CLASSES = [2, 4, 8, 12, 18, 28, 40, 64, 96, 128, 192, 256] as const;
const MAX_CAP = CLASSES[CLASSES.length - 1] as number;
/** Int32s per slab chunk (256 KiB). */
const CHUNK_INTS = 65_536;

/** One chunk of a slab pool: its ints, blocks in use, offsets given back, never-used blocks left. */
export interface SlabChunk {
  readonly data: Int32Array;
  used: number;
  readonly free: number[];
  fresh: number;
}

/**
 * Where every pair's buckets live: per block size, chunks of one Int32Array each, handed out in
 * blocks. One state has one slab: the whole window's buckets are a few hundred large arrays
 * instead of one object per bucket (at 1,000 nodes 3.3 million objects, 112 B each with their
 * array slots, that all lived long enough to reach the old generation). A chunk whose blocks are
 * all given back is dropped: rings that grew through the small sizes together (every pair while
 * a collector starts) leave no empty small blocks behind.
 */
export class BucketSlab {
  /** Per block size, narrow then wide. */
  private readonly pools = [NARROW, WIDE].flatMap((w) =>
    CLASSES.map((c) => ({
      cap: c,
      w,
      per: Math.max(1, Math.floor(CHUNK_INTS / (c * w))),
      /** Chunks with a block to hand out. */
      open: new Set<SlabChunk>(),
      chunks: 0,
    })),
  );
  /** Bytes of the chunks held. */
  get bytes(): number {
    return this.pools.reduce((s, p) => s + p.chunks * p.per * p.cap * p.w * 4, 0);
  }
  /** A block of class `cls` (index into the sizes) of narrow or wide buckets. */
  alloc(cls: number, wide: boolean): { chunk: SlabChunk; off: number } {
    const p = this.pools[cls + (wide ? CLASSES.length : 0)] as (typeof this.pools)[number];
    let c: SlabChunk | undefined;
    for (const x of p.open) {
      c = x;
      break;
    }
    if (!c) {
      c = { data: new Int32Array(p.per * p.cap * p.w), used: 0, free: [], fresh: p.per };
      p.open.add(c);
      p.chunks++;
    }
    c.used++;
    const off = c.free.length ? (c.free.pop() as number) : (p.per - c.fresh--) * p.cap * p.w;
    if (c.free.length === 0 && c.fresh === 0) p.open.delete(c);
    return { chunk: c, off };
  }
  free(cls: number, wide: boolean, c: SlabChunk, off: number): void {
    const p = this.pools[cls + (wide ? CLASSES.length : 0)] as (typeof this.pools)[number];
    c.used--;
    c.free.push(off);
    if (c.used === 0 && p.open.size > 1) {
      // Empty and not the pool's last open chunk: dropped (its array goes with the last ring
      // that pointed at it). The last one stays, so a pool that fills and empties all the time
      // (pairs created and rotated away) does not allocate a chunk each time.
      p.open.delete(c);
      p.chunks--;
      return;
    }
    p.open.add(c);
  }
}

const classFor = (n: number): number => {
  let i = 0;
  while (i < CLASSES.length - 1 && (CLASSES[i] as number) < n) i++;
  return i;
};

/**
 * One pair's round buckets, oldest first, in a block of its state's slab (a circular buffer of
 * 5 or 10 int32s per bucket, 20 or 40 bytes): no object per bucket. `at(i)` and `toArray()` give
 * plain `Bucket` objects to readers; `tally()`, `failRun()` and `sums()` read the ints in place.
 */
export class BucketRing {
  private chunk: Int32Array | null = null;
  private rec: SlabChunk | null = null;
  private off = 0;
  private cls = -1;
  private cap = 0;
  /** Int32s per bucket: NARROW until a result carries a PMTU outcome or frag-needed. */
  private w = NARROW;
  private head = 0;
  private n = 0;
  /**
   * The ring's time base in whole seconds (offsets in the buckets are ms from it): a small
   * integer, held in the record itself, where an epoch in ms is a boxed number per ring.
   */
  private atBaseS = 0;
  private roundBase = 0;
  private get atBase(): number {
    return this.atBaseS * 1000;
  }
  /** Hop addresses that sent frag-needed (a pair sees one or two). */
  private fragHops: string[] | null = null;
  /** Sent and answered over the buckets, kept as they change (a listing reads every pair's). */
  private sumSent = 0;
  private sumOk = 0;

  constructor(private readonly slab: BucketSlab = new BucketSlab()) {}

  get length(): number {
    return this.n;
  }

  /** Int32 offset of bucket i (0 oldest). */
  private o(i: number): number {
    return this.off + ((this.head + i) % this.cap) * this.w;
  }

  /** The send time of bucket i, without building it. */
  private atOf(i: number): number {
    return this.atBase + (this.chunk as Int32Array)[this.o(i) + AT]!;
  }

  lastAt(): number | null {
    return this.n ? this.atOf(this.n - 1) : null;
  }

  /** Bucket i as a plain object (a copy: the ring may change under it). */
  at(i: number): Bucket {
    const d = this.chunk as Int32Array;
    const o = this.o(i);
    const c0 = d[o + C0]!;
    const c1 = d[o + C1]!;
    const c2 = d[o + C2]!;
    const wide = this.w === WIDE;
    const from = wide ? d[o + FROM]! : 0;
    return {
      round: this.roundBase + d[o + ROUND]!,
      at: this.atBase + d[o + AT]!,
      sent: get(c0, 0),
      leftSrc: get(c0, 10),
      leftKnown: get(c0, 20),
      arrived: get(c1, 0),
      arrivedKnown: get(c1, 10),
      ok: get(c1, 20),
      replySeen: get(c2, 0),
      proxy: get(c2, 10),
      fragNeeded: get(c2, 20),
      fragMtu: wide ? dec(d[o + FRAG]!) : null,
      fragFrom: from > 0 ? (this.fragHops?.[from - 1] ?? null) : null,
      learnedPmtu: wide ? dec(d[o + LEARN]!) : null,
      required: wide ? dec(d[o + REQ]!) : null,
      largestPassing: wide ? dec(d[o + LP]!) : null,
    };
  }

  toArray(): Bucket[] {
    const out: Bucket[] = [];
    for (let i = 0; i < this.n; i++) out.push(this.at(i));
    return out;
  }

  /** Sent and answered (`ok`) over every bucket. */
  sums(): { sent: number; ok: number } {
    return { sent: this.sumSent, ok: this.sumOk };
  }
  /** `sums()` without an object (a listing over every pair reads these). */
  get sumsSent(): number {
    return this.sumSent;
  }
  get sumsOk(): number {
    return this.sumOk;
  }

  /** Takes the oldest bucket out of the sums and the ring. */
  private dropOldest(): void {
    const o = this.o(0);
    const d = this.chunk as Int32Array;
    this.sumSent -= get(d[o + C0]!, 0);
    this.sumOk -= get(d[o + C1]!, 20);
    this.head = (this.head + 1) % this.cap;
    this.n--;
  }

  /** Trailing buckets that sent and had nothing answered, and the oldest of them's time. */
  failRun(): { streak: number; since: number | null } {
    let streak = 0;
    let since: number | null = null;
    const d = this.chunk;
    for (let i = this.n - 1; i >= 0; i--) {
      const o = this.o(i);
      if (get(d![o + C0]!, 0) === 0) continue;
      if (get(d![o + C1]!, 20) > 0) break;
      streak++;
      since = this.atBase + d![o + AT]!;
    }
    return { streak, since };
  }

  /** The tally of every bucket (as `tally(toArray())`, without the copies). */
  tally(): Tally {
    const t = emptyTally();
    const d = this.chunk;
    for (let i = 0; i < this.n; i++) {
      const o = this.o(i);
      const c0 = d![o + C0]!;
      const sent = get(c0, 0);
      if (sent === 0) continue;
      const c1 = d![o + C1]!;
      const c2 = d![o + C2]!;
      const arrived = get(c1, 0);
      const arrivedKnown = get(c1, 10);
      const ok = get(c1, 20);
      t.rounds++;
      t.sent += sent;
      t.ok += ok;
      t.proxy += get(c2, 10);
      t.leftSrc += get(c0, 10);
      t.leftKnown += get(c0, 20);
      t.arrived += arrived;
      t.arrivedKnown += arrivedKnown;
      t.lostAfterDst += Math.max(0, arrived - Math.min(ok, arrived));
      t.lostBeforeDst += Math.max(0, arrivedKnown - arrived);
      t.fragNeeded += get(c2, 20);
      if (this.w !== WIDE) continue;
      t.fragMtu = minOf(t.fragMtu, dec(d![o + FRAG]!));
      const from = d![o + FROM]!;
      t.fragFrom ??= from > 0 ? (this.fragHops?.[from - 1] ?? null) : null;
      t.learnedPmtu = minOf(t.learnedPmtu, dec(d![o + LEARN]!));
      const req = dec(d![o + REQ]!);
      t.required = req === null ? t.required : Math.max(t.required ?? 0, req);
      t.largestPassing = minOf(t.largestPassing, dec(d![o + LP]!));
    }
    return t;
  }

  /** Drops the buckets older than `cutoff`; how many went. */
  dropBefore(cutoff: number): number {
    let k = 0;
    while (this.n > 0 && this.atOf(0) < cutoff) {
      this.dropOldest();
      k++;
    }
    if (this.n === 0) this.fragHops = null;
    return k;
  }

  /** Gives the block back to the slab (the pair is gone); the ring reads as empty. */
  release(): void {
    if (this.rec) this.slab.free(this.cls, this.w === WIDE, this.rec, this.off);
    this.chunk = null;
    this.rec = null;
    this.cls = -1;
    this.cap = 0;
    this.w = NARROW;
    this.head = 0;
    this.n = 0;
    this.fragHops = null;
    this.sumSent = 0;
    this.sumOk = 0;
  }

  /**
   * Moves to a block of `want` buckets at least (of wide buckets when `wide`), the buckets in
   * order from its start (widened: the PMTU fields none).
   */
  private grow(want: number, wide = this.w === WIDE): void {
    const cls = classFor(want);
    const w = wide ? WIDE : NARROW;
    const next = this.slab.alloc(cls, wide);
    const cap = CLASSES[cls] as number;
    if (this.chunk && this.rec) {
      for (let i = 0; i < this.n; i++) {
        const to = next.off + i * w;
        next.chunk.data.set(this.chunk.subarray(this.o(i), this.o(i) + this.w), to);
        if (w > this.w) next.chunk.data.set(EMPTY.slice(this.w), to + this.w);
      }
      this.slab.free(this.cls, this.w === WIDE, this.rec, this.off);
    }
    this.w = w;
    this.chunk = next.chunk.data;
    this.rec = next.chunk;
    this.off = next.off;
    this.cls = cls;
    this.cap = cap;
    this.head = 0;
  }

  /**
   * The offset of the bucket of `round` sent about `at` (among the last four), created in time
   * order when there is none; beyond `max` the oldest goes (-1: the new one was the oldest).
   */
  private slot(round: number, at: number, max: number): number {
    let d = this.chunk;
    for (let i = this.n - 1; i >= 0 && i >= this.n - 4; i--) {
      const o = this.o(i);
      if (this.roundBase + d![o + ROUND]! === round && Math.abs(this.atBase + d![o + AT]! - at) < 60_000) {
        if (at < this.atBase + d![o + AT]!) d![o + AT] = at - this.atBase;
        return o;
      }
    }
    // Offsets must fit an int32 (±24 days of ms): a bucket that far from the others shares no
    // window with them, which start over from it.
    if (this.n === 0 || !fits(at - this.atBase) || !fits(round - this.roundBase)) {
      this.n = 0;
      this.head = 0;
      this.fragHops = null;
      this.sumSent = 0;
      this.sumOk = 0;
      this.atBaseS = Math.floor(at / 1000);
      this.roundBase = round;
    }
    let i = this.n;
    while (i > 0 && this.atOf(i - 1) > at) i--;
    const limit = Math.max(1, Math.min(max, MAX_CAP));
    if (this.n >= limit) {
      if (i === 0) return -1;
      this.dropOldest();
      i--;
    } else if (this.n === this.cap) {
      this.grow(Math.min(limit, this.cap + 1));
    }
    d = this.chunk as Int32Array;
    // Make room at i: the later buckets move up by one.
    for (let j = this.n; j > i; j--) d.copyWithin(this.o(j), this.o(j - 1), this.o(j - 1) + this.w);
    this.n++;
    const o = this.o(i);
    d.set(this.w === WIDE ? EMPTY : EMPTY_NARROW, o);
    d[o + ROUND] = round - this.roundBase;
    d[o + AT] = at - this.atBase;
    return o;
  }

  /** Counts one result into its round's bucket. */
  count(r: ProbeResult, round: number, maxBuckets: number): void {
    const frag = r.pmtu?.fragNeededMtu ?? null;
    const icmpFrag = r.icmp.length > 0 && r.icmp.some((s) => s.startsWith('frag-needed'));
    if (r.sent && this.w !== WIDE && (r.pmtu || frag !== null || icmpFrag)) {
      // The first PMTU outcome or frag-needed: wide buckets from now on.
      if (this.chunk) this.grow(this.cap, true);
      else this.w = WIDE;
    }
    const o = this.slot(round, r.at, maxBuckets);
    if (o < 0 || !r.sent) return;
    const d = this.chunk as Int32Array;
    let c0 = d[o + C0]!;
    let c1 = d[o + C1]!;
    let c2 = d[o + C2]!;
    c0 = put(c0, 0, get(c0, 0) + 1);
    if (r.leftSrc !== null) {
      c0 = put(c0, 20, get(c0, 20) + 1);
      if (r.leftSrc) c0 = put(c0, 10, get(c0, 10) + 1);
    }
    if (r.answered || r.arrivedDst !== null) {
      c1 = put(c1, 10, get(c1, 10) + 1);
      if (r.answered || r.arrivedDst === true) c1 = put(c1, 0, get(c1, 0) + 1);
    }
    if (probeOk(r)) c1 = put(c1, 20, get(c1, 20) + 1);
    if (r.path === 'vxlan' && r.note?.includes('stands for')) c2 = put(c2, 10, get(c2, 10) + 1);
    if (r.answered && r.replySeen === true) c2 = put(c2, 0, get(c2, 0) + 1);
    if (frag !== null || icmpFrag) {
      c2 = put(c2, 20, get(c2, 20) + 1);
      const m = frag ?? Number(/mtu=(\d+)/.exec(r.icmp.join(' '))?.[1] ?? Number.NaN);
      if (Number.isFinite(m)) d[o + FRAG] = enc(minOf(dec(d[o + FRAG]!), m));
      if (d[o + FROM] === 0) {
        const hop = fragHop(r.icmp);
        if (hop !== null) {
          this.fragHops ??= [];
          let k = this.fragHops.indexOf(hop);
          if (k < 0) k = this.fragHops.push(hop) - 1;
          d[o + FROM] = k + 1;
        }
      }
    }
    if (r.pmtu) {
      d[o + REQ] = enc(Math.max(dec(d[o + REQ]!) ?? 0, r.pmtu.required));
      d[o + LEARN] = enc(minOf(dec(d[o + LEARN]!), r.pmtu.learnedPmtu));
      d[o + LP] = enc(minOf(dec(d[o + LP]!), r.pmtu.largestPassing));
    }
    this.sumSent += get(c0, 0) - get(d[o + C0]!, 0);
    this.sumOk += get(c1, 20) - get(d[o + C1]!, 20);
    d[o + C0] = c0;
    d[o + C1] = c1;
    d[o + C2] = c2;
  }
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

function emptyTally(): Tally {
  return {
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
}

function addTo(t: Tally, b: Bucket): void {
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

export function tally(buckets: readonly Bucket[]): Tally {
  const t = emptyTally();
  for (const b of buckets) if (b.sent > 0) addTo(t, b);
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
