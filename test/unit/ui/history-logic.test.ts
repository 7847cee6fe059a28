import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fold, transitions } from '../../../collector/history/events.js';
import { durationText as cliDuration } from '../../../cli/history.js';
import {
  barAt,
  defaultSegment,
  durationText,
  nthThisWeek,
  segmentGrid,
  timelineRows,
} from '../../../collector/ui/static/history-logic.js';
import type { RootCause } from '../../../shared/schema.js';

const NOW = Date.parse('2026-11-25T12:00:00.000Z');
const H = 3600_000;
const iso = (ms: number) => new Date(ms).toISOString();

function outages() {
  const rc = (id: string, severity: RootCause['severity'], since: number): RootCause => ({
    id,
    kind: id.split(':')[0] as RootCause['kind'],
    severity,
    nodes: ['n1'],
    summary: id,
    evidence: [],
    remediation: 'fix it',
    since: iso(since),
  });
  const evs = [];
  // vtep-down:n1 three times this week (the last still open), host-firewall once, 30 h ago.
  for (const [start, end] of [
    [NOW - 100 * H, NOW - 99 * H],
    [NOW - 5 * H, NOW - 4 * H],
    [NOW - H, null],
  ] as Array<[number, number | null]>) {
    const up = transitions(new Map(), [rc('vtep-down:n1', 'critical', start)], iso(start), 't');
    evs.push(...up.events);
    if (end !== null) evs.push(...transitions(up.open, [], iso(end), 't').events);
  }
  const fw = transitions(
    new Map(),
    [rc('host-firewall-vxlan:n1', 'warning', NOW - 30 * H)],
    iso(NOW - 30 * H),
    't',
  );
  evs.push(...fw.events, ...transitions(fw.open, [], iso(NOW - 29 * H), 't').events);
  return fold(evs, NOW);
}

describe('history page logic', () => {
  it('timeline rows: one per root cause in the window, critical first, bars clipped, open to now', () => {
    const rows = timelineRows(outages(), NOW - 24 * H, NOW, NOW);
    assert.deepEqual(
      rows.map((r) => [r.id, r.bars.length]),
      [['vtep-down:n1', 2]],
      'the host-firewall outage ended 29 h ago: outside 24 h',
    );
    const week = timelineRows(outages(), NOW - 7 * 24 * H, NOW, NOW);
    assert.deepEqual(
      week.map((r) => r.id),
      ['vtep-down:n1', 'host-firewall-vxlan:n1'],
    );
    const open = week[0]?.bars.at(-1);
    assert.equal(open?.x1, NOW);
    assert.equal(open?.outage.open, true);
    const clipped = timelineRows(outages(), NOW - 99.5 * H, NOW, NOW)[0]?.bars[0];
    assert.equal(clipped?.x0, NOW - 99.5 * H);
  });

  it('finds the bar under the pointer with a tolerance for thin bars', () => {
    const rows = timelineRows(outages(), NOW - 24 * H, NOW, NOW);
    assert.equal(barAt(rows, 0, NOW - 4.5 * H, 0)?.outage.start, iso(NOW - 5 * H));
    assert.equal(barAt(rows, 0, NOW - 3 * H, 60_000), null);
    assert.equal(barAt(rows, 0, NOW - 4 * H + 30_000, 60_000)?.outage.start, iso(NOW - 5 * H));
    assert.equal(barAt(rows, 1, NOW, 1e9), null, 'no such row');
  });

  it('"Nth time this week" and durations as the CLI prints them', () => {
    const o = outages();
    assert.equal(nthThisWeek(o, 'vtep-down:n1', NOW), '3rd time this week');
    assert.equal(nthThisWeek(o, 'host-firewall-vxlan:n1', NOW), 'first time this week');
    assert.equal(
      nthThisWeek(o, 'vtep-down:n1', NOW + 3 * 24 * H),
      '2nd time this week',
      'the first fell out of the week',
    );
    assert.equal(nthThisWeek(o, 'mtu-mismatch:n2', NOW), null);
    for (const s of [0, 59, 61, 3600, 3725, 90_061]) assert.equal(durationText(s), cliDuration(s));
  });

  it('segment grid: worst loss per group pair; the default segment is the worst', () => {
    const series = (from: string, to: string, loss: Array<number | null>) => ({
      from,
      to,
      stepSeconds: 10,
      t: loss.map((_, i) => i * 10),
      loss,
      rttMs: loss.map((x) => (x === null ? null : 1)),
    });
    const g = segmentGrid([
      series('east', 'east', [0, 0]),
      series('east', 'west', [0, 0.5, null]),
      series('west', 'east', [0, 0.2]),
      series('west', 'west', [null, null]),
    ]);
    assert.deepEqual(g.groups, ['east', 'west']);
    assert.equal(g.cell('east', 'west')?.loss, 0.5);
    assert.equal(g.cell('west', 'west')?.loss, null);
    assert.equal(g.cell('north', 'west'), null);
    assert.deepEqual(defaultSegment(g), ['east', 'west']);
    const healthy = segmentGrid([series('a', 'a', [0]), series('a', 'b', [0])]);
    assert.deepEqual(defaultSegment(healthy), ['a', 'b'], 'healthy: the first cross-group segment');
  });
});
