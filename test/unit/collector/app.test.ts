import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { buildApp, TraceTimeoutError } from '../../../collector/app.js';
import { registerCollectorMetrics } from '../../../collector/metrics/index.js';
import type {
  DiagnosisResponse,
  FindingsResponse,
  NodeDetail,
  NodeView,
  PairsResponse,
  StateEvent,
  TraceReply,
  TraceRequest,
} from '../../../shared/schema.js';
import { silentLogger } from '../../../shared/logging.js';
import { fixtureCluster } from './fixture-state.js';

async function make(
  opts: {
    trace?: (r: TraceRequest) => Promise<TraceReply>;
    connected?: boolean;
    ready?: boolean;
    metricsReady?: () => boolean;
  } = {},
) {
  const { state, ingest, diagnoser } = fixtureCluster();
  const registry = new Registry();
  registerCollectorMetrics(registry, {
    state,
    ingest,
    rootCauses: () => diagnoser.current().rootCauses,
    natsConnected: () => opts.connected ?? true,
  });
  const app = await buildApp({
    state,
    registry,
    log: silentLogger(),
    natsConnected: () => opts.connected ?? true,
    ready: () => opts.ready ?? true,
    ...(opts.metricsReady ? { metricsReady: opts.metricsReady } : {}),
    diagnosis: () => diagnoser.current(),
    ...(opts.trace ? { trace: opts.trace } : {}),
    eventsPollMs: 20,
    eventsIntervalMs: 100,
  });
  return { app, state };
}

