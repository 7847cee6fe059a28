import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Diagnoser } from '../../../collector/diagnosis/index.js';
import { ClusterState } from '../../../collector/state/index.js';
import type { Finding, NodeSnapshot, RootCause } from '../../../shared/schema.js';
import {
  crossRack,
  type Fault,
  finding,
  findingsMsg,
  healthy,
  NODES,
  presence,
  ROUND_MS,
  round,
  snapshotMsg,
  T0,
} from './synth.js';

interface Scenario {
  name: string;
  fault: Fault;
  /** Findings each node reports every round. */
  findings?: Record<string, Finding[]>;
  /** Cross-node check findings (returned by the injected cluster checks). */
  clusterFindings?: Finding[];
  /** Nodes whose agent is down from round 1 on (no presence, no messages). */
  silent?: string[];
  expect: Array<{
    id: string;
    segment?: { label: string; from: string; to: string };
    evidence?: RegExp[];
    summary?: RegExp;
    remediation?: RegExp;
  }>;
}

function runScenario(s: Scenario, rounds = 10): { rcs: RootCause[]; history: RootCause[][] } {
  let now = T0;
  const state = new ClusterState({
    clock: () => now,
    windowMs: 120_000,
    presenceTtlMs: 30_000,
  });
  const d = new Diagnoser();
  const history: RootCause[][] = [];
  for (let n = 0; n < rounds; n++) {
    now = T0 + n * ROUND_MS + 2000;
    const silent = n === 0 ? [] : (s.silent ?? []);
    for (const node of NODES) {
      if (silent.includes(node)) continue;
      state.applyPresence(presence(node, T0 + n * ROUND_MS));
      state.apply(snapshotMsg(node, n));
      // Cross-node findings come from each agent about itself (shared/crosschecks/local.ts).
      const cross = (s.clusterFindings ?? []).filter((f) => f.node === node);
      state.apply(findingsMsg(node, n, [...(s.findings?.[node] ?? []), ...cross]));
    }
    for (const m of round(n, s.fault, { silent })) state.apply(m);
    state.tick();
    history.push(d.evaluate(state.diagnosisInput()));
  }
  return { rcs: history[history.length - 1] as RootCause[], history };
}

const on =
  (pred: (src: string, dst: string, path: string, port: number) => boolean, o: ReturnType<Fault>): Fault =>
  (src, dst, path, port) =>
    pred(src, dst, path, port) ? o : { kind: 'ok' };
const touches = (n: string) => (src: string, dst: string) => src === n || dst === n;

