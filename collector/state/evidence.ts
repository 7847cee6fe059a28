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

/**
 * Counters are 5 bits (a pair sends one probe per round and port, so a bucket counts one or
 * two; they saturate at 31), sizes 16 bits (0..65534; 65535 is none).
 */
const M5 = 31;
const put = (word: number, shift: number, v: number): number =>
  (word & ~(M5 << shift)) | (Math.max(0, Math.min(M5, v)) << shift);
const get = (word: number, shift: number): number => (word >>> shift) & M5;
const NONE16 = 0xffff;
const enc16 = (v: number | null): number =>
  v === null ? NONE16 : Math.max(0, Math.min(NONE16 - 1, Math.round(v)));
const dec16 = (v: number): number | null => (v === NONE16 ? null : v);
const lo16 = (w: number): number => w & 0xffff;
const hi16 = (w: number): number => (w >>> 16) & 0xffff;
const pack16 = (lo: number, hi: number): number => (lo & 0xffff) | (hi << 16);
/** Send-time offsets (ms) kept within ±2^30 of the ring's base: beyond, it is moved (`rebase`). */
const AT_SPAN = 2 ** 30;
/** Round offsets are 17-bit signed; the base moves when a round is more than 2^15 from it. */
const ROUND_SPAN = 2 ** 15;
const roundBits = (w1: number): number => w1 >> 15;

/**
 * Int32s per bucket. A narrow ring (3: 12 B a bucket): the send time as ms from the ring's base;
 * the round (17-bit signed offset from the ring's base) with sent, leftSrc, leftKnown; arrived,
 * arrivedKnown, ok, replySeen, proxy, fragNeeded and the frag-needed hop (index + 1 into the
 * ring's short list of hop addresses, up to 3). A wide ring (5: 20 B) adds the PMTU outcome two
 * 16-bit sizes to a word: required and largest passing, learned PMTU and frag-needed MTU. A ring
 * is narrow until a result carries them. (At 5,000 nodes the window holds ≈ 1.1 million rings:
 * every 4 bytes of a bucket are ≈ 70 MB.)
 */
const NARROW = 3;
const WIDE = 5;
const AT = 0;
const W1 = 1; // sent | leftSrc | leftKnown (5 bits each) | round offset (bits 15..31)
const W2 = 2; // arrived | arrivedKnown | ok | replySeen | proxy | fragNeeded (5 bits each) | hop (2 bits)
const SIZES = 3; // required | largestPassing
const LEARNED = 4; // learnedPmtu | fragMtu
const FROM_SHIFT = 30;
const MAX_HOPS = 3;
/** The wide-buckets bit of a ring's `geom`. */
const G_WIDE = 1 << 9;
const EMPTY = [0, 0, 0, -1, -1] as const;
const EMPTY_NARROW = [0, 0, 0] as const;

/**
 * Block sizes in buckets; a ring moves to the next when it fills (up to its pair's cap). Steps
 * of about 1.25 keep a full window's ring four fifths used at least (24–25 rounds of 5 s in 26).
 */
