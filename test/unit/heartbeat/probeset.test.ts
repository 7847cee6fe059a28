import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  coverageBound,
  DEFAULT_PROBESET,
  groupsOf,
  type PeerRef,
  selectTargets,
} from '../../../agent/heartbeat/probeset.js';

function cluster(n: number, groupSize: number): PeerRef[] {
  return Array.from({ length: n }, (_, i) => ({ name: `n${i}`, group: `g${Math.floor(i / groupSize)}` }));
}

describe('probe set', () => {
  it('full mesh up to fullMeshMax', () => {
    const peers = cluster(10, 5);
    assert.deepEqual(
      selectTargets(peers[0]!, peers, 0),
      peers
        .slice(1)
        .map((p) => p.name)
        .sort(),
    );
  });

  for (const [n, gs] of [
    [100, 20],
    [1000, 40],
    [5000, 50],
  ] as const) {
    it(`N=${n}: every group pair every round, every directed pair within the bound, bounded cost`, () => {
      const peers = cluster(n, gs);
      const group = new Map(peers.map((p) => [p.name, p.group]));
      const G = groupsOf(peers).size;
      const perNodeMax =
        DEFAULT_PROBESET.groupCap + Math.max(DEFAULT_PROBESET.crossPerNode, Math.ceil((G - 1) / gs));
      const bound = coverageBound(peers);
      // Sources: all for N <= 1000; a fixed sample of 60 at 5,000 to keep the test fast.
      const sources = n <= 1000 ? peers : peers.filter((_, i) => i % 83 === 0);
      const seen = new Map<string, Set<string>>(sources.map((p) => [p.name, new Set()]));
      for (let r = 0; r < 3; r++) {
        const pairs = new Set<string>();
        for (const p of peers) {
          const t = selectTargets(p, peers, r);
          assert.ok(t.length <= perNodeMax, `per-node targets ${t.length} <= ${perNodeMax}`);
          assert.ok(!t.includes(p.name));
          for (const d of t) if (group.get(d) !== p.group) pairs.add(`${p.group}>${group.get(d)}`);
        }
        assert.equal(pairs.size, G * (G - 1), `round ${r}: every ordered pair of groups probed`);
      }
      for (let r = 0; r < bound; r++)
        for (const p of sources) for (const d of selectTargets(p, peers, r)) seen.get(p.name)!.add(d);
      for (const [src, s] of seen)
        assert.equal(s.size, n - 1, `${src} reached everyone within ${bound} rounds`);
      assert.ok(perNodeMax <= 40, 'per-node cost is a constant, not a function of N');
    });
  }
});
