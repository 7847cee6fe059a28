/**
 * Hop walks, pure parts: ICMP errors parsed from frames built byte by byte, matched to the walk
 * probe they quote, walks folded and compared, per-sport spread judged.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  compareWalks,
  foldWalk,
  type HopWalk,
  type IcmpError,
  judgeSports,
  matchWalkProbe,
  parseIcmpError,
  sportSet,
  udpChecksum,
  udpPartialChecksum,
  type WalkProbe,
  walkPlan,
} from '../../../agent/heartbeat/hops.js';

const SRC = '10.31.1.21';
const DST = '10.31.3.42';
const ip = (a: string) => Buffer.from(a.split('.').map(Number));

function ipHeader(src: string, dst: string, proto: number, payloadLen: number, id = 0x1234): Buffer {
  const h = Buffer.alloc(20);
  h[0] = 0x45;
  h.writeUInt16BE(20 + payloadLen, 2);
  h.writeUInt16BE(id, 4);
  h.writeUInt16BE(0x4000, 6);
  h[8] = 1;
  h[9] = proto;
  ip(src).copy(h, 12);
  ip(dst).copy(h, 16);
  return h;
}

function probe(ttl: number, sport: number, dport: number, body: string): WalkProbe {
  const payload = Buffer.from(body);
  return {
    ttl,
    src: SRC,
    dst: DST,
    sport,
    dport,
    payload,
    udpSum: udpChecksum(SRC, DST, sport, dport, payload),
  };
}

/** An ICMP error frame from `router` quoting probe `p` with `quoteBytes` of its payload. */
function icmpFrame(
  router: string,
  type: number,
  code: number,
  p: WalkProbe,
  quoteBytes: number,
  mtu = 0,
): Buffer {
  const udp = Buffer.alloc(8);
  udp.writeUInt16BE(p.sport, 0);
  udp.writeUInt16BE(p.dport, 2);
  udp.writeUInt16BE(8 + p.payload.length, 4);
  udp.writeUInt16BE(p.udpSum, 6);
  const quote = Buffer.concat([
    ipHeader(p.src, p.dst, 17, 8 + p.payload.length),
    udp,
    p.payload.subarray(0, quoteBytes),
  ]);
  const icmp = Buffer.alloc(8);
  icmp[0] = type;
  icmp[1] = code;
  icmp.writeUInt16BE(mtu, 6);
  const body = Buffer.concat([icmp, quote]);
  const eth = Buffer.from('020000000002020000000001' + '0800', 'hex');
  // Ethernet padding after the IP packet must not count as quoted payload.
  return Buffer.concat([eth, ipHeader(router, p.src, 1, body.length), body, Buffer.alloc(6, 0xee)]);
}

describe('udpChecksum', () => {
  it('verifies: the ones-complement sum over pseudo-header, header with the checksum and payload is 0xffff', () => {
    for (const body of ['', 'a', 'vxlan probe payload', 'odd!']) {
      const payload = Buffer.from(body);
      const sum = udpChecksum(SRC, DST, 40001, 4789, payload);
      const words = [
        0x0a1f,
        0x0115,
        0x0a1f,
        0x032a,
        17,
        8 + payload.length,
        40001,
        4789,
        8 + payload.length,
        sum,
      ];
      let s = words.reduce((a, b) => a + b, 0);
      for (let i = 0; i < payload.length; i += 2) s += (payload[i]! << 8) | (payload[i + 1] ?? 0);
      while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
      assert.equal(s, 0xffff, body);
    }
  });
  it('differs between payloads that differ in one byte (what tells a walk’s TTLs apart)', () => {
    assert.notEqual(
      udpChecksum(SRC, DST, 40001, 4789, Buffer.from('seq=0001')),
      udpChecksum(SRC, DST, 40001, 4789, Buffer.from('seq=0002')),
    );
  });
});

