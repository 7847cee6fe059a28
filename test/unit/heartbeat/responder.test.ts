/**
 * The answering side without sockets: verification order (signature, addressee, skew, replay),
 * the signed reply, arrivals per sender and path.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeProbe, encodeProbe, type ProbePacket } from '../../../agent/heartbeat/codec.js';
import { Responder } from '../../../agent/heartbeat/responder.js';

const KEY = Buffer.from('r'.repeat(32));
const VNI = 4_000_123;
const NOW = 1_700_000_000_000;
const req = (over: Partial<ProbePacket> = {}): ProbePacket => ({
  type: 'request',
  path: 'control',
  src: 'rack2-node9',
  dst: 'rack1-node3',
  probeId: 11,
  seq: 5,
  sentAt: NOW,
  size: 0,
  arrived: false,
  ...over,
});

const make = () => {
  let seq = 100;
  return new Responder({
    node: 'rack1-node3',
    key: KEY,
    probeVni: VNI,
    clock: () => NOW,
    nextSeq: () => seq++,
  });
};

test('responder: a fresh request is accepted once and answered with a signed reply from this node', () => {
  const r = make();
  const p = r.decode(encodeProbe(req(), KEY, { vni: VNI }));
  assert.ok(p);
  assert.equal(r.accept(p), true);
  const reply = decodeProbe(r.answer(p), KEY);
  assert.ok(reply.ok);
  assert.equal(reply.packet.type, 'reply');
  assert.equal(reply.packet.src, 'rack1-node3');
  assert.equal(reply.packet.dst, 'rack2-node9');
  assert.equal(reply.packet.probeId, 11);
  assert.equal(reply.packet.seq, 100, "the node's own sequence");
  assert.equal(reply.packet.arrived, true);
  assert.equal(r.accept(p), false, 'the same packet again is a replay');
  assert.deepEqual(r.rejected, { replay: 1 });
  assert.equal(r.received.control, 1);
  const arr = r.takeArrivals();
  assert.deepEqual(
    arr.map((a) => [a.from, a.path, a.count]),
    [['rack2-node9', 'control', 1]],
  );
  assert.deepEqual(r.takeArrivals(), [], 'taken: counting starts anew');
});

test('responder: wrong key, wrong addressee, far future and stale are refused and counted by reason', () => {
  const r = make();
  assert.equal(r.decode(encodeProbe(req(), Buffer.from('x'.repeat(32)), { vni: VNI })), null);
  const bad = (over: Partial<ProbePacket>) => r.accept(r.decode(encodeProbe(req(over), KEY, { vni: VNI }))!);
  assert.equal(bad({ dst: 'rack1-node4', seq: 6 }), false);
  assert.equal(bad({ sentAt: NOW + 60_000, seq: 7 }), false);
  assert.equal(bad({ sentAt: NOW - 60_000, seq: 8 }), false);
  assert.equal(bad({ sentAt: NOW - 1_000, seq: 9 }), true, 'within the skew');
  const { replay, ...reasons } = r.rejected;
  assert.equal(replay, undefined);
  assert.equal(reasons.misaddressed, 1);
  assert.equal(reasons.future, 1);
  assert.equal(reasons.stale, 1);
  assert.equal(Object.keys(reasons).length, 4, `one codec reason besides: ${JSON.stringify(reasons)}`);
});
