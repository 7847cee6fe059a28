/**
 * Segment loss and RTT over time: a bounded ring per group pair (group x group), sampled from
 * the cluster state's group aggregation every `stepMs` (10 s) for `spanMs` (24 h), and a
 * coarser ring (5 min means) for `coarseSpanMs` (7 d). Memory: about 85 KiB per group pair
 * with the defaults (Float32 loss + RTT, 8,640 + 2,016 slots), allocated when a pair is first
 * seen. In memory only: a restarted collector starts the segment view afresh (outages are
 * kept on JetStream, see store.ts).
 */

export interface SegmentSample {
  from: string;
  to: string;
  /** Mean loss over the probed pairs of the segment, null when none was probed. */
  loss: number | null;
  /** Median RTT (seconds) over the segment's pairs that answered, null when none. */
  rttSeconds: number | null;
}

export interface SegmentSeries {
  from: string;
  to: string;
  stepSeconds: number;
  /** Unix seconds of each point. */
  t: number[];
  /** Loss 0..1 (null: not probed in that slot). */
  loss: Array<number | null>;
  /** RTT in milliseconds (null: none answered). */
  rttMs: Array<number | null>;
}

interface Ring {
  slot: Float64Array;
  loss: Float32Array;
  rtt: Float32Array;
  /** Coarse ring: sums and counts per coarse slot. */
  cslot: Float64Array;
  closs: Float32Array;
  clossN: Uint16Array;
  crtt: Float32Array;
  crttN: Uint16Array;
}

export interface SegmentRingOptions {
  stepMs?: number;
  spanMs?: number;
  coarseStepMs?: number;
  coarseSpanMs?: number;
  /** At most this many group pairs are kept (new ones beyond are ignored). */
  maxSegments?: number;
}

export class SegmentRing {
  readonly stepMs: number;
  readonly coarseStepMs: number;
  private readonly n: number;
  private readonly cn: number;
  private readonly maxSegments: number;
  private readonly rings = new Map<string, { from: string; to: string; r: Ring }>();

  constructor(o: SegmentRingOptions = {}) {
    this.stepMs = o.stepMs ?? 10_000;
    this.coarseStepMs = o.coarseStepMs ?? 300_000;
    this.n = Math.ceil((o.spanMs ?? 24 * 3600_000) / this.stepMs);
    this.cn = Math.ceil((o.coarseSpanMs ?? 7 * 24 * 3600_000) / this.coarseStepMs);
    this.maxSegments = o.maxSegments ?? 1024;
  }

  get fineSpanMs(): number {
    return this.n * this.stepMs;
  }

  segments(): Array<{ from: string; to: string }> {
    return [...this.rings.values()].map(({ from, to }) => ({ from, to }));
  }

  private ring(from: string, to: string): Ring | null {
    const k = `${from}\u0000${to}`;
    const have = this.rings.get(k);
    if (have) return have.r;
    if (this.rings.size >= this.maxSegments) return null;
    const r: Ring = {
      slot: new Float64Array(this.n).fill(-1),
      loss: new Float32Array(this.n),
      rtt: new Float32Array(this.n),
      cslot: new Float64Array(this.cn).fill(-1),
      closs: new Float32Array(this.cn),
      clossN: new Uint16Array(this.cn),
      crtt: new Float32Array(this.cn),
      crttN: new Uint16Array(this.cn),
    };
    this.rings.set(k, { from, to, r });
    return r;
  }

  /** Records one sample per segment at `now` (a later sample in the same slot replaces it). */
  sample(now: number, samples: SegmentSample[]): void {
    const s = Math.floor(now / this.stepMs);
    const cs = Math.floor(now / this.coarseStepMs);
    for (const x of samples) {
      const r = this.ring(x.from, x.to);
      if (!r) continue;
      const i = s % this.n;
      r.slot[i] = s;
      r.loss[i] = x.loss === null ? Number.NaN : x.loss;
      r.rtt[i] = x.rttSeconds === null ? Number.NaN : x.rttSeconds * 1000;
      const j = cs % this.cn;
      if (r.cslot[j] !== cs) {
        r.cslot[j] = cs;
        r.closs[j] = 0;
        r.clossN[j] = 0;
        r.crtt[j] = 0;
        r.crttN[j] = 0;
      }
      const ln = r.clossN[j] ?? 0;
      if (x.loss !== null && ln < 65535) {
        r.closs[j] = (r.closs[j] ?? 0) + x.loss;
        r.clossN[j] = ln + 1;
      }
      const rn = r.crttN[j] ?? 0;
      if (x.rttSeconds !== null && rn < 65535) {
        r.crtt[j] = (r.crtt[j] ?? 0) + x.rttSeconds * 1000;
        r.crttN[j] = rn + 1;
      }
    }
  }