const SCENARIOS: Scenario[] = [
  { name: 'healthy cluster', fault: healthy, expect: [] },
  {
    name: 'ToR drops VXLAN between racks (incident 1)',
    fault: on((a, b, p) => crossRack(a, b) && p !== 'control', { kind: 'lost-in-path' }),
    expect: [
      {
        id: 'underlay-vxlan-filtered:rack:A:B',
        segment: { label: 'rack', from: 'A', to: 'B' },
        evidence: [/n1 -> n3 vxlan UDP 4789: left n1, never reached n3/, /pairs inside each rack pass/],
        remediation: /port nvo3 mode access/,
      },
    ],
  },
  {
    name: 'ToR drops VXLAN, receivers report arrivals (arrivedDst filled from ArrivalReports)',
    fault: on((a, b, p) => crossRack(a, b) && p !== 'control', { kind: 'no-capture-loss' }),
    expect: [
      {
        id: 'underlay-vxlan-filtered:rack:A:B',
        segment: { label: 'rack', from: 'A', to: 'B' },
        evidence: [/n1 -> n3 vxlan UDP 4789: sent from n1, never reached n3/],
      },
    ],
  },
  {
    name: "n3's host firewall drops VXLAN (finding + overlay fails to n3)",
    fault: on((_a, b, p) => b === 'n3' && p === 'overlay', { kind: 'dropped-at-dst' }),
    findings: { n3: [finding('n3', 'host-firewall-vxlan', 'firewall-vxlan')] },
    expect: [
      {
        id: 'host-firewall-vxlan:n3',
        evidence: [/firewall-vxlan on n3/, /n1 -> n3 overlay UDP 4789: left n1, reached n3's NIC, no answer/],
      },
    ],
  },
  {
    name: 'host firewall seen by probes only: VXLAN reaches the NIC, never answered',
    fault: on((_a, b, p) => b === 'n3' && p !== 'control', { kind: 'dropped-at-dst' }),
    expect: [{ id: 'host-firewall-vxlan:n3', summary: /probes reach n3's NIC/ }],
  },
  {
    name: 'MTU black hole at n4 (silent L2 drop)',
    fault: on((a, b, p) => touches('n4')(a, b) && p === 'pmtu', {
      kind: 'mtu',
      largestPassing: 1454,
      frag: null,
    }),
    expect: [
      {
        id: 'underlay-mtu:n4',
        summary: /largest packet that passes is 1454 bytes, the overlay needs 1500 \(silent drop/,
        remediation: /at least 1500.*overlay MTU to 1404/,
      },
    ],
  },
  {
    name: 'MTU at n4 with a local MTU finding too: one underlay-mtu root cause with the measured size',
    fault: on((a, b, p) => touches('n4')(a, b) && (p === 'pmtu' || p === 'overlay'), {
      kind: 'mtu',
      largestPassing: 1454,
      frag: 1454,
    }),
    findings: { n4: [finding('n4', 'mtu-mismatch', 'vtep-mtu', 'warning')] },
    expect: [
      {
        id: 'underlay-mtu:n4',
        evidence: [/also explains/, /largest passing outer size 1454, required 1500/],
      },
    ],
  },
  {
    name: 'MTU with ICMP frag-needed at n4',
    fault: on((a, b, p) => touches('n4')(a, b) && p === 'pmtu', {
      kind: 'mtu',
      largestPassing: 1454,
      frag: 1454,
    }),
    expect: [{ id: 'underlay-mtu:n4', summary: /frag-needed says mtu 1454/ }],
  },
  {
    name: 'n4 isolated: every path fails, presence fresh => node-unreachable',
    fault: on((a, b) => touches('n4')(a, b), { kind: 'lost-in-path' }),
    expect: [
      { id: 'node-unreachable:n4', evidence: [/presence of n4 is fresh/, /n1 -> n4 control UDP 7999/] },
    ],
  },
  {
    name: 'agent on n4 down: presence expired => agent-down, not node-unreachable',
    fault: on((a, b) => touches('n4')(a, b), { kind: 'dropped-at-dst' }),
    silent: ['n4'],
    expect: [{ id: 'agent-down:n4', evidence: [/presence of n4 expired/] }],
  },
  {
    name: 'VNI mismatch on n4 (cross-node check on n4) breaks overlay with n4: vni-mismatch only',
    fault: on((a, b, p) => touches('n4')(a, b) && p === 'overlay', { kind: 'dropped-at-dst' }),
    clusterFindings: [finding('n4', 'vni-mismatch', 'vtep-consistency')],
    expect: [{ id: 'vni-mismatch:n4', evidence: [/check vtep-consistency on n4/, /n1 -> n4 overlay/] }],
  },
  {
    name: 'dstport mismatch on n4',
    fault: on((a, b, p) => touches('n4')(a, b) && p === 'overlay', { kind: 'lost-in-path' }),
    findings: { n4: [finding('n4', 'dstport-mismatch')] },
    expect: [{ id: 'dstport-mismatch:n4' }],
  },
  {
    name: 'Swarm control ports blocked between racks (incident 2)',
    fault: on((a, b, p, port) => crossRack(a, b) && p === 'control' && port !== 7999, {
      kind: 'lost-in-path',
    }),
    expect: [
      {
        id: 'control-ports-blocked:rack:A:B',
        segment: { label: 'rack', from: 'A', to: 'B' },
        evidence: [/n1 -> n3 control TCP 2377/],
        remediation: /TCP 2377.*7946/,
      },
    ],
  },
  {
    name: 'FDB on n1 points at a NAT address (incident 7)',
    fault: on((a, b, p) => a === 'n1' && b === 'n3' && p === 'overlay', { kind: 'lost-in-path' }),
    findings: {
      n1: [finding('n1', 'fdb-wrong-destination', 'fdb-dst', 'critical', { remediation: '' })],
    },
    expect: [{ id: 'fdb-wrong-destination:n1', remediation: /--iface/, evidence: [/n1 -> n3 overlay/] }],
  },
  {
    name: 'duplicate VTEP address on every node: one root cause, FDB findings attached',
    fault: on((a, b, p) => p === 'overlay' && a !== b, { kind: 'lost-in-path' }),
    findings: Object.fromEntries(NODES.map((n) => [n, [finding(n, 'fdb-wrong-destination', 'fdb-dst')]])),
    clusterFindings: NODES.map((n) => finding(n, 'duplicate-vtep-address', 'vtep-unique')),
    expect: [{ id: 'duplicate-vtep-address:n1,n2,n3,n4', evidence: [/also explains/] }],
  },
  {
    name: 'docker_gwbridge missing on n2 (incident 4)',
    fault: healthy,
    findings: { n2: [finding('n2', 'missing-gwbridge', 'gwbridge', 'critical', { remediation: '' })] },
    expect: [{ id: 'missing-gwbridge:n2', remediation: /docker network create .*docker_gwbridge/ }],
  },
  {
    name: 'neighbor missing on n1 for n3',
    fault: on((a, b, p) => a === 'n1' && b === 'n3' && p === 'overlay', { kind: 'lost-in-path' }),
    findings: { n1: [finding('n1', 'neighbor-missing', 'overlay-neighbors', 'warning')] },
    expect: [{ id: 'neighbor-missing:n1' }],
  },
  {
    name: 'VTEP down on n2',
    fault: on((a, b, p) => touches('n2')(a, b) && p === 'overlay', { kind: 'lost-in-path' }),
    findings: { n2: [finding('n2', 'vtep-down', 'vtep-state')] },
    expect: [{ id: 'vtep-down:n2', evidence: [/n1 -> n2 overlay/] }],
  },
  {
    name: 'subnet overlap, old kernel, offload risk: findings only',
    fault: healthy,
    findings: {
      n1: [finding('n1', 'subnet-overlap', 'overlay-subnet')],
      n2: [
        finding('n2', 'kernel-unsupported', 'kernel', 'warning'),
        finding('n2', 'offload-risk', 'ufo', 'warning'),
      ],
    },
    expect: [{ id: 'subnet-overlap:n1' }, { id: 'kernel-unsupported:n2' }, { id: 'offload-risk:n2' }],
  },
  {
    name: 'unknown findings (could not look) raise nothing',
    fault: healthy,
    findings: { n1: [finding('n1', 'vtep-down', 'vtep-state', 'warning', { status: 'unknown' })] },
    expect: [],
  },
];

describe('diagnosis: one fault, one root cause', () => {
  for (const s of SCENARIOS) {
    it(s.name, () => {
      const { rcs } = runScenario(s);
      assert.deepEqual(
        rcs.map((r) => r.id).sort(),
        s.expect.map((e) => e.id).sort(),
        JSON.stringify(rcs, null, 1),
      );
      for (const e of s.expect) {
        const rc = rcs.find((r) => r.id === e.id) as RootCause;
        assert.ok(rc.remediation.length > 20, `${e.id} has a concrete remediation`);
        assert.ok(rc.evidence.length > 0, `${e.id} has evidence`);
        if (e.segment) assert.deepEqual(rc.segment, e.segment);
        else assert.equal(rc.segment, undefined);
        for (const re of e.evidence ?? [])
          assert.ok(
            rc.evidence.some((l) => re.test(l)),
            `${e.id} evidence ${re}: ${rc.evidence.join('\n')}`,
          );
        if (e.summary) assert.match(rc.summary, e.summary);
        if (e.remediation) assert.match(rc.remediation, e.remediation);
      }
    });
  }
});

describe('diagnosis without topology labels', () => {
  it('VXLAN dropped between every node: one cluster-scope root cause, not one per node', () => {
    const now = T0 + 2 * ROUND_MS + 2000;
    const state = new ClusterState({ clock: () => now });
    for (const n of NODES) state.applyPresence({ ...presence(n, T0 + ROUND_MS), labels: {} });
    const fault = on((_a, _b, p) => p === 'vxlan', { kind: 'lost-in-path' });
    for (const n of [0, 1, 2]) for (const m of round(n, fault)) state.apply(m);
    const rcs = new Diagnoser().evaluate(state.diagnosisInput());
    assert.deepEqual(
      rcs.map((r) => [r.id, r.segment]),
      [['underlay-vxlan-filtered:n1,n2,n3,n4', undefined]],
    );
    assert.match(rcs[0]?.summary ?? '', /--group-label/);
  });

  it('VXLAN dropped in front of one node only stays a node root cause', () => {
    const now = T0 + 2 * ROUND_MS + 2000;
    const state = new ClusterState({ clock: () => now });
    for (const n of NODES) state.applyPresence({ ...presence(n, T0 + ROUND_MS), labels: {} });
    const fault = on((_a, b, p) => b === 'n2' && p === 'vxlan', { kind: 'lost-in-path' });
    for (const n of [0, 1, 2]) for (const m of round(n, fault)) state.apply(m);
    assert.deepEqual(
      new Diagnoser().evaluate(state.diagnosisInput()).map((r) => r.id),
      ['underlay-vxlan-filtered:n2'],
    );
  });
});

describe('diagnosis: raising, since, clearing', () => {
  it('a single-node finding needs two evaluations before it is raised', () => {
    const { history } = runScenario(
      { name: 'x', fault: healthy, findings: { n2: [finding('n2', 'missing-gwbridge')] }, expect: [] },
      2,
    );
    assert.deepEqual(history[0], []);
    assert.deepEqual(
      history[1]?.map((r) => r.id),
      ['missing-gwbridge:n2'],
    );
  });

  it('one transient lost round seen by a single observer is not raised, however often evaluated', () => {
    let now = T0 + 2000;
    const state = new ClusterState({ clock: () => now });
    const d = new Diagnoser();
    for (const n of ['n1', 'n2']) state.applyPresence(presence(n, T0));
    const lossTo2 = on((_a, b) => b === 'n2', { kind: 'lost-in-path' });
    for (const m of round(0, lossTo2, { nodes: ['n1', 'n2'] })) state.apply(m);
    for (let i = 0; i < 3; i++) assert.deepEqual(d.evaluate(state.diagnosisInput()), []);
    for (const m of round(1, lossTo2, { nodes: ['n1', 'n2'] })) state.apply(m);
    now = T0 + ROUND_MS + 2000;
    assert.deepEqual(
      d.evaluate(state.diagnosisInput()).map((r) => r.id),
      ['node-unreachable:n2'],
    );
  });

  it('a segment VXLAN drop is raised on its second failing round (8 probes at once could be random loss), since = first failing probe', () => {
    const { history } = runScenario(
      {
        name: 'x',
        fault: on((a, b, p) => crossRack(a, b) && p === 'vxlan', { kind: 'lost-in-path' }),
        expect: [],
      },
      3,
    );
    assert.deepEqual(history[0], []);
    assert.deepEqual(
      history[1]?.map((r) => r.id),
      ['underlay-vxlan-filtered:rack:A:B'],
    );
    const sinces = history.slice(1).map((h) => h[0]?.since);
    assert.deepEqual(sinces, Array(2).fill(new Date(T0).toISOString()));
  });

  it('clears when the evidence does, and a fresh collector fed the same stream reports the same since', () => {
    let now = T0;
    const state = new ClusterState({ clock: () => now });
    const d = new Diagnoser();
    const fault = on((a, b, p) => crossRack(a, b) && p === 'vxlan', { kind: 'lost-in-path' });
    const msgs = [0, 1, 2].flatMap((n) => round(n, fault));
    for (const m of msgs) state.apply(m);
    for (const node of NODES) state.applyPresence(presence(node, T0 + 10_000));
    now = T0 + 12_000;
    const before = d.evaluate(state.diagnosisInput());
    assert.equal(before.length, 1);
    // A restarted collector replaying the same messages (in another order) agrees on since.
    const state2 = new ClusterState({ clock: () => now });
    for (const m of [...msgs].reverse()) state2.apply(m);
    for (const node of NODES) state2.applyPresence(presence(node, T0 + 10_000));
    const after = new Diagnoser().evaluate(state2.diagnosisInput());
    assert.deepEqual(after, before);
    // The fault goes away: the next round passes, the root cause clears.
    for (const m of round(3, healthy)) state.apply(m);
    now = T0 + 17_000;
    assert.deepEqual(d.evaluate(state.diagnosisInput()), []);
  });
});

describe('diagnosis: gray loss through the cluster state', () => {
  it('1 in 3 packets lost per crossing between racks: underlay-loss on the segment, ratio within 10 points, never underlay-mtu', () => {
    let seed = 11;
    const rnd = () => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed / 2147483648;
    };
    let now = T0;
    const state = new ClusterState({ clock: () => now });
    const d = new Diagnoser();
    const seen = new Set<string>();
    let last: RootCause[] = [];
    for (let n = 0; n < 16; n++) {
      now = T0 + n * ROUND_MS + 2000;
      for (const node of NODES) {
        state.applyPresence(presence(node, T0 + n * ROUND_MS));
        state.apply(snapshotMsg(node, n));
      }
      // a round trip survives two crossings: 1 - (2/3)^2 = 5/9 of them fail
      const f: Fault = (a, b, p) =>
        n >= 4 && crossRack(a, b) && p !== 'control' && rnd() < 5 / 9
          ? { kind: 'lost-in-path' }
          : { kind: 'ok' };
      for (const m of round(n, f)) state.apply(m);
      state.tick();
      last = d.evaluate(state.diagnosisInput());
      for (const r of last) seen.add(r.kind);
    }
    assert.deepEqual([...seen], ['underlay-loss']);
    const rc = last[0];
    assert.equal(rc?.id, 'underlay-loss:rack:A:B');
    assert.ok(rc?.loss && Math.abs(rc.loss.ratio - 1 / 3) <= 0.1, JSON.stringify(rc?.loss));
    assert.ok((rc?.loss?.probes ?? 0) >= 100, 'the figure rests on every round since the loss began');
  });
});

describe('diagnosis: gray loss right after another fault', () => {
  it('the tail of a cut-off node is neither loss nor in the loss figure that follows', () => {
    let seed = 5;
    const rnd = () => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed / 2147483648;
    };
    let now = T0;
    const state = new ClusterState({ clock: () => now });
    const d = new Diagnoser();
    const byRound: string[][] = [];
    let last: RootCause[] = [];
    for (let n = 0; n < 18; n++) {
      now = T0 + n * ROUND_MS + 2000;
      for (const node of NODES) {
        state.applyPresence(presence(node, T0 + n * ROUND_MS));
        state.apply(snapshotMsg(node, n));
      }
      const f: Fault = (a, b, p) => {
        if (n < 4) return a === 'n4' || b === 'n4' ? { kind: 'lost-in-path' } : { kind: 'ok' };
        if (n < 6) return { kind: 'ok' };
        return crossRack(a, b) && p !== 'control' && rnd() < 5 / 9
          ? { kind: 'lost-in-path' }
          : { kind: 'ok' };
      };
      for (const m of round(n, f)) state.apply(m);
      state.tick();
      last = d.evaluate(state.diagnosisInput());
      byRound.push(last.map((r) => r.id));
    }
    assert.deepEqual(byRound.slice(4, 6), [[], []], 'the cleared isolation leaves no root cause');
    assert.deepEqual(byRound[17], ['underlay-loss:rack:A:B']);
    const l = last[0]?.loss;
    assert.ok(l && Math.abs(l.ratio - 1 / 3) <= 0.1, JSON.stringify(l));
  });
});
