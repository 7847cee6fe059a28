/**
 * The collector against a real nats-server (JetStream on a temp dir, 127.0.0.1, random port):
 * synthetic agent reports published through NATS become a root cause on /api/v1/diagnosis;
 * 10,000 malformed messages are rejected, counted by reason and acked while /metrics keeps
 * answering; a restarted collector rebuilds its state from the stream with the same `since`.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { jetstream } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { type RunningCollector, startCollector } from '../../collector/runtime.js';
import { silentLogger } from '../../shared/logging.js';
import { summaryMessage } from '../../agent/publish/messages.js';
import type { DiagnosisResponse, NodeDetail, NodeView, TraceReply } from '../../shared/schema.js';
import { encodeSnapshotReply } from '../../shared/snapshot-reply.js';
import { KV_NODES } from '../../shared/subjects.js';
import {
  crossRack,
  type Fault,
  finding,
  findingsMsg,
  NODES,
  presence,
  ROUND_MS,
  round,
  snapshotMsg,
} from '../unit/collector/synth.js';
import { freePort } from './harness.js';

async function until<T>(what: string, fn: () => Promise<T | undefined>, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  let last: unknown;
  while (Date.now() < end) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
}

const MAX_BYTES = 16 * 1024;
const fault: Fault = (a, b, p) =>
  crossRack(a, b) && p !== 'control' ? { kind: 'lost-in-path' } : { kind: 'ok' };

describe('collector with a real NATS JetStream', () => {
  let dir = '';
  let server: ChildProcess | null = null;
  let natsUrl = '';
  let natsPort = 0;
  let nc: NatsConnection;
  let collector: RunningCollector | null = null;

  const start = (windowMs = 120_000) =>
    startCollector({
      nats: [natsUrl],
      listenHost: '127.0.0.1',
      listenPort: 0,
      groupLabel: 'rack',
      windowMs,
      presenceTtlMs: 60_000,
      durable: 'vxdoctor-collector-e2e',
      maxMessageBytes: MAX_BYTES,
      evaluateEveryMs: 200,
      traceTimeoutMs: 1500,
      log: silentLogger(),
    });

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vxd-collector-e2e-'));
    natsPort = await freePort();
    server = spawn('nats-server', ['-a', '127.0.0.1', '-p', String(natsPort), '-js', '-sd', dir], {
      stdio: 'ignore',
    });
    natsUrl = `nats://127.0.0.1:${natsPort}`;
    nc = await until('nats-server', async () => connect({ servers: natsUrl, timeout: 1000 }));
  });

  after(async () => {
    await collector?.stop().catch(() => undefined);
    await nc?.close().catch(() => undefined);
    if (server?.pid) process.kill(server.pid, 'SIGTERM');
    await new Promise((r) => setTimeout(r, 200));
    rmSync(dir, { recursive: true, force: true });
  });

  const get = async <T>(path: string): Promise<T> => {
    const r = await fetch(`${collector?.url}${path}`, { signal: AbortSignal.timeout(2000) });
    if (!r.ok) throw new Error(`${path}: HTTP ${r.status}`);
    return (await r.json()) as T;
  };
  const metrics = async (): Promise<string> => {
    const r = await fetch(`${collector?.url}/metrics`, { signal: AbortSignal.timeout(2000) });
    assert.equal(r.status, 200);
    return r.text();
  };
  const rejected = (text: string, reason: string): number =>
    Number(new RegExp(`vxdoctor_ingest_rejected_total\\{reason="${reason}"\\} (\\d+)`).exec(text)?.[1] ?? -1);

  let since = '';

  it('ingests agent reports from JetStream and raises the segment root cause', async () => {
    collector = await start();
    await until('ready', async () => ((await fetch(`${collector?.url}/readyz`)).ok ? true : undefined));
    const kv = await until('presence bucket', async () => {
      const b = await new Kvm(nc).open(KV_NODES);
      await b.status();
      return b;
    });
    for (const n of NODES) await kv.put(n, JSON.stringify(presence(n, Date.now())));
    const js = jetstream(nc);
    const fault: Fault = (a, b, p) =>
      crossRack(a, b) && p !== 'control' ? { kind: 'lost-in-path' } : { kind: 'ok' };
    const t0 = Date.now() - 3 * ROUND_MS;
    for (let n = 0; n < 3; n++) {
      for (const m of round(n, fault, { t0 })) {
        await js.publish(`vxdoctor.v1.${m.node}.probes`, JSON.stringify(m), { msgID: m.id });
      }
    }
    const d = await until('diagnosis', async () => {
      const r = await get<DiagnosisResponse>('/api/v1/diagnosis');
      return r.rootCauses.length ? r : undefined;
    });
    assert.deepEqual(
      d.rootCauses.map((r) => r.id),
      ['underlay-vxlan-filtered:rack:A:B'],
    );
    assert.deepEqual(d.rootCauses[0]?.segment, { label: 'rack', from: 'A', to: 'B' });
    since = d.rootCauses[0]?.since as string;
    assert.equal(since, new Date(t0).toISOString());
    const nodes = await get<NodeView[]>('/api/v1/nodes');
    assert.deepEqual(
      nodes.map((n) => [n.name, n.state, n.labels.rack]),
      NODES.map((n) => [n, 'up', n === 'n1' || n === 'n2' ? 'A' : 'B']),
    );
    // A redelivered copy (same id, published without de-duplication) changes nothing.
    const again = round(2, fault, { t0 })[0];
    nc.publish(`vxdoctor.v1.${again?.node}.probes`, JSON.stringify(again));
    await nc.flush();
    await until('duplicate counted', async () =>
      (collector?.ingest.duplicates ?? 0) >= 1 ? true : undefined,
    );
    // Reads reuse the last evaluation's listing (200 ms here): wait for one made after the copy.
    const sentN1N3 = async () =>
      (
        await get<{ pairs: { src: string; dst: string; sent: number }[] }>('/api/v1/pairs?path=vxlan')
      ).pairs.find((p) => p.src === 'n1' && p.dst === 'n3')?.sent;
    await new Promise((r) => setTimeout(r, 3 * 200));
    assert.equal(await sentN1N3(), 3);
  });

  it('POST /api/v1/trace asks both agents over NATS request/reply: 200 with both directions, 504 without the source agent', async () => {
    const sub = nc.subscribe('vxdoctor.trace.v1.*', {
      callback: (_err, m) => {
        const req = JSON.parse(new TextDecoder().decode(m.data)) as { src: string; dst: string };
        if (req.src !== 'n1' && req.src !== 'n3') return; // no agent on n2, n4
        m.respond(
          JSON.stringify({
            src: req.src,
            dst: req.dst,
            results: round(0, () => ({ kind: 'ok' }), { t0: Date.now() })[0]?.results.filter(
              (r) => r.dst === req.dst,
            ),
            verdict: [`vxlan: ok ${req.src} -> ${req.dst}`],
          }),
        );
      },
    });
    await nc.flush(); // the responder is on the server before the collector asks
    try {
      const post = (body: unknown) =>
        fetch(`${collector?.url}/api/v1/trace`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(body),
          signal: AbortSignal.timeout(5000),
        });
      const ok = await post({ src: 'n1', dst: 'n3' });
      assert.equal(ok.status, 200);
      const reply = (await ok.json()) as TraceReply;
      assert.deepEqual(reply.verdict, ['vxlan: ok n1 -> n3']);
      assert.equal(reply.results.length, 6);
      assert.deepEqual(reply.reverse?.verdict, ['vxlan: ok n3 -> n1'], 'the destination agent probed back');
      assert.ok(reply.reverse?.results.every((r) => r.src === 'n3' && r.dst === 'n1'));
      // The destination has no agent: the forward direction still answers, the reverse says why.
      const oneWay = (await (await post({ src: 'n1', dst: 'n4' })).json()) as TraceReply;
      assert.deepEqual(oneWay.verdict, ['vxlan: ok n1 -> n4']);
      assert.match(oneWay.reverse?.error ?? '', /no agent answers on vxdoctor\.trace\.v1\.n4/);
      assert.equal((await post({ src: 'n2', dst: 'n3' })).status, 504);
      assert.equal((await post({ src: 'n1', dst: 'n7' })).status, 404);
    } finally {
      sub.unsubscribe();
    }
  });

  it('GET /api/v1/nodes/<name>: the summary from the stream, the whole snapshot from the agent by request/reply', async () => {
    const whole = snapshotMsg('n1', 0).snapshot;
    const sum = summaryMessage({ node: 'n1' }, whole);
    let asked = 0;
    // Only n1 has an agent here. Its responder is on the server before the summary is published
    // (the flush): in CI the collector once asked before the subscription had reached it.
    const sub = nc.subscribe('vxdoctor.snapshot.v1.n1', {
      callback: (_err, m) => {
        asked++;
        m.respond(encodeSnapshotReply({ node: 'n1', snapshot: whole }, 1024 * 1024));
      },
    });
    await nc.flush();
    nc.publish('vxdoctor.v1.n1.summary', JSON.stringify(sum));
    await nc.flush();
    try {
      const d = await until('n1 summary applied', async () => {
        const r = await get<NodeDetail>('/api/v1/nodes/n1');
        return r.summary?.digest === sum.summary.digest ? r : undefined;
      });
      assert.deepEqual(d.snapshot, whole, 'the whole snapshot, as the agent has it');
      assert.equal(d.snapshotError, undefined);
      assert.equal(d.summary?.vteps[0]?.fdb.count, whole.vteps[0]?.fdbDsts.length);
      const before = asked;
      const only = await get<NodeDetail>('/api/v1/nodes/n1?tables=0');
      assert.equal(only.snapshot, undefined);
      assert.equal(only.summary?.digest, sum.summary.digest);
      assert.equal(asked, before, 'tables=0 asks no agent');
      // No agent answers for n3: the node is still served, with the reason.
      const t0 = Date.now();
      const n3 = await get<NodeDetail>('/api/v1/nodes/n3');
      assert.equal(n3.name, 'n3');
      assert.equal(n3.snapshot, undefined);
      assert.match(n3.snapshotError ?? '', /no agent answers on vxdoctor\.snapshot\.v1\.n3/);
      assert.ok(Date.now() - t0 < 15_000);
    } finally {
      sub.unsubscribe();
    }
  });

  it('survives 10,000 malformed messages, counting each by reason, /metrics keeps answering', async () => {
    const good = JSON.stringify(round(0, () => ({ kind: 'ok' }), { t0: Date.now() })[0]);
    const goodObj = JSON.parse(good);
    const big = JSON.stringify({ ...goodObj, pad: 'x'.repeat(MAX_BYTES) });
    const kinds: Array<[string, string, string]> = [
      ['malformed-json', 'vxdoctor.v1.n1.probes', '{"schemaVersion":1,"type":'],
      ['unknown-version', 'vxdoctor.v1.n1.probes', JSON.stringify({ ...goodObj, schemaVersion: 99 })],
      ['node-mismatch', 'vxdoctor.v1.n2.probes', good],
      ['too-large', 'vxdoctor.v1.n1.probes', big],
      ['bad-subject', 'vxdoctor.v1.n1.bogus', good],
    ];
    const before = await metrics();
    const base = Object.fromEntries(kinds.map(([r]) => [r, rejected(before, r)]));
    const slowest: number[] = [];
    for (let i = 0; i < 10_000; i++) {
      const [, subject, body] = kinds[i % kinds.length] as [string, string, string];
      nc.publish(subject, body);
      if (i % 1000 === 999) {
        await nc.flush();
        const t = Date.now();
        await metrics();
        slowest.push(Date.now() - t);
      }
    }
    await nc.flush();
    const after = await until(
      'all 10,000 rejected',
      async () => {
        const m = await metrics();
        return kinds.every(([r]) => rejected(m, r) - (base[r] ?? 0) === 2000) ? m : undefined;
      },
      60_000,
    );
    for (const [r] of kinds) assert.equal(rejected(after, r) - (base[r] ?? 0), 2000, r);
    assert.ok(
      Math.max(...slowest) < 2000,
      `/metrics answered during the flood (max ${Math.max(...slowest)} ms)`,
    );
    const d = await get<DiagnosisResponse>('/api/v1/diagnosis');
    assert.deepEqual(
      d.rootCauses.map((r) => r.id),
      ['underlay-vxlan-filtered:rack:A:B'],
    );
  });

  it('a restarted collector rebuilds state from the stream; since unchanged', async () => {
    await collector?.stop();
    collector = null;
    collector = await start();
    const d = await until('diagnosis after restart', async () => {
      const r = await get<DiagnosisResponse>('/api/v1/diagnosis');
      return r.rootCauses.length ? r : undefined;
    });
    assert.deepEqual(
      d.rootCauses.map((r) => [r.id, r.since]),
      [['underlay-vxlan-filtered:rack:A:B', since]],
    );
    const nodes = await get<NodeView[]>('/api/v1/nodes');
    assert.equal(nodes.length, 4);
    // /metrics is withheld (503) until the rebuilt state was evaluated twice, then served.
    const m = await until('metrics served after the rebuild', async () => {
      const r = await fetch(`${collector?.url}/metrics`, { signal: AbortSignal.timeout(2000) });
      return r.status === 200 ? r.text() : undefined;
    });
    assert.match(m, /vxdoctor_nats_connected 1/);
    assert.match(
      m,
      /vxdoctor_rootcause_active\{kind="underlay-vxlan-filtered",severity="critical",scope="segment"\} 1/,
    );
  });

  it('since survives a restart even when the onset has left the replay window (persisted in KV)', async () => {
    const js = jetstream(nc);
    // Findings are published on change only: older than the replay window, still replayed.
    const fm = findingsMsg('n2', 0, [finding('n2', 'missing-gwbridge', 'gwbridge')]);
    await js.publish('vxdoctor.v1.n2.findings', JSON.stringify({ ...fm, at: Date.now() }), { msgID: fm.id });
    await new Promise((r) => setTimeout(r, 5500));
    await collector?.stop();
    collector = null;
    for (const m of round(0, fault, { t0: Date.now() })) {
      await js.publish(`vxdoctor.v1.${m.node}.probes`, JSON.stringify({ ...m, id: `${m.id}-fresh` }), {
        msgID: `${m.id}-fresh`,
      });
    }
    // Replay only the last 5 s: the probes that show the onset are outside it.
    collector = await start(5000);
    const d = await until('diagnosis after restart', async () => {
      const r = await get<DiagnosisResponse>('/api/v1/diagnosis');
      return r.rootCauses.length ? r : undefined;
    });
    const pairs = await get<{ pairs: { src: string; dst: string; sent: number }[] }>(
      '/api/v1/pairs?path=vxlan',
    );
    assert.equal(
      pairs.pairs.find((p) => p.src === 'n1' && p.dst === 'n3')?.sent,
      1,
      'only the fresh round was replayed',
    );
    assert.deepEqual(d.rootCauses.find((r) => r.id === 'underlay-vxlan-filtered:rack:A:B')?.since, since);
    await until('finding root cause after restart', async () => {
      const r = await get<DiagnosisResponse>('/api/v1/diagnosis');
      return r.rootCauses.some((x) => x.id === 'missing-gwbridge:n2') ? true : undefined;
    });
  });

  it('reconnects after the NATS server restarts and keeps consuming', async () => {
    const old = server as ChildProcess;
    const exited = new Promise((r) => old.once('exit', r));
    process.kill(old.pid as number, 'SIGTERM');
    await exited;
    await until('collector sees the outage', async () =>
      (await metrics()).includes('vxdoctor_nats_connected 0') ? true : undefined,
    );
    server = spawn('nats-server', ['-a', '127.0.0.1', '-p', String(natsPort), '-js', '-sd', dir], {
      stdio: 'ignore',
    });
    await until('collector reconnected', async () =>
      (await metrics()).includes('vxdoctor_nats_connected 1') ? true : undefined,
    );
    // Publish a healthy round on a new connection: the root cause clears.
    await nc.close().catch(() => undefined);
    nc = await until('nats-server back', async () => connect({ servers: natsUrl, timeout: 1000 }));
    const js = jetstream(nc);
    const fresh = round(0, () => ({ kind: 'ok' }), { t0: Date.now() });
    const cleared = { ...findingsMsg('n2', 1, []), at: Date.now(), id: 'n2-findings-cleared' };
    await until('publish after restart', async () =>
      js.publish('vxdoctor.v1.n2.findings', JSON.stringify(cleared), { msgID: cleared.id }),
    );
    await until('publish after restart', async () => {
      for (const m of fresh) {
        await js.publish(`vxdoctor.v1.${m.node}.probes`, JSON.stringify({ ...m, id: `${m.id}-healed` }), {
          msgID: `${m.id}-healed`,
        });
      }
      return true;
    });
    await until(
      'root cause cleared',
      async () =>
        (await get<DiagnosisResponse>('/api/v1/diagnosis')).rootCauses.length === 0 ? true : undefined,
      30_000,
    );
  });
});
