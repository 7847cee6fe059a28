/**
 * One test per diagnosis rule on a hand-built evidence input (PairStatus with per-round buckets,
 * NodeStatus), run through the engine alone (makeContext + rule.run) so each rule is judged by
 * itself; plus: every root-cause kind is produced by some check or rule.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  type Candidate,
  evaluate,
  evaluateInSteps,
  makeContext,
  type Rule,
} from '../../../collector/diagnosis/engine.js';
import { KINDS } from '../../../collector/diagnosis/kinds.js';
import { agentDown } from '../../../collector/diagnosis/rules/agent-down.js';
import { controlPortsBlocked } from '../../../collector/diagnosis/rules/control-ports-blocked.js';
import { FINDING_KINDS, findingsRule } from '../../../collector/diagnosis/rules/findings.js';
import { RULES } from '../../../collector/diagnosis/rules/index.js';
import { inventoryIncomplete } from '../../../collector/diagnosis/rules/inventory-incomplete.js';
import { nodeUnreachable } from '../../../collector/diagnosis/rules/node-unreachable.js';
import { underlayLoss } from '../../../collector/diagnosis/rules/underlay-loss.js';
import { underlayMtu } from '../../../collector/diagnosis/rules/underlay-mtu.js';
import { vxlanFilteredNode } from '../../../collector/diagnosis/rules/vxlan-filtered-node.js';
import { vxlanFilteredSegment } from '../../../collector/diagnosis/rules/vxlan-filtered-segment.js';
import { Diagnoser } from '../../../collector/diagnosis/index.js';
import { type Bucket, tally } from '../../../collector/state/evidence.js';
import { ClusterState } from '../../../collector/state/index.js';
import type {
  DiagnosisInput,
  NodeStatus,
  PairStatus,
  TrackedFinding,
} from '../../../collector/state/index.js';
import { ROOT_CAUSE_KINDS, type ProbePath, type RootCauseKind } from '../../../shared/schema.js';
import { presence, snapshotMsg, T0 as S0 } from './synth.js';

const ROUND = 5000;
const T = Date.parse('2026-12-01T10:00:00.000Z');
const ROUNDS = 8;
const NOW = T + ROUNDS * ROUND;

/** Node names and groups vary from the lab's on purpose. */
const GROUP: Record<string, string> = {
  alpha: 'east',
  bravo: 'east',
  carol: 'west',
  delta: 'west',
  echo: 'west',
};
const NAMES = Object.keys(GROUP);

function node(name: string, extra: Partial<NodeStatus> = {}): NodeStatus {
  return {
    name,
    labels: { zone: GROUP[name] as string },
    state: 'up',
    lastSeen: NOW - 1000,
    expiredAt: null,
    vteps: [
      { style: 'docker', port: 4789 },
      { style: 'flannel', port: 8472 },
    ],
    unknowns: [],
    privileged: true,
    ...extra,
  };
}

/** Per round: [sent, ok] plus pmtu facts. */
interface RoundFacts {
  sent?: number;
  ok: number;
  arrived?: boolean;
  largestPassing?: number | null;
  fragMtu?: number | null;
  fragFrom?: string | null;
  learnedPmtu?: number | null;
}

