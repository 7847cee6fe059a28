/**
 * Hostile input at the HTTP API and in the configuration (issue 19 cases 7, 9, 11), unit level:
 * the real fastify app (inject, and a real listening socket for slow bodies), the real flag
 * parsing and start-up code. The e2e half is test/e2e/hostile.test.ts.
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { readProbeKey } from '../../agent/main.js';
import { buildApp } from '../../collector/app.js';
import { hostAllowed, TraceLimiter } from '../../collector/limits.js';
import { command as collectorCommand, run as runCollector } from '../../collector/main.js';
import { startCollector } from '../../collector/runtime.js';
import { ClusterState } from '../../collector/state/index.js';
import { ConfigError, parseCommand, readSecretFile } from '../../shared/config.js';
import { silentLogger } from '../../shared/logging.js';
import type { TraceReply } from '../../shared/schema.js';
import { presence, T0 } from './collector/synth.js';

const dir = mkdtempSync(join(tmpdir(), 'vxd-hostile-http-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function app(extra: Partial<Parameters<typeof buildApp>[0]> = {}, delayMs = 100) {
  const state = new ClusterState({ clock: () => T0, presenceGate: true });
  for (const n of ['n1', 'n2', 'n3', 'n4']) state.applyPresence(presence(n, T0));
  const calls: string[] = [];
  return {
    calls,
    app: buildApp({
      state,
      registry: new Registry(),
      log: silentLogger(),
      natsConnected: () => true,
      trace: async (r) => {
        calls.push(`${r.src}>${r.dst}`);
        await new Promise((res) => setTimeout(res, delayMs));
        return { src: r.src, dst: r.dst, results: [], verdict: ['ok'] } satisfies TraceReply;
      },
      ...extra,
    }),
  };
}
const post = (body: unknown, headers: Record<string, string> = {}) => ({
  method: 'POST' as const,
  url: '/api/v1/trace',
  payload: body as object,
  headers: { 'content-type': 'application/json', ...headers },
});

describe('case 7: traces are authenticated when exposed, and limited (429 beyond)', () => {
  it('100 concurrent traces of one pair: one runs at a time, a short queue, the rest 429 at once', async () => {
    const { app: a, calls } = app({}, 50);
    const s = await a;
    const t0 = performance.now();
    const res = await Promise.all(
      Array.from({ length: 100 }, () => s.inject(post({ src: 'n1', dst: 'n3' }))),
    );
    const codes = res.map((r) => r.statusCode);
    assert.equal(codes.filter((c) => c === 200).length, 3, 'one running + two queued for the pair');
    assert.equal(codes.filter((c) => c === 429).length, 97);
    assert.equal(res.find((r) => r.statusCode === 429)?.headers['retry-after'], '2');
    assert.equal(calls.length, 3, 'refused traces never reach an agent');
    assert.ok(performance.now() - t0 < 5000);
    // Different pairs run side by side, up to the global limit.
    const pairs = ['n1>n2', 'n3>n4', 'n2>n1', 'n4>n3'];
    const more = await Promise.all(
      pairs.map((p) => s.inject(post({ src: p.split('>')[0], dst: p.split('>')[1] }))),
    );
    assert.deepEqual(
      more.map((r) => r.statusCode),
      [200, 200, 200, 200],
    );
    await s.close();
  });

  it('the limiter frees slots when a trace fails and wakes queued ones in order', async () => {
    const l = new TraceLimiter({ global: 1, perAgent: 1, queued: 2, queuedPerAgent: 2 });
    const order: number[] = [];
    const job = (i: number, fail = false) =>
      l.run(['a'], async () => {
        order.push(i);
        await new Promise((r) => setTimeout(r, 5));
        if (fail) throw new Error('x');
      });
    const all = await Promise.allSettled([job(1, true), job(2), job(3), job(4)]);
    assert.deepEqual(
      all.map((r) => r.status),
      ['rejected', 'fulfilled', 'fulfilled', 'rejected'],
    );
    assert.deepEqual(order, [1, 2, 3]);
    assert.equal(l.refused, 1);
    assert.equal(l.running + l.queued, 0);
  });

  it('listening beyond loopback without a token: trace refused (403); with one: 401 without it', async () => {
    const exposed = await app({ exposed: true }).app;
    const r1 = await exposed.inject(post({ src: 'n1', dst: 'n3' }));
    assert.equal(r1.statusCode, 403);
    assert.match(r1.json().error, /--api-token-file/);
    assert.equal((await exposed.inject({ url: '/api/v1/nodes' })).statusCode, 200, 'reads stay open');
    await exposed.close();
    const token = 's3cret-token-value';
    const withToken = await app({ exposed: true, apiToken: token }).app;
    assert.equal((await withToken.inject(post({ src: 'n1', dst: 'n3' }))).statusCode, 401);
    assert.equal(
      (await withToken.inject(post({ src: 'n1', dst: 'n3' }, { authorization: 'Bearer wrong' }))).statusCode,
      401,
    );
    assert.equal(
      (await withToken.inject(post({ src: 'n1', dst: 'n3' }, { authorization: `Bearer ${token}` })))
        .statusCode,
      200,
    );
    await withToken.close();
    const reads = await app({ apiToken: token, tokenForReads: true }).app;
    assert.equal((await reads.inject({ url: '/api/v1/nodes' })).statusCode, 401);
    assert.equal(
      (await reads.inject({ url: '/api/v1/nodes', headers: { authorization: `Bearer ${token}` } }))
        .statusCode,
      200,
    );
    assert.equal((await reads.inject({ url: '/healthz' })).statusCode, 200, 'probes stay open');
    await reads.close();
  });

  it('Host check: on loopback only IP literals and localhost (DNS rebinding), plus the allowed names', async () => {
    const s = await app({ allowedHosts: ['vxdoctor.example'] }).app;
    const get = (host: string) => s.inject({ url: '/', headers: { host } }).then((r) => r.statusCode);
    assert.equal(await get('127.0.0.1:9700'), 200);
    assert.equal(await get('localhost:9700'), 200);
    assert.equal(await get('[::1]:9700'), 200);
    assert.equal(await get('vxdoctor.example'), 200);
    assert.equal(await get('attacker.example:9700'), 421);
    assert.equal((await s.inject({ url: '/api/v1/nodes', headers: { host: 'evil.test' } })).statusCode, 421);
    await s.close();
    assert.equal(hostAllowed('anything.example', null), true);
    assert.equal(hostAllowed(undefined, []), false);
  });

  it('a malformed trace body is a 400, never reaching an agent', async () => {
    const { app: a, calls } = app();
    const s = await a;
    for (const b of [
      { src: 'n1' },
      { src: 'n1', dst: 'n1' },
      { src: 'n1', dst: 5 },
      { src: '../x', dst: 'n2' },
    ])
      assert.equal((await s.inject(post(b))).statusCode, 400, JSON.stringify(b));
    assert.equal(calls.length, 0);
    await s.close();
  });
});

describe('case 9: a request whose body never finishes is cut', () => {
  it('headers complete, body unfinished: the connection is closed after the request timeout', async () => {
    const s = await app({ requestTimeoutMs: 1000 }).app;
    await s.listen({ host: '127.0.0.1', port: 0 });
    const port = (s.server.address() as { port: number }).port;
    const t0 = performance.now();
    const closedAfter = await Promise.all(
      Array.from(
        { length: 20 },
        () =>
          new Promise<number>((resolve) => {
            const c = tcpConnect(port, '127.0.0.1', () => {
              c.write(
                'POST /api/v1/trace HTTP/1.1\r\nHost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{"src"',
              );
            });
            c.on('data', () => {});
            c.on('error', () => {});
            c.on('close', () => resolve(performance.now() - t0));
          }),
      ),
    );
    assert.ok(
      Math.max(...closedAfter) < 15_000,
      `all 20 closed (${Math.round(Math.max(...closedAfter))} ms)`,
    );
    assert.ok(Math.min(...closedAfter) >= 900, 'not before the timeout');
    await s.close();
  });
});

describe('case 11: configuration errors name the flag', () => {
  const base = ['--nats', 'nats://127.0.0.1:1'];
  const fails = async (args: string[], re: RegExp) => {
    const parsed = parseCommand(collectorCommand, [...base, ...args]);
    await assert.rejects(
      runCollector(parsed),
      (e: unknown) => e instanceof ConfigError && re.test(e.message),
    );
  };
  it('--window 0, --presence-ttl 0, --max-message-bytes -1, --log-level loud, --nats junk', async () => {
    await fails(['--window', '0'], /^--window: /);
    await fails(['--presence-ttl', '0'], /^--presence-ttl: /);
    await fails(['--max-message-bytes', '-1'], /^--max-message-bytes: /);
    await fails(['--log-level', 'loud'], /^--log-level: "loud"/);
    await assert.rejects(
      runCollector(parseCommand(collectorCommand, ['--nats', 'not a url'])),
      (e: unknown) => e instanceof ConfigError && /^--nats: not a NATS URL/.test(e.message),
    );
  });
  it('key and token files readable by group (0640) or unreadable are refused', () => {
    const k = join(dir, 'key');
    writeFileSync(k, 'k'.repeat(32), { mode: 0o640 });
    chmodSync(k, 0o640);
    assert.throws(() => readProbeKey(k), /--probe-key-file: .*group- or world-readable \(mode 640/);
    assert.throws(() => readSecretFile('api-token-file', k), /--api-token-file: .*mode 640/);
    chmodSync(k, 0o600);
    assert.equal(readProbeKey(k).length, 32);
    assert.throws(() => readProbeKey(dir), /--probe-key-file: .* is not a regular file/);
    if (process.getuid?.() !== 0) {
      chmodSync(k, 0o000);
      assert.throws(() => readProbeKey(k), /--probe-key-file: cannot read .*EACCES/);
    }
  });
  it('--listen in use is fatal at start-up, naming the flag (the collector does not run without HTTP)', async () => {
    const blocker: Server = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as { port: number }).port;
    try {
      await assert.rejects(
        startCollector({
          nats: ['nats://127.0.0.1:1'],
          listenHost: '127.0.0.1',
          listenPort: port,
          groupLabel: 'rack',
          windowMs: 60_000,
          presenceTtlMs: 30_000,
          durable: 'x',
          log: silentLogger(),
        }),
        (e: unknown) =>
          e instanceof ConfigError &&
          /^--listen: cannot listen on 127\.0\.0\.1:\d+: EADDRINUSE/.test(e.message),
      );
    } finally {
      blocker.close();
    }
  });
});

describe('trace replies as agents send them', () => {
  it('a real Prober trace result (round -1) passes the reply schema; junk does not', async () => {
    const { checkTraceReply } = await import('../../shared/validation.js');
    const r = {
      path: 'vxlan',
      src: 'n1',
      dst: 'n3',
      target: '10.200.2.13',
      port: 4789,
      round: -1,
      at: Date.now(),
      sent: true,
      leftSrc: true,
      arrivedDst: true,
      answered: true,
      replySeen: true,
      rttSeconds: 0.0004,
      icmp: [],
    };
    assert.ok(checkTraceReply.check({ src: 'n1', dst: 'n3', results: [r], verdict: ['vxlan: ok'] }));
    assert.ok(
      !checkTraceReply.check({ src: 'n1', dst: 'n3', results: [{ ...r, rttSeconds: 1e308 }], verdict: [] }),
    );
    assert.ok(!checkTraceReply.check({ src: 'n1', results: [], verdict: [] }));
  });
});
