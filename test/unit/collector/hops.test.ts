/**
 * Hop walks in verdicts: the engine gives segment/underlay root causes the walk that names most
 * among their pairs and the flows share of the last 16 rounds; node kinds get neither; the
 * agent's walk policy (which results, how many) and its evidence block; trace's side-by-side
 * table.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compareWalks, foldWalk } from '../../../agent/heartbeat/hops.js';
import { hopsEvidence, needsWalk, parseHosts, pickWalks } from '../../../agent/heartbeat/walks.js';
import { evaluate, emptyMemory, type Rule, rootCauseId } from '../../../collector/diagnosis/engine.js';
import type { Bucket } from '../../../collector/state/evidence.js';
import { tally } from '../../../collector/state/evidence.js';
import type { DiagnosisInput, PairStatus } from '../../../collector/state/index.js';
import { formatHops } from '../../../cli/trace.js';
import type { HopsEvidence, ProbeResult, RootCauseKind } from '../../../shared/schema.js';

const NOW = Date.parse('2026-12-01T12:00:00Z');

function walkEv(verdict: HopsEvidence['verdict'], hop: string | null, at: number): HopsEvidence {
  return {
    at,
    sport: 40123,
    port: 4789,
    controlPort: 7946,
    size: 120,
    verdict,
    hop,
    next: null,
    mtu: null,
    text: `${verdict} at ${hop}`,
    rows: [],
  };
}

/** A pair whose rounds pass (1) or fail (0) as given, newest last. */
function pair(src: string, dst: string, rounds: number[], hops?: HopsEvidence): PairStatus {
  const buckets: Bucket[] = rounds.map((ok, i) => ({
    round: i,
    at: NOW - (rounds.length - i) * 2000,
    sent: 1,
    leftSrc: 1,
    leftKnown: 1,
    arrived: ok,
    arrivedKnown: 1,
    ok,
    replySeen: ok,
    proxy: 0,
    fragNeeded: 0,
    fragMtu: null,
    fragFrom: null,
    learnedPmtu: null,
    required: null,
    largestPassing: null,
  }));
  const w = tally(buckets);
  return {
    src,
    dst,
    path: 'vxlan',
    port: 4789,
    status: rounds[rounds.length - 1] ? 'pass' : 'fail',
    failStreak: 2,
    failSince: NOW - 4000,
    last: {
      path: 'vxlan',
      src,
      dst,
      target: dst,
      port: 4789,
      round: rounds.length,
      at: NOW - 2000,
      sent: true,
      leftSrc: true,
      arrivedDst: false,
      answered: false,
      replySeen: false,
      rttSeconds: null,
      icmp: [],
    },
    sent: w.sent,
    answered: w.ok,
    window: w,
    buckets,
    ...(hops ? { hops } : {}),
  };
}

const input = (pairs: PairStatus[]): DiagnosisInput => ({
  now: NOW,
  windowMs: 60_000,
  groupLabel: 'row',
  nodes: [],
  pairs,
  findings: [],
});

/** A rule raising `kind` on a segment and attaching every pair. */
const raiser = (kind: RootCauseKind): Rule => ({
  id: 'test',
  kinds: [kind],
  run(ctx) {
    const segment = { label: 'row', from: 'p', to: 'q' };
    const c = ctx.add(rootCauseId(kind, [], segment), {
      kind,
      severity: 'critical',
      nodes: new Set(['a', 'b']),
      segment,
      summary: 's',
      evidence: ['first'],
      remediation: 'r',
      observers: new Set(),
      repeated: true,
      onset: NOW,
    });
    ctx.attach(c, ctx.input.pairs);
  },
});

describe('engine: hops and flows on segment/underlay root causes', () => {
  const alt = [1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0];
  it('the walk that names a hop wins over a newer one that saw nothing; flows count the last 16 rounds', () => {
    const pairs = [
      pair('a', 'b', alt, walkEv('vxlan-dies-after', '10.9.0.2', NOW - 9000)),
      pair('b', 'a', [0, 0, 0, 0], walkEv('same', null, NOW - 1000)),
    ];
    const [rc] = evaluate([raiser('underlay-loss')], input(pairs), emptyMemory()).rootCauses;
    assert.equal(rc?.hops?.hop, '10.9.0.2');
    assert.equal(rc?.hops?.src, 'a');
    assert.deepEqual(rc?.flows, { failing: 8 + 4, total: 16 + 4 });
    assert.equal(
      rc?.evidence[0],
      '12 of 20 flows fail: one of the parallel paths drops VXLAN (each round leaves from its own source port)',
    );
    assert.equal(rc?.evidence[1], 'hop walk a -> b: vxlan-dies-after at 10.9.0.2');
  });
  it('every flow failing is no ECMP member: no such line; node kinds carry no hops', () => {
    const [seg] = evaluate(
      [raiser('underlay-vxlan-filtered')],
      input([pair('a', 'b', [0, 0, 0])]),
      emptyMemory(),
    ).rootCauses;
    assert.deepEqual(seg?.flows, { failing: 3, total: 3 });
    assert.ok(!seg?.evidence.some((e) => /flows fail/.test(e)));
    const [node] = evaluate(
      [raiser('host-firewall-vxlan')],
      input([pair('a', 'b', alt, walkEv('vxlan-dies-after', '10.9.0.2', NOW))]),
      emptyMemory(),
    ).rootCauses;
    assert.equal(node?.hops, undefined);
    assert.equal(node?.flows, undefined);
  });
});

