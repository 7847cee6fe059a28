/**
 * Hostile input, unit level: each case of issue 19 that needs no network, through the same
 * path the collector and the agent use (bytes -> shared schemas -> state -> diagnosis; real
 * Probers on loopback for the probe receive path). The lab/e2e half is test/e2e/hostile.test.ts.
 */
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { after, describe, it } from 'node:test';
import type { CaptureFactory } from '../../agent/capture/index.js';
import { encodeProbe } from '../../agent/heartbeat/codec.js';
import { checkPresenceRecord, parsePresence } from '../../agent/publish/presence.js';
import { Diagnoser } from '../../collector/diagnosis/index.js';
import { IngestCounters, validateMessage } from '../../collector/ingest/index.js';
import { ClusterState } from '../../collector/state/index.js';
import type { NodePresence, VxdoctorMessage } from '../../shared/schema.js';
import { presenceRecord } from '../../agent/publish/messages.js';
import { LocalCrossChecker } from '../../shared/crosschecks/local.js';
import { subjectFor as messageSubject } from '../../shared/subjects.js';
import { LoopbackProbers, loopbackPresence, PROBE_VNI } from './heartbeat/loopback.js';
import {
  finding,
  findingsMsg,
  healthy,
  NODES,
  presence,
  ROUND_MS,
  round,
  snapshotMsg,
  T0,
  UNDERLAY,
} from './collector/synth.js';

const enc = new TextEncoder();
const bytes = (v: unknown) => enc.encode(JSON.stringify(v));

/** The collector's ingest path: validate the bytes against its clock, then apply. */
function feed(state: ClusterState, counters: IngestCounters, m: unknown, node: string, kind: string) {
  const r = validateMessage(messageSubject(node, kind as never), bytes(m), { now: state.clock() });
  counters.count(r);
  if (r.ok) state.apply(r.msg);
  return r;
}
const feedMsg = (s: ClusterState, c: IngestCounters, m: VxdoctorMessage) => feed(s, c, m, m.node, m.type);

function cluster(now: () => number, extra: ConstructorParameters<typeof ClusterState>[0] = {}) {
  const state = new ClusterState({
    clock: now,
    presenceGate: true,
    ...extra,
  });
  return { state, counters: new IngestCounters(), diagnoser: new Diagnoser() };
}

describe('case 1: a bad presence record is refused, never thrown into a loop', () => {
  const good = loopbackPresence('p1', '10.0.0.1', 7999);
  const poisons: Array<[string, (p: NodePresence) => unknown]> = [
    ['vteps port 1.5', (p) => ({ ...p, vteps: [{ ...p.vteps[0], port: 1.5 }] })],
    ['vteps [null]', (p) => ({ ...p, vteps: [null] })],
    ['probePort 70000', (p) => ({ ...p, probePort: 70000 })],
    ['underlay [123]', (p) => ({ ...p, underlay: [123] })],
    ['probePort 0', (p) => ({ ...p, probePort: 0 })],
    ['vni too large', (p) => ({ ...p, vteps: [{ ...p.vteps[0], vni: 2 ** 24 }] })],
    ['labels not strings', (p) => ({ ...p, labels: { rack: 1 } })],
    ['20,000 vteps', (p) => ({ ...p, vteps: new Array(20_000).fill(p.vteps[0]) })],
    ['no underlay', ({ underlay: _u, ...p }) => p],
  ];
  it('accepts the genuine record', () => {
    assert.deepEqual(parsePresence('p1', bytes(good)), good);
  });
  for (const [name, poison] of poisons)
    it(`refuses ${name} with a reason`, () => {
      const r = checkPresenceRecord('p1', bytes(poison(good)));
      assert.equal(r.ok, false);
      assert.ok(!r.ok && ['schema', 'too-large'].includes(r.reason), JSON.stringify(r));
    });
  it('refuses a record under another node key, deep nesting, junk', () => {
    assert.equal((checkPresenceRecord('p2', bytes(good)) as { reason: string }).reason, 'key-mismatch');
    const deep = `${'['.repeat(5000)}${']'.repeat(5000)}`;
    assert.equal((checkPresenceRecord('p1', enc.encode(deep)) as { reason: string }).reason, 'too-deep');
    assert.equal(
      (checkPresenceRecord('p1', enc.encode('{nope')) as { reason: string }).reason,
      'malformed-json',
    );
  });

  const loop = new LoopbackProbers(Buffer.from('h'.repeat(32)));
  after(() => loop.stopAll());
  it('a capture that fails to restart is an unknown, not an unhandled rejection', async () => {
    let calls = 0;
    const capture: CaptureFactory = async () => {
      calls++;
      if (calls > 1) throw new RangeError('bad filter numbers');
      return { stop() {}, stats: () => ({ dropped: 0 }) } as never;
    };
    const a = loop.make('hx1', '127.0.0.1', 17_981, capture);
    await a.start();
    let unhandled: unknown = null;
    const onUnhandled = (e: unknown) => {
      unhandled = e;
    };
    process.on('unhandledRejection', onUnhandled);
    const peer = loopbackPresence('hx2', '127.0.0.2', 17_982);
    a.setPeers([{ ...peer, vteps: [{ ...peer.vteps[0]!, port: 4790 }] }]); // a new port: restart
    await new Promise((r) => setTimeout(r, 50));
    process.off('unhandledRejection', onUnhandled);
    assert.equal(unhandled, null);
    assert.match(
      a
        .unknowns()
        .map((u) => u.reason)
        .join(';'),
      /capture restart failed: RangeError: bad filter numbers/,
    );
  });
});

