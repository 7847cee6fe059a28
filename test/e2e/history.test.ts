/**
 * Outage history (collector/history) with real parts.
 *
 * 1. Real nats-server, two collector replicas (in-process, separate durables), synthetic agent
 *    reports: a VXLAN segment fault raised and cleared is stored once (one `raised`, one
 *    `cleared` on the stream) and listed once by both replicas; it survives a collector
 *    restart (while open and after) and a nats-server restart; a second fault after the NATS
 *    restart is recorded too; `vxdoctor history -o json` and text list it.
 * 2. The lab (root): real agents, the collector as a process; healthy page, then lab fault
 *    tor-drop-vxlan injected and cleared: /api/v1/history and `vxdoctor history` list it with
 *    start, end, duration and place, also after restarting the collector. The page in Chromium:
 *    timeline and segment view healthy, under the fault and after it; screenshots in
 *    test-output/ui/history-*.png; nothing loaded from outside the collector.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createWriteStream, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { connect, type NatsConnection, nkeyAuthenticator } from '@nats-io/transport-node';
import type { Browser } from 'playwright-core';
import { type HistoryEvent, msgId } from '../../collector/history/events.js';
import type { HistoryResponse, SegmentHistoryResponse } from '../../collector/history/routes.js';
import { HISTORY_STREAM, HistoryStore } from '../../collector/history/store.js';
import { generateAuth } from '../../deploy/kubernetes/nats-auth.js';
import { type RunningCollector, startCollector } from '../../collector/runtime.js';
import { silentLogger } from '../../shared/logging.js';
import type { DiagnosisResponse, RootCause } from '../../shared/schema.js';
import { KV_NODES } from '../../shared/subjects.js';
import { labAllowed } from '../lab/lab.js';
import { crossRack, type Fault, healthy, NODES, presence, ROUND_MS, round } from '../unit/collector/synth.js';
import {
  buildDist,
  freePort,
  type LabAgents,
  NatsServer,
  OUTPUT,
  ROOT,
  sleep,
  startLabAgents,
  waitFor,
} from './harness.js';
import { launch, open } from './ui.test.js';

const run = promisify(execFile);
/** `waitFor` typed for functions that answer undefined/false until they have the value. */
const until = async <T>(
  what: string,
  fn: () => Promise<T | undefined | false>,
  ms: number,
  everyMs = 250,
): Promise<T> => (await waitFor(what, fn, ms, everyMs)) as T;
const UI_OUT = join(OUTPUT, 'ui');

