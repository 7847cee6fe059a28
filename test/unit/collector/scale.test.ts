/**
 * Collector bookkeeping for scale: stream messages discarded before they were read are counted
 * (a gap in the durable's stream sequence), ingest lag is measured, a lagging ingest does not
 * turn every pair `unknown`, and pair statuses are reused between evaluations.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { IngestCounters } from '../../../collector/ingest/index.js';
import { ClusterState } from '../../../collector/state/index.js';
import { presence, round, healthy, T0 } from './synth.js';

describe('collector ingest position', () => {
  it('counts stream messages skipped by the durable, not redeliveries', () => {
    const c = new IngestCounters();
    c.delivered(10, 5, T0 - 4000, T0);
    c.delivered(11, 4, T0 - 3000, T0);
    c.delivered(15, 3, T0 - 2000, T0); // 12..14 discarded unread
    c.delivered(12, 3, T0 - 2000, T0); // a redelivery goes back: nothing more lost
    c.delivered(16, 0, T0 - 1000, T0);
    assert.equal(c.lostUnread, 3);
    assert.equal(c.pending, 0);
    assert.equal(c.lagSeconds, 0, 'caught up: no lag');
    c.delivered(17, 40, T0 - 45_000, T0);
    assert.equal(c.lagSeconds, 45);
  });
});

describe('collector state under ingest lag', () => {
  const build = (lagMs: number, cacheMs = 0) => {
    let now = T0;
    const s = new ClusterState({ clock: () => now, staleMs: 30_000, statusCacheMs: cacheMs });
    for (const n of ['n1', 'n2', 'n3', 'n4']) s.applyPresence(presence(n, T0));
    for (const m of round(1, healthy)) s.apply(m);
    s.ingestLagMs = lagMs;
    return { s, at: (t: number) => (now = t) };
  };
  it('pairs read 40 s ago stay known while the ingest is 60 s behind; stale without lag', () => {
    const lagging = build(60_000);
    lagging.at(T0 + 5000 + 40_000);
    const st = lagging.s.pairStatuses();
    assert.ok(st.length > 0);
    assert.ok(
      st.every((p) => p.status === 'pass'),
      'judged on what was read',
    );
    const current = build(0);
    current.at(T0 + 5000 + 40_000);
    assert.ok(
      current.s.pairStatuses().every((p) => p.status === 'unknown'),
      'no lag: stale',
    );
  });
  it('reuses pair statuses within the cache time, rebuilds after it', () => {
    const c = build(0, 1000);
    c.at(T0 + 6000);
    const a = c.s.pairStatuses();
    c.at(T0 + 6500);
    assert.equal(c.s.pairStatuses(), a, 'same list within 1 s');
    c.at(T0 + 7100);
    assert.notEqual(c.s.pairStatuses(), a, 'rebuilt after 1 s');
    const u = build(0);
    assert.notEqual(u.s.pairStatuses(), u.s.pairStatuses(), 'no cache by default');
  });
});