describe('cases 2, 3: nodes are forgotten, state is capped', () => {
  it('2,000 names without presence show up nowhere and are forgotten; a scaled-down node goes', () => {
    let now = T0;
    const { state, counters, diagnoser } = cluster(() => now, { forgetAfterMs: 60_000 });
    for (const n of NODES) state.applyPresence(presence(n, now));
    for (let i = 0; i < 2000; i++) {
      const m = { ...findingsMsg(`fake${i}`, 0, [finding(`fake${i}`, 'vtep-down')]), at: now };
      feedMsg(state, counters, m);
    }
    for (const m of round(0, healthy, { t0: now })) feedMsg(state, counters, m);
    assert.equal(state.nodeCount, 2004, 'held for the forget time');
    assert.deepEqual(
      state.nodeStatuses().map((n) => n.name),
      NODES,
    );
    state.tick();
    assert.deepEqual(diagnoser.evaluate(state.diagnosisInput()), [], 'no root cause from or about fakes');
    // n4 scaled down: its presence deleted; other nodes go on.
    state.removePresence('n4');
    now += 30_000;
    for (const n of NODES.slice(0, 3)) state.applyPresence(presence(n, now));
    state.tick();
    diagnoser.evaluate(state.diagnosisInput()); // root causes are raised on the second evaluation
    const rc = diagnoser.evaluate(state.diagnosisInput());
    assert.ok(
      rc.some((r) => r.kind === 'agent-down' && r.nodes.includes('n4')),
      'agent-down first',
    );
    now += 61_000 + state.presenceTtlMs;
    for (const n of NODES.slice(0, 3)) state.applyPresence(presence(n, now));
    const gone = state.prune(now);
    assert.equal(gone.length, 2001, 'the fakes and n4');
    assert.equal(state.forgotten, 2001);
    assert.deepEqual(state.nodeNames(), ['n1', 'n2', 'n3']);
    assert.equal(
      state.pairStatuses().filter((p) => p.src === 'n4' || p.dst === 'n4').length,
      0,
      'its pairs go too',
    );
    state.tick();
    assert.ok(!diagnoser.evaluate(state.diagnosisInput()).some((r) => r.nodes.includes('n4')));
  });

  it('caps nodes and pairs per node, and counts what they refused', () => {
    const now = T0;
    const { state, counters } = cluster(() => now, { maxNodes: 10, maxPairsPerNode: 100 });
    state.applyPresence(presence('n1', now));
    for (let i = 0; i < 20; i++) feedMsg(state, counters, { ...findingsMsg(`x${i}`, 0, []), at: now });
    assert.equal(state.nodeCount, 10);
    assert.equal(state.dropped.nodes, 11);
    const [m] = round(0, healthy, { t0: now, nodes: ['n1', 'n2'] });
    const one = m!.results[0]!;
    const results = Array.from({ length: 15_000 }, (_, i) => ({ ...one, dst: `d${i}` }));
    const r = feed(state, counters, { ...m, id: 'big', results }, 'n1', 'probes');
    assert.equal(r.ok, true);
    assert.equal(state.dropped.pairs, 15_000 - 100);
  });

  it('a probes message dated +10 years is rejected (clock-skew), so the window can drop samples', () => {
    const now = T0;
    const { state, counters } = cluster(() => now);
    state.applyPresence(presence('n1', now));
    const [m] = round(0, healthy, { t0: now, nodes: ['n1', 'n2'] });
    const future = now + 10 * 365 * 86_400_000;
    const r = feed(
      state,
      counters,
      { ...m, results: m!.results.map((x) => ({ ...x, at: future })) },
      'n1',
      'probes',
    );
    assert.equal(r.ok ? 'ok' : r.reason, 'clock-skew');
    const r2 = feed(state, counters, { ...m, id: 'x2', at: future }, 'n1', 'probes');
    assert.equal(r2.ok ? 'ok' : r2.reason, 'clock-skew');
    assert.equal(counters.rejected['clock-skew'], 2);
  });
});

