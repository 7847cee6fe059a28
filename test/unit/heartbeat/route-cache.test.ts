import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { parseRouteCacheMtus } from '../../../agent/heartbeat/pmtu.js';

// Saved from lab node n1 after a DF ping to n4 under the mtu-fragneeded fault.
const LAB = readFileSync(new URL('../../fixtures/heartbeat/route-show-cache.json', import.meta.url), 'utf8');

test('route cache: the learned PMTU by destination, from real iproute2 output', () => {
  assert.deepEqual([...parseRouteCacheMtus(LAB)], [['10.200.2.14', 1454]]);
});

test('route cache: entries without an MTU are left out; empty and non-JSON give nothing', () => {
  const noMtu = '[{"dst":"10.200.2.13","gateway":"10.200.1.254","dev":"eth0","flags":[],"cache":[]}]';
  assert.equal(parseRouteCacheMtus(noMtu).size, 0);
  assert.equal(parseRouteCacheMtus('').size, 0);
  assert.equal(parseRouteCacheMtus('Error: garbage').size, 0);
  assert.equal(parseRouteCacheMtus('{"dst":"x"}').size, 0);
  assert.equal(parseRouteCacheMtus('[null, 3, {"metrics": 5}]').size, 0);
});