function pair(
  src: string,
  dst: string,
  path: ProbePath,
  port: number | null,
  rounds: RoundFacts[],
): PairStatus {
  const buckets: Bucket[] = rounds.map((r, i) => {
    const sent = r.sent ?? 1;
    return {
      round: i,
      at: NOW - (rounds.length - i) * ROUND + 100,
      sent,
      leftSrc: sent,
      leftKnown: sent,
      arrived: r.arrived === false ? r.ok : sent,
      arrivedKnown: sent,
      ok: r.ok,
      replySeen: r.ok,
      proxy: 0,
      fragNeeded: r.fragMtu ? sent : 0,
      fragMtu: r.fragMtu ?? null,
      fragFrom: r.fragFrom ?? null,
      learnedPmtu: r.learnedPmtu ?? null,
      required: path === 'pmtu' ? 1500 : null,
      largestPassing: path === 'pmtu' ? (r.largestPassing ?? (r.ok ? 1500 : null)) : null,
    };
  });
  const last = rounds[rounds.length - 1] as RoundFacts;
  let streak = 0;
  let since: number | null = null;
  for (let i = buckets.length - 1; i >= 0 && (buckets[i] as Bucket).ok === 0; i--) {
    streak++;
    since = (buckets[i] as Bucket).at;
  }
  const w = tally(buckets);
  const lastAt = (buckets[buckets.length - 1] as Bucket).at;
  return {
    src,
    dst,
    path,
    port,
    status: last.ok > 0 ? 'pass' : 'fail',
    failStreak: streak,
    failSince: since,
    last: {
      path,
      src,
      dst,
      target: dst,
      port,
      round: rounds.length - 1,
      at: lastAt,
      sent: true,
      leftSrc: true,
      arrivedDst: last.ok > 0 ? true : last.arrived === false ? false : (last.arrived ?? null),
      answered: last.ok > 0 || (path === 'pmtu' && last.largestPassing != null),
      replySeen: last.ok > 0,
      rttSeconds: last.ok > 0 ? 0.0004 : null,
      icmp: last.fragMtu
        ? [`frag-needed mtu=${last.fragMtu}${last.fragFrom ? ` from ${last.fragFrom}` : ''}`]
        : [],
      ...(path === 'pmtu'
        ? {
            pmtu: {
              required: 1500,
              largestPassing: last.largestPassing ?? (last.ok ? 1500 : null),
              fragNeededMtu: last.fragMtu ?? null,
              learnedPmtu: last.learnedPmtu ?? null,
            },
          }
        : {}),
    },
    sent: w.sent,
    answered: w.ok,
    window: w,
    buckets,
  };
}

const ok = (n = ROUNDS): RoundFacts[] => Array.from({ length: n }, () => ({ ok: 1 }));
const failFrom = (k: number, f: RoundFacts = { ok: 0 }): RoundFacts[] =>
  Array.from({ length: ROUNDS }, (_, i) => (i >= ROUNDS - k ? f : { ok: 1 }));

/** Every directed pair of `names` on every probe slot, each slot's rounds from `fate`. */
function mesh(
  names: string[],
  fate: (src: string, dst: string, path: ProbePath, port: number | null) => RoundFacts[],
): PairStatus[] {
  const out: PairStatus[] = [];
  const slots: Array<[ProbePath, number | null]> = [
    ['vxlan', 4789],
    ['vxlan', 8472],
    ['pmtu', 4789],
    ['control', 7999],
    ['overlay', null],
  ];
  for (const a of names)
    for (const b of names)
      if (a !== b) for (const [p, port] of slots) out.push(pair(a, b, p, port, fate(a, b, p, port)));
  return out;
}

function input(pairs: PairStatus[], extra: Partial<DiagnosisInput> = {}): DiagnosisInput {
  return {
    now: NOW,
    windowMs: 120_000,
    groupLabel: 'zone',
    nodes: NAMES.map((n) => node(n)),
    pairs,
    findings: [],
    ...extra,
  };
}

function runOne(rule: Rule, inp: DiagnosisInput): Candidate[] {
  const ctx = makeContext(inp);
  rule.run(ctx);
  return [...ctx.candidates.values()];
}

const crossZone = (a: string, b: string) => GROUP[a] !== GROUP[b];

