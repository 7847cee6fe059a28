import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import {
  aggregateLoss,
  chainMtuMarks,
  failingNow,
  fateText,
  groupNodes,
  layout,
  lossClass,
  lossColor,
  pairLoss,
  placeText,
  sortRootCauses,
} from '../../../collector/ui/static/logic.js';
import type { NodeSnapshot, OverlayChain, PairView, RootCause } from '../../../shared/schema.js';

const rc = (
  id: string,
  severity: RootCause['severity'],
  since: string,
  extra: Partial<RootCause> = {},
): RootCause => ({
  id,
  kind: 'agent-down',
  severity,
  nodes: ['n1'],
  summary: id,
  evidence: [],
  remediation: '',
  since,
  ...extra,
});

describe('web page logic', () => {
  it('sorts root causes by severity, then oldest first', () => {
    const out = sortRootCauses([
      rc('i', 'info', '2026-01-01T00:00:00Z'),
      rc('c2', 'critical', '2026-01-02T00:00:00Z'),
      rc('w', 'warning', '2026-01-01T00:00:00Z'),
      rc('c1', 'critical', '2026-01-01T00:00:00Z'),
    ]);
    assert.deepEqual(
      out.map((r) => r.id),
      ['c1', 'c2', 'w', 'i'],
    );
  });

  it('place: segment as "rack A ↔ rack B", nodes listed, long lists shortened', () => {
    assert.equal(
      placeText(rc('x', 'critical', '', { nodes: [], segment: { from: 'A', to: 'B', label: 'rack' } })),
      'rack A ↔ rack B',
    );
    assert.equal(placeText(rc('x', 'critical', '', { nodes: ['n1', 'n3'] })), 'n1, n3');
    assert.equal(placeText(rc('x', 'critical', '', { nodes: [] })), 'cluster');
    const many = Array.from({ length: 9 }, (_, i) => `n${i}`);
    assert.equal(placeText(rc('x', 'critical', '', { nodes: many })), 'n0, n1, n2, n3, n4, n5 +3 more');
  });

  it('loss classes and colours: not probed differs from ok', () => {
    const pal = { ok: 'g', part: 'y', bad: 'r', none: 'n' };
    assert.deepEqual(
      [null, 0, 0.2, 0.6, 1].map((l) => lossColor(l, pal)),
      ['n', 'g', 'y', 'r', 'r'],
    );
    assert.equal(lossClass(undefined), 'none');
    assert.equal(lossClass(0.01), 'part');
  });

  it('fate text: loss, RTT, hop fate; not probed', () => {
    const p: PairView = {
      src: 'n1',
      dst: 'n3',
      path: 'vxlan',
      sent: 4,
      answered: 1,
      loss: 0.75,
      rttSeconds: 0.00042,
      fate: 'left n1, not seen at n3',
      last: null,
      lastAt: 1,
    };
    assert.equal(fateText(p), 'n1 → n3 [vxlan]: 75% loss (3/4), RTT 0.42 ms; left n1, not seen at n3');
    assert.equal(fateText({ ...p, sent: 0, answered: 0, loss: null }), 'n1 → n3: not probed yet');
    assert.equal(
      fateText(p, 120),
      'n1 → n3 [vxlan]: 75% loss (3/4 probes in the last 2 min), RTT 0.42 ms; left n1, not seen at n3',
    );
  });

  it('a pair whose latest probe failed is coloured as lost while its window loss is still low', () => {
    const last = {
      sent: true,
      leftSrc: true,
      arrivedDst: false,
      answered: false,
      replySeen: false,
      icmp: [],
    };
    const p: PairView = {
      src: 'n1',
      dst: 'n3',
      path: 'vxlan',
      sent: 40,
      answered: 36,
      loss: 0.1,
      rttSeconds: 0.0004,
      fate: 'left n1, never reached n3',
      last,
      lastAt: 1,
    };
    assert.equal(failingNow(p), true);
    assert.equal(pairLoss(p), 1);
    assert.equal(
      fateText(p),
      'n1 → n3 [vxlan]: 10% loss (4/40), RTT 0.40 ms; failing now: left n1, never reached n3',
    );
    const recovered = {
      ...p,
      last: { ...last, arrivedDst: true, answered: true, replySeen: true },
      fate: 'ok',
    };
    assert.equal(failingNow(recovered), false);
    assert.equal(pairLoss(recovered), 0.1, 'recovering: window loss (partial)');
    const pmtu = { ...recovered, path: 'pmtu' as const };
    const small = {
      ...pmtu,
      last: {
        ...recovered.last,
        pmtu: { required: 1500, largestPassing: 1400, fragNeededMtu: null, learnedPmtu: null },
      },
    };
    assert.equal(failingNow(small), true, 'answered but the required size does not pass');
    assert.equal(
      failingNow({ ...p, last: { ...last, sent: false } }),
      false,
      'not sent: unknown, not failing',
    );
    assert.equal(pairLoss({ ...p, loss: null }), null);
    assert.equal(pairLoss({ loss: 0.2 }), 0.2);
    assert.equal(
      aggregateLoss(
        new Map([
          ['a b', p],
          ['a c', recovered],
        ]),
        ['a'],
        ['b', 'c'],
      ),
      (1 + 0.1) / 2,
    );
  });

  it('groups nodes by label, unlabelled last-sorted, and aggregates loss over probed pairs only', () => {
    const g = groupNodes(
      [
        { name: 'n3', labels: { rack: 'B' } },
        { name: 'n1', labels: { rack: 'A' } },
        { name: 'n2', labels: { rack: 'A' } },
        { name: 'x', labels: {} },
      ],
      'rack',
    );
    assert.deepEqual(g, [
      { group: '(none)', nodes: ['x'] },
      { group: 'A', nodes: ['n1', 'n2'] },
      { group: 'B', nodes: ['n3'] },
    ]);
    const lookup = new Map([
      ['n1 n3', { loss: 1 }],
      ['n2 n3', { loss: 0 }],
      ['n1 n2', { loss: null }],
    ]);
    assert.equal(aggregateLoss(lookup, ['n1', 'n2'], ['n3']), 0.5);
    assert.equal(aggregateLoss(lookup, ['n1', 'n2'], ['n1', 'n2']), null);
    const l = layout(g, new Set(['A']));
    assert.deepEqual(
      l.map((s) => (s.kind === 'node' ? s.name : `[${s.group}]`)),
      ['x', '[A]', 'n3'],
    );
  });
});

