import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { validateMessage } from '../../../collector/ingest/index.js';
import { encodeProbes, expandProbes, plainBody } from '../../../shared/probes-wire.js';
import { subjectFor } from '../../../shared/subjects.js';
import {
  type HopsEvidence,
  PROBE_PATHS,
  type ProbeResult,
  type ProbesMessage,
  SCHEMA_VERSION,
  type Seen,
} from '../../../shared/schema.js';

const enc = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));

/** A deterministic generator, so a failure names its seed. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s ^ (s >>> 15), 2246822519) + 0x9e3779b9) >>> 0;
    return s / 2 ** 32;
  };
}

const hops: HopsEvidence = {
  at: 1_760_000_000_500,
  sport: 40123,
  port: 4789,
  controlPort: 7999,
  size: 1500,
  verdict: 'vxlan-dies-after',
  hop: '10.9.1.6',
  next: '10.9.3.5',
  mtu: null,
  text: 'VXLAN port 4789 forwarded by 10.9.1.6, never by 10.9.3.5; control passes both',
  rows: [
    {
      ttl: 1,
      address: '10.9.1.6',
      name: null,
      vxlan: true,
      control: true,
      controlAddress: '10.9.1.6',
      fragNeededMtu: null,
    },
  ],
};

/** Random results over every field's values (names with dots, IPv6 targets, nulls, extras). */
function message(seed: number, n: number): ProbesMessage {
  const r = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T;
  const seen: Seen[] = [true, false, null];
  const at = 1_760_000_000_000 + Math.floor(r() * 1e6);
  const node = `ip-10-0-${seed % 250}-5.ec2.internal`;
  const peers = Array.from({ length: 1 + Math.floor(r() * 12) }, (_, i) => `w${i}.rack-${i % 3}.example`);
  const results: ProbeResult[] = [];
  for (let i = 0; i < n; i++) {
    const path = pick(PROBE_PATHS);
    const answered = r() < 0.7;
    const res: ProbeResult = {
      path,
      src: node,
      dst: pick(peers),
      target:
        r() < 0.2 ? `fd00::${Math.floor(r() * 99)}` : `10.1.${Math.floor(r() * 9)}.${Math.floor(r() * 250)}`,
      port: path === 'overlay' ? null : pick([4789, 8472, 7999, 7946, 2377]),
      round: 40 + pick([0, 0, 0, -1]),
      at: at - Math.floor(r() * 900),
      sent: r() < 0.95,
      leftSrc: pick(seen),
      arrivedDst: pick(seen),
      answered,
      replySeen: pick(seen),
      rttSeconds: answered ? Math.round(r() * 5e6) / 1e6 : null,
      icmp: r() < 0.1 ? [`frag-needed mtu=${1400 + Math.floor(r() * 100)} from 10.200.0.254`] : [],
    };
    if (path === 'pmtu')
      res.pmtu = {
        required: 1500,
        largestPassing: pick([1500, 1400, null]),
        fragNeededMtu: pick([null, 1454]),
        learnedPmtu: pick([null, 1450]),
      };
    if (r() < 0.3) res.note = 'full-size probe (1500 B) answered on this port: it stands for the small one';
    if (r() < 0.05) res.hops = hops;
    results.push(res);
  }
  return {
    schemaVersion: SCHEMA_VERSION,
    type: 'probes',
    node,
    at,
    id: `m-${seed}`,
    round: 40,
    results,
    arrivals: peers.map((p, i) => ({ from: p, path: pick(PROBE_PATHS), count: i + 1, lastAt: at - i * 10 })),
  };
}

