/**
 * The agent runtime's parts without NATS: the trace responder's queue, the presence refresh
 * policy, the change-signal settle, the heartbeat grid.
 */
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { test } from 'node:test';
import { changeSignalCheck, jittered, roundGrid } from '../../../agent/runtime/loops.js';
import type { ProbeEngine } from '../../../agent/runtime/ports.js';
import { PresenceRefresh, presenceRecord } from '../../../agent/runtime/presence-record.js';
import { MAX_TRACES_QUEUED, TraceResponder } from '../../../agent/runtime/trace-responder.js';
import { Lifecycle } from '../../../shared/lifecycle.js';
import { silentLogger } from '../../../shared/logging.js';
import type { NodePresence, NodeSnapshot, ProbeResult } from '../../../shared/schema.js';

const enc = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));

test('trace responder: one trace at a time, a burst beyond the queue is busy, bad requests say why', async () => {
  let active = 0;
  let maxActive = 0;
  const release: Array<() => void> = [];
  const prober = {
    trace: async (dst: string): Promise<ProbeResult[]> => {
      active++;
      maxActive = Math.max(maxActive, active);
      await new Promise<void>((r) => release.push(r));
      active--;
      return [
        {
          path: 'control',
          src: 'w1',
          dst,
          target: '10.1.0.9',
          port: 7999,
          round: -1,
          at: 0,
          sent: true,
          leftSrc: true,
          arrivedDst: false,
          answered: false,
          replySeen: false,
          rttSeconds: null,
          icmp: [],
        },
      ];
    },
  } as unknown as ProbeEngine;
  let on: ProbeEngine | null = prober;
  const t = new TraceResponder({ node: 'w1', prober: () => on, knows: (d) => d === 'w9' });
  const replies = Array.from({ length: MAX_TRACES_QUEUED + 1 }, () =>
    t.answer(enc({ src: 'w1', dst: 'w9' })),
  );
  const busy = await replies[MAX_TRACES_QUEUED]!;
  assert.match(busy.error ?? '', /^busy/);
  while (release.length === 0) await new Promise((r) => setTimeout(r, 1));
  for (let i = 0; i < MAX_TRACES_QUEUED; i++) {
    while (release.length === 0) await new Promise((r) => setTimeout(r, 1));
    release.shift()!();
  }
  const done = await Promise.all(replies.slice(0, MAX_TRACES_QUEUED));
  assert.equal(maxActive, 1, 'never two traces at once');
  for (const r of done) {
    assert.equal(r.error, undefined);
    assert.deepEqual(r.verdict, ['control: left w1, never reached w9']);
  }
  assert.equal((await t.answer(new TextEncoder().encode('{'))).error, 'malformed trace request');
  assert.equal((await t.answer(enc({ src: 'w1', dst: 'w4' }))).error, 'unknown peer w4');
  on = null;
  assert.equal((await t.answer(enc({ src: 'w1', dst: 'w9' }))).error, 'heartbeats unavailable on this node');
});

const snapshot = {
  underlay: { dev: 'ens5', addresses: ['10.8.0.4/24'] },
  vteps: [
    {
      style: 'flannel',
      vni: 1,
      port: 8472,
      mac: '0e:00:00:00:00:04',
      local: '10.8.0.4',
      dev: 'flannel.1',
      mtu: 8951,
    },
  ],
} as unknown as NodeSnapshot;

test('presence record: from the snapshot, overlay MTU defaulting to the device MTU; none before a snapshot', () => {
  assert.equal(presenceRecord({ node: 'w4', labels: {}, snapshot: null, extras: null, now: 1 }), null);
  const p = presenceRecord({
    node: 'w4',
    labels: { zone: 'b' },
    snapshot,
    extras: { probePort: 7123, overlayEndpoints: [] },
    now: 5,
  })!;
  assert.deepEqual(p.underlay, ['10.8.0.4']);
  assert.equal(p.probePort, 7123);
  assert.equal(p.vteps[0]?.overlayMtu, 8951);
  assert.equal(p.at, 5);
});

