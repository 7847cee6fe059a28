/**
 * The runtime against a real nats-server (no root needed): two agents with fake inventory and a
 * fake prober find each other through KV, publish snapshot/findings/probes, answer a trace, and
 * survive a server outage with the outbox (bounded, no duplicates, original ids).
 */
import { parseSnapshotReply } from '../../../shared/snapshot-reply.js';
import { snapshotSubject } from '../../../shared/subjects.js';
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { NatsConnection } from '@nats-io/transport-node';
import { connectNats, NatsPublisher } from '../../../agent/publish/nats.js';
import { type ProbeEngine, type RunningAgent, startAgent } from '../../../agent/runtime.js';
import { silentLogger } from '../../../shared/logging.js';
import type { NodePresence, NodeSnapshot, ProbePath, ProbeResult } from '../../../shared/schema.js';
import { NatsServer, StreamReader, traceRequest, waitFor } from '../../e2e/harness.js';

const zero = (): Record<ProbePath, number> => ({ vxlan: 0, control: 0, pmtu: 0, overlay: 0 });

class FakeProber implements ProbeEngine {
  peers: string[] = [];
  rounds: number[] = [];
  async start() {}
  updateLocal(_s: NodeSnapshot) {}
  setPeers(p: NodePresence[]) {
    const before = new Set(this.peers);
    this.peers = p.map((x) => x.node);
    return {
      added: this.peers.filter((x) => !before.has(x)),
      removed: [...before].filter((x) => !this.peers.includes(x)),
    };
  }
  constructor(private readonly node: string) {}
  private result(dst: string, round: number): ProbeResult {
    return {
      path: 'control',
      src: this.node,
      dst,
      target: '10.0.0.1',
      port: 7999,
      round,
      at: Date.now(),
      sent: true,
      leftSrc: null,
      arrivedDst: null,
      answered: true,
      replySeen: null,
      rttSeconds: 0.001,
      icmp: [],
      // padding so the outbox bound is reached in a few rounds
      note: 'x'.repeat(400),
    };
  }
  async runRound(round: number) {
    this.rounds.push(round);
    return { results: this.peers.map((p) => this.result(p, round)), arrivals: [] };
  }
  async trace(dst: string) {
    return [this.result(dst, 0)];
  }
  presenceExtras() {
    return { probePort: 7999, overlayEndpoints: [] };
  }
  unknowns() {
    return [{ what: 'capture', reason: 'no libpcap (test)' }];
  }
  stats() {
    return { sent: zero(), received: zero(), rejected: {}, captureDropped: 0 };
  }
  async stop() {}
}

const snap = (node: string, gen: () => number): NodeSnapshot =>
  ({
    schemaVersion: 1,
    node,
    labels: {},
    takenAt: new Date().toISOString(),
    durationMs: 1,
    host: { hostname: node, kernel: 'k', os: 'o', privileged: true, nics: [] },
    namespaces: [],
    chains: [],
    vteps: [],
    underlay: { dev: 'eth0', mtu: 1500 + gen(), addresses: ['10.0.0.1/24'] },
    firewall: null,
    docker: { present: false, swarm: false, overlayNamespaces: [], gwbridge: false },
    unknowns: [],
  }) as NodeSnapshot;

let server: NatsServer;
const agents: RunningAgent[] = [];
const probers = new Map<string, FakeProber>();
const generation = { n1: 0, n2: 0 };
const OUTBOX = 4096;

/** Runtime options shared by the agents here (fast rounds, real NATS); tests add the rest. */
function options(node: string, log: ReturnType<typeof silentLogger>) {
  return {
    node,
    labels: { rack: 'A' },
    intervalMs: 300,
    inventoryIntervalMs: 500,
    republishMs: 60_000,
    listenHost: '127.0.0.1',
    listenPort: 0,
    outboxBytes: OUTBOX,
    connect: () => connectNats({ servers: [server.url], name: node, reconnectTimeWaitMs: 200 }, log),
    publisherFor: (nc: NatsConnection) => new NatsPublisher(nc, node, log, 2000),
    presenceTtlMs: 30_000,
    log,
  };
}

