import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import Fastify from 'fastify';
import { durationText, formatHistory } from '../../../cli/history.js';
import {
  fold,
  type HistoryEvent,
  msgId,
  type OpenOutage,
  occurrences,
  ordinal,
  parseEvent,
  parseWhen,
  query,
  transitions,
} from '../../../collector/history/events.js';
import { historyPlugin } from '../../../collector/history/routes.js';
import { SegmentRing, segmentSamples } from '../../../collector/history/segments.js';
import type { RootCause } from '../../../shared/schema.js';

const T0 = Date.parse('2026-11-20T10:00:00.000Z');
const iso = (ms: number) => new Date(ms).toISOString();
const min = 60_000;

function rc(over: Partial<RootCause> = {}): RootCause {
  return {
    id: 'underlay-vxlan-filtered:zone:east:west',
    kind: 'underlay-vxlan-filtered',
    severity: 'critical',
    nodes: ['n2', 'n1'],
    segment: { from: 'east', to: 'west', label: 'zone' },
    summary: 'VXLAN port dropped between zone east and west (4/4 pairs)',
    evidence: ['n1 -> n2: left n1, never arrived'],
    remediation: 'allow udp/4789 on the switch between east and west',
    since: iso(T0),
    ...over,
  };
}

/** Runs a sequence of diagnoses through `transitions`, as one collector would. */
function life(
  steps: Array<{ at: number; rcs: RootCause[] }>,
  by = 'c1',
  start = new Map<string, OpenOutage>(),
) {
  let open = start;
  const out: HistoryEvent[] = [];
  for (const s of steps) {
    const r = transitions(open, s.rcs, iso(s.at), by);
    open = r.open;
    out.push(...r.events);
  }
  return { events: out, open };
}

describe('history transitions', () => {
  it('raises once, notes a change of place/severity, clears once', () => {
    const a = rc();
    const wider = rc({ nodes: ['n1', 'n2', 'n3'], summary: 'VXLAN port dropped (6/6 pairs)' });
    const { events } = life([
      { at: T0, rcs: [a] },
      { at: T0 + 2000, rcs: [rc({ evidence: ['other per-round numbers'] })] },
      { at: T0 + 4000, rcs: [wider] },
      { at: T0 + 6000, rcs: [wider] },
      { at: T0 + 8000, rcs: [] },
      { at: T0 + 10_000, rcs: [] },
    ]);
    assert.deepEqual(
      events.map((e) => e.type),
      ['raised', 'changed', 'cleared'],
    );
    assert.equal(events[0]?.since, a.since);
    assert.deepEqual(events[0]?.nodes, ['n1', 'n2'], 'nodes sorted');
    assert.equal(events[2]?.at, iso(T0 + 8000));
  });

  it('a new since for the same id is a clear and a new raise', () => {
    const { events } = life([
      { at: T0, rcs: [rc()] },
      { at: T0 + 5 * min, rcs: [rc({ since: iso(T0 + 5 * min) })] },
    ]);
    assert.deepEqual(
      events.map((e) => `${e.type}@${e.since}`),
      [`raised@${iso(T0)}`, `cleared@${iso(T0)}`, `raised@${iso(T0 + 5 * min)}`],
    );
  });

  it('an outage seeded from the history continues under another since without a clear', () => {
    const seeded = new Map<string, OpenOutage>([
      [rc().id, { since: iso(T0 - min), key: '', facts: rc(), seeded: true }],
    ]);
    const { events } = life([{ at: T0 + min, rcs: [rc()] }], 'c2', seeded);
    assert.deepEqual(
      events.map((e) => e.type),
      ['raised'],
    );
  });

  it('a root cause missing for less than the grace stays open; the clear is dated when it went missing', () => {
    const opts = { clearGraceMs: 10_000, closed: new Map<string, { since: string; at: string }>() };
    let open = new Map<string, OpenOutage>();
    const out: HistoryEvent[] = [];
    for (const [at, rcs] of [
      [T0, [rc()]],
      [T0 + 2000, []],
      [T0 + 4000, [rc()]],
      [T0 + 6000, []],
      [T0 + 8000, []],
      [T0 + 16_000, []],
    ] as Array<[number, RootCause[]]>) {
      const r = transitions(open, rcs, iso(at), 'c1', opts);
      open = r.open;
      out.push(...r.events);
    }
    assert.deepEqual(
      out.map((e) => `${e.type}@${e.at}`),
      [`raised@${iso(T0)}`, `cleared@${iso(T0 + 6000)}`],
      'the 2 s gap is no outage end; the clear is dated at the first missing evaluation',
    );
  });

  it('raised again with the same since after a clear reopens the outage (distinct message id)', () => {
    const opts = { closed: new Map<string, { since: string; at: string }>() };
    let open = new Map<string, OpenOutage>();
    const out: HistoryEvent[] = [];
    for (const [at, rcs] of [
      [T0, [rc()]],
      [T0 + 2000, []],
      [T0 + 4000, [rc()]],
    ] as Array<[number, RootCause[]]>) {
      const r = transitions(open, rcs, iso(at), 'c1', opts);
      open = r.open;
      out.push(...r.events);
    }
    assert.deepEqual(
      out.map((e) => e.type),
      ['raised', 'cleared', 'raised'],
    );
    assert.equal(out[2]?.reopens, iso(T0 + 2000));
    assert.equal(new Set(out.map(msgId)).size, 3, 'the reopening raise is not dropped as a duplicate');
    const folded = fold([...out, ...out], T0 + 60_000);
    assert.equal(folded.length, 1);
    assert.equal(folded[0]?.open, true, 'still open: the clear was taken back');
    assert.equal(folded[0]?.start, iso(T0));
  });

  it('message ids are deterministic per transition and distinguish changes', () => {
    const r1 = life([{ at: T0, rcs: [rc()] }], 'c1').events[0] as HistoryEvent;
    const r2 = life([{ at: T0 + 1500, rcs: [rc()] }], 'c2').events[0] as HistoryEvent;
    assert.equal(msgId(r1), msgId(r2), 'two replicas, same since: same id');
    assert.equal(msgId(r1), `${rc().id}|${rc().since}|raised`);
    const c1 = { ...r1, type: 'changed' as const, severity: 'warning' as const };
    const c2 = { ...r1, type: 'changed' as const, summary: 'other' };
    assert.notEqual(msgId(c1), msgId(c2));
  });
});