describe('diagnosis rules, each on hand-built evidence', () => {
  it('agent-down: expired presence; pairs to the node become its evidence', () => {
    const inp = input(
      mesh(['alpha', 'carol'], (_a, b) => (b === 'carol' ? failFrom(3) : ok())),
      {
        nodes: [node('alpha'), node('carol', { state: 'expired', expiredAt: NOW - 9000 })],
      },
    );
    const [c, ...rest] = runOne(agentDown, inp);
    assert.equal(rest.length, 0);
    assert.equal(c?.kind, 'agent-down');
    assert.deepEqual([...(c?.nodes ?? [])], ['carol']);
    assert.ok(c?.evidence.some((e) => /alpha -> carol vxlan UDP 4789/.test(e)));
    assert.equal(c?.observers.size, 0, "a dead agent's peers are not independent observers");
  });

  it('node-unreachable: every incoming path fails, agent fresh; one passing path is not enough', () => {
    const fate = (_a: string, b: string) => (b === 'delta' ? failFrom(2) : ok());
    const [c] = runOne(nodeUnreachable, input(mesh(NAMES, fate)));
    assert.equal(c?.kind, 'node-unreachable');
    assert.deepEqual([...(c?.nodes ?? [])], ['delta']);
    const partial = (a: string, b: string, p: ProbePath) =>
      b === 'delta' && p !== 'control' ? failFrom(2) : ok();
    assert.deepEqual(runOne(nodeUnreachable, input(mesh(NAMES, (a, b, p) => partial(a, b, p)))), []);
  });

  it('findings: one candidate per kind and node, explains its paths; duplicate VTEP spans nodes', () => {
    const f = (n: string, kind: RootCauseKind): TrackedFinding => ({
      check: 'c',
      status: 'problem',
      severity: 'critical',
      kind,
      incident: null,
      node: n,
      subject: 's',
      summary: `${kind} on ${n}`,
      evidence: ['e'],
      remediation: '',
      firstSeen: T,
      lastSeen: NOW,
      observations: 3,
      origin: 'node',
    });
    const pairs = mesh(['alpha', 'bravo'], (a, _b, p) =>
      a === 'alpha' && p === 'overlay' ? failFrom(2) : ok(),
    );
    const cs = runOne(
      findingsRule,
      input(pairs, {
        findings: [
          f('alpha', 'vtep-down'),
          f('alpha', 'duplicate-vtep-mac'),
          f('bravo', 'duplicate-vtep-mac'),
        ],
      }),
    );
    assert.deepEqual(cs.map((c) => c.kind).sort(), ['duplicate-vtep-mac', 'vtep-down']);
    const vd = cs.find((c) => c.kind === 'vtep-down');
    assert.ok(
      vd?.evidence.some((e) => /alpha -> bravo overlay/.test(e)),
      'vtep-down explains the overlay failure',
    );
    assert.equal(
      vd?.remediation,
      KINDS['vtep-down'].remediation,
      'empty remediation falls back to the table',
    );
    assert.deepEqual([...(cs.find((c) => c.kind === 'duplicate-vtep-mac')?.nodes ?? [])].sort(), [
      'alpha',
      'bravo',
    ]);
  });

  it('inventory-incomplete: names the node and what is missing; optional extras and healthy nodes raise nothing', () => {
    const inp = input([], {
      nodes: [
        node('alpha', { unknowns: [{ what: 'nft', reason: 'nft not installed' }] }),
        node('bravo', { privileged: false }),
        node('carol', { unknowns: [{ what: 'ethtool:eth0:driver', reason: 'ethtool -i failed' }] }),
        node('delta'),
      ],
    });
    const cs = runOne(inventoryIncomplete, inp);
    assert.deepEqual(cs.map((c) => [...c.nodes][0]).sort(), ['alpha', 'bravo']);
    for (const c of cs) {
      assert.equal(c.kind, 'inventory-incomplete');
      assert.equal(c.severity, 'warning');
    }
    assert.match(cs.find((c) => c.nodes.has('alpha'))?.summary ?? '', /alpha: the agent cannot read nft/);
    assert.match(cs.find((c) => c.nodes.has('bravo'))?.summary ?? '', /CAP_NET_ADMIN/);
  });

  it('vxlan-filtered-segment: one port dropped across zones while the other passes is named with its overlay', () => {
    const fate = (a: string, b: string, p: ProbePath, port: number | null) =>
      crossZone(a, b) && (p === 'pmtu' || (p === 'vxlan' && port === 4789)) ? failFrom(3) : ok();
    const [c, ...rest] = runOne(vxlanFilteredSegment, input(mesh(NAMES, fate)));
    assert.equal(rest.length, 0);
    assert.equal(c?.kind, 'underlay-vxlan-filtered');
    assert.deepEqual(c?.segment, { label: 'zone', from: 'east', to: 'west' });
    assert.match(c?.summary ?? '', /UDP 4789, the Docker\/Swarm overlay; flannel on UDP 8472 passes/);
    assert.match(c?.remediation ?? '', /Allow UDP 4789 between zone east and west/);
    assert.ok(
      c?.evidence.some((e) => /alpha -> carol pmtu UDP 4789/.test(e)),
      'pmtu on the dropped port is explained',
    );
  });

  it('vxlan-filtered-segment: a single round of a few failing probes is not enough (could be random loss)', () => {
    const fate = (a: string, b: string, p: ProbePath, port: number | null) =>
      crossZone(a, b) && p === 'vxlan' && port === 4789 ? failFrom(1) : ok();
    assert.deepEqual(runOne(vxlanFilteredSegment, input(mesh(['alpha', 'carol'], fate))), []);
  });

  it('vxlan-filtered-node: reached the NIC, not answered -> host firewall on that port, replies to its own probes too', () => {
    const fate = (a: string, b: string, p: ProbePath, port: number | null) =>
      (b === 'carol' || a === 'carol') && p === 'vxlan' && port === 4789
        ? failFrom(2, { ok: 0, arrived: true })
        : ok();
    const cs = runOne(vxlanFilteredNode, input(mesh(NAMES, fate)));
    assert.deepEqual(
      cs.map((c) => c.kind),
      ['host-firewall-vxlan'],
    );
    const c = cs[0] as Candidate;
    assert.deepEqual([...c.nodes], ['carol']);
    assert.match(
      c.summary,
      /carol drops VXLAN UDP 4789, the Docker\/Swarm overlay after its NIC; flannel on UDP 8472 passes/,
    );
    assert.ok(
      c.evidence.some((e) => /carol -> alpha vxlan UDP 4789/.test(e)),
      'its own probes on 4789 lose their replies there',
    );
    assert.match(c.remediation, /udp dport 4789 accept/);
  });

  it('vxlan-filtered-node: never reached -> underlay-vxlan-filtered in front of the node', () => {
    const fate = (_a: string, b: string, p: ProbePath) =>
      b === 'echo' && p === 'vxlan' ? failFrom(2, { ok: 0, arrived: false }) : ok();
    const cs = runOne(vxlanFilteredNode, input(mesh(NAMES, fate)));
    assert.deepEqual(
      cs.map((c) => `${c.kind}:${[...c.nodes]}`),
      ['underlay-vxlan-filtered:echo'],
    );
  });

  it('control-ports-blocked: Swarm TCP ports across zones fail while UDP control and VXLAN pass', () => {
    const pairs = [
      ...mesh(NAMES, () => ok()),
      ...NAMES.flatMap((a) =>
        NAMES.filter((b) => b !== a).map((b) =>
          pair(a, b, 'control', 2377, crossZone(a, b) ? failFrom(2) : ok()),
        ),
      ),
    ];
    const [c, ...rest] = runOne(controlPortsBlocked, input(pairs));
    assert.equal(rest.length, 0);
    assert.equal(c?.kind, 'control-ports-blocked');
    assert.deepEqual(c?.segment, { label: 'zone', from: 'east', to: 'west' });
    assert.match(c?.summary ?? '', /TCP 2377/);
  });

  it('underlay-loss: random loss across zones, small and large alike, gives the measured ratio and counts', () => {
    // Deterministic "random": about 5 in 9 round trips fail (1 - (2/3)^2) on cross-zone VXLAN ports.
    let k = 0;
    const lossy = (): RoundFacts[] =>
      Array.from({ length: ROUNDS }, () => ({ sent: 1, ok: k++ % 9 < 4 ? 1 : 0 }));
    const fate = (a: string, b: string, p: ProbePath) =>
      crossZone(a, b) && (p === 'vxlan' || p === 'pmtu' || p === 'overlay') ? lossy() : ok();
    const [c, ...rest] = runOne(underlayLoss, input(mesh(NAMES, fate)));
    assert.equal(rest.length, 0);
    assert.equal(c?.kind, 'underlay-loss');
    assert.deepEqual(c?.segment, { label: 'zone', from: 'east', to: 'west' });
    const l = c?.loss;
    assert.ok(l, 'carries its figures');
    assert.ok(Math.abs(l.roundTripRatio - 5 / 9) < 0.05, `round trip ${l.roundTripRatio}`);
    assert.ok(Math.abs(l.ratio - 1 / 3) < 0.05, `per crossing ${l.ratio}`);
    assert.equal(l.directions.length, 2);
    assert.ok(l.probes >= 100 && l.rounds === ROUNDS);
    assert.match(c?.summary ?? '', /alike for small and full-size packets/);
    assert.doesNotMatch(c?.remediation ?? '', /lower the overlay MTU to/);
  });

  it('underlay-loss: not for an MTU limit (only large fail), a dropped port, or one lost probe', () => {
    const mtu = (a: string, b: string, p: ProbePath) =>
      crossZone(a, b) && p === 'pmtu' ? failFrom(4, { ok: 0, largestPassing: 1454 }) : ok();
    assert.deepEqual(runOne(underlayLoss, input(mesh(NAMES, mtu))), []);
    const port = (a: string, b: string, p: ProbePath, pt: number | null) =>
      crossZone(a, b) && (p === 'pmtu' || (p === 'vxlan' && pt === 4789)) ? failFrom(4) : ok();
    assert.deepEqual(runOne(underlayLoss, input(mesh(NAMES, port))), []);
    const one = (a: string, b: string, p: ProbePath) =>
      a === 'alpha' && b === 'carol' && p === 'vxlan' ? failFrom(1) : ok();
    assert.deepEqual(runOne(underlayLoss, input(mesh(NAMES, one))), []);
  });

  it('underlay-mtu: consistent size-dependent failure; frag-needed hop from capture, or the learned PMTU', () => {
    const fate =
      (f: RoundFacts) =>
      (a: string, b: string, p: ProbePath): RoundFacts[] =>
        (a === 'delta' || b === 'delta') && p === 'pmtu' ? failFrom(3, f) : ok();
    const [hole] = runOne(underlayMtu, input(mesh(NAMES, fate({ ok: 0, largestPassing: 1454 }))));
    assert.deepEqual([...(hole?.nodes ?? [])], ['delta']);
    assert.match(hole?.summary ?? '', /largest packet that passes is 1454 bytes.*silent drop/);
    const [frag] = runOne(
      underlayMtu,
      input(mesh(NAMES, fate({ ok: 0, largestPassing: 1454, fragMtu: 1454, fragFrom: '10.9.0.254' }))),
    );
    assert.match(frag?.summary ?? '', /ICMP frag-needed says mtu 1454, sent by 10\.9\.0\.254/);
    const [learned] = runOne(
      underlayMtu,
      input(mesh(NAMES, fate({ ok: 0, largestPassing: 1454, learnedPmtu: 1454 }))),
    );
    assert.match(learned?.summary ?? '', /kernel learned PMTU 1454 from an ICMP frag-needed/);
    assert.doesNotMatch(learned?.summary ?? '', /silent drop/);
  });

  it('underlay-mtu: not when the small probes fail too, nor on a single failed round', () => {
    const lossy = (a: string, b: string, p: ProbePath) =>
      (a === 'delta' || b === 'delta') && (p === 'pmtu' || p === 'vxlan')
        ? failFrom(3, { ok: 0, largestPassing: 1454 })
        : ok();
    assert.deepEqual(runOne(underlayMtu, input(mesh(NAMES, lossy))), []);
    const once = (a: string, b: string, p: ProbePath) =>
      (a === 'delta' || b === 'delta') && p === 'pmtu' ? failFrom(1, { ok: 0, largestPassing: 1454 }) : ok();
    assert.deepEqual(runOne(underlayMtu, input(mesh(NAMES, once))), []);
  });

  it('the whole rule list on gray loss yields underlay-loss only, never underlay-mtu', () => {
    let k = 0;
    const lossy = (p: ProbePath): RoundFacts[] =>
      Array.from({ length: ROUNDS }, () => ({
        ok: k++ % 9 < 4 ? 1 : 0,
        ...(p === 'pmtu' ? { largestPassing: 1488 } : {}),
      }));
    const fate = (a: string, b: string, p: ProbePath) =>
      crossZone(a, b) && (p === 'vxlan' || p === 'pmtu' || p === 'overlay') ? lossy(p) : ok();
    const { rootCauses } = evaluate(RULES, input(mesh(NAMES, fate)), { seen: new Map() });
    assert.deepEqual(
      rootCauses.map((r) => r.id),
      ['underlay-loss:zone:east:west'],
    );
  });
});