before(async () => {
  server = await NatsServer.start('unit-agent-runtime-nats');
  for (const node of ['n1', 'n2'] as const) {
    const log = silentLogger();
    const prober = new FakeProber(node);
    probers.set(node, prober);
    agents.push(
      await startAgent({
        ...options(node, log),
        collect: async () => snap(node, () => generation[node]),
        checks: () => ({ findings: [], checkRuns: [{ check: 'c', ok: true, durationSeconds: 0 }] }),
        prober: async () => prober,
      }),
    );
  }
});

after(async () => {
  for (const a of agents) await a.stop();
  await server?.destroy();
});

test('agents find each other through KV, publish, answer traces, survive an outage', async () => {
  await waitFor(
    'peers through KV',
    () => probers.get('n1')?.peers.includes('n2') && probers.get('n2')?.peers.includes('n1'),
    15_000,
  );
  const reader = await StreamReader.open(server.url);
  try {
    await waitFor(
      'summary+findings+probes from both',
      () =>
        ['n1', 'n2'].every(
          (n) =>
            reader.of('summary', n).length &&
            reader.of('findings', n).length &&
            reader.of('probes', n).length,
        ),
      15_000,
    );
    // The capture unknown from the prober becomes an unknown finding.
    const f = reader.of('findings', 'n1').at(-1);
    assert.ok(f?.findings.some((x) => x.status === 'unknown' && /no libpcap/.test(x.summary)));
    // Trace request/reply.
    const tr = await traceRequest(reader.nats, 'n1', 'n2', 5000);
    assert.equal(tr.error, undefined);
    assert.equal(tr.results[0]?.dst, 'n2');
    assert.deepEqual(tr.verdict, [`control: ok (${'x'.repeat(400)})`]);
    const unknownPeer = await traceRequest(reader.nats, 'n1', 'zz', 5000);
    assert.match(unknownPeer.error ?? '', /unknown peer zz/);
    // Details on demand: the whole snapshot by request/reply; the stream carries only summaries.
    const whole = parseSnapshotReply(
      'n2',
      (await reader.nats.request(snapshotSubject('n2'), JSON.stringify({ node: 'n2' }), { timeout: 5000 }))
        .data,
    );
    assert.equal(whole.node, 'n2');
    assert.deepEqual(whole.underlay?.addresses, ['10.0.0.1/24']);
    assert.ok(Array.isArray(whole.namespaces));
    assert.equal(reader.of('snapshot', 'n2').length, 0, 'a whole snapshot went to the stream');
    assert.match(reader.of('summary', 'n2').at(-1)?.summary.digest ?? '', /^[0-9a-f]{16}$/);
    await assert.rejects(
      async () =>
        parseSnapshotReply(
          'n2',
          (
            await reader.nats.request(snapshotSubject('n2'), JSON.stringify({ node: 'n1' }), {
              timeout: 5000,
            })
          ).data,
        ),
      /this is n2, not n1/,
    );

    // Outage: stop the server for 4 s (≈13 rounds at 300 ms, each ≈600 bytes > 4096 bound).
    const snapsBefore = reader.of('summary', 'n1').length;
    await server.stop();
    generation.n1 = 1; // a snapshot change during the outage
    await new Promise((r) => setTimeout(r, 1000));
    generation.n1 = 2; // replaced again: only the latest must arrive
    await new Promise((r) => setTimeout(r, 3000));
    const during = agents[0]?.outbox.stats();
    assert.ok(during && during.bytes > 0 && during.bytes <= OUTBOX + 2000, `outbox bytes ${during?.bytes}`);
    assert.ok(during.dropped > 0, 'outbox dropped nothing despite the bound');
    await server.restart();
    await waitFor('outbox flushed', () => agents.every((a) => a.outbox.stats().depth === 0), 20_000);
    const roundAfter = (probers.get('n1')?.rounds.at(-1) ?? 0) + 3;
    await waitFor(
      'rounds after the outage',
      () => reader.of('probes', 'n1').some((m) => m.round >= roundAfter),
      20_000,
    );

    const ids = reader.out.map((r) => r.msg.id);
    const dup = reader.out
      .filter((r, i) => ids.indexOf(r.msg.id) !== i)
      .map(
        (r) =>
          `${r.seq}:${r.msg.type}:${r.msg.id}:${reader.out.filter((x) => x.msg.id === r.msg.id).map((x) => x.seq)}`,
      );
    assert.equal(new Set(ids).size, ids.length, `a message id arrived twice: ${dup}`);
    for (const r of reader.out) assert.equal(r.msgId, r.msg.id, 'Nats-Msg-Id differs from message id');
    const rounds = reader.of('probes', 'n1').map((m) => m.round);
    assert.deepEqual(
      rounds,
      [...rounds].sort((a, b) => a - b),
      'probe rounds out of order',
    );
    // Gaps only from the outbox bound: what was lost is at most what was dropped. One more may be
    // counted than is missing: the round whose publish was in flight when the server stopped
    // can be stored without its ack arriving, stay queued, and then be dropped for the bound.
    const missing = rounds.at(-1)! - rounds[0]! + 1 - rounds.length;
    const dropped = agents[0]?.outbox.stats().dropped ?? 0;
    assert.ok(
      missing <= dropped && dropped - missing <= 1,
      `missing rounds ${missing}, dropped ${dropped}: every gap dropped and counted, at most the in-flight one twice`,
    );
    // Latest snapshot only (mtu 1502), not the intermediate one (1501).
    const mtus = reader
      .of('summary', 'n1')
      .slice(snapsBefore)
      .map((m) => m.summary.underlay?.mtu);
    assert.deepEqual(mtus, [1502]);
    const m = await fetch(`${agents[0]?.url}/metrics`).then((r) => r.text());
    assert.match(m, new RegExp(`vxdoctor_agent_outbox_dropped_total ${dropped}\\b`));
    assert.match(m, /vxdoctor_agent_nats_connected 1/);
    const h = await fetch(`${agents[0]?.url}/healthz`);
    assert.equal(h.status, 200);
  } finally {
    await reader.close();
  }
});