describe('case 4: a far-future findings message cannot freeze a node', () => {
  it('is rejected, and the genuine republish clears vtep-down', () => {
    let now = T0;
    const { state, counters, diagnoser } = cluster(() => now);
    for (const n of NODES) state.applyPresence(presence(n, now));
    const forged = { ...findingsMsg('n2', 0, [finding('n2', 'vtep-down')]), at: now + 10 * 365 * 86_400_000 };
    assert.equal((feedMsg(state, counters, forged) as { reason?: string }).reason, 'clock-skew');
    // Within the skew the newest still wins, and a genuine message a little later replaces it.
    feedMsg(state, counters, { ...findingsMsg('n2', 1, [finding('n2', 'vtep-down')]), at: now + 60_000 });
    now += 61_000;
    for (const n of NODES) state.applyPresence(presence(n, now));
    feedMsg(state, counters, { ...findingsMsg('n2', 2, []), at: now });
    state.tick();
    assert.ok(!diagnoser.evaluate(state.diagnosisInput()).some((r) => r.kind === 'vtep-down'));
  });
});

describe('cases 5, 6: no presence, no say; one bad snapshot breaks nothing else', () => {
  it('a node without presence cannot blame real ones (probes, findings, a copied VTEP address)', () => {
    const now = T0 + 3 * ROUND_MS + 2000;
    const { state, counters, diagnoser } = cluster(() => now);
    for (const n of NODES) state.applyPresence(presence(n, now));
    for (const n of NODES) feedMsg(state, counters, snapshotMsg(n, 0));
    const nodes = [...NODES, 'f1'];
    // f1 reports every probe to the real nodes lost, three rounds in a row.
    for (let r = 0; r < 3; r++)
      for (const m of round(r, (src) => (src === 'f1' ? { kind: 'lost-in-path' } : { kind: 'ok' }), {
        nodes,
      }))
        feedMsg(state, counters, m);
    const fake = snapshotMsg('f1', 0);
    // a real node's VTEP address, on the overlay whose VTEPs carry their local address (flannel)
    const flannel = fake.snapshot.vteps.find((v) => v.style === 'flannel');
    assert.ok(flannel);
    flannel.local = UNDERLAY.n2 as string;
    fake.snapshot.underlay = { dev: 'eth0', mtu: 1500, addresses: [UNDERLAY.n2 as string] };
    feedMsg(state, counters, fake);
    state.tick();
    diagnoser.evaluate(state.diagnosisInput());
    const rcs = diagnoser.evaluate(state.diagnosisInput());
    assert.deepEqual(
      rcs.map((r) => r.kind),
      [],
      `no root cause: ${rcs.map((r) => r.id).join(', ')}`,
    );
    assert.ok(!state.nodeNames().includes('f1'));
    // The same fake, once it has presence, is heard (the gate is presence, not a name list): the
    // real n2's agent sees its own address claimed in the bucket and says so itself.
    const checker = new LocalCrossChecker({ settleMs: 20_000 });
    const n2 = snapshotMsg('n2', 0).snapshot;
    const peers = [
      ...NODES.filter((n) => n !== 'n2').map((n) =>
        presenceRecord({ node: n, labels: {}, version: 't' }, snapshotMsg(n, 0).snapshot, {
          probePort: 7999,
          overlayEndpoints: [],
        }),
      ),
      presenceRecord({ node: 'f1', labels: {}, version: 't' }, fake.snapshot, {
        probePort: 7999,
        overlayEndpoints: [],
      }),
    ];
    const seen = checker.run({ self: n2, peers, synced: true, now }).findings;
    assert.deepEqual(
      seen.filter((f) => f.status === 'problem').map((f) => `${f.node}:${f.kind}`),
      ['n2:duplicate-vtep-address'],
    );
    const m = { ...findingsMsg('n2', 1, seen), at: now };
    assert.ok(feedMsg(state, counters, m).ok);
    state.tick();
    diagnoser.evaluate(state.diagnosisInput());
    assert.ok(
      diagnoser.evaluate(state.diagnosisInput()).some((r) => r.kind === 'duplicate-vtep-address'),
      'from the node whose address was copied, the duplicate address is real evidence',
    );
  });

  it('a VTEP without subnets is rejected; the node keeps its last summary; a real vni-mismatch is still found', () => {
    const now = T0 + 2000;
    const { state, counters } = cluster(() => now);
    for (const n of NODES) state.applyPresence(presence(n, now));
    const snaps = NODES.map((n) => {
      const m = snapshotMsg(n, 0);
      if (n === 'n3') m.snapshot.vteps[0]!.vni = 2; // a genuine vni-mismatch
      feedMsg(state, counters, m);
      return m.snapshot;
    });
    const bad = snapshotMsg('n4', 1) as unknown as { snapshot: { vteps: Array<Record<string, unknown>> } };
    delete bad.snapshot.vteps[0]!.subnets;
    const r = feed(state, counters, bad, 'n4', 'snapshot');
    assert.equal(r.ok ? 'ok' : r.reason, 'schema');
    assert.ok(state.nodeDetail('n4')?.summary, 'the last good summary of n4 stays');
    // n3's agent, over its peers' presence, finds its own odd VNI.
    const peers = snaps
      .filter((s) => s.node !== 'n3')
      .map((s) =>
        presenceRecord({ node: s.node, labels: {}, version: 't' }, s, {
          probePort: 7999,
          overlayEndpoints: [],
        }),
      );
    const found = new LocalCrossChecker({ settleMs: 20_000 }).run({
      self: snaps[2]!,
      peers,
      synced: true,
      now,
    });
    assert.ok(found.checkRuns.every((c) => c.ok));
    assert.ok(found.findings.some((f) => f.kind === 'vni-mismatch' && f.node === 'n3'));
  });
});

