/**
 * The pair's round buckets as numbers in one array (BucketRing) must count exactly what one
 * object per bucket counted: a plain reference model here (buckets as objects, found among the
 * last four by round and time, inserted in time order, the oldest dropped beyond the cap) is fed
 * the same random results (late, out of order, repeated rounds, PMTU outcomes, frag-needed
 * with and without its MTU) and compared bucket for bucket, with the in-place tally, fail streak,
 * sums and window cut.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { probeOk } from '../../../shared/fate.js';
import type { ProbePath, ProbeResult } from '../../../shared/schema.js';
import { type Bucket, BucketRing, BucketSlab, fragHop, tally } from '../../../collector/state/evidence.js';

const minOf = (a: number | null, b: number | null) => (a === null ? b : b === null ? a : Math.min(a, b));

function refCount(buckets: Bucket[], r: ProbeResult, round: number, max: number): void {
  let b: Bucket | undefined;
  for (let i = buckets.length - 1; i >= 0 && i >= buckets.length - 4; i--) {
    const c = buckets[i] as Bucket;
    if (c.round === round && Math.abs(c.at - r.at) < 60_000) {
      b = c;
      break;
    }
  }
  if (!b) {
    b = {
      round,
      at: r.at,
      sent: 0,
      leftSrc: 0,
      leftKnown: 0,
      arrived: 0,
      arrivedKnown: 0,
      ok: 0,
      replySeen: 0,
      proxy: 0,
      fragNeeded: 0,
      fragMtu: null,
      fragFrom: null,
      learnedPmtu: null,
      required: null,
      largestPassing: null,
    };
    let i = buckets.length;
    while (i > 0 && (buckets[i - 1] as Bucket).at > b.at) i--;
    buckets.splice(i, 0, b);
    if (buckets.length > max) buckets.shift();
  }
  b.at = Math.min(b.at, r.at);
  if (!r.sent) return;
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
  if (frag !== null || r.icmp.some((s) => s.startsWith('frag-needed'))) {
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
}

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function randomResult(rand: () => number, at: number, path: ProbePath): ProbeResult {
  const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)] as T;
  const answered = rand() < 0.6;
  const r: ProbeResult = {
    path,
    src: 'a.example',
    dst: 'b.example',
    target: '10.9.0.2',
    port: 4789,
    round: 0,
    at,
    sent: rand() < 0.95,
    leftSrc: pick([null, true, false]),
    arrivedDst: pick([null, true, false]),
    answered,
    replySeen: pick([null, true, false]),
    rttSeconds: answered ? 0.001 : null,
    icmp: pick([[], [], ['frag-needed mtu=1400 from 10.9.0.254'], ['frag-needed'], ['port-unreachable']]),
  };
  if (path === 'vxlan' && rand() < 0.3) r.note = 'the full-size probe stands for it';
  if (path === 'pmtu' && rand() < 0.7) {
    r.pmtu = {
      required: pick([1450, 1500, 9000]),
      largestPassing: pick([null, 1400, 1450, 1500]),
      fragNeededMtu: pick([null, null, 1380, 1420]),
      learnedPmtu: pick([null, 1400, 1500]),
    };
  }
  return r;
}

describe('BucketRing', () => {
  for (const seed of [1, 7, 42, 2026]) {
    it(`counts as one object per bucket did (seed ${seed})`, () => {
      const rand = rng(seed);
      const max = 3 + Math.floor(rand() * 12);
      const ring = new BucketRing();
      const ref: Bucket[] = [];
      let t = Date.parse('2026-12-01T00:00:00Z');
      let round = 1;
      for (let i = 0; i < 600; i++) {
        // Mostly in order; sometimes late, sometimes the same round again, sometimes a restart.
        const u = rand();
        if (u < 0.55) {
          round++;
          t += 5000;
        } else if (u < 0.6) round = 1;
        const at = u > 0.9 ? t - Math.floor(rand() * 40_000) : t + Math.floor(rand() * 900);
        const r = randomResult(rand, at, (['vxlan', 'pmtu', 'control'] as const)[i % 3] as ProbePath);
        const rd = u > 0.95 ? round - 1 - Math.floor(rand() * 3) : round;
        ring.count(r, rd, max);
        refCount(ref, r, rd, max);
        if (i % 50 === 49) {
          const cut = t - Math.floor(rand() * 60_000);
          const before = ref.length;
          while (ref.length && (ref[0] as Bucket).at < cut) ref.shift();
          assert.equal(ring.dropBefore(cut), before - ref.length, 'buckets cut at the window');
        }
        assert.equal(ring.length, ref.length);
        // After every result: the copies, the in-place tally, fail streak, sums and last time.
        assert.deepEqual(ring.toArray(), ref, `bucket for bucket after result ${i}`);
        assert.deepEqual(ring.tally(), tally(ref), 'the in-place tally');
        let streak = 0;
        let since: number | null = null;
        for (let j = ref.length - 1; j >= 0; j--) {
          const b = ref[j] as Bucket;
          if (b.sent === 0) continue;
          if (b.ok > 0) break;
          streak++;
          since = b.at;
        }
        assert.deepEqual(ring.failRun(), { streak, since });
        const sums = ref.reduce((s, b) => ({ sent: s.sent + b.sent, ok: s.ok + b.ok }), { sent: 0, ok: 0 });
        assert.deepEqual(ring.sums(), sums);
        assert.equal(ring.lastAt(), ref.length ? (ref[ref.length - 1] as Bucket).at : null);
      }
    });
  }

  it('keeps the PMTU and frag-needed outcome of a round apart from the counters, and drops it with it', () => {
    const ring = new BucketRing();
    const at = Date.parse('2026-12-01T00:00:00Z');
    const base = randomResult(rng(3), at, 'pmtu');
    ring.count(
      {
        ...base,
        sent: true,
        icmp: [],
        pmtu: { required: 1500, largestPassing: 1450, fragNeededMtu: 1454, learnedPmtu: null },
      },
      1,
      8,
    );
    ring.count({ ...base, at: at + 5000, sent: true, icmp: [], pmtu: undefined }, 2, 8);
    const [first, second] = ring.toArray();
    assert.equal(first?.largestPassing, 1450);
    assert.equal(first?.fragMtu, 1454);
    assert.equal(first?.fragNeeded, 1);
    assert.equal(second?.largestPassing, null, 'a round without a PMTU outcome has none');
    assert.equal(ring.dropBefore(at + 1), 1);
    assert.equal(ring.at(0).largestPassing, null, 'the outcome went with its round');
    assert.equal(ring.tally().fragMtu, null);
  });

  it("keeps a long-lived pair's window across weeks of send times and rounds (its bases move)", () => {
    const ring = new BucketRing();
    const t0 = Date.parse('2026-12-01T00:00:00Z');
    const r = randomResult(rng(11), t0, 'vxlan');
    // 5 s rounds for 30 days (beyond the 2^30 ms send-time span and the 2^15 round span), in
    // steps: each step a short run of consecutive rounds, then a jump.
    let kept = 0;
    for (const day of [0, 6, 13, 20, 27, 30]) {
      const round0 = 1 + (day * 86_400) / 5;
      for (let k = 0; k < 6; k++) {
        const at = t0 + day * 86_400_000 + k * 5000;
        ring.count({ ...r, at, sent: true, answered: true, arrivedDst: true, icmp: [] }, round0 + k, 16);
      }
      ring.dropBefore(t0 + day * 86_400_000 - 120_000);
      const got = ring.toArray();
      assert.equal(got.length, 6, `day ${day}: this run's six rounds`);
      assert.deepEqual(
        got.map((b) => [b.round, b.at]),
        Array.from({ length: 6 }, (_, k) => [round0 + k, t0 + day * 86_400_000 + k * 5000]),
        `day ${day}: rounds and send times exact`,
      );
      kept += got.length;
    }
    assert.equal(kept, 36);
    // A run that straddles a base move keeps both halves: 2^15 rounds of 5 s from the first.
    const long = new BucketRing();
    const start = 40_000;
    for (let k = 0; k < 30; k++) {
      const round = start + k * 1200;
      long.count({ ...r, at: t0 + k * 1200 * 5000, sent: true, icmp: [] }, round, 64);
    }
    assert.deepEqual(
      long.toArray().map((b) => b.round),
      Array.from({ length: 30 }, (_, k) => start + k * 1200),
      'rounds across base moves',
    );
  });

  it("saturates a bucket's counters at 31 and names three frag-needed hops of a window", () => {
    const ring = new BucketRing();
    const at = Date.parse('2026-12-01T00:00:00Z');
    const base = randomResult(rng(4), at, 'vxlan');
    for (let i = 0; i < 40; i++)
      ring.count(
        { ...base, at: at + i, sent: true, answered: true, replySeen: true, leftSrc: true, icmp: [] },
        7,
        8,
      );
    const b = ring.at(0);
    assert.equal(ring.length, 1, 'one round, one bucket');
    assert.deepEqual([b.sent, b.ok, b.leftSrc, b.leftKnown, b.replySeen], [31, 31, 31, 31, 31]);
    assert.deepEqual(ring.sums(), { sent: 31, ok: 31 }, 'the sums follow the saturated counters');
    const wide = new BucketRing();
    for (let i = 0; i < 5; i++)
      wide.count(
        {
          ...base,
          path: 'pmtu',
          at: at + i * 5000,
          sent: true,
          icmp: [`frag-needed mtu=${1400 + i} from 10.9.${i}.254`],
        },
        10 + i,
        8,
      );
    assert.deepEqual(
      wide.toArray().map((x) => [x.fragMtu, x.fragFrom]),
      [
        [1400, '10.9.0.254'],
        [1401, '10.9.1.254'],
        [1402, '10.9.2.254'],
        [1403, null],
        [1404, null],
      ],
      'MTUs all kept; the hop of the first three',
    );
  });

  it('rings that grew together leave no empty small blocks in their slab, and give it all back', () => {
    const slab = new BucketSlab();
    const rings = Array.from({ length: 10_000 }, () => new BucketRing(slab));
    const at0 = Date.parse('2026-12-01T00:00:00Z');
    const r = randomResult(rng(5), at0, 'vxlan');
    // Every ring through 2, 4, 6, 8, 11, 14, 18, 22 and 26 buckets, in lockstep (a collector
    // starting up).
    for (let round = 1; round <= 24; round++)
      for (const ring of rings) ring.count({ ...r, at: at0 + round * 5000 }, round, 64);
    const perRing = 26 * 3 * 4; // the 26-bucket block of narrow buckets (3 int32s, 12 B each)
    const chunk = 65_536 * 4;
    assert.ok(slab.bytes >= rings.length * perRing, `${slab.bytes} B hold the 28-bucket blocks`);
    assert.ok(
      slab.bytes <= rings.length * perRing + 9 * chunk,
      `${slab.bytes} B: of the 2..22-bucket blocks one empty chunk per size at most (and one partial)`,
    );
    const full = slab.bytes;
    // Every other ring released: no chunk is empty, so their blocks are what the next rings get.
    for (const [i, ring] of rings.entries()) if (i % 2 === 0) ring.release();
    assert.equal(slab.bytes, full, 'half-used chunks are kept');
    const more = Array.from({ length: 5000 }, () => new BucketRing(slab));
    for (let round = 1; round <= 24; round++)
      for (const ring of more) ring.count({ ...r, at: at0 + round * 5000 }, round, 64);
    assert.ok(
      slab.bytes <= full + 9 * chunk,
      `${slab.bytes} B after reuse (was ${full}): the freed blocks taken first`,
    );
    for (const ring of [...rings, ...more]) ring.release();
    assert.ok(slab.bytes <= 9 * chunk, `${slab.bytes} B: all given back but one empty chunk per size used`);
    assert.equal(rings[0]?.length, 0, 'a released ring reads as empty');
  });
});