// Real chains as the agents report them on the lab (snapshots in the checks fixtures).
const FIXTURES = new URL('../../fixtures/checks/lab/healthy/', import.meta.url);
const labSnapshots = (): NodeSnapshot[] =>
  readdirSync(FIXTURES)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => JSON.parse(readFileSync(new URL(f, FIXTURES), 'utf8')) as NodeSnapshot);
const labChain = (style: OverlayChain['style'] = 'docker'): OverlayChain => {
  const c = labSnapshots()[0]?.chains.find((x) => x.style === style);
  assert.ok(c, `a ${style} chain in the lab fixture`);
  return structuredClone(c);
};
const setMtu = (c: OverlayChain, dev: string, mtu: number, idx?: number): OverlayChain => {
  const i = idx ?? c.hops.findIndex((h) => h.dev === dev);
  assert.ok(c.hops[i] && c.hops[i].dev === dev, `${dev} in ${c.id}`);
  c.hops[i].mtu = mtu;
  return c;
};
const marked = (c: OverlayChain) =>
  chainMtuMarks(c)
    .hops.filter((h) => h.mismatch)
    .map((h) => `${h.dev} ${h.note}`);

describe('chain MTU marks', () => {
  it('real lab chains (overlay 1450, underlay NIC 1500 as the last hop): no marks, underlay once', () => {
    const snaps = labSnapshots();
    assert.equal(snaps.length, 4);
    let n = 0;
    for (const s of snaps)
      for (const c of s.chains) {
        n++;
        const last = c.hops.at(-1);
        assert.equal(last?.dev, c.underlay?.dev, 'fixture shape: agents end the chain with the underlay NIC');
        const m = chainMtuMarks(c);
        assert.deepEqual(marked(c), [], `${s.node} ${c.id}`);
        assert.equal(m.hops.length, c.hops.length, 'the underlay NIC is not appended a second time');
        assert.deepEqual(
          m.hops.map((h) => h.role),
          ['hop', 'hop', 'hop', 'vtep', 'underlay'],
        );
        assert.equal(m.underlay?.mismatch, false);
        assert.equal(m.underlay?.address, s.underlay?.addresses[0], 'each node its own underlay address');
        assert.equal(m.vtepMtu, 1450);
        assert.equal(m.need, 1500);
      }
    assert.equal(n, 8, 'a flannel and a docker chain per node');
  });

  it('a veth end or a bridge bigger than the VTEP is marked, nothing else', () => {
    assert.deepEqual(marked(setMtu(labChain(), 'veth0', 1500)), ['veth0 > VTEP MTU 1450']);
    assert.deepEqual(marked(setMtu(labChain(), 'eth0', 9000, 0)), ['eth0 > VTEP MTU 1450']);
    assert.deepEqual(marked(setMtu(labChain('flannel'), 'cni0', 1500)), ['cni0 > VTEP MTU 1450']);
    // the VTEP itself smaller than the workload side: the workload side is what is marked
    assert.deepEqual(marked(setMtu(labChain('flannel'), 'flannel.1', 1400)), [
      'eth0 > VTEP MTU 1400',
      'vethpod > VTEP MTU 1400',
      'cni0 > VTEP MTU 1400',
    ]);
  });

  it('a hop smaller than what the workload sends is marked; a smaller workload MTU alone is fine', () => {
    assert.deepEqual(marked(setMtu(labChain('flannel'), 'vethpod', 1400)), ['vethpod < MTU 1450 before it']);
    const c = labChain();
    c.hops[0]!.mtu = 1400;
    assert.deepEqual(marked(c), []);
  });

  it('underlay below VTEP MTU + 50 is marked (and + 70 over IPv6); equal or larger is not', () => {
    const small = labChain();
    setMtu(small, 'eth0', 1480, small.hops.length - 1);
    small.underlay = { ...small.underlay!, mtu: 1480 };
    assert.deepEqual(marked(small), ['eth0 too small (needs ≥ 1500)']);
    assert.equal(chainMtuMarks(small).underlay?.mismatch, true);
    const jumbo = labChain('flannel');
    setMtu(jumbo, 'eth0', 9000, jumbo.hops.length - 1);
    assert.deepEqual(marked(jumbo), []);
    const v6 = labChain();
    v6.underlay = { ...v6.underlay!, address: 'fd00::11' };
    assert.deepEqual(marked(v6), ['eth0 too small (needs ≥ 1520)']);
  });

  it('chains ending at the VTEP get chain.underlay appended once; no VTEP, no marks', () => {
    const c = labChain();
    c.hops.pop();
    const m = chainMtuMarks(c);
    assert.equal(m.hops.length, 5);
    assert.deepEqual(m.hops.at(-1), {
      netns: '',
      dev: 'eth0',
      kind: 'underlay',
      mtu: 1500,
      operstate: '',
      role: 'underlay',
      mismatch: false,
      note: '',
      address: '10.200.1.11',
    });
    c.underlay = { ...c.underlay!, mtu: 1400 };
    assert.deepEqual(marked(c), ['eth0 too small (needs ≥ 1500)']);
    const broken: OverlayChain = { ...labChain(), vtep: null, underlay: null };
    broken.hops = broken.hops.slice(0, 3);
    broken.hops[1]!.mtu = 9000;
    const b = chainMtuMarks(broken);
    assert.deepEqual(marked(broken), []);
    assert.equal(b.underlay, null);
    assert.equal(b.vtepMtu, null);
  });
});
