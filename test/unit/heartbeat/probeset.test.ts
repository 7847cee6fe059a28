import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  coverageBound,
  DEFAULT_PROBESET,
  groupsOf,
  maxTargetsPerRound,
  type PeerRef,
  selectTargets,
} from '../../../agent/heartbeat/probeset.js';

const { groupCap, crossPerNode, crossDwell } = DEFAULT_PROBESET;

/** One group per entry of `sizes`; group names sort in index order. */
function build(sizes: number[]): PeerRef[] {
  const out: PeerRef[] = [];
  sizes.forEach((size, g) => {
    const group = `r${String(g).padStart(4, '0')}`;
    for (let j = 0; j < size; j++) out.push({ name: `${group}-${j}`, group });
  });
  return out;
}

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return s / 2 ** 32;
  };
}

/** Group sizes uniform in 1..100 (seeded) adding up to n. */
function randomSizes(n: number, seed: number): number[] {
  const r = rng(seed);
  const sizes: number[] = [];
  for (let left = n; left > 0; ) {
    const s = Math.min(left, 1 + Math.floor(r() * 100));
    sizes.push(s);
    left -= s;
  }
  return sizes;
}

/** The documented per-node cost: min(m-1, groupCap) + min(T, max(c, ceil((G-1)/m) + ceil(c/2))). */
function documentedCost(n: number, groups: number, m: number): number {
  if (n <= DEFAULT_PROBESET.fullMeshMax) return n - 1;
  const cross =
    groups > 1
      ? Math.min(n - m, Math.max(crossPerNode, Math.ceil((groups - 1) / m) + Math.ceil(crossPerNode / 2)))
      : 0;
  return Math.min(m - 1, groupCap) + cross;
}

interface Topology {
  name: string;
  sizes: number[];
  /** Rounds on which every ordered pair of groups is checked (all nodes simulated). */
  groupRounds: number;
  /** Sources for the pair check: every `sampleEvery`-th node, and the first, second and last member of
   *  every `edgeGroupsEvery`-th group and of (the first) smallest group. */
  sampleEvery: number;
  edgeGroupsEvery: number;
}

const TOPOLOGIES: Topology[] = [
  {
    name: 'N=10, uneven groups (full mesh)',
    sizes: [1, 3, 6],
    groupRounds: 5,
    sampleEvery: 1,
    edgeGroupsEvery: 1,
  },
  {
    name: 'N=100, 5 groups of 20',
    sizes: Array(5).fill(20),
    groupRounds: 40,
    sampleEvery: 1,
    edgeGroupsEvery: 1,
  },
  {
    name: 'N=100, uneven groups of 1..12 and 22',
    sizes: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 22],
    groupRounds: 40,
    sampleEvery: 1,
    edgeGroupsEvery: 1,
  },
  { name: 'N=100, a single group', sizes: [100], groupRounds: 10, sampleEvery: 1, edgeGroupsEvery: 1 },
  {
    name: 'N=796, 98 groups of 2 + 2 of 300 (audit case)',
    sizes: [...Array(98).fill(2), 300, 300],
    groupRounds: 30,
    sampleEvery: 13,
    edgeGroupsEvery: 1,
  },
  {
    name: 'N=1000, 25 groups of 40',
    sizes: Array(25).fill(40),
    groupRounds: 30,
    sampleEvery: 13,
    edgeGroupsEvery: 1,
  },
  {
    name: 'N=1000, 1000 single-node groups',
    sizes: Array(1000).fill(1),
    groupRounds: 2,
    sampleEvery: 13,
    edgeGroupsEvery: 13,
  },
  {
    name: 'N=1000, one group of 900 + 50 of 2',
    sizes: [900, ...Array(50).fill(2)],
    groupRounds: 30,
    sampleEvery: 13,
    edgeGroupsEvery: 1,
  },
  {
    name: 'N=1000, Fibonacci-sized groups',
    sizes: [1, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 233, 391],
    groupRounds: 30,
    sampleEvery: 13,
    edgeGroupsEvery: 1,
  },
  { name: 'N=1000, a single group', sizes: [1000], groupRounds: 5, sampleEvery: 13, edgeGroupsEvery: 1 },
  {
    name: 'N=5000, 100 groups of 50',
    sizes: Array(100).fill(50),
    groupRounds: 10,
    sampleEvery: 131,
    edgeGroupsEvery: 10,
  },
  {
    name: 'N=5000, random group sizes 1..100',
    sizes: randomSizes(5000, 42),
    groupRounds: 10,
    sampleEvery: 131,
    edgeGroupsEvery: 10,
  },
  { name: 'N=5000, a single group', sizes: [5000], groupRounds: 3, sampleEvery: 131, edgeGroupsEvery: 1 },
];

// A window of rounds far from 0 (and not a multiple of anything in particular): the bound holds
// for any window of consecutive rounds, not only for the one starting at round 0.
const FAR = 1_000_003;