describe('parseIcmpError', () => {
  const p = probe(2, 40003, 4789, 'probe-ttl-2');
  it('time-exceeded: the router, and the quoted 5-tuple, length and checksum', () => {
    const e = parseIcmpError(icmpFrame('10.31.0.1', 11, 0, p, 64));
    assert.ok(e);
    assert.equal(e.kind, 'time-exceeded');
    assert.equal(e.from, '10.31.0.1');
    assert.equal(e.mtu, null);
    assert.deepEqual(
      [
        e.quoted.src,
        e.quoted.dst,
        e.quoted.sport,
        e.quoted.dport,
        e.quoted.udpLen,
        e.quoted.udpSum,
        e.quoted.ipId,
      ],
      [SRC, DST, 40003, 4789, 8 + p.payload.length, p.udpSum, 0x1234],
    );
    assert.equal(
      e.quoted.payload.toString(),
      'probe-ttl-2',
      'padding after the IP packet is not quoted payload',
    );
  });
  it('frag-needed carries the next-hop MTU', () => {
    const e = parseIcmpError(icmpFrame('10.31.0.2', 3, 4, p, 0, 1454));
    assert.equal(e?.kind, 'frag-needed');
    assert.equal(e?.mtu, 1454);
    assert.equal(e?.quoted.payload.length, 0);
  });
  it('port-unreachable is told apart; echo replies, short frames and non-UDP quotes are not errors', () => {
    assert.equal(parseIcmpError(icmpFrame(DST, 3, 3, p, 8))?.kind, 'port-unreachable');
    assert.equal(parseIcmpError(icmpFrame(DST, 0, 0, p, 8)), null);
    assert.equal(parseIcmpError(icmpFrame(DST, 11, 0, p, 8).subarray(0, 50)), null);
    const tcpQuote = icmpFrame('10.31.0.1', 11, 0, p, 8);
    tcpQuote[14 + 20 + 8 + 9] = 6;
    assert.equal(parseIcmpError(tcpQuote), null);
  });
});

describe('matchWalkProbe', () => {
  const walk = [1, 2, 3].map((t) => probe(t, 40003, 4789, `probe-ttl-${t}`));
  it('by the quoted checksum alone when the router quotes only the UDP header (RFC 792 minimum)', () => {
    for (const p of walk) {
      const e = parseIcmpError(icmpFrame('10.31.0.9', 11, 0, p, 0))!;
      assert.equal(matchWalkProbe(e, walk)?.ttl, p.ttl);
    }
  });
  it('by the quoted payload when the quoted checksum is the partial sum of an offloading virtual link', () => {
    for (const p of walk) {
      const e = parseIcmpError(icmpFrame('10.31.0.9', 11, 0, p, 64))!;
      const partial = udpPartialChecksum(SRC, DST, 8 + p.payload.length);
      const q = { ...e, quoted: { ...e.quoted, udpSum: partial } };
      assert.equal(matchWalkProbe(q, walk)?.ttl, p.ttl);
      // Only the UDP header quoted and a payload-independent checksum: no way to tell the TTLs apart.
      const short = { ...e, quoted: { ...e.quoted, udpSum: partial, payload: Buffer.alloc(0) } };
      assert.equal(matchWalkProbe(short, walk), null);
    }
  });
  it('never matches another 5-tuple, another length or a different quoted payload', () => {
    const e = parseIcmpError(icmpFrame('10.31.0.9', 11, 0, walk[1]!, 64))!;
    const otherSport = walk.map((p) => ({ ...p, sport: 40004 }));
    assert.equal(matchWalkProbe(e, otherSport), null);
    const otherPort = walk.map((p) => ({ ...p, dport: 7946 }));
    assert.equal(matchWalkProbe(e, otherPort), null);
    const forged: IcmpError = { ...e, quoted: { ...e.quoted, payload: Buffer.from('probe-ttl-X') } };
    assert.equal(matchWalkProbe(forged, walk), null);
    const zeroSum: IcmpError = { ...e, quoted: { ...e.quoted, udpSum: 0, payload: Buffer.alloc(0) } };
    assert.equal(matchWalkProbe(zeroSum, walk), null, 'no checksum and no bytes: nothing to match on');
  });
});

describe('walkPlan', () => {
  it('TTL 1..max, bounded', () => {
    assert.deepEqual(walkPlan(4), [1, 2, 3, 4]);
    assert.equal(walkPlan(200).length, 16);
    assert.throws(() => walkPlan(0), /≥ 1/);
    assert.throws(() => walkPlan(2.5), /≥ 1/);
  });
});

/** A walk of the routed lab as the hops would answer it (`answering` = routers up to where it dies). */
function walkOf(
  port: number,
  routers: string[],
  maxTtl: number,
  frag?: { at: number; mtu: number },
): HopWalk {
  const probes = walkPlan(maxTtl).map((t) => probe(t, 40003, port, `p${port}-${t}`));
  const errors = routers.map((r, i) => {
    const isFrag = frag && frag.at === i;
    return parseIcmpError(icmpFrame(r, isFrag ? 3 : 11, isFrag ? 4 : 0, probes[i]!, 32, frag?.mtu ?? 0))!;
  });
  return foldWalk(probes, errors, { size: 120, dst: DST });
}