describe('history folding', () => {
  const base = life([
    { at: T0, rcs: [rc()] },
    { at: T0 + 3 * min, rcs: [rc({ nodes: ['n1', 'n2', 'n3'], summary: 'wider', evidence: ['a', 'b'] })] },
    { at: T0 + 10 * min, rcs: [] },
  ]).events;

  it('folds one life into one closed outage with duration, place and the worst evidence', () => {
    const [o, ...rest] = fold(base, T0 + 60 * min);
    assert.equal(rest.length, 0);
    assert.ok(o);
    assert.equal(o.start, iso(T0));
    assert.equal(o.end, iso(T0 + 10 * min));
    assert.equal(o.open, false);
    assert.equal(o.durationSeconds, 600);
    assert.equal(o.place, 'zone east <-> zone west');
    assert.deepEqual(o.worst.nodes, ['n1', 'n2', 'n3'], 'worst = most nodes at equal severity');
    assert.deepEqual(o.evidence, ['a', 'b']);
    assert.equal(o.changes, 1);
    assert.equal(o.outage, `${rc().id}|${iso(T0)}`);
  });

  it('is idempotent: events repeated and shuffled give the same outages', () => {
    const once = fold(base, T0 + 60 * min);
    const many = [...base, ...base, ...base].reverse();
    assert.deepEqual(fold(many, T0 + 60 * min), once);
  });

  it('two replicas with slightly different since and clear times give one outage', () => {
    const b = life(
      [
        { at: T0 + 4000, rcs: [rc({ since: iso(T0 + 4000) })] },
        { at: T0 + 10 * min + 3000, rcs: [] },
      ],
      'c2',
    ).events;
    const out = fold([...base, ...b], T0 + 60 * min);
    assert.equal(out.length, 1);
    assert.equal(out[0]?.start, iso(T0));
    assert.equal(out[0]?.end, iso(T0 + 10 * min + 3000));
  });

  it('a replica that stopped while the outage was open does not keep it open', () => {
    const b = life([{ at: T0 + 2000, rcs: [rc({ since: iso(T0 + 2000) })] }], 'c2').events;
    const out = fold([...b, ...base], T0 + 60 * min);
    assert.equal(out.length, 1);
    assert.equal(out[0]?.open, false);
  });

  it('keeps separate outages of the same root cause apart and counts them', () => {
    const again = life([
      { at: T0 + 30 * min, rcs: [rc({ since: iso(T0 + 30 * min) })] },
      { at: T0 + 31 * min, rcs: [rc({ since: iso(T0 + 30 * min) })] },
    ]).events;
    const out = fold([...base, ...again], T0 + 40 * min);
    assert.equal(out.length, 2);
    const open = out.find((o) => o.open);
    assert.equal(open?.durationSeconds, 600, 'open: duration up to now');
    assert.equal(occurrences(out, rc().id, T0 - 7 * 86400_000, T0 + 40 * min), 2);
    assert.equal(ordinal(2), '2nd');
    assert.equal(ordinal(3), '3rd');
    assert.equal(ordinal(11), '11th');
    assert.equal(ordinal(21), '21st');
  });

  it('rejects malformed events', () => {
    const good = base[0] as HistoryEvent;
    assert.ok(parseEvent(JSON.parse(JSON.stringify(good))));
    assert.equal(parseEvent({ ...good, v: 2 }), null);
    assert.equal(parseEvent({ ...good, type: 'opened' }), null);
    assert.equal(parseEvent({ ...good, since: 'yesterday' }), null);
    assert.equal(parseEvent({ ...good, nodes: [1] }), null);
    assert.equal(parseEvent('x'), null);
  });
});