describe('case 12: numbers, depth, counting', () => {
  it('rttSeconds 1e308 is rejected (the RTT sum stays finite); 20,000-deep chains are too deep', () => {
    const now = T0 + 2000;
    const { state, counters } = cluster(() => now);
    state.applyPresence(presence('n1', now));
    const [m] = round(0, healthy, { t0: T0, nodes: ['n1', 'n2'] });
    const r = feed(
      state,
      counters,
      { ...m, results: [{ ...m!.results[0], rttSeconds: 1e308 }] },
      'n1',
      'probes',
    );
    assert.equal(r.ok ? 'ok' : r.reason, 'schema');
    assert.ok(Number.isFinite(state.rtt.vxlan.sum));
    const snap = snapshotMsg('n1', 0);
    const deep = JSON.stringify(snap).replace(
      '"chains":[]',
      `"chains":[${'['.repeat(20_000)}${']'.repeat(20_000)}]`,
    );
    const r2 = validateMessage(messageSubject('n1', 'snapshot'), enc.encode(deep), { now });
    assert.equal(r2.ok ? 'ok' : r2.reason, 'too-deep');
  });
});

describe('case 8: probe freshness and replay, on real loopback Probers', () => {
  const KEY = Buffer.from('r'.repeat(32));
  const loop = new LoopbackProbers(KEY);
  after(() => loop.stopAll());
  const sendRaw = (buf: Buffer, port: number) =>
    new Promise<void>((resolve) => {
      const s = createSocket('udp4');
      s.send(buf, port, '127.0.0.3', () => {
        s.close();
        resolve();
      });
    });
  it('refuses stale and far-future probes; a forged far-future one does not lock out the sender', async () => {
    const b = loop.make('rb', '127.0.0.3', 17_972, null);
    await b.start();
    b.setPeers([loopbackPresence('ra', '127.0.0.4', 17_971)]);
    const probe = (seq: number, sentAt: number) =>
      encodeProbe(
        {
          type: 'request',
          path: 'control',
          src: 'ra',
          dst: 'rb',
          probeId: seq,
          seq,
          sentAt,
          size: 0,
          arrived: false,
        },
        KEY,
        { vni: PROBE_VNI },
      );
    await sendRaw(probe(5, Date.now() - 3 * 60_000), 17_972); // captured 3 min ago
    await sendRaw(probe(0xfffffff0, Date.now() + 365 * 86_400_000), 17_972); // forged +1 year
    const genuine = Array.from({ length: 20 }, (_, i) => probe(i + 1, Date.now()));
    for (const g of genuine) await sendRaw(g, 17_972);
    await sendRaw(genuine[2]!, 17_972); // the very bytes of a genuine one, again
    await sendRaw(Buffer.from('not a probe at all, just junk'), 17_972);
    const misaddressed = encodeProbe(
      {
        type: 'request',
        path: 'control',
        src: 'ra',
        dst: 'zz',
        probeId: 99,
        seq: 99,
        sentAt: Date.now(),
        size: 0,
        arrived: false,
      },
      KEY,
      { vni: PROBE_VNI },
    );
    await sendRaw(misaddressed, 17_972);
    await new Promise((r) => setTimeout(r, 200));
    const st = b.stats();
    assert.equal(st.received.control, 20, 'every genuine probe answered');
    assert.equal(st.rejected.stale, 1);
    assert.equal(st.rejected.future, 1);
    assert.equal(st.rejected.replay, 1);
    assert.equal(st.rejected['not-probe'] ?? st.rejected.malformed, 1);
    assert.equal(st.rejected.misaddressed, 1);
  });
});