describe('collector HTTP API', () => {
  it('health, readiness follows NATS + consumer', async () => {
    const { app } = await make({ ready: false });
    assert.equal((await app.inject('/healthz')).statusCode, 200);
    const r = await app.inject('/readyz');
    assert.equal(r.statusCode, 503);
    assert.deepEqual(r.json(), { ready: false, natsConnected: true });
    const { app: app2 } = await make({ ready: true });
    assert.equal((await app2.inject('/readyz')).statusCode, 200);
  });

  it('withholds /metrics (503) while the state is being rebuilt, then serves it', async () => {
    let warm = false;
    const { app } = await make({ metricsReady: () => warm });
    const cold = await app.inject('/metrics');
    assert.equal(cold.statusCode, 503);
    assert.doesNotMatch(cold.body, /vxdoctor_rootcause_active/);
    warm = true;
    const hot = await app.inject('/metrics');
    assert.equal(hot.statusCode, 200);
    assert.match(hot.body, /vxdoctor_rootcause_active/);
  });

  it('serves the web page plugin (GET /, /ui/*) next to the API', async () => {
    const { app } = await make();
    const page = await app.inject('/');
    assert.equal(page.statusCode, 200);
    assert.match(page.headers['content-type'] as string, /text\/html/);
    assert.match(page.body, /<html/i);
    assert.equal((await app.inject('/ui/app.js')).statusCode, 200);
    assert.equal((await app.inject('/ui/..%2Fapp.ts')).statusCode, 404);
  });

  it('GET /metrics serves the registry in the Prometheus text format', async () => {
    const { app } = await make();
    const r = await app.inject('/metrics');
    assert.equal(r.statusCode, 200);
    assert.match(r.headers['content-type'] as string, /text\/plain/);
    assert.match(r.body, /vxdoctor_rootcause_active\{kind="agent-down",severity="critical",scope="node"\} 1/);
  });

  it('GET /api/v1/nodes and /nodes/:name', async () => {
    const { app } = await make();
    const nodes = (await app.inject('/api/v1/nodes')).json() as NodeView[];
    assert.deepEqual(
      nodes.map((n) => [n.name, n.labels.rack, n.state, n.findings.critical]),
      [
        ['n1', 'A', 'up', 0],
        ['n2', 'A', 'up', 1],
        ['n3', 'B', 'up', 0],
        ['n4', 'B', 'expired', 0],
      ],
    );
    assert.ok(!Number.isNaN(Date.parse(nodes[0]?.lastSeen ?? '')));
    const d = (await app.inject('/api/v1/nodes/n2')).json() as NodeDetail;
    assert.equal(d.findingList[0]?.check, 'gwbridge');
    assert.equal(d.host?.kernel, '6.1.0-18-amd64');
    assert.equal((await app.inject('/api/v1/nodes/n9')).statusCode, 404);
  });

  it('GET /api/v1/pairs per path, aggregated by group, 400 on a bad path', async () => {
    const { app } = await make();
    const p = (await app.inject('/api/v1/pairs?path=vxlan')).json() as PairsResponse;
    assert.equal(p.path, 'vxlan');
    assert.equal(p.groupLabel, 'rack');
    const n1n3 = p.pairs.find((x) => x.src === 'n1' && x.dst === 'n3');
    assert.equal(n1n3?.loss, 1);
    assert.match(n1n3?.fate ?? '', /left n1, never reached n3/);
    assert.equal(p.pairs.find((x) => x.src === 'n1' && x.dst === 'n2')?.loss, 0);
    const g = (await app.inject('/api/v1/pairs?path=control&aggregate=group')).json() as PairsResponse;
    assert.deepEqual(g.pairs, []);
    assert.deepEqual(g.groups?.find((x) => x.from === 'A' && x.to === 'B')?.loss, 0);
    const byZone = (
      await app.inject('/api/v1/pairs?path=vxlan&aggregate=group&group=zone')
    ).json() as PairsResponse;
    assert.equal(byZone.groupLabel, 'zone');
    assert.deepEqual(
      byZone.groups?.map((x) => [x.from, x.to, x.pairs]),
      [['', '', 12]],
    );
    assert.equal((await app.inject('/api/v1/pairs?path=ipx')).statusCode, 400);
    assert.equal((await app.inject('/api/v1/pairs?aggregate=node')).statusCode, 400);
    // Drill-down: only pairs from one group to another.
    const ab = (await app.inject('/api/v1/pairs?path=vxlan&from=A&to=B')).json() as PairsResponse;
    assert.deepEqual(ab.pairs.map((x) => `${x.src}>${x.dst}`).sort(), ['n1>n3', 'n1>n4', 'n2>n3', 'n2>n4']);
    assert.ok(ab.pairs.every((x) => x.loss === 1));
    const aa = (await app.inject('/api/v1/pairs?path=vxlan&from=A&to=A')).json() as PairsResponse;
    assert.deepEqual(aa.pairs.map((x) => `${x.src}>${x.dst}`).sort(), ['n1>n2', 'n2>n1']);
    assert.equal((await app.inject('/api/v1/pairs?path=vxlan&from=A')).statusCode, 400);
  });

  it('GET /api/v1/findings and /api/v1/diagnosis', async () => {
    const { app } = await make();
    const f = (await app.inject('/api/v1/findings')).json() as FindingsResponse;
    assert.deepEqual(
      f.findings.map((x) => `${x.node}/${x.check}`),
      ['n2/gwbridge'],
    );
    assert.equal((f.findings[0] as unknown as Record<string, unknown>).firstSeen, undefined);
    const d = (await app.inject('/api/v1/diagnosis')).json() as DiagnosisResponse;
    assert.deepEqual(d.rootCauses.map((r) => r.id).sort(), [
      'agent-down:n4',
      'missing-gwbridge:n2',
      'underlay-vxlan-filtered:rack:A:B',
    ]);
    assert.ok(d.generatedAt);
  });

  it('POST /api/v1/trace: 400 bad body, 404 unknown node, 504 agent timeout, 200 reply', async () => {
    const calls: TraceRequest[] = [];
    const { app } = await make({
      trace: async (r) => {
        calls.push(r);
        if (r.src === 'n4') throw new TraceTimeoutError('no reply within 15000 ms');
        return { src: r.src, dst: r.dst, results: [], verdict: ['vxlan: ok'] };
      },
    });
    for (const body of [{}, { src: 'n1' }, { src: 'n1', dst: 'n1' }, { src: 'n1', dst: 'a..b' }, [1]]) {
      const r = await app.inject({ method: 'POST', url: '/api/v1/trace', payload: body as object });
      assert.equal(r.statusCode, 400, JSON.stringify(body));
    }
    assert.equal(
      (await app.inject({ method: 'POST', url: '/api/v1/trace', payload: { src: 'n1', dst: 'n9' } }))
        .statusCode,
      404,
    );
    assert.equal(
      (await app.inject({ method: 'POST', url: '/api/v1/trace', payload: { src: 'n4', dst: 'n1' } }))
        .statusCode,
      504,
    );
    const ok = await app.inject({ method: 'POST', url: '/api/v1/trace', payload: { src: 'n1', dst: 'n3' } });
    assert.equal(ok.statusCode, 200);
    assert.deepEqual((ok.json() as TraceReply).verdict, ['vxlan: ok']);
    assert.deepEqual(calls, [
      { src: 'n4', dst: 'n1' },
      { src: 'n1', dst: 'n3' },
    ]);
  });

  it('GET /api/v1/events streams `event: state` on connect and on change', async () => {
    const { app, state } = await make();
    await app.listen({ host: '127.0.0.1', port: 0 });
    try {
      const port = (app.server.address() as AddressInfo).port;
      const ac = new AbortController();
      const res = await fetch(`http://127.0.0.1:${port}/api/v1/events`, { signal: ac.signal });
      assert.equal(res.headers.get('content-type'), 'text/event-stream');
      const reader = (res.body as ReadableStream<Uint8Array>).getReader();
      let buf = '';
      const events: StateEvent[] = [];
      const deadline = Date.now() + 3000;
      let bumped = false;
      while (events.length < 2 && Date.now() < deadline) {
        const { value } = await reader.read();
        buf += new TextDecoder().decode(value);
        let i = buf.indexOf('\n\n');
        while (i >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          assert.match(block, /^event: state\ndata: /);
          events.push(JSON.parse(block.split('data: ')[1] as string) as StateEvent);
          i = buf.indexOf('\n\n');
        }
        if (!bumped) {
          bumped = true;
          state.removePresence('n1');
        }
      }
      assert.equal(events.length, 2);
      // Closing the app ends open event streams instead of hanging on them.
      const t = Date.now();
      await app.close();
      assert.ok(Date.now() - t < 1000, `close took ${Date.now() - t} ms`);
      ac.abort();
      assert.equal(events[0]?.nodes, 4);
      assert.equal(events[0]?.rootCauses, 3);
      assert.ok((events[1]?.generation ?? 0) > (events[0]?.generation ?? 0));
    } finally {
      await app.close();
    }
  });
});