describe('history query filters', () => {
  const node = life([
    {
      at: T0 + 20 * min,
      rcs: [
        rc({
          id: 'vtep-down:n7',
          kind: 'vtep-down',
          segment: undefined,
          nodes: ['n7'],
          since: iso(T0 + 20 * min),
        }),
      ],
    },
  ]).events;
  const seg = life([
    { at: T0, rcs: [rc()] },
    { at: T0 + 10 * min, rcs: [] },
  ]).events;
  const all = fold([...seg, ...node], T0 + 60 * min);
  const wide = { since: T0 - 60 * min, until: T0 + 60 * min };

  it('window overlap, kind, node and segment', () => {
    assert.equal(query(all, wide).length, 2);
    assert.equal(query(all, wide)[0]?.kind, 'vtep-down', 'newest first');
    assert.equal(query(all, { since: T0 + 11 * min, until: T0 + 60 * min }).length, 1, 'ended before');
    assert.equal(query(all, { since: T0 + 50 * min, until: T0 + 60 * min }).length, 1, 'open overlaps');
    assert.equal(query(all, { since: T0 - 60 * min, until: T0 - min }).length, 0);
    assert.equal(query(all, { ...wide, kind: 'vtep-down' }).length, 1);
    assert.equal(query(all, { ...wide, node: 'n1' })[0]?.kind, 'underlay-vxlan-filtered');
    assert.equal(query(all, { ...wide, node: 'n9' }).length, 0);
    assert.equal(query(all, { ...wide, segment: 'west' }).length, 1);
    assert.equal(query(all, { ...wide, segment: 'west,east' }).length, 1, 'either order');
    assert.equal(query(all, { ...wide, segment: 'east,north' }).length, 0);
  });

  it('parses since/until', () => {
    const now = T0;
    assert.equal(parseWhen('24h', now), now - 24 * 3600_000);
    assert.equal(parseWhen('7d', now), now - 7 * 86400_000);
    assert.equal(parseWhen('2026-11-20T09:00:00Z', now), T0 - 60 * min);
    assert.equal(parseWhen('soon', now), null);
    assert.equal(parseWhen('12', now), null);
  });

  it('GET /api/v1/history validates and filters', async () => {
    const app = Fastify();
    await app.register(
      historyPlugin({
        query: (f, now) => query(fold([...seg, ...node], now), f),
        ready: () => true,
        clock: () => T0 + 60 * min,
      }),
    );
    const r = await app.inject('/api/v1/history?since=2h&kind=vtep-down');
    assert.equal(r.statusCode, 200);
    const b = r.json();
    assert.equal(b.outages.length, 1);
    assert.equal(b.outages[0].open, true);
    assert.equal(b.complete, true);
    assert.equal((await app.inject('/api/v1/history?since=lately')).statusCode, 400);
    assert.equal((await app.inject('/api/v1/history?since=1h&until=2h')).statusCode, 400);
    assert.equal((await app.inject('/api/v1/history?node=%3Cscript%3E')).statusCode, 400);
    assert.equal((await app.inject('/api/v1/history?since=30m')).json().outages.length, 1);
    const fav = await app.inject('/favicon.ico');
    assert.equal(fav.statusCode, 200);
    assert.match(fav.headers['content-type'] as string, /image\/svg/);
    const lib = await app.inject('/vendor/uplot/uPlot.esm.js');
    assert.equal(lib.statusCode, 200);
    assert.match(lib.body, /export \{ uPlot as default \}|export default/);
    await app.close();
  });

  it('without a history source the route answers 503 and the favicon is still there', async () => {
    const app = Fastify();
    await app.register(historyPlugin(undefined));
    assert.equal((await app.inject('/api/v1/history')).statusCode, 503);
    assert.equal((await app.inject('/favicon.ico')).statusCode, 200);
    await app.close();
  });

  it('formats the text listing', () => {
    const text = formatHistory({
      generatedAt: iso(T0 + 60 * min),
      since: iso(T0 - 60 * min),
      until: iso(T0 + 60 * min),
      complete: true,
      outages: query(all, wide),
    });
    assert.match(text, /Outages .*: 2 \(1 open\)/);
    assert.match(
      text,
      /2026-11-20 10:00:00Z\s+2026-11-20 10:10:00Z\s+10m00s\s+critical\s+underlay-vxlan-filtered\s+zone east <-> zone west/,
    );
    assert.match(text, /open\s+40m00s\s+critical\s+vtep-down\s+n7/);
    assert.match(text, /fix: allow udp\/4789/);
    assert.equal(durationText(3725), '1h02m');
    assert.equal(durationText(90_000), '1d01h00m');
  });
});