test('NATS: a failed first connect and a connection closed for good are retried, forever', async () => {
  const log = silentLogger();
  let calls = 0;
  let current: NatsConnection | null = null;
  const base = options('n3', log);
  const agent = await startAgent({
    ...base,
    labels: { rack: 'B' },
    collect: async () => snap('n3', () => 0),
    checks: () => ({ findings: [], checkRuns: [] }),
    prober: async () => new FakeProber('n3'),
    connect: async () => {
      calls++;
      // What connect() does on bad credentials: it rejects (no reconnect loop inside the client).
      if (calls <= 2) throw new Error('Authorization Violation');
      current = await base.connect();
      return current;
    },
  });
  const reader = await StreamReader.open(server.url);
  try {
    // 1 s + 2 s of backoff, then connected and publishing.
    await waitFor(
      'n3 publishes after two failed connects',
      () => reader.of('probes', 'n3').length > 0,
      15_000,
    );
    assert.equal(calls, 3);
    // The client gives up (closed for good): the runtime makes a new connection.
    const before = reader.of('probes', 'n3').length;
    await (current as NatsConnection | null)?.close();
    await waitFor('a new connection', () => calls === 4, 10_000);
    await waitFor('n3 publishes again', () => reader.of('probes', 'n3').length > before + 2, 15_000);
  } finally {
    await reader.close();
    await agent.stop();
  }
});

