import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import {
  decodeProbe,
  encodeProbe,
  minProbeLength,
  type ProbePacket,
  peekProbe,
} from '../../../agent/heartbeat/codec.js';
import { ReplayWindow } from '../../../agent/heartbeat/replay.js';
import { PROBE_PATHS } from '../../../shared/schema.js';

const KEY = Buffer.from('0123456789abcdef0123456789abcdef');
const base: ProbePacket = {
  type: 'request',
  path: 'vxlan',
  src: 'n1',
  dst: 'node-three',
  probeId: 4_000_000_001,
  seq: 77,
  sentAt: 1_763_850_000_123.25,
  size: 0,
  arrived: false,
};

describe('probe codec', () => {
  it('round-trips every path and type, with the VNI in a real VXLAN header', () => {
    for (const path of PROBE_PATHS)
      for (const type of ['request', 'reply'] as const) {
        const p = { ...base, path, type, arrived: type === 'reply', size: path === 'pmtu' ? 1500 : 0 };
        const buf = encodeProbe(p, KEY, { vni: 16777000 });
        assert.equal(buf[0], 0x08, 'VXLAN I flag');
        assert.equal(buf.readUIntBE(4, 3), 16777000);
        assert.equal(buf.length, minProbeLength(p.src, p.dst));
        assert.deepEqual(decodeProbe(buf, KEY), { ok: true, vni: 16777000, packet: p });
      }
  });
  it('carries node names of any valid length (FQDNs up to 253 characters), refuses longer', () => {
    const label = 'a'.repeat(63);
    const longest = [label, label, label, 'b'.repeat(61)].join('.');
    assert.equal(longest.length, 253);
    const p = { ...base, src: longest, dst: 'ip-10-0-1-5.ec2.internal' };
    const buf = encodeProbe(p, KEY, { vni: 5 });
    assert.deepEqual(decodeProbe(buf, KEY), { ok: true, vni: 5, packet: p });
    assert.deepEqual(peekProbe(buf), { type: 'request', probeId: p.probeId, src: longest, dst: p.dst });
    assert.throws(() => encodeProbe({ ...p, src: `${longest}x` }, KEY, { vni: 5 }), /253 bytes/);
  });
  it('pads to the requested size (PMTU probes) and still decodes', () => {
    const buf = encodeProbe({ ...base, path: 'pmtu', size: 1500 }, KEY, { vni: 7, padTo: 1472 });
    assert.equal(buf.length, 1472);
    assert.equal(decodeProbe(buf, KEY).ok, true);
  });
  it('rejects a tampered byte, a wrong key, truncation, other VXLAN traffic', () => {
    const buf = encodeProbe(base, KEY, { vni: 9 });
    for (let i = 22; i < buf.length; i++) {
      const t = Buffer.from(buf);
      t[i]! ^= 0x01;
      const r = decodeProbe(t, KEY);
      assert.equal(r.ok, false, `byte ${i}`);
    }
    assert.deepEqual(decodeProbe(buf, Buffer.from('another key, 16+ bytes')), {
      ok: false,
      reason: 'bad-hmac',
    });
    assert.deepEqual(decodeProbe(buf.subarray(0, buf.length - 1), KEY), { ok: false, reason: 'malformed' });
    const other = Buffer.from(buf);
    other.writeUInt16BE(0x0800, 20); // an ordinary inner IPv4 frame
    assert.deepEqual(decodeProbe(other, KEY), { ok: false, reason: 'not-probe' });
  });
  it('never throws on 100,000 fuzzed packets', () => {
    const valid = encodeProbe(base, KEY, { vni: 1 });
    let ok = 0;
    for (let n = 0; n < 100_000; n++) {
      let b: Buffer;
      const mode = n % 3;
      if (mode === 0) b = randomBytes(n % 200);
      else if (mode === 1) b = Buffer.from(valid.subarray(0, n % (valid.length + 1)));
      else {
        b = Buffer.from(valid);
        for (let f = 0; f < 1 + (n % 4); f++) b[(n * 7 + f * 13) % b.length]! ^= 1 << (n % 8);
      }
      const r = decodeProbe(b, KEY);
      if (r.ok && !b.equals(valid)) ok++;
      peekProbe(b); // the HMAC-less header reader must not throw either
    }
    assert.equal(ok, 0, 'no altered packet verifies');
  });
  it('peekProbe reads the header of a probe (no key needed), null for anything else', () => {
    const req = encodeProbe({ ...base, probeId: 77, src: 'node-a', dst: 'node-b' }, KEY, {
      vni: 5,
      padTo: 400,
    });
    assert.deepEqual(peekProbe(req), { type: 'request', probeId: 77, src: 'node-a', dst: 'node-b' });
    const rep = encodeProbe({ ...base, type: 'reply', probeId: 78, src: 'b', dst: 'a' }, KEY, { vni: 5 });
    assert.deepEqual(peekProbe(rep), { type: 'reply', probeId: 78, src: 'b', dst: 'a' });
    const other = Buffer.from(req);
    other.writeUInt16BE(0x0800, 20);
    assert.equal(peekProbe(other), null);
    assert.equal(peekProbe(req.subarray(0, 40)), null);
  });
});

describe('replay window', () => {
  it('accepts fresh and out-of-order within the window, rejects replays and stale', () => {
    const w = new ReplayWindow({ window: 8 });
    assert.equal(w.accept('a', 10), true);
    assert.equal(w.accept('a', 10), false, 'replay');
    assert.equal(w.accept('a', 8), true, 'out of order within window');
    assert.equal(w.accept('a', 20), true);
    assert.equal(w.accept('a', 11), false, 'older than the window');
    assert.equal(w.accept('b', 10), true, 'senders are independent');
  });
  it('a restarted sender (sequence back at 1, newer send time) is accepted; replays of its old packets are not', () => {
    const w = new ReplayWindow({ window: 8 });
    for (let seq = 1; seq <= 3000; seq++) assert.equal(w.accept('a', seq, 1000 + seq), true);
    const old = { seq: 2999, sentAt: 1000 + 2999 };
    assert.equal(w.accept('a', 5, 1000 + 5), false, 'stale sequence with an old send time: a replay');
    // The sender restarts: sequence 1 again, send time later than anything seen from it.
    assert.equal(w.accept('a', 1, 9000), true, 'restart accepted');
    assert.equal(w.accept('a', 2, 9001), true);
    assert.equal(w.accept('a', 2, 9001), false, 'the new run is replay-protected too');
    assert.equal(
      w.accept('a', old.seq, old.sentAt),
      false,
      'a packet of the old run replayed after the restart',
    );
    assert.equal(w.accept('a', 1, 9000), false, 'the restart packet replayed');
    // Without send times (callers that do not pass one) a stale sequence stays rejected.
    const v = new ReplayWindow({ window: 8 });
    v.accept('a', 100);
    assert.equal(v.accept('a', 1), false);
  });
  it('bounds the sender map', () => {
    const w = new ReplayWindow({ maxSenders: 3 });
    for (const s of ['a', 'b', 'c', 'd', 'e']) w.accept(s, 1);
    assert.equal(w.size, 3);
    assert.equal(w.accept('a', 1), true, 'forgotten sender starts afresh');
  });
});
