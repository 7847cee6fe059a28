import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { IngestCounters, REJECT_REASONS, validateMessage } from '../../../collector/ingest/index.js';
import { findingsMsg, finding, healthy, round, snapshotMsg } from './synth.js';

const enc = (v: unknown) => new TextEncoder().encode(typeof v === 'string' ? v : JSON.stringify(v));
const good = round(0, healthy)[0];

describe('ingest validation', () => {
  it('accepts well-formed probes, findings and snapshot messages', () => {
    for (const [subject, msg] of [
      ['vxdoctor.v1.n1.probes', good],
      ['vxdoctor.v1.n2.findings', findingsMsg('n2', 0, [finding('n2', 'vtep-down')])],
      ['vxdoctor.v1.n3.snapshot', snapshotMsg('n3', 0)],
    ] as const) {
      const r = validateMessage(subject, enc(msg));
      assert.equal(r.ok, true, JSON.stringify(r));
      if (r.ok) assert.deepEqual(r.msg, msg);
    }
  });

  const cases: Array<[string, string, Uint8Array, string, { maxBytes?: number }?]> = [
    ['not JSON', 'vxdoctor.v1.n1.probes', enc('{"schemaVersion":1,'), 'malformed-json'],
    ['JSON array', 'vxdoctor.v1.n1.probes', enc([1, 2]), 'schema'],
    ['wrong version', 'vxdoctor.v1.n1.probes', enc({ ...good, schemaVersion: 2 }), 'unknown-version'],
    ['no version', 'vxdoctor.v1.n1.probes', enc({ ...good, schemaVersion: undefined }), 'unknown-version'],
    ['body of another node', 'vxdoctor.v1.n2.probes', enc(good), 'node-mismatch'],
    [
      'probe result of another source',
      'vxdoctor.v1.n1.probes',
      enc({ ...good, results: [{ ...good?.results[0], src: 'n2' }] }),
      'node-mismatch',
    ],
    ['too large', 'vxdoctor.v1.n1.probes', enc(good), 'too-large', { maxBytes: 100 }],
    ['unknown kind', 'vxdoctor.v1.n1.gossip', enc(good), 'bad-subject'],
    ['other prefix', 'vxdoctor.v2.n1.probes', enc(good), 'bad-subject'],
    ['bad node token', 'vxdoctor.v1.n*.probes', enc(good), 'bad-subject'],
    ['type of another subject', 'vxdoctor.v1.n1.findings', enc(good), 'schema'],
    [
      'bad probe path',
      'vxdoctor.v1.n1.probes',
      enc({ ...good, results: [{ ...good?.results[0], path: 'x' }] }),
      'schema',
    ],
    [
      'answered as string',
      'vxdoctor.v1.n1.probes',
      enc({ ...good, results: [{ ...good?.results[0], answered: 'yes' }] }),
      'schema',
    ],
    ['missing id', 'vxdoctor.v1.n1.probes', enc({ ...good, id: '' }), 'schema'],
    [
      'finding with bad severity',
      'vxdoctor.v1.n1.findings',
      enc(findingsMsg('n1', 0, [finding('n1', 'vtep-down', 'x', 'fatal' as never)])),
      'schema',
    ],
    [
      'finding with a check id that is not label-safe',
      'vxdoctor.v1.n1.findings',
      enc(findingsMsg('n1', 0, [finding('n1', 'vtep-down', 'x'.repeat(65))])),
      'schema',
    ],
    [
      'snapshot without host',
      'vxdoctor.v1.n1.snapshot',
      enc({ ...snapshotMsg('n1', 0), snapshot: { node: 'n1' } }),
      'schema',
    ],
  ];
  for (const [name, subject, data, reason, opts] of cases) {
    it(`rejects ${name} as ${reason}`, () => {
      const r = validateMessage(subject, data, opts);
      assert.equal(r.ok, false);
      if (!r.ok) assert.equal(r.reason, reason, r.detail);
    });
  }

  it('accepts real inventory snapshots (test/fixtures/inventory) wrapped in a snapshot message', () => {
    for (const f of ['snapshot-healthy.json', 'snapshot-firewall.json']) {
      const snap = JSON.parse(
        readFileSync(new URL(`../../fixtures/inventory/lab-node/${f}`, import.meta.url), 'utf8'),
      );
      const msg = { schemaVersion: 1, type: 'snapshot', node: snap.node, at: 1, id: f, snapshot: snap };
      const r = validateMessage(`vxdoctor.v1.${snap.node}.snapshot`, enc(msg));
      assert.ok(r.ok, JSON.stringify(r));
      const wrong = validateMessage('vxdoctor.v1.n9.snapshot', enc({ ...msg, node: 'n9' }));
      assert.equal(wrong.ok ? 'ok' : wrong.reason, 'node-mismatch');
    }
  });

  it('checks every node name a result carries, however often a name recurs', () => {
    const withDst = (dst: string) => enc({ ...good, results: [{ ...good?.results[0], dst }] });
    for (const dst of ['node-7.rack-2.example.internal', 'w_1', 'a'.repeat(63)]) {
      // Twice: the second time from the names already found valid.
      for (let i = 0; i < 2; i++) assert.ok(validateMessage('vxdoctor.v1.n1.probes', withDst(dst)).ok, dst);
    }
    for (const dst of ['a b', 'n1..n2', '.n1', 'a'.repeat(64), '', 'n1/x']) {
      for (let i = 0; i < 2; i++) {
        const r = validateMessage('vxdoctor.v1.n1.probes', withDst(dst));
        assert.equal(r.ok ? 'ok' : r.reason, 'schema', JSON.stringify(dst));
      }
    }
  });

  it('maps finding kinds it does not know to null instead of rejecting', () => {
    const m = findingsMsg('n1', 0, [{ ...finding('n1', 'vtep-down'), kind: 'future-kind' as never }]);
    const r = validateMessage('vxdoctor.v1.n1.findings', enc(m));
    assert.ok(r.ok);
    if (r.ok && r.msg.type === 'findings') assert.equal(r.msg.findings[0]?.kind, null);
  });

  it('counts accepted messages by kind and rejects by reason', () => {
    const c = new IngestCounters();
    c.count(validateMessage('vxdoctor.v1.n1.probes', enc(good)));
    c.count(validateMessage('vxdoctor.v1.n1.probes', enc('nope')));
    c.count(validateMessage('bogus', enc('nope')));
    assert.deepEqual(c.messages, { snapshot: 0, summary: 0, findings: 0, probes: 1 });
    assert.equal(c.rejected['malformed-json'], 1);
    assert.equal(c.rejected['bad-subject'], 1);
    assert.deepEqual(Object.keys(c.rejected), [...REJECT_REASONS]);
  });
});
