/**
 * Folding a round's pending probes into results without root or sockets: hop fields by
 * capture availability, "full-size stands for small", search probes folded into their path's
 * result, RTT from capture stamps before socket times.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  type FoldContext,
  foldResults,
  type Pending,
  pendingOf,
  planSmallProbes,
  rttOf,
} from '../../../agent/heartbeat/fold.js';

const probe = (id: number, over: Partial<Pending> = {}): Pending => ({
  ...pendingOf({
    id,
    path: 'control',
    dst: 'peer-b',
    target: '10.9.0.2',
    port: 8081,
    size: 0,
    round: 7,
    at: 1_000,
  }),
  ...over,
});
const ctx = (over: Partial<FoldContext> = {}): FoldContext => ({
  node: 'node-a',
  round: 7,
  canCapture: true,
  mainPmtu: new Set(),
  standsFor: new Set(),
  fragNeeded: new Map(),
  learned: new Map(),
  memo: () => undefined,
  ...over,
});

test('rtt: capture stamps at both ends win over the socket; else first sighting minus send time', () => {
  assert.equal(rttOf(probe(1, { leftTs: 1_010, replyTs: 1_013, socketTs: 1_050 })), 0.003);
  assert.equal(rttOf(probe(1, { replyTs: 1_020 })), 0.02, 'reply captured, request not: from send time');
  assert.equal(rttOf(probe(1, { socketTs: 1_040 })), 0.04);
  assert.equal(rttOf(probe(1)), null);
  assert.equal(rttOf(probe(1, { leftTs: 1_010, replyTs: 1_005 })), 0, 'never negative');
});

test('full-size answered stands for the small probe; unanswered ones get the follow-up', () => {
  const a = probe(1, { path: 'pmtu', answered: true, size: 1500 });
  const b = probe(2, { path: 'pmtu', dst: 'peer-c', size: 1500 });
  const plan = planSmallProbes([a, b]);
  assert.deepEqual(
    plan.standsFor.map((p) => p.id),
    [1],
  );
  assert.deepEqual(
    plan.followUp.map((p) => p.id),
    [2],
  );
});

test('fold: one vxlan + one pmtu result for an answered full-size probe; search probes folded away', () => {
  const main = probe(1, {
    path: 'pmtu',
    port: 4789,
    size: 1500,
    answered: true,
    arrived: true,
    leftSrc: true,
    replySeen: true,
    leftTs: 1_001,
    replyTs: 1_003,
  });
  const searchProbe = probe(2, { path: 'pmtu', port: 4789, size: 1296, answered: true });
  const out = foldResults([main, searchProbe], ctx({ mainPmtu: new Set([1]), standsFor: new Set([1]) }));
  assert.deepEqual(
    out.map((r) => r.path),
    ['vxlan', 'pmtu'],
  );
  const [vx, pm] = out;
  assert.match(vx!.note ?? '', /1500 B.*stands for the small one/);
  assert.equal(vx!.answered, true);
  assert.equal(vx!.rttSeconds, 0.002);
  assert.equal(pm!.answered, true);
  assert.deepEqual(pm!.pmtu, {
    required: 1500,
    largestPassing: 1500,
    fragNeededMtu: null,
    learnedPmtu: null,
  });
  assert.equal(pm!.src, 'node-a');
  assert.equal(pm!.round, 7);
});

test('fold: a full-size probe answered but a smaller learned PMTU is not a fit; frag-needed goes on pmtu/vxlan only', () => {
  const main = probe(1, { path: 'pmtu', port: 8472, size: 1500, answered: true, arrived: true });
  const small = probe(3, { path: 'vxlan', port: 8472, answered: true, arrived: true });
  const ctl = probe(4, { path: 'control', answered: true, arrived: true, socketTs: 1_005 });
  const out = foldResults(
    [main, small, ctl],
    ctx({
      mainPmtu: new Set([1]),
      fragNeeded: new Map([['10.9.0.2', 1450]]),
      learned: new Map([['10.9.0.2', 1450]]),
      memo: (dst, port) => (dst === 'peer-b' && port === 8472 ? { round: 7, largest: 1448 } : undefined),
    }),
  );
  const by = (path: string) => out.find((r) => r.path === path)!;
  assert.equal(by('pmtu').answered, false, 'answered, but crossed fragmented: no fit');
  assert.deepEqual(by('pmtu').pmtu, {
    required: 1500,
    largestPassing: 1448,
    fragNeededMtu: 1450,
    learnedPmtu: 1450,
  });
  assert.deepEqual(by('pmtu').icmp, ['frag-needed mtu=1450']);
  assert.deepEqual(by('vxlan').icmp, ['frag-needed mtu=1450']);
  assert.deepEqual(by('control').icmp, []);
  assert.equal(by('control').rttSeconds, 0.005);
});

test('fold: without capture the captured hops are unknown (null), not false; unanswered has no arrival or RTT', () => {
  const lost = probe(1, { path: 'control' });
  const overlay = probe(2, { path: 'overlay', answered: true, arrived: true, socketTs: 1_002 });
  const [c, o] = foldResults([lost, overlay], ctx({ canCapture: false }));
  assert.equal(c!.leftSrc, null);
  assert.equal(c!.replySeen, null);
  assert.equal(c!.arrivedDst, null);
  assert.equal(c!.answered, false);
  assert.equal(c!.rttSeconds, null);
  assert.equal(o!.leftSrc, null, 'overlay is never captured');
  assert.equal(o!.arrivedDst, true);
  const [withCap] = foldResults([lost], ctx({ canCapture: true }));
  assert.equal(withCap!.leftSrc, false, 'capture on and not seen leaving: false');
});