describe('case 10: a NATS outage of the collector is not every agent down', () => {
  it('presence expiring while the link is down is not agent-down; after it, a silent node is', () => {
    let now = T0;
    const { state, diagnoser } = cluster(() => now, { presenceTtlMs: 12_000 });
    for (const n of NODES) state.applyPresence(presence(n, now));
    now += 5000;
    state.linkDown(now);
    now += 60_000; // five TTLs of silence: the collector hears nothing
    state.tick();
    diagnoser.evaluate(state.diagnosisInput());
    assert.deepEqual(
      diagnoser.evaluate(state.diagnosisInput()).map((r) => r.kind),
      [],
    );
    assert.ok(state.nodeStatuses().every((n) => n.state === 'up'));
    state.linkUp(now);
    now += 5000; // within a TTL of the reconnect: agents are still refreshing
    for (const n of NODES.slice(0, 3)) state.applyPresence(presence(n, now));
    assert.ok(state.nodeStatuses().every((n) => n.state === 'up'));
    now += 13_000; // a TTL after the reconnect, n4 never came back
    for (const n of NODES.slice(0, 3)) state.applyPresence(presence(n, now));
    state.tick();
    diagnoser.evaluate(state.diagnosisInput());
    assert.deepEqual(
      diagnoser.evaluate(state.diagnosisInput()).map((r) => r.id),
      ['agent-down:n4'],
    );
  });
});

describe('presence gate across a collector restart', () => {
  it('a node whose agent-down was persisted stays visible as expired, on its old forget schedule', () => {
    const now = T0 + 60_000;
    const { state } = cluster(() => now, { forgetAfterMs: 120_000 });
    for (const n of NODES.slice(0, 3)) state.applyPresence(presence(n, now));
    state.restoreGone('n4', T0);
    const n4 = state.nodeStatuses().find((n) => n.name === 'n4');
    assert.deepEqual([n4?.state, n4?.expiredAt], ['expired', T0]);
    assert.deepEqual(state.prune(T0 + 121_000), ['n4']);
  });
});
