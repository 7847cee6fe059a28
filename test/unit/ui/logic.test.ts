import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  aggregateLoss,
  chainMtuMarks,
  fateText,
  groupNodes,
  layout,
  lossClass,
  lossColor,
  placeText,
  sortRootCauses,
} from '../../../collector/ui/static/logic.js';
import type { OverlayChain, PairView, RootCause } from '../../../shared/schema.js';

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

  it('marks MTU mismatches along a chain and a too-small underlay', () => {
    const c: OverlayChain = {
      id: 'c',
      style: 'docker',
      hops: [
        { netns: 'c', dev: 'eth0', kind: 'veth', mtu: 1450, operstate: 'up' },
        { netns: 'o', dev: 'veth0', kind: 'veth', mtu: 1500, operstate: 'up' },
        { netns: 'o', dev: 'br0', kind: 'bridge', mtu: 1450, operstate: 'up' },
        { netns: 'o', dev: 'vxlan0', kind: 'vxlan', mtu: 1450, operstate: 'up' },
      ],
      vtep: null,
      underlay: { dev: 'eth0', mtu: 1480, address: null },
    };
    const m = chainMtuMarks(c);
    assert.deepEqual(
      m.hops.map((h) => h.mismatch),
      [false, true, false, false],
    );
    assert.equal(m.underlay?.mismatch, true);
    assert.equal(
      chainMtuMarks({ ...c, underlay: { dev: 'eth0', mtu: 1500, address: null } }).underlay?.mismatch,
      false,
    );
  });
});
