/**
 * Node names -> NATS subject tokens / KV keys (shared/subjects.ts, docs/contracts.md): every
 * valid Kubernetes node name and Swarm hostname maps to one token, two names never share one,
 * and the mapping reverses.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { validateKey } from '@nats-io/kv/internal';
import {
  isNodeName,
  nodeFromToken,
  nodeToken,
  parseSubject,
  subjectFor,
  traceSubject,
} from '../../shared/subjects.js';

const label63 = `a${'b'.repeat(61)}c`;
const longest = [label63, label63, label63, `${'d'.repeat(61)}`].join('.'); // 63*3 + 3 + 61 = 253
const VALID = [
  'n1',
  'ip-10-0-1-5.ec2.internal',
  'compute-h10-10.domain.tld',
  'worker_1',
  'worker.1',
  'Worker-1',
  'a',
  '0',
  label63,
  longest,
  'a_b.c',
  'a.b_c',
  'gke-prod-default-pool-1a2b3c4d-xyz9',
];
const INVALID = [
  '',
  '.a',
  'a.',
  'a..b',
  'a b',
  'a*b',
  'a>b',
  'a/b',
  'a=b',
  'ümlaut',
  `${label63}x`,
  `${longest}e`,
  `${'a.'.repeat(127)}a`.slice(0, 254) + 'x',
];

test('node names: RFC 1123 subdomains up to 253 characters and Swarm hostnames are valid', () => {
  assert.equal(longest.length, 253);
  for (const n of VALID) assert.ok(isNodeName(n), n);
  for (const n of INVALID) assert.ok(!isNodeName(n), JSON.stringify(n));
  assert.throws(() => nodeToken('a..b'), /not a node name/);
});

test('tokens are single subject tokens, valid KV keys and durable-name parts, and reverse', () => {
  for (const n of VALID) {
    const t = nodeToken(n);
    // Not in a subject token nor in a durable name (JetStream: no whitespace . * > / \).
    assert.doesNotMatch(t, /[.*>\s/\\]/, `${n} -> ${t}`);
    assert.doesNotThrow(() => validateKey(t), `KV key ${t}`);
    assert.equal(nodeFromToken(t), n);
    const s = subjectFor(n, 'probes');
    assert.equal(s.split('.').length, 4, s);
    assert.deepEqual(parseSubject(s), { node: n, kind: 'probes' });
    assert.equal(traceSubject(n).split('.').length, 4);
  }
  assert.equal(nodeToken('ip-10-0-1-5.ec2.internal'), 'ip-10-0-1-5_ec2_internal');
});

test('two distinct names never share a token (the pairs a lossy mapping would merge)', () => {
  const names = ['a.b', 'a_b', 'a-b', 'A.b', 'a.b.c', 'a_b.c', 'a.b_c', 'a_b_c', 'a__b', 'a._b'].filter(
    isNodeName,
  );
  const tokens = new Map<string, string>();
  for (const n of names) {
    const t = nodeToken(n);
    assert.equal(tokens.get(t), undefined, `${n} and ${tokens.get(t)} both map to ${t}`);
    tokens.set(t, n);
  }
  // Exhaustive over every name of up to 3 characters from an alphabet with each special character.
  const alphabet = ['a', 'Z', '0', '-', '_', '.'];
  const seen = new Map<string, string>();
  const walk = (prefix: string, depth: number): void => {
    if (prefix && isNodeName(prefix)) {
      const t = nodeToken(prefix);
      assert.equal(seen.get(t), undefined, `${prefix} collides`);
      seen.set(t, prefix);
    }
    if (depth > 0) for (const c of alphabet) walk(prefix + c, depth - 1);
  };
  walk('', 3);
  assert.ok(seen.size > 100, `${seen.size} names checked`);
});

test('parseSubject refuses tokens that are no encoded name', () => {
  for (const s of [
    'vxdoctor.v1.a.b.probes', // a raw dotted name is two tokens, not one
    'vxdoctor.v1.a__b.probes', // decodes to a..b
    'vxdoctor.v1._a.probes',
    'vxdoctor.v1.a.nope',
    'vxdoctor.v2.a.probes',
  ])
    assert.equal(parseSubject(s), null, s);
  assert.equal(nodeFromToken('a.b'), null);
});
