import type { HopsEvidence, ProbeResult, ProbesMessage } from '../../../shared/schema.js';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ClusterState, GroupViewBuilder } from '../../../collector/state/index.js';
import {
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

describe('cluster state', () => {
  it('is idempotent by message id: a redelivered message changes nothing', () => {
    const now = T0 + 2000;
    const s = new ClusterState({ clock: () => now });
    const msgs = round(0, healthy);
    for (const m of msgs) assert.equal(s.apply(m), true);
    const pairs = JSON.stringify(s.pairs('vxlan'));
    const rtt = JSON.stringify(s.rtt);
    const gen = s.generation;
    for (const m of msgs) assert.equal(s.apply(structuredClone(m)), false);
    assert.equal(JSON.stringify(s.pairs('vxlan')), pairs);
    assert.equal(JSON.stringify(s.rtt), rtt);
    assert.equal(s.generation, gen);
    assert.equal(s.pairs('vxlan').find((p) => p.src === 'n1' && p.dst === 'n3')?.sent, 1);
  });

  it("keeps a pair's latest probe as its own copy: a newer one replaces every field, an older one none, and the message may change after", () => {
    let now = T0;
    const s = new ClusterState({ clock: () => now, windowMs: 120_000 });
    const latestOf = () =>
      s.pairStatuses().find((p) => p.src === 'n1' && p.dst === 'n3' && p.path === 'pmtu')?.last;
    const [m0] = round(0, healthy).filter((m) => m.node === 'n1');
    const r0 = m0?.results.find((r) => r.dst === 'n3' && r.path === 'pmtu');
    assert.ok(m0 && r0?.pmtu);
    r0.note = 'first note';
    s.apply(m0);
    // The published object changing later (a reused buffer) does not reach the state.
    r0.pmtu.largestPassing = 1;
    r0.note = 'changed after';
    now = T0 + 1000;
    assert.equal(latestOf()?.pmtu?.largestPassing, 1500);
    assert.equal(latestOf()?.note, 'first note');
    const fault: Fault = (_s, d, path) =>
      d === 'n3' && path === 'pmtu' ? { kind: 'mtu', largestPassing: 1400, frag: 1450 } : { kind: 'ok' };
    const [m1] = round(1, fault).filter((m) => m.node === 'n1');
    assert.ok(m1);
    s.apply(m1);
    now = T0 + ROUND_MS + 1000;
    const l = latestOf();
    assert.equal(l?.round, 1);
    assert.equal(l?.pmtu?.largestPassing, 1400);
    assert.equal(l?.pmtu?.fragNeededMtu, 1450);
    assert.deepEqual(l?.icmp, ['frag-needed mtu=1450 from 10.200.2.254']);
    assert.equal(l?.note, undefined, 'a field the newer probe does not have is gone');
    assert.equal('note' in (l ?? {}), false);
    // A late, older probe of the pair changes nothing.
    const [late] = round(0, healthy).filter((m) => m.node === 'n1');
    assert.ok(late);
    late.id = 'late-copy';
    s.apply(late);
    assert.equal(latestOf()?.round, 1);
    assert.equal(latestOf()?.pmtu?.largestPassing, 1400);
  });

  it('gives back every field of the latest probe as published, whatever the port, path, RTT or flags (the record packs them)', () => {
    let now = T0;
    const s = new ClusterState({ clock: () => now, windowMs: 120_000 });
    const hops: HopsEvidence = {
      at: T0,
      sport: 49_152,
      port: 65_535,
      controlPort: null,
      size: 1500,
      verdict: 'vxlan-dies-after',
      hop: '10.9.0.1',
      next: '10.9.0.2',
      mtu: null,
      text: 'VXLAN port 65535 forwarded by 10.9.0.1, never by 10.9.0.2',
      rows: [
        {
          ttl: 1,
          address: '10.9.0.1',
          name: null,
          vxlan: true,
          control: true,
          controlAddress: null,
          fragNeededMtu: null,
        },
      ],
    };
    const base = { src: 'edge.a-1', target: '192.0.2.9', round: 3, at: T0, sent: true } as const;
    // Ports at the edges of the range and none; RTTs in whole µs, not (a JSON form's), zero and
    // none; every tri-state flag value; one result with ICMP lines and a walk.
    const results: ProbeResult[] = [
      {
        ...base,
        path: 'vxlan',
        dst: 'd1',
        port: 65_535,
        leftSrc: true,
        arrivedDst: false,
        answered: false,
        replySeen: null,
        rttSeconds: null,
        icmp: [],
        hops,
      },
      {
        ...base,
        path: 'control',
        dst: 'd1',
        port: 0,
        leftSrc: null,
        arrivedDst: true,
        answered: true,
        replySeen: true,
        rttSeconds: 0.000123,
        icmp: [],
      },
      {
        ...base,
        path: 'control',
        dst: 'd1',
        port: 1,
        leftSrc: false,
        arrivedDst: true,
        answered: true,
        replySeen: false,
        rttSeconds: 1 / 3,
        icmp: [],
        note: 'tcp 1 refused',
      },
      {
        ...base,
        path: 'overlay',
        dst: 'd1',
        port: null,
        leftSrc: true,
        arrivedDst: true,
        answered: true,
        replySeen: true,
        rttSeconds: 0,
        icmp: [],
      },
      {
        ...base,
        path: 'pmtu',
        dst: 'd1',
        port: 4789,
        leftSrc: true,
        arrivedDst: true,
        answered: true,
        replySeen: true,
        rttSeconds: 1.2e-7,
        icmp: ['frag-needed mtu=1450 from 10.9.0.1'],
        pmtu: { required: 1500, largestPassing: 1400, fragNeededMtu: 1450, learnedPmtu: null },
      },
      {
        ...base,
        path: 'vxlan',
        dst: 'd2',
        port: 4789,
        sent: false,
        leftSrc: null,
        arrivedDst: false,
        answered: false,
        replySeen: null,
        rttSeconds: null,
        icmp: [],
      },
    ];
    const msg = (round: number, rs: ProbeResult[]): ProbesMessage => ({
      schemaVersion: 1,
      type: 'probes',
      node: 'edge.a-1',
      at: T0 + round * ROUND_MS + 1000,
      id: `edge-probes-${round}`,
      round,
      results: rs.map((r) => ({ ...r, round, at: T0 + round * ROUND_MS })),
      arrivals: [],
    });
    s.apply(msg(3, results));
    now = T0 + 3 * ROUND_MS + 1500;
    const latest = () => s.pairStatuses().filter((p) => p.src === 'edge.a-1');
    const key = (r: { dst: string; path: string; port: number | null }) => `${r.dst}/${r.path}/${r.port}`;
    const got = new Map(latest().map((p) => [key(p), p]));
    assert.equal(got.size, results.length);
    for (const r of results) {
      const p = got.get(key(r));
      assert.ok(p, key(r));
      assert.deepEqual(p.last, { ...r, round: 3, at: T0 + 3 * ROUND_MS }, key(r));
      assert.equal(p.port, r.port);
      assert.equal(p.path, r.path);
    }
    // The next round: the walk, ICMP lines and note are gone from the latest; the pairs keep
    // their path and port, and each its window.
    const next = results.map((r) => {
      const { hops: _h, note: _n, ...rest } = r;
      return { ...rest, icmp: [], rttSeconds: r.answered ? 0.0005 : null };
    });
    s.apply(msg(4, next));
    now = T0 + 4 * ROUND_MS + 1500;
    for (const p of latest()) {
      const r = next.find((x) => key(x) === key(p));
      assert.ok(r, key(p));
      assert.deepEqual(p.last, { ...r, round: 4, at: T0 + 4 * ROUND_MS }, key(p));
      assert.equal(p.sent, r.sent ? 2 : 0, `${key(p)}: windowed sent`);
    }
    const vx = latest().find((p) => key(p) === 'd1/vxlan/65535');
    assert.equal(vx?.last.hops, undefined);
    assert.equal(vx?.status, 'fail');
    assert.equal(latest().find((p) => key(p) === 'd1/overlay/null')?.status, 'pass');
  });

  it("drops a pair its sender rotated away from once it is stale, but keeps a silent sender's pairs", () => {
    let now = T0;
    const s = new ClusterState({ clock: () => now, windowMs: 120_000, staleMs: 10_000 });
    for (const m of round(0, healthy)) s.apply(m);
    // Next rounds: n1 keeps publishing without probing n2 (its probe set moved on); n3 is silent.
    for (let n = 1; n < 6; n++)
      for (const m of round(n, healthy, { silent: ['n3'] })) {
        if (m.node === 'n1') m.results = m.results.filter((r) => r.dst !== 'n2');
        s.apply(m);
      }
    now = T0 + 6 * ROUND_MS;
    const before = s.rotatedOut;
    s.tick();
    const vx = s.pairs('vxlan');
    assert.equal(
      vx.find((p) => p.src === 'n1' && p.dst === 'n2'),
      undefined,
      'rotated-away pair dropped',
    );
    assert.ok(
      vx.find((p) => p.src === 'n1' && p.dst === 'n3'),
      'pair still probed is kept',
    );
    const silent = s.pairStatuses().filter((p) => p.src === 'n3' && p.path === 'vxlan');
    assert.ok(silent.length > 0, "a silent sender's pairs stay for the window");
    assert.ok(silent.every((p) => p.status === 'unknown'));
    assert.ok(s.rotatedOut > before);
    // While the ingest lags, a rotated-away pair goes all the same: the sender's own later
    // messages (its time, not the collector's) show it moved on. Kept for the lag, such pairs
    // doubled the state at 5,000 nodes 35 s behind and filled the pair cap.
    const lagging = new ClusterState({ clock: () => now, windowMs: 120_000, staleMs: 10_000 });
    lagging.ingestLagMs = 60_000;
    now = T0;
    for (const m of round(0, healthy)) lagging.apply(m);
    for (let n = 1; n < 6; n++)
      for (const m of round(n, healthy)) {
        if (m.node === 'n1') m.results = m.results.filter((r) => r.dst !== 'n2');
        lagging.apply(m);
      }
    now = T0 + 6 * ROUND_MS;
    lagging.tick();
    assert.equal(
      lagging.pairs('vxlan').find((p) => p.src === 'n1' && p.dst === 'n2'),
      undefined,
      'rotated-away pair dropped while lagging',
    );
    assert.ok(lagging.pairs('vxlan').find((p) => p.src === 'n2' && p.dst === 'n1'));
  });

  it('drops one port of a destination and keeps counting the others; the port comes back as a new pair', () => {
    let now = T0;
    const s = new ClusterState({ clock: () => now, windowMs: 120_000, staleMs: 10_000 });
    const n1 = (n: number, keep: (port: number | null) => boolean) => {
      const m = round(n, healthy).find((x) => x.node === 'n1');
      assert.ok(m);
      m.results = m.results.filter((r) => r.dst === 'n4' && r.path === 'control' && keep(r.port));
      return m;
    };
    const ports = () =>
      s
        .pairStatuses()
        .filter((p) => p.src === 'n1' && p.dst === 'n4' && p.path === 'control')
        .map((p) => [p.port, p.sent]);
    s.apply(n1(0, () => true));
    assert.deepEqual(ports(), [
      [2377, 1],
      [7946, 1],
      [7999, 1],
    ]);
    // 7946 (the middle of the destination's chain, whichever order it was built in) goes quiet.
    for (let n = 1; n < 5; n++) s.apply(n1(n, (p) => p !== 7946));
    now = T0 + 5 * ROUND_MS;
    s.tick();
    assert.deepEqual(ports(), [
      [2377, 5],
      [7999, 5],
    ]);
    s.apply(n1(5, () => true));
    s.apply(n1(6, (p) => p === 7946));
    assert.deepEqual(ports(), [
      [2377, 6],
      [7946, 2],
      [7999, 6],
    ]);
    // Forgetting the source leaves nothing behind; its next round starts afresh.
    assert.equal(s.forget('n1'), true);
    assert.deepEqual(ports(), []);
    s.apply(n1(7, () => true));
    assert.deepEqual(ports(), [
      [2377, 1],
      [7946, 1],
      [7999, 1],
    ]);
  });

  it('keeps a sliding window per pair and forgets pairs that stop being probed', () => {
    let now = T0;
    const s = new ClusterState({ clock: () => now, windowMs: 20_000, maxSamplesPerPair: 3 });
    for (let n = 0; n < 6; n++) for (const m of round(n, healthy)) s.apply(m);
    now = T0 + 6 * ROUND_MS;
    s.tick();
    const p = s.pairs('vxlan').find((x) => x.src === 'n1' && x.dst === 'n2');
    assert.equal(p?.sent, 3, 'capped at maxSamplesPerPair');
    now = T0 + 60_000;
    s.tick();
    assert.deepEqual(s.pairs('vxlan'), []);
  });

  it('fills arrivedDst from the destination arrival reports: left A, never reached B', () => {
    const now = T0 + 2000;
    const s = new ClusterState({ clock: () => now });
    const fault: Fault = (a, b, p) =>
      a === 'n1' && b === 'n3' && p === 'vxlan' ? { kind: 'no-capture-loss' } : { kind: 'ok' };
    for (const m of round(0, fault)) s.apply(m);
    const p = s.pairs('vxlan').find((x) => x.src === 'n1' && x.dst === 'n3');
    assert.equal(p?.last?.arrivedDst, false);
    assert.equal(p?.loss, 1);
    assert.match(p?.fate ?? '', /never reached n3/);
    // Without the destination's report it stays unknown.
    const s2 = new ClusterState({ clock: () => now });
    for (const m of round(0, fault).filter((m) => m.node !== 'n3')) s2.apply(m);
    assert.equal(s2.pairs('vxlan').find((x) => x.src === 'n1' && x.dst === 'n3')?.last?.arrivedDst, null);
  });

  it('expires presence (agent down) and node findings', () => {
    let now = T0;
    const s = new ClusterState({ clock: () => now, presenceTtlMs: 30_000, findingTtlMs: 60_000 });
    for (const n of NODES) s.applyPresence(presence(n, T0));
    s.apply(findingsMsg('n2', 0, [finding('n2', 'missing-gwbridge')]));
    assert.deepEqual(
      s.nodes().map((n) => n.state),
      ['up', 'up', 'up', 'up'],
    );
    assert.equal(s.nodes()[1]?.findings.critical, 1);
    now = T0 + 31_000;
    s.applyPresence(presence('n1', now));
    assert.deepEqual(
      s.nodes().map((n) => n.state),
      ['up', 'expired', 'expired', 'expired'],
    );
    s.removePresence('n1');
    assert.equal(s.nodes()[0]?.state, 'expired');
    now = T0 + 61_000;
    assert.equal(s.activeFindings().length, 0);
  });

  it('keeps a finding first-seen time while it persists, resets it after it cleared', () => {
    const s = new ClusterState({ clock: () => T0 });
    s.apply(findingsMsg('n1', 0, [finding('n1', 'vtep-down')]));
    s.apply(findingsMsg('n1', 1, [finding('n1', 'vtep-down')]));
    assert.equal(s.activeFindings()[0]?.firstSeen, T0 + 500);
    assert.equal(s.activeFindings()[0]?.observations, 2);
    s.apply(findingsMsg('n1', 2, []));
    s.apply(findingsMsg('n1', 3, [finding('n1', 'vtep-down')]));
    assert.equal(s.activeFindings()[0]?.firstSeen, T0 + 3 * ROUND_MS + 500);
    // An older findings message (late redelivery) does not overwrite a newer one.
    s.apply({ ...findingsMsg('n1', 1, []), id: 'late' });
    assert.equal(s.activeFindings().length, 1);
  });

  it('node detail carries the latest snapshot facts; group aggregation by label', () => {
    const s = new ClusterState({ clock: () => T0 + 2000 });
    for (const n of NODES) s.apply(snapshotMsg(n, 0));
    for (const m of round(0, (a, b, p) =>
      a === 'n1' && b === 'n3' && p === 'vxlan' ? { kind: 'lost-in-path' } : { kind: 'ok' },
    ))
      s.apply(m);
    const d = s.nodeDetail('n1');
    assert.equal(d?.host?.kernel, '6.1.0-18-amd64');
    assert.deepEqual(
      d?.vteps.map((v) => v.dev),
      ['vxlan0', 'flannel.1'],
    );
    assert.equal(s.nodeDetail('nope'), null);
    const g = s.groupPairs('vxlan');
    assert.deepEqual(
      g.map((x) => [x.from, x.to, x.pairs, x.loss]),
      [
        ['A', 'A', 2, 0],
        ['A', 'B', 4, 0.25],
        ['B', 'A', 4, 0],
        ['B', 'B', 2, 0],
      ],
    );
  });

  it('group aggregation equals the mean over pairs() per group pair (ports merged, partial loss)', () => {
    const s = new ClusterState({ clock: () => T0 + 3 * 5000 });
    for (const n of NODES) s.apply(snapshotMsg(n, 0));
    // n1 -> n3 control: one of its ports fails every other round; n2 -> n4 vxlan lost once.
    for (let r = 0; r < 3; r++)
      for (const m of round(r, (a, b, p, port) =>
        (a === 'n1' && b === 'n3' && p === 'control' && port === 7946 && r % 2 === 0) ||
        (a === 'n2' && b === 'n4' && p === 'vxlan' && r === 1)
          ? { kind: 'lost-in-path' }
          : { kind: 'ok' },
      ))
        s.apply(m);
    for (const path of ['vxlan', 'control', 'pmtu', 'overlay'] as const) {
      const ref = new Map<string, { pairs: number; probed: number; sum: number }>();
      for (const p of s.pairs(path)) {
        const k = `${s.groupOf(p.src)}|${s.groupOf(p.dst)}`;
        const a = ref.get(k) ?? { pairs: 0, probed: 0, sum: 0 };
        a.pairs++;
        if (p.loss !== null) {
          a.probed++;
          a.sum += p.loss;
        }
        ref.set(k, a);
      }
      const got = s.groupPairs(path);
      assert.equal(got.length, ref.size, path);
      for (const g of got) {
        const r = ref.get(`${g.from}|${g.to}`);
        assert.ok(r, `${path} ${g.from}->${g.to}`);
        assert.equal(g.pairs, r.pairs);
        assert.equal(g.probed, r.probed);
        assert.ok(
          Math.abs((g.loss ?? -1) - (r.probed ? r.sum / r.probed : -1)) < 1e-12,
          `${path} ${g.from}->${g.to}`,
        );
      }
    }
    assert.ok(
      s.groupPairs('control').some((g) => (g.loss ?? 0) > 0),
      'the partial loss shows',
    );
    // The group view a listing leaves (what scrapes and the sampler read after an evaluation)
    // is the one a pass over the pairs builds, gate and ports included: n4 has no presence.
    const gated = () => {
      const g = new ClusterState({ clock: () => T0 + 3 * 5000, presenceGate: true, statusCacheMs: 1000 });
      for (const n of ['n1', 'n2', 'n3']) g.applyPresence(presence(n, T0));
      for (let r = 0; r < 3; r++)
        for (const m of round(r, (a, b, p, port) =>
          a === 'n1' && b === 'n3' && p === 'control' && port === 7946 && r !== 1
            ? { kind: 'lost-in-path' }
            : { kind: 'ok' },
        ))
          g.apply(m);
      return g;
    };
    const listed = gated();
    listed.freshPairStatuses();
    const built = gated();
    for (const path of ['vxlan', 'control', 'pmtu', 'overlay'] as const) {
      assert.deepEqual(listed.groupPairs(path), built.groupPairs(path), path);
      assert.ok(built.groupPairs(path).length > 0, path);
    }
    assert.deepEqual(
      built.groupPairs('control').map((g) => [g.from, g.to, g.pairs]),
      [
        ['A', 'A', 2],
        ['A', 'B', 2],
        ['B', 'A', 2],
      ],
      'n4 is hidden: B is n3 alone',
    );
    assert.ok((built.groupPairs('control')[1]?.loss ?? 0) > 0, "n1 -> n3's lost port shows");
    // Read from the listing (clock unchanged, within the cache time), not built again.
    listed.forget('n3');
    assert.deepEqual(listed.groupPairs('control'), built.groupPairs('control'));

    // Grouped by a label no node has (uncached): one group holding every probed pair.
    const all = s.groupPairs('vxlan', 'no-such-label');
    assert.deepEqual(
      all.map((g) => [g.from, g.to, g.pairs]),
      [['', '', s.pairs('vxlan').length]],
    );
    assert.ok((all[0]?.loss ?? 0) > 0, 'the lost vxlan round counts');
  });
});

describe('group view', () => {
  it('sums the same in one typed array (few groups) as in a map of the cells used (many)', () => {
    const names = ['a', 'b', 'c', 'd', 'e'];
    const dense = new GroupViewBuilder(names);
    const sparse = new GroupViewBuilder(names, 0);
    let seed = 7;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    for (let i = 0; i < 500; i++) {
      const [f, t, slot, sent] = [rnd(5), rnd(5), rnd(4), rnd(6)];
      const ok = sent ? rnd(sent + 1) : 0;
      dense.add(f, t, slot, sent, ok);
      sparse.add(f, t, slot, sent, ok);
    }
    const d = dense.finish();
    assert.deepEqual(sparse.finish(), d);
    // Listed by path, then from, then to; a cell fed nothing is not listed.
    for (const list of d) {
      const keys = list.map((g) => `${g.from}${g.to}`);
      assert.deepEqual(keys, [...keys].sort());
      assert.ok(list.every((g) => g.pairs > 0 && g.probed <= g.pairs));
    }
    const one = new GroupViewBuilder(names, 0);
    one.add(1, 3, 2, 4, 3);
    assert.deepEqual(one.finish()[2], [
      { from: 'b', to: 'd', pairs: 1, probed: 1, loss: 0.25, sent: 4, answered: 3 },
    ]);
  });
});

describe('cluster state: hop walks per pair', () => {
  const walk = (verdict: HopsEvidence['verdict'], hop: string | null, at: number): HopsEvidence => ({
    at,
    sport: 41000,
    port: 4789,
    controlPort: 7999,
    size: 120,
    verdict,
    hop,
    next: null,
    mtu: null,
    text: verdict,
    rows: [],
  });
  /** Round n with a walk on n1 -> n3's VXLAN-port result. */
  const withWalk = (n: number, h: HopsEvidence) =>
    round(n, healthy).map((m) =>
      m.type === 'probes' && m.node === 'n1'
        ? {
            ...m,
            results: m.results.map((r) => (r.dst === 'n3' && r.path === 'vxlan' ? { ...r, hops: h } : r)),
          }
        : m,
    );
  const hopsOf = (s: ClusterState) =>
    s.pairStatuses().find((p) => p.src === 'n1' && p.dst === 'n3' && p.path === 'vxlan')?.hops;

  it('a walk that names a router stays over a later one that saw nothing, until it leaves the window', () => {
    let now = T0;
    const s = new ClusterState({ clock: () => now, windowMs: 30_000 });
    for (const m of withWalk(0, walk('vxlan-dies-after', '10.5.0.6', T0 + 100))) s.apply(m);
    for (const m of withWalk(1, walk('same', null, T0 + 5100))) s.apply(m);
    now = T0 + 6000;
    assert.equal(hopsOf(s)?.hop, '10.5.0.6');
    for (const m of withWalk(2, walk('frag-needed', '10.5.0.9', T0 + 10_100))) s.apply(m);
    assert.equal(hopsOf(s)?.hop, '10.5.0.9', 'a newer named walk replaces it');
    for (const m of withWalk(9, walk('same', null, T0 + 45_100))) s.apply(m);
    now = T0 + 46_000;
    assert.equal(hopsOf(s)?.verdict, 'same', 'the named walk left the window');
  });
});