describe('compact probes wire (rows-1)', () => {
  it('expands back to the same message, for 200 random messages', () => {
    for (let seed = 1; seed <= 200; seed++) {
      const m = message(seed, seed % 50);
      const x = expandProbes(JSON.parse(JSON.stringify(encodeProbes(m))));
      assert.ok(x.ok, `seed ${seed}: ${x.ok ? '' : x.detail}`);
      assert.deepEqual(x.msg, m, `seed ${seed}`);
    }
  });

  it('passes ingest as the plain message does, and is several times smaller', () => {
    const m = message(7, 160);
    const plain = validateMessage(subjectFor(m.node, 'probes'), enc(m));
    const wire = validateMessage(subjectFor(m.node, 'probes'), enc(encodeProbes(m)));
    assert.ok(plain.ok && wire.ok, JSON.stringify(wire));
    assert.deepEqual(wire.msg, plain.msg);
    const ratio = JSON.stringify(m).length / JSON.stringify(encodeProbes(m)).length;
    assert.ok(ratio > 3, `plain/compact ${ratio.toFixed(2)}`);
  });

  it('rounds RTT to whole microseconds and nothing else', () => {
    const m = message(3, 20);
    for (const r of m.results) if (r.rttSeconds !== null) r.rttSeconds += 0.4e-7;
    const x = expandProbes(JSON.parse(JSON.stringify(encodeProbes(m))));
    assert.ok(x.ok);
    for (let i = 0; i < m.results.length; i++) {
      const a = m.results[i] as ProbeResult;
      const b = x.msg.results[i] as ProbeResult;
      if (a.rttSeconds === null) assert.equal(b.rttSeconds, null);
      else assert.ok(Math.abs((b.rttSeconds as number) - a.rttSeconds) <= 0.5e-6);
      assert.deepEqual({ ...b, rttSeconds: 0 }, { ...a, rttSeconds: 0 });
    }
  });

  it('rejects broken rows as schema errors that name the row, and loses nothing else', () => {
    const m = message(11, 8);
    const w = encodeProbes(m);
    const broken: Array<[string, (x: typeof w) => unknown]> = [
      ['index past the string table', (x) => ({ ...x, rows: [[x.strings.length, 0, 0, 4789, 0, 0, 1, 5]] })],
      ['negative index', (x) => ({ ...x, rows: [[-1, 0, 0, 4789, 0, 0, 1, 5]] })],
      ['short row', (x) => ({ ...x, rows: [[0, 0, 0]] })],
      ['path out of range', (x) => ({ ...x, rows: [[0, 9, 0, 4789, 0, 0, 1, 5]] })],
      ['flags beyond 8 bits', (x) => ({ ...x, rows: [[0, 0, 0, 4789, 0, 0, 4096, 5]] })],
      ['fractional port', (x) => ({ ...x, rows: [[0, 0, 0, 47.5, 0, 0, 1, 5]] })],
      ['string table of numbers', (x) => ({ ...x, strings: [1, 2] })],
      ['pmtu of 3', (x) => ({ ...x, rows: [[0, 2, 0, 4789, 0, 0, 1, 5, { p: [1, 2, 3] }]] })],
      ['unknown encoding', (x) => ({ ...x, encoding: 'rows-9' })],
      // Rows that decode but say what the plain schema refuses: a port of 70000, a negative RTT.
      ['port out of range', (x) => ({ ...x, rows: [[0, 0, 0, 70000, 0, 0, 1, 5]] })],
      ['negative rtt', (x) => ({ ...x, rows: [[0, 0, 0, 4789, 0, 0, 3, -5]] })],
    ];
    for (const [what, f] of broken) {
      const r = validateMessage(subjectFor(m.node, 'probes'), enc(f(w)));
      assert.equal(r.ok, false, what);
      if (!r.ok) assert.equal(r.reason, 'schema', `${what}: ${r.detail}`);
    }
    // A result of another source cannot be said in rows: src is always the message's node.
    const other = validateMessage('vxdoctor.v1.somebody-else.probes', enc(w));
    assert.equal(other.ok, false);
    if (!other.ok) assert.equal(other.reason, 'node-mismatch');
    // Clock skew is judged on the expanded times.
    const future = { ...w, rows: [[0, 0, 0, 4789, 0, 10 * 60_000, 1, 5]] };
    const sk = validateMessage(subjectFor(m.node, 'probes'), enc(future), { now: m.at });
    assert.equal(sk.ok, false);
    if (!sk.ok) assert.equal(sk.reason, 'clock-skew');
  });

  it('plainBody leaves other messages alone and expands probes', () => {
    const m = message(5, 4);
    assert.deepEqual(plainBody(JSON.parse(JSON.stringify(encodeProbes(m)))), m);
    const f = { type: 'findings', findings: [] };
    assert.equal(plainBody(f), f);
    assert.throws(() => plainBody({ ...encodeProbes(m), rows: [[99]] }), /compact probes message/);
  });
});
