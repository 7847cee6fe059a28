/**
 * Probes follow the overlays: every VXLAN port a peer announces gets its own full-size (PMTU)
 * probe of the size that overlay needs (its overlay MTU + 50), e.g. flannel 8472 at 1450 and
 * Weave's fast datapath 6784 at 1410. Loopback only (127.0.0.x), real libpcap capture (root).
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { pcapCaptureFactory } from '../../../agent/capture/index.js';
import { requiredSize, vxlanPortsOf } from '../../../agent/heartbeat/pmtu.js';
import type { NodePresence } from '../../../shared/schema.js';
import { LoopbackProbers, loopbackPresence } from './loopback.js';

const KEY = Buffer.from('p'.repeat(32));
const loop = new LoopbackProbers(KEY);
const root = process.getuid?.() === 0;
after(() => loop.stopAll());

const withWeave = (node: string, addr: string, port: number): NodePresence => {
  const p = loopbackPresence(node, addr, port);
  return {
    ...p,
    vteps: [
      { ...p.vteps[0]!, overlay: 'flannel', overlayMtu: 1450 },
      {
        style: 'other',
        overlay: 'weave',
        vni: 0,
        port: 6784,
        mac: null,
        local: null,
        dev: 'vxlan-6784',
        overlayMtu: 1410,
      },
    ],
  };
};

test('requiredSize: the peer announced overlay MTU per port, else ours on that port, else the fallback', () => {
  const peer = withWeave('x', '127.0.0.9', 1);
  assert.deepEqual(vxlanPortsOf(peer), [8472, 6784]);
  assert.equal(requiredSize(peer, 8472, new Map(), 1450), 1500);
  assert.equal(requiredSize(peer, 6784, new Map(), 1450), 1460);
  const old = { ...peer, vteps: peer.vteps.map(({ overlayMtu: _, ...v }) => v) };
  assert.equal(requiredSize(old, 6784, new Map([[6784, 1376]]), 1450), 1426, 'our own MTU on that port');
  assert.equal(requiredSize(old, 8472, new Map(), 1400), 1450, 'fallback');
  assert.deepEqual(vxlanPortsOf({ ...peer, vteps: [] }), [4789]);
});

test('a peer with two overlays: one full-size probe per port, each of its overlay size, both answered', {
  skip: !root && 'needs root (CAP_NET_RAW for libpcap on lo)',
}, async () => {
  const a = loop.make('pa', '127.0.0.1', 17_991, pcapCaptureFactory);
  const b = loop.make('pb', '127.0.0.2', 17_992, pcapCaptureFactory);
  for (const p of [a, b]) await p.start();
  a.setPeers([withWeave('pb', '127.0.0.2', 17_992)]);
  b.setPeers([withWeave('pa', '127.0.0.1', 17_991)]);
  await new Promise((r) => setTimeout(r, 400)); // capture restarts for the new ports
  const { results } = await a.runRound(1);
  const pmtu = results.filter((r) => r.path === 'pmtu').sort((x, y) => (x.port ?? 0) - (y.port ?? 0));
  assert.deepEqual(
    pmtu.map((r) => [r.port, r.pmtu?.required, r.answered]),
    [
      [6784, 1460, true],
      [8472, 1500, true],
    ],
    JSON.stringify(results, null, 1),
  );
  const vx = results.filter((r) => r.path === 'vxlan').map((r) => [r.port, r.answered]);
  assert.deepEqual(
    vx.sort((x, y) => Number(x[0]) - Number(y[0])),
    [
      [6784, true],
      [8472, true],
    ],
  );
  assert.equal(b.stats().received.pmtu, 2);
});
