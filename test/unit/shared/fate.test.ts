/** One hop-fate wording: the agent's trace verdict says what the collector's pair fate says. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { describeFate, probeOk, verdictLine } from '../../../shared/fate.js';
import type { ProbeResult } from '../../../shared/schema.js';

const r: ProbeResult = {
  path: 'vxlan',
  src: 'edge-7',
  dst: 'core-2',
  target: '10.44.0.2',
  port: 8472,
  round: 3,
  at: 0,
  sent: true,
  leftSrc: true,
  arrivedDst: false,
  answered: false,
  replySeen: null,
  rttSeconds: null,
  icmp: [],
};

test('fate: the last hop seen and the first not, per three-valued hop', () => {
  assert.equal(describeFate(r), 'left edge-7, never reached core-2');
  assert.equal(
    describeFate({ ...r, leftSrc: false, arrivedDst: null }),
    'never left edge-7, no answer from core-2 (arrival unknown)',
  );
  assert.equal(
    describeFate({ ...r, leftSrc: null, arrivedDst: true }),
    "sent from edge-7, reached core-2's NIC, no answer",
  );
  assert.equal(
    describeFate({ ...r, answered: true, arrivedDst: true, replySeen: false }),
    'ok (reply not captured at edge-7)',
  );
  assert.equal(describeFate({ ...r, sent: false, note: 'no capture' }), 'not sent from edge-7 (no capture)');
  const pmtu = { required: 1500, largestPassing: 1454, fragNeededMtu: null, learnedPmtu: 1454 };
  assert.equal(
    describeFate({ ...r, path: 'pmtu', answered: true, arrivedDst: true, pmtu }),
    'largest passing 1454 < required 1500 (kernel learned PMTU 1454 from ICMP frag-needed)',
  );
  assert.equal(probeOk({ ...r, path: 'pmtu', answered: true, pmtu }), false);
  assert.equal(
    describeFate({
      ...r,
      path: 'pmtu',
      icmp: ['frag-needed mtu=1454'],
      pmtu: { ...pmtu, learnedPmtu: null },
    }),
    'left edge-7, never reached core-2 [frag-needed mtu=1454] (largest passing 1454, required 1500)',
  );
});

test('verdict line: the path, the same fate text, and an answered probe keeps its note', () => {
  for (const x of [r, { ...r, leftSrc: false }, { ...r, answered: true, arrivedDst: true, replySeen: true }])
    assert.equal(verdictLine(x), `${x.path}: ${describeFate(x)}`);
  assert.equal(
    verdictLine({
      ...r,
      path: 'control',
      port: 7946,
      answered: true,
      arrivedDst: null,
      note: 'tcp 7946 refused (reachable)',
    }),
    'control: ok (tcp 7946 refused (reachable))',
  );
  assert.equal(
    verdictLine({ ...r, note: 'filtered' }),
    'vxlan: left edge-7, never reached core-2 (filtered)',
    'the note once',
  );
});
