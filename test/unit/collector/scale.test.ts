/**
 * Collector bookkeeping for scale: stream messages discarded before they were read are counted
 * (a gap in the durable's stream sequence), ingest lag is measured, a lagging ingest does not
 * turn every pair `unknown`, and pair statuses are reused between evaluations.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { evaluatePause } from '../../../collector/evaluate.js';
import { IngestCounters } from '../../../collector/ingest/index.js';
import { ClusterState, SLOW_LISTING_REUSE_MS } from '../../../collector/state/index.js';
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
  it('reads serve the last evaluation listing while listings are slower to build than the cache time', () => {
    const c = build(0, 1000);
    c.at(T0 + 6000);
    const evaluated = c.s.freshPairStatuses();
    // As measured at 5,000 nodes: a listing takes longer to build than the cache time.
    c.s.lastBuildMs = 1300;
    c.at(T0 + 6000 + 4000);
    assert.equal(c.s.pairStatuses(), evaluated, 'a read 4 s later: the evaluation listing');
    c.at(T0 + 6000 + SLOW_LISTING_REUSE_MS + 1);
    const rebuilt = c.s.pairStatuses();
    assert.notEqual(rebuilt, evaluated, 'no evaluation for longer than the reuse bound: rebuilt');
    // Over a quarter of the cache time is slow too (a read would wait behind it, in one piece).
    // The group view the listing left goes with it (a scrape's segment gauge: one pass over every
    // pair otherwise, 0.3 s at 5,000 nodes).
    const evaluated2 = c.s.freshPairStatuses();
    const view2 = c.s.groupPairs('vxlan');
    assert.ok(view2.length > 0);
    c.s.lastBuildMs = 400;
    c.at(T0 + 6000 + SLOW_LISTING_REUSE_MS + 1 + 3000);
    assert.equal(c.s.pairStatuses(), evaluated2, 'a 400 ms listing: reused 3 s later');
    assert.equal(c.s.groupPairs('vxlan'), view2, 'a 400 ms listing: its group view reused 3 s later');
    // Fast again (the rebuild measured itself): the plain cache time holds.
    c.s.lastBuildMs = 5;
    c.at(T0 + 6000 + SLOW_LISTING_REUSE_MS + 1 + 5000);
    assert.notEqual(c.s.groupPairs('vxlan'), view2, 'fast listings: the group view rebuilt after 1 s');
    assert.notEqual(c.s.pairStatuses(), evaluated2, 'fast listings: rebuilt after 1 s');
  });
});

describe('evaluation share', () => {
  it('keeps the interval when evaluations are quick, half the core when slow, a quarter while behind', () => {
    assert.equal(evaluatePause(2000, 300, false), 1700, 'quick: the rest of the interval');
    assert.equal(evaluatePause(2000, 300, true), 1700, 'quick and behind: the interval still');
    assert.equal(evaluatePause(2000, 2200, false), 2200, 'slow: a pause as long as the evaluation');
    assert.equal(evaluatePause(2000, 2200, true), 6600, 'slow and behind: three times as long');
  });
});

describe('pair listing in steps', () => {
  const statuses = (l: ReturnType<ClusterState['pairStatuses']>) =>
    l.map((p) => `${p.src}>${p.dst}/${p.path}:${p.port ?? '-'}=${p.status},${p.sent}/${p.answered}`);
  const build = () => {
    let now = T0;
    const s = new ClusterState({ clock: () => now, staleMs: 30_000, statusCacheMs: 1000 });
    for (const n of ['n1', 'n2', 'n3', 'n4']) s.applyPresence(presence(n, T0));
    for (let r = 0; r < 3; r++) for (const m of round(r, healthy)) s.apply(m);
    now = T0 + 3 * 5000;
    return s;
  };
  it('lists what one piece lists, giving the event loop back every step', async () => {
    const whole = statuses(build().freshPairStatuses());
    let pauses = 0;
    const stepped = build();
    const list = await stepped.freshPairStatusesInSteps(async () => {
      pauses++;
    }, 5);
    assert.ok(whole.length > 10, `${whole.length} pairs`);
    assert.deepEqual(statuses(list), whole);
    assert.equal(pauses, Math.ceil(whole.length / 5));
    assert.ok(stepped.pairStatuses() === list, 'cached for reads');
  });
  it('skips pairs dropped while it was paused', async () => {
    const s = build();
    const whole = statuses(s.freshPairStatuses());
    let first = true;
    const list = await s.freshPairStatusesInSteps(async () => {
      if (first) s.forget('n4');
      first = false;
    }, 1);
    // The first pair was judged before n4 was forgotten; none of n4's after it.
    assert.ok(list.slice(1).every((p) => p.src !== 'n4' && p.dst !== 'n4'));
    assert.deepEqual(
      statuses(list.slice(1)),
      whole.slice(1).filter((l) => !/\bn4\b/.test(l)),
    );
  });
});