  /**
   * The series of one segment over [since, until]: fine slots when the window is within the
   * fine span, else coarse ones. Slots never sampled are left out (gaps).
   */
  series(from: string, to: string, since: number, until: number): SegmentSeries | null {
    const e = this.rings.get(`${from}\u0000${to}`);
    if (!e) return null;
    const r = e.r;
    const t: number[] = [];
    const loss: Array<number | null> = [];
    const rttMs: Array<number | null> = [];
    const num = (x: number) => (Number.isNaN(x) ? null : Math.round(x * 1e4) / 1e4);
    const fine = until - since <= this.n * this.stepMs && since >= until - this.n * this.stepMs;
    if (fine) {
      for (let s = Math.floor(since / this.stepMs); s <= Math.floor(until / this.stepMs); s++) {
        const i = s % this.n;
        if (r.slot[i] !== s) continue;
        t.push((s * this.stepMs) / 1000);
        loss.push(num(r.loss[i] as number));
        rttMs.push(num(r.rtt[i] as number));
      }
      return { from, to, stepSeconds: this.stepMs / 1000, t, loss, rttMs };
    }
    for (let s = Math.floor(since / this.coarseStepMs); s <= Math.floor(until / this.coarseStepMs); s++) {
      const j = s % this.cn;
      if (r.cslot[j] !== s) continue;
      t.push((s * this.coarseStepMs) / 1000);
      const ln = r.clossN[j] as number;
      const rn = r.crttN[j] as number;
      loss.push(ln ? num((r.closs[j] as number) / ln) : null);
      rttMs.push(rn ? num((r.crtt[j] as number) / rn) : null);
    }
    return { from, to, stepSeconds: this.coarseStepMs / 1000, t, loss, rttMs };
  }
}

/**
 * One sample per group pair from the state's public views: loss from the group aggregation,
 * RTT as the median of the pairs' RTTs (grouped by the nodes' group label).
 */
export function segmentSamples(
  groups: Array<{ from: string; to: string; loss: number | null }>,
  pairs: Array<{ src: string; dst: string; rttSeconds: number | null }>,
  groupOf: (node: string) => string,
): SegmentSample[] {
  const rtts = new Map<string, number[]>();
  for (const p of pairs) {
    if (p.rttSeconds === null) continue;
    const k = `${groupOf(p.src)}\u0000${groupOf(p.dst)}`;
    const l = rtts.get(k);
    if (l) l.push(p.rttSeconds);
    else rtts.set(k, [p.rttSeconds]);
  }
  return groups.map((g) => {
    const l = rtts.get(`${g.from}\u0000${g.to}`);
    let rtt: number | null = null;
    if (l?.length) {
      l.sort((a, b) => a - b);
      rtt = l[Math.floor(l.length / 2)] as number;
    }
    return { from: g.from, to: g.to, loss: g.loss, rttSeconds: rtt };
  });
}

/**
 * At most `points` points: the window cut into equal buckets, each the worst (highest) loss and
 * the mean RTT of its samples, stamped at the bucket's first sample. `points` 1 is a summary.
 */
export function downsample(s: SegmentSeries, points: number): SegmentSeries {
  if (points <= 0 || s.t.length <= points) return s;
  const t0 = s.t[0] as number;
  const span = (s.t[s.t.length - 1] as number) - t0 + s.stepSeconds;
  const width = span / points;
  const out: SegmentSeries = { ...s, stepSeconds: Math.round(width), t: [], loss: [], rttMs: [] };
  let b = -1;
  let lossMax: number | null = null;
  let rttSum = 0;
  let rttN = 0;
  const flush = () => {
    if (b < 0) return;
    out.loss.push(lossMax);
    out.rttMs.push(rttN ? Math.round((rttSum / rttN) * 1e4) / 1e4 : null);
  };
  for (let i = 0; i < s.t.length; i++) {
    const t = s.t[i] as number;
    const k = Math.min(points - 1, Math.floor((t - t0) / width));
    if (k !== b) {
      flush();
      b = k;
      out.t.push(t);
      lossMax = null;
      rttSum = 0;
      rttN = 0;
    }
    const l = s.loss[i];
    if (l !== null && l !== undefined) lossMax = lossMax === null ? l : Math.max(lossMax, l);
    const r = s.rttMs[i];
    if (r !== null && r !== undefined) {
      rttSum += r;
      rttN++;
    }
  }
  flush();
  return out;
}
