import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PeerSet, presenceTtlMs } from '../../../agent/publish/presence.js';
import { findingsKey } from '../../../agent/runtime.js';
import { verdictLine } from '../../../shared/fate.js';
import { parsePresence } from '../../../shared/presence.js';
import type { Finding, NodePresence, ProbeResult } from '../../../shared/schema.js';

const pres = (node: string, underlay = ['10.0.0.1']): NodePresence => ({
  schemaVersion: 1,
  node,
  labels: {},
  version: 't',
  at: 1,
  underlay,
  probePort: 7999,
  vteps: [],
  overlayEndpoints: [],
});

test('TTL is 3 intervals, at least 30 s', () => {
  assert.equal(presenceTtlMs(5000), 30_000);
  assert.equal(presenceTtlMs(20_000), 60_000);
});

test('peer set ignores self, reports real changes only, expires silent peers', () => {
  const s = new PeerSet('n1');
  assert.equal(s.put(pres('n1'), 0), false);
  assert.equal(s.put(pres('n2'), 0), true);
  assert.equal(s.put({ ...pres('n2'), at: 99 }, 1000), false); // refresh only
  assert.equal(s.put(pres('n2', ['10.0.0.9']), 1000), true); // address changed
  assert.equal(s.put(pres('n3'), 5000), true);
  assert.deepEqual(
    s.list().map((p) => p.node),
    ['n2', 'n3'],
  );
  assert.equal(s.prune(32_000, 30_000), true); // n2 last seen at 1000
  assert.deepEqual(
    s.list().map((p) => p.node),
    ['n3'],
  );
  assert.equal(s.remove('n3'), true);
  assert.equal(s.remove('n3'), false);
  assert.equal(s.put(pres('n3'), 6000), true, 'back after removal: a change');
  assert.equal(s.prune(40_000, 30_000), true);
  assert.equal(s.put(pres('n3'), 41_000), true, 'back after expiry: a change');
});

test('presence parse rejects other nodes keys and versions', () => {
  const enc = (x: unknown) => new TextEncoder().encode(JSON.stringify(x));
  assert.equal(parsePresence('n2', enc(pres('n2')))?.node, 'n2');
  assert.equal(parsePresence('n3', enc(pres('n2'))), null);
  assert.equal(parsePresence('n2', enc({ ...pres('n2'), schemaVersion: 2 })), null);
  assert.equal(parsePresence('n2', new TextEncoder().encode('{')), null);
});

test('findings key ignores order, verdict lines name the hop', () => {
  const f = (check: string): Finding => ({
    check,
    status: 'problem',
    severity: 'warning',
    kind: null,
    incident: null,
    node: 'n1',
    subject: 's',
    summary: '',
    evidence: [],
    remediation: '',
  });
  assert.equal(findingsKey([f('a'), f('b')]), findingsKey([f('b'), f('a')]));
  assert.notEqual(findingsKey([f('a')]), findingsKey([f('b')]));
  const r: ProbeResult = {
    path: 'vxlan',
    src: 'n1',
    dst: 'n3',
    target: '10.200.2.13',
    port: 4789,
    round: 1,
    at: 0,
    sent: true,
    leftSrc: true,
    arrivedDst: false,
    answered: false,
    replySeen: null,
    rttSeconds: null,
    icmp: [],
  };
  assert.deepEqual([r, { ...r, path: 'control' as const, answered: true }].map(verdictLine), [
    'vxlan: left n1, never reached n3',
    'control: ok',
  ]);
});