describe('segment ring', () => {
  it('keeps samples in slots, drops the ones past the span, downsamples the week', () => {
    const ring = new SegmentRing({
      stepMs: 10_000,
      spanMs: 60_000,
      coarseStepMs: 30_000,
      coarseSpanMs: 300_000,
    });
    for (let i = 0; i < 12; i++)
      ring.sample(T0 + i * 10_000, [
        { from: 'a', to: 'b', loss: i < 6 ? 0 : 1, rttSeconds: 0.001 * (i + 1) },
        { from: 'a', to: 'a', loss: null, rttSeconds: null },
      ]);
    const fine = ring.series('a', 'b', T0 + 50_000, T0 + 110_000);
    assert.ok(fine);
    assert.equal(fine.stepSeconds, 10);
    // Slot of T0+50 s was overwritten by T0+110 s (6 slots): six points, the newest ones.
    assert.deepEqual(fine.loss, [1, 1, 1, 1, 1, 1]);
    assert.equal(fine.rttMs[0], 7);
    // Older than the 60 s span: overwritten slots are not returned as new data.
    const old = ring.series('a', 'b', T0, T0 + 40_000);
    assert.ok(old);
    assert.equal(old.t.length, 0);
    const coarse = ring.series('a', 'b', T0 - 200_000, T0 + 110_000);
    assert.equal(coarse?.stepSeconds, 30);
    assert.deepEqual(coarse?.loss, [0, 0, 1, 1], '30 s means of 10 s samples');
    assert.deepEqual(coarse?.rttMs, [2, 5, 8, 11]);
    assert.deepEqual(
      ring.series('a', 'a', T0 - 1, T0 + 110_000)?.loss.every((x) => x === null),
      true,
    );
    assert.equal(ring.series('x', 'y', T0, T0 + 1), null);
  });

  it('samples RTT as the median of the segment pairs', () => {
    const s = segmentSamples(
      [{ from: 'a', to: 'b', loss: 0.5 }],
      [
        { src: 'n1', dst: 'n3', rttSeconds: 0.003 },
        { src: 'n2', dst: 'n3', rttSeconds: 0.001 },
        { src: 'n2', dst: 'n4', rttSeconds: 0.002 },
        { src: 'n3', dst: 'n1', rttSeconds: 0.9 },
        { src: 'n1', dst: 'n4', rttSeconds: null },
      ],
      (n) => (n === 'n1' || n === 'n2' ? 'a' : 'b'),
    );
    assert.deepEqual(s, [{ from: 'a', to: 'b', loss: 0.5, rttSeconds: 0.002 }]);
  });
});

describe('status with history', () => {
  it('says how long and how often this week', async () => {
    const { formatStatus } = await import('../../../cli/status.js');
    const base = {
      collector: 'http://x',
      generatedAt: iso(T0 + 5 * min + 12_000),
      ready: true,
      natsConnected: true,
      nodes: [],
      paths: [],
      exitCode: 1 as const,
    };
    const rcs = [rc(), rc({ id: 'vtep-down:n7', kind: 'vtep-down', segment: undefined, nodes: ['n7'] })];
    const text = formatStatus({ ...base, rootCauses: rcs, thisWeek: { [rc().id]: 3, 'vtep-down:n7': 1 } });
    assert.match(
      text,
      /underlay-vxlan-filtered at zone east <-> west \(since 2026-11-20T10:00:00.000Z, for 5m12s; 3rd time this week\)/,
    );
    assert.match(text, /vtep-down at n7 \(since [^)]*, for 5m12s; first time this week\)/);
    const without = formatStatus({ ...base, rootCauses: rcs });
    assert.match(without, /\(since 2026-11-20T10:00:00.000Z, for 5m12s\)\n/, 'no history: no count');
  });
});