describe('diagnosis in steps', () => {
  it('names what the whole evaluation names, with the same memory, whatever the step, and gives the loop back', async () => {
    // Several root causes at once: port 4789 dropped across the zones (8472 passes), echo down,
    // the control port into bravo refused inside its zone; evaluated twice so the second
    // round's hysteresis is compared too.
    const NAMED = NAMES.filter((n) => n !== 'echo');
    const fate = (a: string, b: string, p: ProbePath, port: number | null) =>
      (crossZone(a, b) && p === 'vxlan' && port === 4789) || (b === 'bravo' && p === 'control')
        ? failFrom(ROUNDS)
        : ok();
    const mk = () =>
      input(mesh(NAMES, fate), {
        nodes: [...NAMED.map((n) => node(n)), node('echo', { state: 'expired' })],
      });
    const whole1 = evaluate(RULES, mk(), { seen: new Map() });
    const whole2 = evaluate(RULES, mk(), whole1.memory);
    assert.ok(whole2.rootCauses.length >= 2, whole2.rootCauses.map((r) => r.id).join(' '));
    const pairs = mk().pairs.length;
    for (const step of [1, 2, 7, 1_000_000]) {
      let pauses = 0;
      const pause = async () => {
        pauses++;
        await new Promise<void>((r) => setImmediate(r));
      };
      const s1 = await evaluateInSteps(RULES, mk(), { seen: new Map() }, pause, step);
      const s2 = await evaluateInSteps(RULES, mk(), s1.memory, pause, step);
      assert.deepEqual(s1.rootCauses, whole1.rootCauses, `step ${step}, first evaluation`);
      assert.deepEqual(s2.rootCauses, whole2.rootCauses, `step ${step}, second evaluation`);
      assert.deepEqual([...s2.memory.seen], [...whole2.memory.seen], `step ${step}, memory`);
      // At least once per rule, and once per `step` pairs of the listing.
      assert.ok(pauses >= 2 * (RULES.length + Math.floor(pairs / step)), `step ${step}: ${pauses} pauses`);
    }
  });
});