test('a netlink change reaches the stream at once: one inventory per burst, not the next 60 s round', async () => {
  const log = silentLogger();
  let gen = 0;
  let collects = 0;
  let poke: () => void = () => {};
  const agent = await startAgent({
    ...options('n3', log),
    inventoryIntervalMs: 60_000,
    changeQuietMs: 100,
    collect: async () => {
      collects++;
      return snap('n3', () => gen);
    },
    checks: (s) => ({
      findings:
        s.underlay && s.underlay.mtu > 1500
          ? [
              {
                check: 'c',
                status: 'problem',
                severity: 'critical',
                kind: 'vtep-down',
                incident: null,
                node: 'n3',
                subject: 'x',
                summary: 'changed',
                evidence: [],
                remediation: '',
              },
            ]
          : [],
      checkRuns: [],
    }),
    prober: async () => new FakeProber('n3'),
    changeEvents: (onChange) => {
      poke = onChange;
      return () => {
        poke = () => {};
      };
    },
  });
  const reader = await StreamReader.open(server.url);
  try {
    await waitFor('first findings of n3', () => reader.of('findings', 'n3').length > 0, 15_000);
    const before = collects;
    gen = 1;
    const t0 = Date.now();
    for (let i = 0; i < 10; i++) poke(); // a burst of netlink events
    await waitFor(
      'the changed finding in the stream',
      () => reader.of('findings', 'n3').some((m) => m.findings.some((f) => f.summary === 'changed')),
      10_000,
      50,
    );
    const took = Date.now() - t0;
    assert.ok(took < 5000, `took ${took} ms (the periodic inventory is 60 s away)`);
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(collects - before, 1, 'ten events, one inventory');
  } finally {
    await reader.close();
    await agent.stop();
  }
});

test('a peer starting after this agent is no fdb-wrong-destination; an address nobody claims becomes one', async () => {
  const log = silentLogger();
  const withVtep = (node: string, addr: string, fdbDsts: string[]): NodeSnapshot => {
    const s = snap(node, () => 0);
    s.underlay = { dev: 'eth0', mtu: 1500, addresses: [`${addr}/24`] };
    s.vteps = [
      {
        netns: 'host',
        dev: 'flannel.1',
        style: 'flannel',
        overlay: 'flannel',
        vni: 1,
        port: 8472,
        mac: `02:00:00:00:00:${node.slice(-1).padStart(2, '0')}`,
        local: addr,
        mtu: 1450,
        subnets: ['10.244.0.0/16'],
        fdbDsts,
      },
    ];
    return s;
  };
  // presence TTL 9 s: refreshed every 3 s, an unowned address is judged after 6 s.
  const start = (node: string, s: NodeSnapshot) =>
    startAgent({
      ...options(node, log),
      presenceTtlMs: 9000,
      collect: async () => s,
      checks: () => ({ findings: [], checkRuns: [] }),
      prober: async () => new FakeProber(node),
    });
  const reader = await StreamReader.open(server.url);
  const started: RunningAgent[] = [];
  try {
    // n6's FDB: n7 (starting 2 s later) and 10.0.2.15, which no node will ever claim.
    started.push(await start('n6', withVtep('n6', '10.0.0.6', ['10.0.0.7', '10.0.2.15'])));
    await new Promise((r) => setTimeout(r, 2000));
    started.push(await start('n7', withVtep('n7', '10.0.0.7', ['10.0.0.6'])));
    const problems = () =>
      reader
        .of('findings', 'n6')
        .flatMap((m) => m.findings)
        .filter((f) => f.status === 'problem' && f.kind === 'fdb-wrong-destination');
    await waitFor('the unclaimed address judged', () => problems().length > 0, 30_000);
    assert.ok(
      problems().every((f) => /10\.0\.2\.15/.test(f.summary) && !/10\.0\.0\.7/.test(f.summary)),
      problems()
        .map((f) => f.summary)
        .join(' | '),
    );
    const all = reader.of('findings', 'n6').flatMap((m) => m.findings);
    assert.ok(
      all.some((f) => f.check === 'fdb-unowned' && f.status === 'unknown'),
      'while waiting, the unowned address was an unknown',
    );
    // n7's own FDB points at n6, which was there first: never a problem (at most an unknown
    // before n7 had read the bucket to its end).
    assert.ok(reader.of('findings', 'n7').length > 0);
    assert.ok(
      reader
        .of('findings', 'n7')
        .flatMap((m) => m.findings)
        .every((f) => f.check !== 'fdb-unowned' || f.status === 'unknown'),
    );
    await waitFor(
      'n7 clean once it has read the bucket',
      () =>
        reader
          .of('findings', 'n7')
          .at(-1)
          ?.findings.every((f) => f.check !== 'fdb-unowned'),
      10_000,
    );
  } finally {
    await reader.close();
    for (const a of started) await a.stop();
  }
});
