/**
 * The PMTU plan and verdict without root: ladders, the search decision with its memo, the
 * verdict from answered / learned PMTU / ICMP frag-needed. Plain data in, data out.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  coarseLadder,
  largestAnswered,
  PMTU_CACHE_ROUNDS,
  pmtuVerdict,
  refineLadder,
  searchDecision,
} from '../../../agent/heartbeat/pmtu.js';

test('coarse ladder: 16-byte steps from 1280, all below the required size', () => {
  assert.deepEqual(coarseLadder(1280), []);
  assert.deepEqual(coarseLadder(1281), [1280]);
  const l = coarseLadder(1500);
  assert.equal(l[0], 1280);
  assert.equal(l.at(-1), 1488);
  assert.equal(l.length, 14);
  assert.ok(l.every((s, i) => i === 0 || s - l[i - 1]! === 16));
});

test('refinement: 2-byte steps above the best coarse size, below both the next coarse step and the required size', () => {
  assert.deepEqual(refineLadder(0, 1500), [], 'nothing passed: nothing to refine');
  assert.deepEqual(refineLadder(1440, 1500), [1442, 1444, 1446, 1448, 1450, 1452, 1454]);
  assert.deepEqual(refineLadder(1488, 1494), [1490, 1492], 'capped by the required size');
  assert.equal(largestAnswered([]), 0);
  assert.equal(largestAnswered([1296, 1454, 1280]), 1454);
});

test('search decision: passed whole clears the memo; a recent memo stands unless forced; else search', () => {
  const base = { answered: false, fragNeeded: false, memo: undefined, round: 20, force: false };
  assert.equal(searchDecision({ ...base, answered: true }), 'clear');
  assert.equal(
    searchDecision({ ...base, answered: true, fragNeeded: true }),
    'search',
    'frag-needed: search anyway',
  );
  assert.equal(searchDecision(base), 'search');
  const memo = { round: 15, largest: 1454 };
  assert.equal(searchDecision({ ...base, memo }), 'cached');
  assert.equal(searchDecision({ ...base, memo, force: true }), 'search', 'a trace searches again');
  assert.equal(searchDecision({ ...base, memo, round: 15 + PMTU_CACHE_ROUNDS }), 'search', 'memo expired');
  assert.equal(
    searchDecision({ ...base, memo, round: 14 }),
    'search',
    'memo from a later round (trace round -1 etc.)',
  );
});

test('verdict: fits only when answered whole and no learned PMTU or frag-needed is below the required size', () => {
  const base = { answered: true, required: 1500, learned: null, fragNeeded: null, memo: undefined };
  assert.deepEqual(pmtuVerdict(base), {
    fits: true,
    pmtu: { required: 1500, largestPassing: 1500, fragNeededMtu: null, learnedPmtu: null },
  });
  const memo = { round: 3, largest: 1454 };
  const learnedLow = pmtuVerdict({ ...base, learned: 1454, memo });
  assert.equal(learnedLow.fits, false, 'the kernel learned a smaller PMTU: it crossed fragmented');
  assert.equal(learnedLow.pmtu.largestPassing, 1454, 'the search result stands');
  assert.equal(
    pmtuVerdict({ ...base, learned: 1500 }).fits,
    true,
    'learned PMTU at the required size is fine',
  );
  const icmp = pmtuVerdict({ ...base, fragNeeded: 1400 });
  assert.equal(icmp.fits, false);
  assert.equal(icmp.pmtu.fragNeededMtu, 1400);
  assert.equal(icmp.pmtu.largestPassing, null, 'no search result: unknown largest');
  assert.equal(
    pmtuVerdict({ ...base, answered: false, memo: { round: 1, largest: null } }).pmtu.largestPassing,
    null,
  );
});