describe('every root-cause kind is produced by some check or rule', () => {
  it('rules declare their kinds; finding kinds are emitted by an agent or cluster check', () => {
    const byRules = new Set(RULES.filter((r) => r !== findingsRule).flatMap((r) => r.kinds));
    const root = join(import.meta.dirname, '..', '..', '..');
    const sources = [join(root, 'agent', 'checks'), join(root, 'shared', 'crosschecks')].flatMap((d) =>
      readdirSync(d)
        .filter((f) => f.endsWith('.ts'))
        .map((f) => readFileSync(join(d, f), 'utf8')),
    );
    const byChecks = new Set(FINDING_KINDS.filter((k) => sources.some((s) => s.includes(`'${k}'`))));
    const missing = ROOT_CAUSE_KINDS.filter((k) => !byRules.has(k) && !byChecks.has(k));
    assert.deepEqual(missing, [], 'kinds nothing can produce');
    for (const k of ROOT_CAUSE_KINDS) assert.ok(KINDS[k].remediation.length > 20, `remediation for ${k}`);
    // The rule list is explicit and ordered: filtering before loss before MTU.
    const ids = RULES.map((r) => r.id);
    assert.ok(ids.indexOf('vxlan-filtered-segment') < ids.indexOf('underlay-loss'));
    assert.ok(ids.indexOf('underlay-loss') < ids.indexOf('underlay-mtu'));
  });
});