async function getJson<T>(base: string, path: string): Promise<T> {
  const r = await fetch(`${base}${path}`, { signal: AbortSignal.timeout(5000) });
  if (!r.ok) throw new Error(`${path}: HTTP ${r.status}`);
  return (await r.json()) as T;
}

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(process.execPath, [join(ROOT, 'bin/vxdoctor.js'), ...args], { timeout: 20_000 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

/** Every event on the history stream, read directly (not through a collector). */
async function streamEvents(nc: NatsConnection): Promise<HistoryEvent[]> {
  const jsm = await jetstreamManager(nc);
  const info = await jsm.streams.info(HISTORY_STREAM);
  const out: HistoryEvent[] = [];
  for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
    const m = await jsm.streams.getMessage(HISTORY_STREAM, { seq }).catch(() => null);
    if (m) out.push(m.json<HistoryEvent>());
  }
  return out;
}

describe('history: two collector replicas on a real nats-server', { concurrency: false }, () => {
  let nats: NatsServer;
  let nc: NatsConnection;
  const collectors: Record<'a' | 'b', RunningCollector | null> = { a: null, b: null };
  let feeding: { stop: boolean; fault: Fault } = { stop: true, fault: healthy };
  let feeder: Promise<void> = Promise.resolve();
  let n = 0;

  const start = (which: 'a' | 'b') =>
    startCollector({
      nats: [nats.url],
      listenHost: '127.0.0.1',
      listenPort: 0,
      groupLabel: 'rack',
      windowMs: 20_000,
      presenceTtlMs: 600_000,
      durable: `vxdoctor-history-${which}`,
      evaluateEveryMs: 250,
      segmentStepMs: 1000,
      log: silentLogger(),
    });
  const url = (w: 'a' | 'b') => collectors[w]?.url as string;
  const diag = async (w: 'a' | 'b') =>
    (await getJson<DiagnosisResponse>(url(w), '/api/v1/diagnosis')).rootCauses;
  const history = (w: 'a' | 'b', q = '') => getJson<HistoryResponse>(url(w), `/api/v1/history${q}`);

  /** Publishes one round of every node every second, `at` = now, under `feeding.fault`. */
  const feed = (fault: Fault) => {
    feeding.fault = fault;
    if (!feeding.stop) return;
    const f = { stop: false, fault };
    feeding = f;
    feeder = (async () => {
      while (!f.stop) {
        n++;
        const t0 = Date.now() - n * ROUND_MS - 1000;
        try {
          const js = jetstream(nc);
          for (const m of round(n, f.fault, { t0 }))
            await js.publish(`vxdoctor.v1.${m.node}.probes`, JSON.stringify(m), { msgID: `h${m.id}` });
        } catch {
          // nats-server restarting: the next round goes out when it is back
        }
        await sleep(1000);
      }
    })();
  };
  const segmentFault: Fault = (a, b, p) =>
    crossRack(a, b) && p !== 'control' ? { kind: 'lost-in-path' } : { kind: 'ok' };
  const ID = 'underlay-vxlan-filtered:rack:A:B';
  const raisedOn = async (w: 'a' | 'b') =>
    until(`root cause on collector ${w}`, async () => (await diag(w)).find((r) => r.id === ID), 60_000, 250);

  before(async () => {
    nats = await NatsServer.start('history-nats-server');
    nc = await connect({ servers: nats.url, maxReconnectAttempts: -1, reconnectTimeWait: 250 });
    collectors.a = await start('a');
    collectors.b = await start('b');
    for (const w of ['a', 'b'] as const)
      await until(`collector ${w} ready`, async () => (await fetch(`${url(w)}/readyz`)).ok, 30_000, 200);
    const kv = await until(
      'presence bucket',
      async () => {
        const b = await new Kvm(nc).open(KV_NODES);
        await b.status();
        return b;
      },
      20_000,
    );
    for (const node of NODES) await kv.put(node, JSON.stringify(presence(node, Date.now())));
  });

  after(async () => {
    feeding.stop = true;
    await feeder;
    for (const w of ['a', 'b'] as const) await collectors[w]?.stop().catch(() => undefined);
    await nc?.close().catch(() => undefined);
    await nats?.destroy();
  });

  let first: RootCause;

  it('an outage raised on both replicas is stored once; a restart while open writes nothing new', async () => {
    feed(healthy);
    await sleep(2500);
    feed(segmentFault);
    first = await raisedOn('a');
    const onB = await raisedOn('b');
    assert.equal(onB.since, first.since, 'both replicas derive since from the same evidence');
    for (const w of ['a', 'b'] as const) {
      const h = await until(
        `open outage in history on ${w}`,
        async () => {
          const x = await history(w);
          return x.outages.length ? x : undefined;
        },
        20_000,
        250,
      );
      assert.equal(h.complete, true);
      assert.equal(h.outages.length, 1, `one outage on ${w}: ${JSON.stringify(h.outages)}`);
      const o = h.outages[0];
      assert.equal(o?.id, ID);
      assert.equal(o?.open, true);
      assert.equal(o?.end, null);
      assert.equal(o?.start, first.since);
      assert.equal(o?.place, 'rack A <-> rack B');
      assert.match(o?.remediation ?? '', /4789|VXLAN|udp/i);
    }
    await collectors.a?.stop();
    collectors.a = await start('a');
    await until('a ready again', async () => (await fetch(`${url('a')}/readyz`)).ok, 30_000, 200);
    await raisedOn('a');
    await sleep(2000); // several evaluations after the rebuild
    const evs = await streamEvents(nc);
    assert.equal(
      evs.filter((e) => e.type === 'raised').length,
      1,
      'one raised for two replicas and a restart',
    );
    assert.equal(evs.filter((e) => e.type === 'cleared').length, 0);
    const h = await history('a');
    assert.equal(h.outages.length, 1);
    assert.equal(h.outages[0]?.start, first.since);
    assert.equal(h.outages[0]?.open, true);
  });

  it('cleared: one closed outage with end and duration on both replicas; every event id once', async () => {
    feed(healthy);
    for (const w of ['a', 'b'] as const)
      await until(
        `cleared on ${w}`,
        async () => {
          const h = await history(w);
          return h.outages.length === 1 && h.outages[0]?.open === false ? h : undefined;
        },
        90_000,
        500,
      );
    await sleep(1500);
    const evs = await streamEvents(nc);
    assert.equal(evs.filter((e) => e.type === 'raised').length, 1);
    assert.equal(evs.filter((e) => e.type === 'cleared').length, 1, 'both replicas cleared: stored once');
    assert.equal(new Set(evs.map(msgId)).size, evs.length, 'no transition stored twice');
    const [ha, hb] = [await history('a'), await history('b')];
    assert.deepEqual(ha.outages, hb.outages, 'replicas agree');
    const o = ha.outages[0];
    assert.ok(o?.end);
    assert.ok(Date.parse(o.end) > Date.parse(o.start));
    assert.equal(o.durationSeconds, Math.round((Date.parse(o.end) - Date.parse(o.start)) / 1000));
    // Filters on the live endpoint.
    assert.equal((await history('a', '?kind=vtep-down')).outages.length, 0);
    assert.equal((await history('a', '?segment=B')).outages.length, 1);
    assert.equal((await history('a', '?node=n9')).outages.length, 0);
    assert.equal(
      (await history('a', `?until=${encodeURIComponent(first.since)}&since=2h`)).outages.length,
      1,
    );
    assert.equal((await fetch(`${url('a')}/api/v1/history?since=bogus`)).status, 400);
    // Segment samples: rack A -> B lost all during the outage, A -> A none.
    const seg = await getJson<SegmentHistoryResponse>(url('b'), '/api/v1/history/segments?since=10m');
    const ab = seg.segments.find((s) => s.from === 'A' && s.to === 'B');
    const aa = seg.segments.find((s) => s.from === 'A' && s.to === 'A');
    assert.ok(ab && aa, JSON.stringify(seg.segments.map((s) => [s.from, s.to])));
    assert.ok(Math.max(...ab.loss.map((x) => x ?? 0)) > 0.3, 'A -> B loss seen over time');
    assert.equal(Math.max(...aa.loss.map((x) => x ?? 0)), 0, 'A -> A never lost');
  });

  it('survives a collector restart and a nats-server restart; records a new outage after it', async () => {
    const before = (await history('b')).outages;
    await collectors.b?.stop();
    collectors.b = null;
    await nats.stop();
    await sleep(500);
    await nats.restart();
    collectors.b = await start('b');
    for (const w of ['a', 'b'] as const)
      await until(
        `${w} ready after NATS restart`,
        async () => (await fetch(`${url(w)}/readyz`)).ok,
        60_000,
        250,
      );
    await until(
      'history back on both',
      async () => {
        const [a, b] = [await history('a'), await history('b')];
        return a.complete && b.complete && a.outages.length === 1 && b.outages.length === 1
          ? true
          : undefined;
      },
      30_000,
      250,
    );
    assert.deepEqual((await history('b')).outages, before);
    // A second outage, after the NATS restart, is written and read by both.
    feed(segmentFault);
    await raisedOn('a');
    await until(
      'second outage on both',
      async () => {
        const [a, b] = [await history('a'), await history('b')];
        return a.outages.length === 2 && b.outages.length === 2 ? true : undefined;
      },
      30_000,
      250,
    );
    feed(healthy);
    await until(
      'second outage closed',
      async () => ((await history('a')).outages.every((o) => !o.open) ? true : undefined),
      90_000,
      500,
    );
    const evs = await streamEvents(nc);
    assert.equal(evs.filter((e) => e.type === 'raised').length, 2);
    assert.equal(evs.filter((e) => e.type === 'cleared').length, 2);
    // `vxdoctor history` (the built CLI) against replica b.
    buildDist();
    const json = await cli(['history', '--collector', url('b'), '--since', '1h', '-o', 'json']);
    assert.equal(json.code, 0, json.stderr);
    const body = JSON.parse(json.stdout) as HistoryResponse;
    assert.equal(body.outages.length, 2);
    assert.ok(body.outages.every((o) => o.end && o.durationSeconds > 0 && o.place === 'rack A <-> rack B'));
    const text = await cli(['history', '--collector', url('b')]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /Outages .*: 2\n/);
    assert.equal((text.stdout.match(/underlay-vxlan-filtered\s+rack A <-> rack B/g) ?? []).length, 2);
    const bad = await cli(['history', '--collector', url('b'), '--since', 'lately']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--since/);
  });
});

describe('history under the shipped NATS permissions (deploy/kubernetes/nats-auth.ts)', () => {
  it('the collector user writes and reads the history; an agent nkey may not write it', async () => {
    const auth = generateAuth();
    const dir = mkdtempSync(join(tmpdir(), 'vxd-hist-auth-'));
    const port = await freePort();
    const conf = join(dir, 'nats.conf');
    writeFileSync(
      conf,
      `host: 127.0.0.1\nport: ${port}\njetstream { store_dir: ${JSON.stringify(join(dir, 'js'))} }\n${auth.authConf}`,
    );
    const srv = spawn('nats-server', ['-c', conf], { stdio: 'ignore' });
    const servers = `nats://127.0.0.1:${port}`;
    let col: NatsConnection | null = null;
    let agent: NatsConnection | null = null;
    const store = new HistoryStore({ log: silentLogger(), by: 'auth-test' });
    try {
      col = await until(
        'collector user connects',
        async () =>
          connect({ servers, user: 'vxdoctor-collector', pass: auth.collectorPassword, timeout: 1000 }),
        10_000,
      );
      store.attach(col);
      await until('history read', async () => store.ready(), 10_000);
      const since = new Date().toISOString();
      store.record([
        {
          id: 'vtep-down:n1',
          kind: 'vtep-down',
          severity: 'critical',
          nodes: ['n1'],
          summary: 'VTEP down on n1',
          evidence: [],
          remediation: 'ip link set vxlan0 up',
          since,
        },
      ]);
      await until('event stored and read back', async () => store.events().length === 1, 10_000);
      assert.equal(store.published, 1);
      assert.equal(store.query({ since: Date.now() - 60_000, until: Date.now() })[0]?.start, since);
      agent = await connect({
        servers,
        authenticator: nkeyAuthenticator(new TextEncoder().encode(auth.agentSeed)),
        timeout: 2000,
      });
      await assert.rejects(
        jetstream(agent).publish('vxdoctor.history.v1.raised', '{}', { timeout: 2000 }),
        /permission|timeout|no responders|503/i,
        'an agent cannot write outage history',
      );
    } finally {
      await store.stop();
      await agent?.close().catch(() => undefined);
      await col?.close().catch(() => undefined);
      if (srv.pid) process.kill(srv.pid, 'SIGTERM');
      await sleep(200);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('history on the lab: real agents, tor-drop-vxlan injected and cleared', {
  concurrency: false,
}, () => {
  let env: LabAgents | null = null;
  let collector: ChildProcess | null = null;
  let base = '';
  let port = 0;
  let browser: Browser | null = null;
  let skip = false;

  const startCollectorProc = async () => {
    const log = createWriteStream(join(OUTPUT, 'history-collector.log'), { flags: 'a' });
    const p = spawn(
      process.execPath,
      [
        join(ROOT, 'bin/vxdoctor.js'),
        'collector',
        '--nats',
        env?.nats.url as string,
        '--listen',
        `127.0.0.1:${port}`,
        '--presence-ttl',
        '12s',
        '--window',
        '30s',
        '--durable',
        'vxdoctor-history-lab',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    p.stdout?.pipe(log);
    p.stderr?.pipe(log);
    collector = p;
    await until('collector ready', async () => (await fetch(`${base}/readyz`)).ok, 30_000, 250);
  };
  const stopCollectorProc = async () => {
    const p = collector;
    collector = null;
    if (!p?.pid || p.exitCode !== null) return;
    const gone = new Promise<void>((r) => p.once('exit', () => r()));
    process.kill(p.pid, 'SIGTERM');
    await Promise.race([gone, sleep(10_000)]);
    if (p.exitCode === null && p.signalCode === null) process.kill(p.pid, 'SIGKILL');
  };
  const rootCauses = async () => (await getJson<DiagnosisResponse>(base, '/api/v1/diagnosis')).rootCauses;

  /** The page: timeline and segment view, screenshot; returns what the page shows. */
  const page = async (name: string, segment: [string, string] | null) => {
    browser ??= await launch();
    const { page: p, check } = await open(browser, base, `history ${name}`);
    try {
      await p.waitForSelector('body[data-history]', { timeout: 20_000 });
      if (segment) {
        await p.click(`button.segcell[data-from="${segment[0]}"][data-to="${segment[1]}"]`);
        await p.waitForFunction(
          (s) => document.getElementById('seg-chart')?.dataset.segment === s,
          `${segment[0]}|${segment[1]}`,
        );
      }
      const seen = await p.evaluate(() => ({
        count: document.getElementById('hist-count')?.textContent ?? '',
        outages: [...document.querySelectorAll('#outage-list button.outage')].map((b) => b.textContent ?? ''),
        grid: [...document.querySelectorAll('button.segcell')].map((b) => ({
          from: (b as HTMLElement).dataset.from,
          to: (b as HTMLElement).dataset.to,
          cls: b.className,
        })),
        chartPoints: Number(document.getElementById('seg-chart')?.dataset.points ?? '0'),
        canvases: document.querySelectorAll('#history canvas').length,
        nth: [...document.querySelectorAll('#causes-list .nth')].map((e) => e.textContent ?? ''),
        favicon: document.querySelector('link[rel=icon]')?.getAttribute('href') ?? '',
      }));
      await p.locator('#history').screenshot({ path: join(UI_OUT, `history-${name}.png`) });
      await p.screenshot({ path: join(UI_OUT, `history-${name}-page.png`), fullPage: true });
      check();
      return { seen, page: p };
    } catch (err) {
      await p.close();
      throw err;
    }
  };

  before(async () => {
    if (!labAllowed()) {
      skip = true;
      return;
    }
    mkdirSync(UI_OUT, { recursive: true });
    env = await startLabAgents({ id: 'vxh', name: 'history' });
    port = await freePort();
    base = `http://127.0.0.1:${port}`;
    await startCollectorProc();
  });

  after(async () => {
    await browser?.close().catch(() => undefined);
    await stopCollectorProc().catch(() => undefined);
    await env?.teardown();
  });

  let closed: HistoryResponse['outages'] = [];
  const log = (m: string) => process.stderr.write(`${m}\n`);

  it('healthy lab: empty timeline, segment view all passing; favicon answers', async (t) => {
    if (skip) return t.skip('needs root');
    await until(
      'diagnosis healthy and pairs answered',
      async () => {
        const pairs = await getJson<{ pairs: Array<{ loss: number | null }> }>(
          base,
          '/api/v1/pairs?path=vxlan',
        );
        return pairs.pairs.filter((p) => p.loss === 0).length >= 12 && (await rootCauses()).length === 0;
      },
      90_000,
      1000,
    );
    await until(
      'segment samples',
      async () => {
        const s = await getJson<SegmentHistoryResponse>(base, '/api/v1/history/segments?since=10m');
        return s.segments.length >= 4 && s.segments.every((x) => x.t.length >= 2);
      },
      60_000,
      1000,
    );
    const fav = await fetch(`${base}/favicon.ico`);
    assert.equal(fav.status, 200);
    assert.match(fav.headers.get('content-type') ?? '', /image\/svg\+xml/);
    const { seen, page: p } = await page('healthy', ['A', 'B']);
    await p.close();
    assert.match(seen.count, /no outages/);
    assert.equal(seen.outages.length, 0);
    assert.equal(seen.grid.length, 4, 'rack A/B x A/B');
    assert.ok(
      seen.grid.every((c) => /\bok\b/.test(c.cls)),
      JSON.stringify(seen.grid),
    );
    assert.ok(seen.chartPoints >= 2);
    assert.ok(seen.canvases >= 2, 'timeline and segment chart drawn (uPlot canvases)');
    assert.equal(seen.favicon, '/favicon.svg');
  });

  it('tor-drop-vxlan: open on the timeline, A <-> B lost in the segment view; cleared: closed with end', async (t) => {
    if (skip || !env) return t.skip('needs root');
    await env.lab.fault('tor-drop-vxlan');
    let injected = true;
    try {
      const rc = await until(
        'underlay-vxlan-filtered raised',
        async () => (await rootCauses()).find((r) => r.kind === 'underlay-vxlan-filtered'),
        90_000,
        1000,
      );
      assert.deepEqual([rc.segment?.from, rc.segment?.to].sort(), ['A', 'B']);
      await until(
        'open outage in history',
        async () => {
          const h = await getJson<HistoryResponse>(base, '/api/v1/history');
          return h.outages.some((o) => o.id === rc.id && o.open) ? true : undefined;
        },
        30_000,
        500,
      );
      await sleep(12_000); // a few segment samples under the fault
      const { seen, page: p } = await page('fault', [rc.segment?.from as string, rc.segment?.to as string]);
      await p.close();
      assert.match(seen.count, /\d+ outages?, 1 open/);
      assert.ok(seen.outages.length >= 1);
      assert.match(seen.outages[0] ?? '', /underlay-vxlan-filtered at rack A <-> rack B .*open/);
      const cross = seen.grid.filter((c) => c.from !== c.to);
      const same = seen.grid.filter((c) => c.from === c.to);
      assert.ok(
        cross.every((c) => /\b(bad|part)\b/.test(c.cls)),
        `cross-rack lost: ${JSON.stringify(cross)}`,
      );
      assert.ok(
        same.every((c) => /\bok\b/.test(c.cls)),
        `same-rack fine: ${JSON.stringify(same)}`,
      );
      assert.equal(seen.nth.length, 1, 'the live root cause says how often it happened this week');
      assert.match(seen.nth[0] ?? '', /^(first|\d+(st|nd|rd|th)) time this week$/);
      // `vxdoctor status`: since when, for how long, how often this week (from the history).
      const status = await cli(['status', '--collector', base]);
      assert.equal(status.code, 1, status.stderr);
      assert.match(
        status.stdout,
        /\[critical\] underlay-vxlan-filtered at rack A <-> B \(since \S+, for \S+; (first|\d+(st|nd|rd|th)) time this week\)/,
      );
      await env.lab.clear();
      injected = false;
      await until(
        'root cause cleared',
        async () => ((await rootCauses()).length === 0 ? true : undefined),
        120_000,
        1000,
      );
      // One outage per raise: a fault that flaps in the diagnosis shows as several, all closed.
      const h = await until(
        'outages closed',
        async () => {
          const x = await getJson<HistoryResponse>(base, '/api/v1/history');
          return x.outages.length >= 1 && x.outages.every((o) => o.end) ? x : undefined;
        },
        30_000,
        500,
      );
      closed = h.outages;
      log(
        `tor-drop-vxlan: ${closed.length} outage(s): ${closed.map((o) => `${o.start} -> ${o.end} (${o.durationSeconds} s)`).join(', ')}`,
      );
      for (const o of closed) {
        assert.equal(o.kind, 'underlay-vxlan-filtered');
        assert.equal(o.place, 'rack A <-> rack B');
        assert.ok(o.worst.evidence.length > 0);
      }
      const total = closed.reduce((a, o) => a + o.durationSeconds, 0);
      assert.ok(total >= 12, `outage lasted ${total} s (the fault was on for more than 12 s)`);
      const after = await page('after', null);
      // Hover the bar: the tooltip names place and fix; clicking opens the recorded verdict.
      const at = await after.page.evaluate(() => {
        const over = document.querySelector('#timeline .u-over') as HTMLElement;
        const r = over.getBoundingClientRect();
        const tip = document.getElementById('hist-tip') as HTMLElement;
        for (let x = r.right - 1; x > r.left; x -= 1) {
          over.dispatchEvent(new MouseEvent('mousemove', { clientX: x, clientY: r.top + 11, bubbles: true }));
          if (!tip.hidden) return { x, y: r.top + 11 };
        }
        return null;
      });
      assert.ok(at, 'a bar on the timeline answers hover');
      // A real pointer: hover shows the tooltip, a click opens the recorded verdict.
      await after.page.mouse.move(at.x, at.y);
      const tip = await after.page.locator('#hist-tip').textContent();
      await after.page.mouse.click(at.x, at.y);
      await after.page.waitForSelector('#outage-detail:not([hidden])', { timeout: 5000 });
      const bar = {
        tip: tip ?? '',
        detail: (await after.page.locator('#outage-detail').textContent()) ?? '',
      };
      await after.page.screenshot({ path: join(UI_OUT, 'history-after-verdict.png'), fullPage: true });
      await after.page.close();
      assert.match(bar.tip, /rack A <-> rack B.*fix:/);
      assert.match(bar.detail, /Evidence at its worst/);
      assert.match(after.seen.outages[0] ?? '', /\(\d+m\d{2}s|\(\d+s\)/);
    } finally {
      if (injected) await env.lab.clear().catch(() => undefined);
    }
  });

  it('`vxdoctor history` lists it with start, end, duration and place, also after a collector restart', async (t) => {
    if (skip || !closed.length) return t.skip('needs root and the previous test');
    const list = async () => {
      const r = await cli(['history', '--collector', base, '-o', 'json']);
      assert.equal(r.code, 0, r.stderr);
      return JSON.parse(r.stdout) as HistoryResponse;
    };
    const before = await list();
    assert.deepEqual(before.outages, closed);
    const text = await cli(['history', '--collector', base]);
    assert.match(text.stdout, /START\s+END\s+DURATION\s+SEVERITY\s+KIND\s+PLACE/);
    assert.match(
      text.stdout,
      /\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ\s+\S+\s+critical\s+underlay-vxlan-filtered\s+rack A <-> rack B/,
    );
    await stopCollectorProc();
    await startCollectorProc();
    const again = await until(
      'history complete after restart',
      async () => {
        const h = await list();
        return h.complete ? h : undefined;
      },
      30_000,
      500,
    );
    assert.deepEqual(again.outages, before.outages);
  });
});
