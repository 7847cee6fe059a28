/**
 * The real Prober with the real libpcap capture over loopback (root): the full-size PMTU probe
 * stands for the small VXLAN-port probe on its port when it is answered, and the small one is
 * sent, in the same round, only when it is not. RTTs of captured probes come from the kernel's
 * capture stamps. Loopback only (127.0.0.x).
 */
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { after, test } from 'node:test';
import { pcapCaptureFactory } from '../../../agent/capture/index.js';
import { encodeProbe } from '../../../agent/heartbeat/codec.js';
import type { ProberOptions } from '../../../agent/heartbeat/prober.js';
import { LoopbackProbers, loopbackPresence, PROBE_VNI } from './loopback.js';

const KEY = Buffer.from('f'.repeat(32));
const loop = new LoopbackProbers(KEY);
const VNI = PROBE_VNI;
const root = process.getuid?.() === 0;
after(() => loop.stopAll());

const prober = (node: string, addr: string, port: number, capture: ProberOptions['capture']) =>
  loop.make(node, addr, port, capture);
const presence = loopbackPresence;

test('full-size probe answered: it stands for the small VXLAN-port probe; not answered: the small one follows', {
  skip: !root && 'needs root (CAP_NET_RAW for libpcap on lo)',
}, async () => {
  const a = prober('fa', '127.0.0.1', 17_981, pcapCaptureFactory);
  const b = prober('fb', '127.0.0.2', 17_982, pcapCaptureFactory);
  const c = prober('fc', '127.0.0.3', 17_983, null); // no capture: never answers on the VXLAN port
  for (const p of [a, b, c]) await p.start();
  assert.deepEqual(a.unknowns(), [], 'capture on lo is up');
  a.setPeers([presence('fb', '127.0.0.2', 17_982), presence('fc', '127.0.0.3', 17_983)]);
  b.setPeers([presence('fa', '127.0.0.1', 17_981)]);
  c.setPeers([presence('fa', '127.0.0.1', 17_981)]);
  await new Promise((r) => setTimeout(r, 300)); // setPeers restarts the capture for new ports

  const { results } = await a.runRound(1);
  const of = (dst: string, path: string) => results.filter((r) => r.dst === dst && r.path === path);

  // fa -> fb: one full-size request, answered; the vxlan verdict is that probe's fate.
  const [pmtuB] = of('fb', 'pmtu');
  const [vxB, ...moreB] = of('fb', 'vxlan');
  assert.equal(pmtuB?.answered, true, JSON.stringify(pmtuB));
  assert.equal(moreB.length, 0);
  assert.equal(vxB?.answered, true, JSON.stringify(vxB));
  assert.equal(vxB?.port, 8472);
  assert.equal(vxB?.leftSrc, true);
  assert.equal(vxB?.arrivedDst, true);
  assert.equal(vxB?.replySeen, true);
  assert.match(vxB?.note ?? '', /full-size probe \(1500 B\) answered on this port/);
  assert.equal(b.stats().received.pmtu, 1);
  assert.equal(b.stats().received.vxlan, 0, 'no small request went to fb');
  // Timed by the kernel's capture stamps: a loopback round trip is well under the round timeout.
  assert.ok(vxB.rttSeconds !== null && vxB.rttSeconds < 0.3, `rtt ${vxB.rttSeconds}`);

  // fa -> fc: the full-size probe is not answered, so the small one went out too (and failed the
  // same way: it left fa, nobody answered) — "port filtered", not "too big".
  const [pmtuC] = of('fc', 'pmtu');
  const [vxC, ...moreC] = of('fc', 'vxlan');
  assert.equal(pmtuC?.answered, false);
  assert.equal(moreC.length, 0);
  assert.equal(vxC?.answered, false, JSON.stringify(vxC));
  assert.equal(vxC?.leftSrc, true, 'the small follow-up request was seen leaving');
  assert.equal(vxC?.note, undefined);
  assert.equal(a.stats().sent.vxlan, 1, 'exactly one small request: the follow-up to fc');
});