const result = (over: Partial<ProbeResult>): ProbeResult => ({
  path: 'vxlan',
  src: 'a',
  dst: 'b',
  target: '10.1.0.2',
  port: 4789,
  round: 3,
  at: NOW,
  sent: true,
  leftSrc: true,
  arrivedDst: null,
  answered: false,
  replySeen: null,
  rttSeconds: null,
  icmp: [],
  ...over,
});

describe('walk policy', () => {
  it('walks failing VXLAN-port/PMTU results, not passing ones, control, or a standing-for proxy', () => {
    assert.equal(needsWalk(result({})), true);
    assert.equal(needsWalk(result({ answered: true })), false);
    assert.equal(needsWalk(result({ path: 'control', port: 7946 })), false);
    assert.equal(
      needsWalk(result({ note: 'full-size probe (1500 B) answered on this port: stands for the small one' })),
      false,
    );
    assert.equal(
      needsWalk(
        result({
          path: 'pmtu',
          answered: true,
          pmtu: { required: 1500, largestPassing: 1454, fragNeededMtu: null, learnedPmtu: null },
        }),
      ),
      true,
    );
    assert.equal(needsWalk(result({ answered: true, icmp: ['frag-needed mtu=1400'] })), true);
  });
  it('bounded: one per peer, at most max, peers whose control passed first; a trace walks every port', () => {
    const rs = [
      result({ dst: 'b', target: '10.1.0.2' }),
      result({ dst: 'b', target: '10.1.0.2', port: 8472 }),
      result({ dst: 'c', target: '10.1.0.3' }),
      result({ dst: 'd', target: '10.1.0.4' }),
      result({ dst: 'd', path: 'control', port: 7946, answered: true }),
    ];
    assert.deepEqual(
      pickWalks(rs, 2).map((r) => r.dst),
      ['d', 'b'],
    );
    assert.equal(pickWalks(rs, 0).length, 0);
    assert.deepEqual(
      pickWalks(rs.slice(0, 2), 9, true).map((r) => r.port),
      [4789, 8472],
    );
  });
  it('a frag-needed the round captured names the hop when the kernel already fragments the copies locally', () => {
    const w = foldWalk([], [], { size: 1500, dst: '10.1.0.2' });
    const ev = hopsEvidence(compareWalks(w, null), w, null, {
      at: NOW,
      fragFrom: { from: '10.9.0.6', mtu: 1454 },
    });
    assert.equal(ev.verdict, 'frag-needed');
    assert.equal(ev.hop, '10.9.0.6');
    assert.equal(ev.mtu, 1454);
  });
  it('hosts file: first name per address, comments ignored', () => {
    assert.deepEqual(parseHosts('10.9.0.6 spine-1 sp1 # core\n# 10.9.0.7 x\n\n10.9.0.6 other\n'), {
      '10.9.0.6': 'spine-1',
    });
  });
});

describe('trace: walks side by side', () => {
  it('one row per TTL with the VXLAN and control columns, the other ECMP member when control went elsewhere', () => {
    const h: HopsEvidence = {
      ...walkEv('vxlan-dies-after', '10.9.0.6', NOW),
      rows: [
        {
          ttl: 1,
          address: '10.8.1.1',
          name: 'tor-1',
          vxlan: true,
          control: true,
          controlAddress: null,
          fragNeededMtu: null,
        },
        {
          ttl: 2,
          address: '10.9.0.6',
          name: null,
          vxlan: true,
          control: true,
          controlAddress: '10.9.0.10',
          fragNeededMtu: null,
        },
        {
          ttl: 3,
          address: '10.8.3.5',
          name: null,
          vxlan: false,
          control: true,
          controlAddress: null,
          fragNeededMtu: null,
        },
      ],
    };
    const lines = formatHops(h).split('\n');
    assert.match(lines[0]!, /^hop walk \(source port 40123, 120 B\): vxlan-dies-after at 10\.9\.0\.6$/);
    assert.match(lines[1]!, /^TTL\s+HOP\s+VXLAN 4789\s+CONTROL 7946$/);
    assert.match(lines[2]!, /^1\s+10\.8\.1\.1 \(tor-1\)\s+yes\s+yes$/);
    assert.match(lines[3]!, /^2\s+10\.9\.0\.6\s+yes\s+yes via 10\.9\.0\.10$/);
    assert.match(lines[4]!, /^3\s+10\.8\.3\.5\s+-\s+yes$/);
  });
});