describe('probe set', () => {
  it('full mesh up to fullMeshMax, with or without self in the peer list', () => {
    const peers = build([1, 3, 6]);
    const self = peers[0]!;
    const others = peers.slice(1);
    const expected = others.map((p) => p.name).sort();
    assert.deepEqual(selectTargets(self, peers, 0), expected);
    assert.deepEqual(selectTargets(self, others, 7), expected);
    assert.equal(coverageBound(peers), 1);
  });

  it('self missing from the list (as the prober passes it) gives the same targets', () => {
    const peers = build([3, 40, 40, 17]);
    for (const self of [peers[0]!, peers[50]!, peers[peers.length - 1]!]) {
      const others = peers.filter((p) => p.name !== self.name);
      for (const r of [0, 1, 2, 99, FAR])
        assert.deepEqual(
          selectTargets(self, others, r),
          selectTargets(self, peers, r),
          `${self.name} r=${r}`,
        );
    }
  });

  it('duplicate names count once, and groupsOf sorts groups and members', () => {
    const g = groupsOf([
      { name: 'b', group: 'y' },
      { name: 'a', group: 'y' },
      { name: 'c', group: 'x' },
      { name: 'a', group: 'x' },
    ]);
    assert.deepEqual(
      [...g.entries()],
      [
        ['x', ['c']],
        ['y', ['a', 'b']],
      ],
    );
  });

  it('per-node cost does not grow with N while groups have >= (G-1)/floor(c/2) members', () => {
    for (const [n, size] of [
      [100, 20],
      [1000, 40],
      [5000, 50],
      [20000, 100],
    ] as const) {
      const peers = build(Array(n / size).fill(size));
      const expected = Math.min(size - 1, groupCap) + crossPerNode;
      assert.equal(maxTargetsPerRound(peers), expected, `N=${n}`);
      assert.ok(expected <= groupCap + crossPerNode);
      for (const p of peers.filter((_, i) => i % 211 === 0))
        assert.ok(selectTargets(p, peers, 3).length <= expected);
    }
    // The honest trade-off: tiny groups must cover every other group themselves, every round.
    assert.equal(maxTargetsPerRound(build(Array(1000).fill(1))), 999);
    assert.equal(maxTargetsPerRound(build(Array(500).fill(2))), 1 + 250 + 4);
  });

  for (const topo of TOPOLOGIES) {
    it(`${topo.name}: every group pair every round, every directed pair within the bound`, (t) => {
      const peers = build(topo.sizes);
      const n = peers.length;
      const G = topo.sizes.length;
      const id = new Map(peers.map((p, i) => [p.name, i]));
      const gid = new Map(peers.map((p) => [p.name, Number(p.group.slice(1))]));
      const size = (p: PeerRef) => topo.sizes[gid.get(p.name)!]!;
      const bound = coverageBound(peers);
      const costMax = maxTargetsPerRound(peers);
      // The documented closed form: bound <= max_X max(ceil((m-1)/groupCap), (steps-1)*d + 1)
      // with steps = m*ceil(T/(m*c')).
      if (n > DEFAULT_PROBESET.fullMeshMax) {
        const c2 = Math.ceil(crossPerNode / 2);
        const closed = Math.max(
          1,
          ...topo.sizes.map((m) =>
            Math.max(
              Math.ceil((m - 1) / groupCap),
              G > 1 ? (m * Math.ceil((n - m) / (m * c2)) - 1) * crossDwell + 1 : 0,
            ),
          ),
        );
        assert.ok(bound <= closed, `bound ${bound} <= closed form ${closed}`);
      }

      // 1. Every ordered pair of groups in every round (all nodes), cost as documented.
      const rounds = Array.from({ length: topo.groupRounds }, (_, j) =>
        j % 2 === 0 ? Math.floor((j * bound) / topo.groupRounds) : FAR + j,
      );
      let costSeen = 0;
      for (const r of rounds) {
        const pairs = new Uint8Array(G * G);
        let covered = 0;
        for (const p of peers) {
          const targets = selectTargets(p, peers, r);
          const g = gid.get(p.name)!;
          const cost = documentedCost(n, G, size(p));
          assert.ok(targets.length <= cost, `${p.name} r=${r}: ${targets.length} targets <= ${cost}`);
          assert.ok(!targets.includes(p.name), 'never itself');
          assert.equal(new Set(targets).size, targets.length, 'no duplicates');
          costSeen = Math.max(costSeen, targets.length);
          for (const d of targets) {
            const x = g * G + gid.get(d)!;
            if (gid.get(d) !== g && !pairs[x]) {
              pairs[x] = 1;
              covered++;
            }
          }
        }
        assert.equal(covered, G * (G - 1), `round ${r}: every ordered pair of groups probed`);
      }
      assert.ok(costSeen <= costMax, `max targets ${costSeen} <= maxTargetsPerRound ${costMax}`);

      // 2. Every directed pair within `bound` rounds, for windows starting at 0 and at FAR.
      const smallest = topo.sizes.indexOf(Math.min(...topo.sizes));
      const sources = peers.filter((p, i) => {
        const g = gid.get(p.name)!;
        const j = Number(p.name.split('-')[1]);
        const edge = (g % topo.edgeGroupsEvery === 0 || g === smallest) && (j <= 1 || j === size(p) - 1);
        return i % topo.sampleEvery === 0 || edge;
      });
      let actual = 0;
      for (const start of [0, FAR]) {
        for (const s of sources) {
          const seen = new Uint8Array(n);
          let reached = 0;
          let r = 0;
          for (; r < bound && reached < n - 1; r++) {
            for (const d of selectTargets(s, peers, start + r)) {
              const x = id.get(d)!;
              if (!seen[x]) {
                seen[x] = 1;
                reached++;
              }
            }
          }
          assert.equal(reached, n - 1, `${s.name} reached everyone within ${bound} rounds from ${start}`);
          actual = Math.max(actual, r);
        }
      }
      // 3. The bound is tight: some sampled source needs (nearly) all of it.
      t.diagnostic(
        `N=${n} G=${G} bound=${bound} actual=${actual} ratio=${(actual / bound).toFixed(3)} ` +
          `maxTargets=${costSeen} sources=${sources.length}`,
      );
      assert.ok(actual >= 0.9 * bound, `bound ${bound} is tight (worst sampled source needed ${actual})`);
    });
  }

  it('cross targets dwell for crossDwell rounds: fewer distinct pairs per window, same guarantees', () => {
    const peers = build(Array(125).fill(40)); // 5,000 nodes
    const sources = peers.filter((_, i) => i % 97 === 0);
    const window = 24; // a 2 min window of 5 s rounds
    const distinct = (opts: typeof DEFAULT_PROBESET) => {
      let most = 0;
      for (const s of sources) {
        const seen = new Set<string>();
        for (let r = FAR; r < FAR + window; r++)
          for (const d of selectTargets(s, peers, r, opts)) seen.add(d);
        most = Math.max(most, seen.size);
      }
      return most;
    };
    const once = { ...DEFAULT_PROBESET, crossDwell: 1 };
    const dwelt = { ...DEFAULT_PROBESET, crossDwell: 4 };
    // Own group (39 mates) plus k = 8 new cross targets per step.
    assert.equal(distinct(once), 39 + 8 * window);
    assert.ok(distinct(dwelt) <= 39 + 8 * (window / 4 + 1), `${distinct(dwelt)}`);
    for (const s of sources) {
      const own = (d: string) => d.split('-')[0] === s.group;
      const cross = (r: number) => selectTargets(s, peers, r, dwelt).filter((d) => !own(d));
      // Same cross targets within a step (rounds 4q .. 4q+3), new ones at the next step.
      assert.deepEqual(cross(400), cross(403));
      assert.notDeepEqual(cross(403), cross(404));
    }
    // Every ordered pair of groups in every round, whatever the dwell.
    for (const opts of [once, dwelt, { ...DEFAULT_PROBESET, crossDwell: 7 }])
      for (const r of [0, 5, FAR]) {
        const pairs = new Set<string>();
        for (const p of peers)
          for (const d of selectTargets(p, peers, r, opts)) {
            const g = d.split('-')[0]!;
            if (g !== p.group) pairs.add(`${p.group}>${g}`);
          }
        assert.equal(pairs.size, 125 * 124, `dwell ${opts.crossDwell} round ${r}`);
      }
    // The pair bound scales with the dwell and holds from a start inside a step.
    const b1 = coverageBound(peers, once);
    const b4 = coverageBound(peers, dwelt);
    assert.equal(b4, (b1 - 1) * 4 + 1);
    const s = peers[1234]!;
    const seen = new Set<string>();
    for (let r = FAR + 2; r < FAR + 2 + b4; r++)
      for (const d of selectTargets(s, peers, r, dwelt)) seen.add(d);
    assert.equal(seen.size, peers.length - 1);
  });

  it('the audit case: b0-like nodes of 2-node groups reach the 300-node groups within the bound', () => {
    const peers = build([...Array(98).fill(2), 300, 300]);
    const bound = coverageBound(peers);
    // 130 steps of the cross schedule (was 602 claimed / 3,899 needed before the fix).
    assert.ok(bound <= (130 - 1) * crossDwell + 1, `bound ${bound}`);
    const self = peers[0]!;
    const seen = new Set<string>();
    for (let r = 0; r < bound; r++) for (const d of selectTargets(self, peers, r)) seen.add(d);
    assert.equal(seen.size, peers.length - 1);
  });
});