const CLASSES = [2, 4, 6, 8, 11, 14, 18, 22, 26, 32, 40, 50, 64, 80, 100, 128, 160, 200, 256] as const;
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
  /** The chunk of each array (a ring holds only the array: one field a pair less). */
  private readonly ofData = new Map<Int32Array, SlabChunk>();
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
      this.ofData.set(c.data, c);
      p.open.add(c);
      p.chunks++;
    }
    c.used++;
    const off = c.free.length ? (c.free.pop() as number) : (p.per - c.fresh--) * p.cap * p.w;
    if (c.free.length === 0 && c.fresh === 0) p.open.delete(c);
    return { chunk: c, off };
  }
  /** Gives back the block at `off` of the chunk whose ints are `data`. */
  free(cls: number, wide: boolean, data: Int32Array, off: number): void {
    const p = this.pools[cls + (wide ? CLASSES.length : 0)] as (typeof this.pools)[number];
    const c = this.ofData.get(data);
    if (!c) throw new Error('BucketSlab.free: not a chunk of this slab');
    c.used--;
    c.free.push(off);
    if (c.used === 0 && p.open.size > 1) {
      // Empty and not the pool's last open chunk: dropped (its array goes with the last ring
      // that pointed at it). The last one stays, so a pool that fills and empties all the time
      // (pairs created and rotated away) does not allocate a chunk each time.
      p.open.delete(c);
      p.chunks--;
      this.ofData.delete(data);
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
 * 3 or 5 int32s per bucket, 12 or 20 bytes): no object per bucket. `at(i)` and `toArray()` give
 * plain `Bucket` objects to readers; `tally()`, `failRun()` and `sums()` read the ints in place.
 */
export class BucketRing {
  private chunk: Int32Array | null = null;
  private off = 0;
  /**
   * The ring's shape in one small integer (a field each was 24 B more per pair): the buckets
   * the block holds (bits 0-8: one of CLASSES, 0 without a block), wide buckets (bit 9), the
   * oldest bucket's index (bits 10-17) and the buckets held (bits 18-26).
   */
  private geom = 0;
  /** Buckets the block holds (one of CLASSES, 0 without a block). */
  private get cap(): number {
    return this.geom & 0x1ff;
  }
  private set cap(v: number) {
    this.geom = (this.geom & ~0x1ff) | v;
  }
  /** Int32s per bucket: NARROW until a result carries a PMTU outcome or frag-needed. */
  private get w(): number {
    return this.geom & G_WIDE ? WIDE : NARROW;
  }
  private set w(v: number) {
    this.geom = v === WIDE ? this.geom | G_WIDE : this.geom & ~G_WIDE;
  }
  private get head(): number {
    return (this.geom >>> 10) & 0xff;
  }
  private set head(v: number) {
    this.geom = (this.geom & ~(0xff << 10)) | (v << 10);
  }
  private get n(): number {
    return this.geom >>> 18;
  }
  private set n(v: number) {
    this.geom = (this.geom & 0x3ffff) | (v << 18);
  }
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
  private sumsBits = 0;
  /** Sent and answered over the buckets (16 bits each: at most 256 buckets of 31). */
  private get sumSent(): number {
    return this.sumsBits & 0xffff;
  }
  private get sumOk(): number {
    return this.sumsBits >>> 16;
  }
  private addSums(sent: number, ok: number): void {
    this.sumsBits = (this.sumSent + sent) | ((this.sumOk + ok) << 16);
  }

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
    const c0 = d[o + W1]!;
    const c1 = d[o + W2]!;
    const wide = this.w === WIDE;
    const from = (c1 >>> FROM_SHIFT) & 3;
    const sizes = wide ? d[o + SIZES]! : -1;
    const learned = wide ? d[o + LEARNED]! : -1;
    return {
      round: this.roundBase + roundBits(c0),
      at: this.atBase + d[o + AT]!,
      sent: get(c0, 0),
      leftSrc: get(c0, 5),
      leftKnown: get(c0, 10),
      arrived: get(c1, 0),
      arrivedKnown: get(c1, 5),
      ok: get(c1, 10),
      replySeen: get(c1, 15),
      proxy: get(c1, 20),
      fragNeeded: get(c1, 25),
      fragMtu: dec16(hi16(learned)),
      fragFrom: from > 0 ? (this.fragHops?.[from - 1] ?? null) : null,
      learnedPmtu: dec16(lo16(learned)),
      required: dec16(lo16(sizes)),
      largestPassing: dec16(hi16(sizes)),
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
    this.addSums(-get(d[o + W1]!, 0), -get(d[o + W2]!, 10));
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
      if (get(d![o + W1]!, 0) === 0) continue;
      if (get(d![o + W2]!, 10) > 0) break;
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
      const c0 = d![o + W1]!;
      const sent = get(c0, 0);
      if (sent === 0) continue;
      const c1 = d![o + W2]!;
      const arrived = get(c1, 0);
      const arrivedKnown = get(c1, 5);
      const ok = get(c1, 10);
      t.rounds++;
      t.sent += sent;
      t.ok += ok;
      t.proxy += get(c1, 20);
      t.leftSrc += get(c0, 5);
      t.leftKnown += get(c0, 10);
      t.arrived += arrived;
      t.arrivedKnown += arrivedKnown;
      t.lostAfterDst += Math.max(0, arrived - Math.min(ok, arrived));
      t.lostBeforeDst += Math.max(0, arrivedKnown - arrived);
      t.fragNeeded += get(c1, 25);
      const from = (c1 >>> FROM_SHIFT) & 3;
      t.fragFrom ??= from > 0 ? (this.fragHops?.[from - 1] ?? null) : null;
      if (this.w !== WIDE) continue;
      const learned = d![o + LEARNED]!;
      t.fragMtu = minOf(t.fragMtu, dec16(hi16(learned)));
      t.learnedPmtu = minOf(t.learnedPmtu, dec16(lo16(learned)));
      const sizes = d![o + SIZES]!;
      const req = dec16(lo16(sizes));
      t.required = req === null ? t.required : Math.max(t.required ?? 0, req);
      t.largestPassing = minOf(t.largestPassing, dec16(hi16(sizes)));
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
    if (this.chunk) this.slab.free(classFor(this.cap), this.w === WIDE, this.chunk, this.off);
    this.chunk = null;
    this.cap = 0;
    this.w = NARROW;
    this.head = 0;
    this.n = 0;
    this.fragHops = null;
    this.sumsBits = 0;
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
    if (this.chunk) {
      for (let i = 0; i < this.n; i++) {
        const to = next.off + i * w;
        next.chunk.data.set(this.chunk.subarray(this.o(i), this.o(i) + this.w), to);
        if (w > this.w) next.chunk.data.set(EMPTY.slice(this.w), to + this.w);
      }
      this.slab.free(classFor(this.cap), this.w === WIDE, this.chunk, this.off);
    }
    this.w = w;
    this.chunk = next.chunk.data;
    this.off = next.off;
    this.cap = cap;
    this.head = 0;
  }

  /**
   * Moves the ring's bases to a new bucket's send time and round (offsets stay small on a pair
   * that lives for weeks). Buckets then beyond the send-time span share no window with the new
   * one: the ring starts over (left empty, the caller sets it up).
   */
  private rebase(at: number, round: number): void {
    const d = this.chunk as Int32Array;
    const atBaseS = Math.floor(at / 1000);
    const dAt = atBaseS * 1000 - this.atBase;
    const dRound = round - this.roundBase;
    for (let i = 0; i < this.n; i++) {
      const o = this.o(i);
      const a = d[o + AT]! - dAt;
      if (Math.abs(a) >= AT_SPAN) {
        this.n = 0;
        return;
      }
      d[o + AT] = a;
      const w = d[o + W1]!;
      d[o + W1] = (w & 0x7fff) | ((roundBits(w) - dRound) << 15);
    }
    this.atBaseS = atBaseS;
    this.roundBase = round;
  }

  /**
   * The offset of the bucket of `round` sent about `at` (among the last four), created in time
   * order when there is none; beyond `max` the oldest goes (-1: the new one was the oldest).
   */
  private slot(round: number, at: number, max: number): number {
    let d = this.chunk;
    for (let i = this.n - 1; i >= 0 && i >= this.n - 4; i--) {
      const o = this.o(i);
      if (
        this.roundBase + roundBits(d![o + W1]!) === round &&
        Math.abs(this.atBase + d![o + AT]! - at) < 60_000
      ) {
        if (at < this.atBase + d![o + AT]!) d![o + AT] = at - this.atBase;
        return o;
      }
    }
    // Offsets are kept small: a base far from the new bucket moves to it (a long-lived pair);
    // buckets too far from it to share its window (beyond the send-time span) start over.
    if (
      this.n > 0 &&
      (Math.abs(at - this.atBase) >= AT_SPAN || Math.abs(round - this.roundBase) >= ROUND_SPAN)
    )
      this.rebase(at, round);
    if (this.n === 0) {
      this.n = 0;
      this.head = 0;
      this.fragHops = null;
      this.sumsBits = 0;
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
    d[o + W1] = (round - this.roundBase) << 15;
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
    let c0 = d[o + W1]!;
    let c1 = d[o + W2]!;
    c0 = put(c0, 0, get(c0, 0) + 1);
    if (r.leftSrc !== null) {
      c0 = put(c0, 10, get(c0, 10) + 1);
      if (r.leftSrc) c0 = put(c0, 5, get(c0, 5) + 1);
    }
    if (r.answered || r.arrivedDst !== null) {
      c1 = put(c1, 5, get(c1, 5) + 1);
      if (r.answered || r.arrivedDst === true) c1 = put(c1, 0, get(c1, 0) + 1);
    }
    if (probeOk(r)) c1 = put(c1, 10, get(c1, 10) + 1);
    if (r.path === 'vxlan' && r.note?.includes('stands for')) c1 = put(c1, 20, get(c1, 20) + 1);
    if (r.answered && r.replySeen === true) c1 = put(c1, 15, get(c1, 15) + 1);
    if (frag !== null || icmpFrag) {
      c1 = put(c1, 25, get(c1, 25) + 1);
      const m = frag ?? Number(/mtu=(\d+)/.exec(r.icmp.join(' '))?.[1] ?? Number.NaN);
      if (Number.isFinite(m)) {
        const l = d[o + LEARNED]!;
        d[o + LEARNED] = pack16(lo16(l), enc16(minOf(dec16(hi16(l)), m)));
      }
      if (((c1 >>> FROM_SHIFT) & 3) === 0) {
        const hop = fragHop(r.icmp);
        if (hop !== null) {
          this.fragHops ??= [];
          let k = this.fragHops.indexOf(hop);
          if (k < 0 && this.fragHops.length < MAX_HOPS) k = this.fragHops.push(hop) - 1;
          // Beyond three hops in one ring's window the round's hop is not kept (its count is).
          if (k >= 0) c1 = (c1 & ~(3 << FROM_SHIFT)) | ((k + 1) << FROM_SHIFT);
        }
      }
    }
    if (r.pmtu) {
      const z = d[o + SIZES]!;
      d[o + SIZES] = pack16(
        enc16(Math.max(dec16(lo16(z)) ?? 0, r.pmtu.required)),
        enc16(minOf(dec16(hi16(z)), r.pmtu.largestPassing)),
      );
      const l = d[o + LEARNED]!;
      d[o + LEARNED] = pack16(enc16(minOf(dec16(lo16(l)), r.pmtu.learnedPmtu)), hi16(l));
    }
    this.addSums(get(c0, 0) - get(d[o + W1]!, 0), get(c1, 10) - get(d[o + W2]!, 10));
    d[o + W1] = c0;
    d[o + W2] = c1;
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