test('presence refresh: put when changed, not again until a third of the TTL; nothing while disconnected', async () => {
  const puts: number[] = [];
  const r = new PresenceRefresh({ ttlMs: 60_000, log: silentLogger() });
  const p = presenceRecord({ node: 'w4', labels: {}, snapshot, extras: null, now: 1 }) as NodePresence;
  await r.refresh(p, null);
  assert.equal(puts.length, 0, 'not connected');
  const put = async (x: NodePresence) => {
    puts.push(x.at);
  };
  await r.refresh(p, put);
  await r.refresh({ ...p, at: 2 }, put);
  assert.deepEqual(puts, [1], 'unchanged (the time aside) and not due: no second put');
  await r.refresh({ ...p, at: 3, labels: { zone: 'c' } }, put);
  assert.deepEqual(puts, [1, 3], 'changed: put at once');
  const failing = new PresenceRefresh({ ttlMs: 60_000, log: silentLogger() });
  await failing.refresh(p, async () => {
    throw new Error('kv down');
  });
  await failing.refresh(p, put);
  assert.deepEqual(puts, [1, 3, 1], 'a failed put is tried again next time');
});

test('presence refresh: unchanged, it is put again after everyMs (2 rounds), not only after a third of the TTL', async () => {
  const puts: number[] = [];
  const put = async (x: NodePresence) => {
    puts.push(x.at);
  };
  const r = new PresenceRefresh({ ttlMs: 30_000, everyMs: 40, log: silentLogger() });
  const p = presenceRecord({ node: 'w5', labels: {}, snapshot, extras: null, now: 1 }) as NodePresence;
  await r.refresh(p, put);
  await r.refresh({ ...p, at: 2 }, put);
  assert.deepEqual(puts, [1], 'not due yet');
  await new Promise((res) => setTimeout(res, 60));
  await r.refresh({ ...p, at: 3 }, put);
  assert.deepEqual(puts, [1, 3], 'due after everyMs although a third of the TTL (10 s) has not passed');
});

test('presence refresh: a record failing the schema is said once, not every round while NATS is down', async () => {
  const lines: string[] = [];
  const log = pino({ level: 'error' }, { write: (l: string) => void lines.push(l) });
  const r = new PresenceRefresh({ ttlMs: 60_000, log });
  // probePort 0: what an agent without a prober key publishes; the schema refuses it.
  const bad = {
    ...(presenceRecord({ node: 'edge-7.pop2', labels: {}, snapshot, extras: null, now: 1 }) as NodePresence),
    probePort: 0,
  };
  for (let i = 0; i < 4; i++) await r.refresh({ ...bad, at: i }, null);
  assert.equal(lines.filter((l) => l.includes('fails the schema')).length, 1);
  await r.refresh({ ...bad, labels: { zone: 'z9' } }, null);
  assert.equal(
    lines.filter((l) => l.includes('fails the schema')).length,
    2,
    'a changed record is said again',
  );
});

test('change signal: inventory once the signal holds still; none when unchanged; stop ends the settle', async () => {
  const lc = new Lifecycle();
  const values = ['a', 'b', 'c', 'c'];
  let inventories = 0;
  const check = changeSignalCheck({
    lc,
    signal: async () => values.shift() ?? 'c',
    initial: 'a',
    inventory: async () => {
      inventories++;
    },
    log: silentLogger(),
  });
  await check(); // 'a' = initial: nothing
  assert.equal(inventories, 0);
  const t0 = Date.now();
  await check(); // b, then c (changed again), then c (settled)
  assert.equal(inventories, 1);
  assert.ok(Date.now() - t0 >= 1900, 'waited two settle periods');
  await check(); // c again: unchanged
  assert.equal(inventories, 1);
  const stopping = changeSignalCheck({
    lc,
    signal: async () => String(Math.random()),
    initial: '',
    inventory: async () => {
      inventories++;
    },
    log: silentLogger(),
  });
  const pending = stopping();
  await lc.stop();
  await pending;
  assert.equal(inventories, 1, 'stopped mid-settle: no inventory');
});

test('round grid: every node computes the same slot for a time; the next round is within one interval plus jitter', () => {
  const a = roundGrid(5000, () => 0.5);
  const b = roundGrid(5000, () => 0.9);
  const t = 1_700_000_123_456;
  assert.ok(Math.abs(a.roundOf(t) - b.roundOf(t)) <= 1, 'stagger below one interval');
  assert.equal(a.roundOf(t + 5000), a.roundOf(t) + 1);
  const next = a.nextRound();
  assert.ok(next > 0 && next <= 5000 * 1.1, `${next}`);
  const at = Date.now();
  const due = jittered(1000, () => 1)(at);
  assert.ok(due > 1000 && due <= 1100 + 5, `+10 % at most: ${due}`);
});