describe('inventory-incomplete through the cluster state', () => {
  it("a snapshot's unknowns reach the rule: a warning naming the node and the unreadable namespace", () => {
    const state = new ClusterState({ clock: () => S0 + 3000 });
    state.applyPresence(presence('n1', S0));
    const snap = snapshotMsg('n1', 0);
    snap.snapshot.unknowns = [{ what: 'netns:/run/netns/cni-1', reason: 'cannot open: EACCES' }];
    state.apply(snap);
    const d = new Diagnoser();
    assert.deepEqual(d.evaluate(state.diagnosisInput()), [], 'a finding-like kind waits one evaluation');
    const [rc, ...rest] = d.evaluate(state.diagnosisInput());
    assert.equal(rest.length, 0);
    assert.equal(rc?.id, 'inventory-incomplete:n1');
    assert.equal(rc?.severity, 'warning');
    assert.match(rc?.summary ?? '', /n1: the agent cannot read netns:\/run\/netns\/cni-1/);
    assert.ok(rc?.evidence.some((e) => /EACCES/.test(e)));
  });
});

describe('underlay-mtu after a local finding of the same kind', () => {
  it('the measurement leads the verdict, the local finding becomes its evidence', () => {
    const f: TrackedFinding = {
      check: 'vtep-underlay-mtu',
      status: 'problem',
      severity: 'critical',
      kind: 'underlay-mtu',
      incident: 6,
      node: 'delta',
      subject: 'flannel.1',
      summary: 'flannel.1 has MTU 1450 but eth0 has MTU 1454',
      evidence: ['eth0 mtu 1454'],
      remediation: '',
      firstSeen: T,
      lastSeen: NOW,
      observations: 3,
      origin: 'node',
    };
    const fate = (a: string, b: string, p: ProbePath): RoundFacts[] =>
      (a === 'delta' || b === 'delta') && p === 'pmtu'
        ? failFrom(3, { ok: 0, largestPassing: 1454, learnedPmtu: 1454 })
        : ok();
    const { rootCauses } = evaluate(RULES, input(mesh(NAMES, fate), { findings: [f] }), { seen: new Map() });
    assert.deepEqual(
      rootCauses.map((r) => r.id),
      ['underlay-mtu:delta'],
    );
    const rc = rootCauses[0];
    assert.match(rc?.summary ?? '', /largest packet that passes is 1454 bytes.*learned PMTU 1454/);
    assert.ok(rc?.evidence.some((e) => /also explains.*flannel\.1 has MTU 1450/.test(e)));
  });
});

describe('control-ports-blocked per node', () => {
  it('needs two rounds: one round of TCP timeouts to a node is not raised, two are', () => {
    const tcp = (k: number) => [
      ...mesh(NAMES, () => ok()),
      ...NAMES.filter((a) => a !== 'bravo').map((a) => pair(a, 'bravo', 'control', 7946, failFrom(k))),
    ];
    assert.deepEqual(runOne(controlPortsBlocked, input(tcp(1))), []);
    const cs = runOne(controlPortsBlocked, input(tcp(2)));
    assert.deepEqual(
      cs.map((c) => `${c.kind}:${[...c.nodes]}`),
      ['control-ports-blocked:bravo'],
    );
  });
});