describe('compareWalks', () => {
  const fabric = ['10.31.1.1', '10.31.0.2', '10.31.3.1'];
  const names = { '10.31.1.1': 'tor-r1', '10.31.0.2': 'spine-2' };
  it('names the last hop that forwarded VXLAN and the first that never did, with reverse names', () => {
    const c = compareWalks(walkOf(4789, fabric.slice(0, 1), 6), walkOf(7001, fabric, 6), names);
    assert.equal(c.verdict, 'vxlan-dies-after');
    assert.equal(c.at, '10.31.1.1');
    assert.equal(c.next, '10.31.0.2');
    assert.equal(
      c.text,
      'VXLAN port 4789 forwarded by 10.31.1.1 (tor-r1), never by 10.31.0.2 (spine-2); control passes both',
    );
    assert.deepEqual(
      c.rows.map((r) => [r.ttl, r.address, r.vxlan, r.control]),
      [
        [1, '10.31.1.1', true, true],
        [2, '10.31.0.2', false, true],
        [3, '10.31.3.1', false, true],
      ],
    );
    assert.equal(c.rows[0]!.name, 'tor-r1');
  });
  it('a drop at the first hop: forwarded by no hop', () => {
    const c = compareWalks(walkOf(8472, [], 5), walkOf(7001, fabric, 5));
    assert.equal(c.verdict, 'vxlan-dies-after');
    assert.equal(c.at, null);
    assert.equal(c.next, '10.31.1.1');
  });
  it('frag-needed names the hop and its MTU', () => {
    const c = compareWalks(
      walkOf(4789, fabric.slice(0, 2), 6, { at: 1, mtu: 1454 }),
      walkOf(7001, fabric, 6),
    );
    assert.equal(c.verdict, 'frag-needed');
    assert.equal(c.at, '10.31.0.2');
    assert.equal(c.mtu, 1454);
    assert.equal(c.rows[1]!.fragNeededMtu, 1454);
  });
  it('no answering hop on either walk: could not walk, nothing named', () => {
    const c = compareWalks(walkOf(4789, [], 6), walkOf(7001, [], 6));
    assert.equal(c.verdict, 'could-not-walk');
    assert.equal(c.at, null);
    assert.deepEqual(c.rows, []);
  });
  it('healthy routed path: VXLAN ends silently at the last ToR, control reaches the destination (port unreachable): same', () => {
    const control = walkOf(7001, [...fabric, DST], 6);
    assert.equal(control.reached, true);
    const c = compareWalks(walkOf(4789, fabric, 6), control);
    assert.equal(c.verdict, 'same');
    assert.equal(c.at, null);
  });
  it('pure L2: only the destination answers (TTL 1 reaches it): could not walk, not a guess', () => {
    const c = compareWalks(walkOf(4789, [], 6), walkOf(7001, [DST], 6));
    assert.equal(c.verdict, 'could-not-walk');
    assert.equal(c.at, null);
  });
  it('both walks through the same hops: same, nothing named', () => {
    const c = compareWalks(walkOf(4789, fabric, 6), walkOf(7001, fabric, 6));
    assert.equal(c.verdict, 'same');
    assert.equal(c.at, null);
  });
});

describe('sportSet / judgeSports', () => {
  it('a fixed set of 16 consecutive ports; a range off the end is an error', () => {
    assert.deepEqual(sportSet(40000).slice(0, 3), [40000, 40001, 40002]);
    assert.equal(sportSet(40000).length, 16);
    assert.throws(() => sportSet(65530), /not within/);
  });
  it('8 of 16 flows fail: concentrated, one failing and one passing sport to walk', () => {
    const sent = Array(16).fill(4);
    const ok = sent.map((_, i) => (i % 2 === 1 ? 0 : 4));
    const s = judgeSports(sent, ok);
    assert.equal(s.concentrated, true);
    assert.equal(s.text, '8 of 16 flows fail: one of the parallel paths drops VXLAN');
    assert.equal(s.walkFailing, 1);
    assert.equal(s.walkPassing, 0);
  });
  it('random loss over every flow is not concentrated; all failing is not either', () => {
    const sent = Array(16).fill(4);
    assert.equal(
      judgeSports(
        sent,
        sent.map(() => 2),
      ).concentrated,
      false,
    );
    const all = judgeSports(
      sent,
      sent.map(() => 0),
    );
    assert.equal(all.concentrated, false);
    assert.equal(all.failing, 16);
    assert.equal(all.walkFailing, null);
  });
});
