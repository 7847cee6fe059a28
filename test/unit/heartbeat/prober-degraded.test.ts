/**
 * The real Prober and the real libpcap capture port, degraded: without the pcap module, and
 * without CAP_NET_RAW, the agent keeps the probes it can (control over a normal socket) and says
 * what is missing as an unknown. Loopback only (127.0.0.x); the CAP_NET_RAW case needs root to
 * drop the capability with setpriv and runs wherever `npm test` runs as root (always under CI).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, test } from 'node:test';
import { pcapCaptureFactory } from '../../../agent/capture/index.js';
import type { ProberOptions } from '../../../agent/heartbeat/prober.js';
import { LoopbackProbers, loopbackPresence } from './loopback.js';

const KEY = Buffer.from('k'.repeat(32));
const loop = new LoopbackProbers(KEY);
after(async () => {
  await loop.stopAll();
});

const prober = (node: string, addr: string, port: number, capture: ProberOptions['capture']) =>
  loop.make(node, addr, port, capture);
const presence = loopbackPresence;

test('without the pcap module: an unknown that says so; control probes still sent and answered', async () => {
  const a = prober('pa', '127.0.0.1', 17_991, null);
  const b = prober('pb', '127.0.0.2', 17_992, null);
  await a.start();
  await b.start();
  assert.deepEqual(
    a.unknowns().map((u) => u.reason),
    ['capture unavailable: pcap module not installed'],
  );
  a.setPeers([presence('pb', '127.0.0.2', 17_992)]);
  b.setPeers([presence('pa', '127.0.0.1', 17_991)]);
  const { results } = await a.runRound(1);
  // vxlan/pmtu go to the kernel VTEP's port and are only seen with capture: not sent.
  assert.deepEqual(
    results.map((r) => `${r.path}:${r.answered}:${r.leftSrc}`),
    ['control:true:null'],
  );
  assert.equal(b.stats().received.control, 1);
});

test('without CAP_NET_RAW: the real libpcap port answers with the reason instead of throwing', {
  skip: process.getuid?.() !== 0 && 'needs root (to drop CAP_NET_RAW with setpriv)',
}, () => {
  const code = `import('./agent/capture/index.ts').then(async (m) => {
    const r = await m.pcapCaptureFactory('lo', 'udp port 9', () => {});
    if ('stop' in r) r.stop();
    process.stdout.write(JSON.stringify(r));
  })`;
  const r = spawnSync(
    'setpriv',
    ['--inh-caps=-net_raw', '--bounding-set=-net_raw', process.execPath, '--import', 'tsx', '-e', code],
    { encoding: 'utf8', timeout: 30_000 },
  );
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { unavailable?: string };
  assert.match(out.unavailable ?? '', /^capture unavailable: no CAP_NET_RAW to capture on lo/);
});

test('with CAP_NET_RAW: the real libpcap port delivers matching frames with their capture time', {
  skip: process.getuid?.() !== 0 && 'needs root (CAP_NET_RAW)',
}, async () => {
  const seen: Array<{ len: number; ts: number }> = [];
  const c = await pcapCaptureFactory('lo', 'udp and dst port 17993', (f, ts) =>
    seen.push({ len: f.length, ts }),
  );
  assert.ok('stop' in c, JSON.stringify(c));
  try {
    const { createSocket } = await import('node:dgram');
    const s = createSocket('udp4');
    const t0 = Date.now();
    await new Promise<void>((res) => s.send(Buffer.alloc(100), 17_993, '127.0.0.1', () => res()));
    await new Promise<void>((res) => s.send(Buffer.alloc(10), 17_994, '127.0.0.1', () => res()));
    s.close();
    for (let i = 0; i < 50 && seen.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(seen.length, 1, 'exactly the frame the filter matches');
    assert.equal(seen[0]?.len, 14 + 20 + 8 + 100);
    assert.ok(Math.abs((seen[0]?.ts ?? 0) - t0) < 1000, `capture time ${seen[0]?.ts} vs send ${t0}`);
  } finally {
    if ('stop' in c) c.stop();
    // The binding releases the handle on its next dispatch, i.e. the next matching frame; until
    // then its poll handle keeps the process alive. One more frame lets this test file exit.
    const { createSocket } = await import('node:dgram');
    const s = createSocket('udp4');
    await new Promise<void>((res) => s.send(Buffer.alloc(1), 17_993, '127.0.0.1', () => res()));
    s.close();
  }
});
