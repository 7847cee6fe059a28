import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import {
  NETNS_BATCH,
  parseFdb,
  parseLinks,
  parseNeighbors,
  parseNetnsIds,
  parseRoutes,
  splitBatch,
} from '../../../agent/inventory/parse-ip.js';

const fx = (f: string) =>
  readFileSync(new URL(`../../fixtures/inventory/lab-node/${f}`, import.meta.url), 'utf8');
const batch = (f: string) => splitBatch(fx(f), '', NETNS_BATCH.length);

test('splitBatch: one JSON array per command', () => {
  const b = batch('host.batch');
  assert.equal(b.results.length, 4);
  assert.ok(b.results.every((r) => Array.isArray(r)));
  assert.deepEqual(b.errors, []);
});

test('splitBatch: a failing command (-force) shifts the lines; stderr marker realigns them', () => {
  const b = splitBatch(fx('partial.batch'), fx('partial.stderr'), 3);
  assert.equal(b.results[1], null);
  assert.ok(Array.isArray(b.results[0]) && (b.results[0] as unknown[]).length > 3, 'addr show output');
  const neigh = parseNeighbors(b.results[2] ?? []);
  assert.deepEqual(
    neigh.map((n) => n.dst),
    ['10.244.3.0'],
  );
  assert.deepEqual(b.errors, ['Device "nosuch0" does not exist.']);
});

test('splitBatch: missing or garbled lines become null, not a crash', () => {
  const b = splitBatch('[{"a":1}]\nnot json\n', '', 3);
  assert.deepEqual(b.results, [[{ a: 1 }], null, null]);
});

const hostLinks = parseLinks(batch('host.batch').results[0] ?? []);
const ovLinks = parseLinks(batch('overlay.batch').results[0] ?? []);
const byName = (links: ReturnType<typeof parseLinks>, n: string) => {
  const l = links.find((x) => x.name === n);
  assert.ok(l, `link ${n}`);
  return l;
};

const linkCases: Array<{
  name: string;
  links: ReturnType<typeof parseLinks>;
  dev: string;
  want: Record<string, unknown>;
}> = [
  {
    name: 'loopback',
    links: hostLinks,
    dev: 'lo',
    want: { kind: 'loopback', mtu: 65536, addresses: ['127.0.0.1/8'] },
  },
  {
    name: 'underlay veth into the ToR namespace',
    links: hostLinks,
    dev: 'eth0',
    want: {
      kind: 'veth',
      mtu: 1500,
      mac: '02:00:0a:c8:01:0b',
      linkNetnsid: 0,
      adminUp: true,
      operstate: 'UP',
      addresses: ['10.200.1.11/24'],
    },
  },
  {
    name: 'flannel bridge',
    links: hostLinks,
    dev: 'cni0',
    want: { kind: 'bridge', mtu: 1450, addresses: ['10.244.1.1/24'] },
  },
  {
    name: 'pod veth port',
    links: hostLinks,
    dev: 'vethpod',
    want: { kind: 'veth', master: 'cni0', mtu: 1450 },
  },
  {
    name: 'gwbridge',
    links: hostLinks,
    dev: 'docker_gwbridge',
    want: { kind: 'bridge', addresses: ['172.18.0.1/16'] },
  },
  {
    name: 'docker VTEP moved into the overlay namespace',
    links: ovLinks,
    dev: 'vxlan0',
    want: { kind: 'vxlan', master: 'br0', mtu: 1450, linkNetnsid: 0 },
  },
  {
    name: 'container veth port in br0',
    links: ovLinks,
    dev: 'veth0',
    want: { kind: 'veth', master: 'br0', linkNetnsid: 1 },
  },
];
for (const c of linkCases) {
  test(`parseLinks: ${c.name}`, () => {
    const l = byName(c.links, c.dev);
    for (const [k, v] of Object.entries(c.want))
      assert.deepEqual((l as unknown as Record<string, unknown>)[k], v, k);
  });
}

test('parseLinks: VXLAN info of flannel and Docker VTEPs', () => {
  assert.deepEqual(byName(hostLinks, 'flannel.1').vxlan, {
    vni: 1,
    local: '10.200.1.11',
    group: null,
    port: 8472,
    learning: false,
    proxy: false,
    l2miss: false,
    l3miss: false,
    lowerDevice: 'eth0',
    external: false,
  });
  assert.deepEqual(byName(ovLinks, 'vxlan0').vxlan, {
    vni: 256,
    local: null,
    group: null,
    port: 4789,
    learning: true,
    proxy: true,
    l2miss: true,
    l3miss: true,
    lowerDevice: null,
    external: false,
  });
  assert.equal(byName(hostLinks, 'cni0').vxlan, null);
});

test('parseLinks: veth peer ifindex pairs up across namespaces', () => {
  const c1 = parseLinks(batch('container.batch').results[0] ?? []);
  const ceth0 = byName(c1, 'eth0');
  const port = byName(ovLinks, 'veth0');
  assert.equal(ceth0.peerIfindex, port.ifindex);
  assert.equal(port.peerIfindex, ceth0.ifindex);
});

test('parseRoutes: table all without local/broadcast entries; onlink and gateway kept', () => {
  const routes = parseRoutes(batch('host.batch').results[1] ?? []);
  assert.deepEqual(
    routes.map((r) => r.dst),
    ['10.200.1.0/24', '10.200.2.0/24', '10.244.1.0/24', '10.244.3.0/24', '172.18.0.0/16'],
  );
  const fl = routes.find((r) => r.dst === '10.244.3.0/24');
  assert.deepEqual(fl, {
    dst: '10.244.3.0/24',
    dev: 'flannel.1',
    gateway: '10.244.3.0',
    prefsrc: null,
    flags: ['onlink'],
    mtu: null,
    table: 'main',
  });
  assert.equal(routes.find((r) => r.dst === '10.200.1.0/24')?.prefsrc, '10.200.1.11');
});

test('parseRoutes: route mtu metric', () => {
  const r = parseRoutes([
    { dst: '10.9.0.0/16', gateway: '10.200.1.254', dev: 'eth0', flags: [], metrics: [{ mtu: 1400 }] },
  ]);
  assert.equal(r[0]?.mtu, 1400);
  assert.equal(r[0]?.table, 'main');
});

test('parseNeighbors: PERMANENT entries programmed on the VTEPs', () => {
  assert.deepEqual(parseNeighbors(batch('overlay.batch').results[2] ?? []), [
    { dst: '10.0.1.13', dev: 'vxlan0', lladdr: '02:42:0a:00:01:0d', state: ['PERMANENT'] },
  ]);
  assert.deepEqual(parseNeighbors([{ dst: '1.2.3.4', dev: 'x', state: 'STALE' }])[0]?.state, ['STALE']);
});

test('parseFdb: remote VTEP entries kept with dst, multicast self entries dropped', () => {
  const ov = parseFdb(JSON.parse(fx('overlay.fdb.json')));
  assert.ok(!ov.some((e) => e.mac.startsWith('33:33:') || e.mac.startsWith('01:00:5e:')));
  const remote = ov.find((e) => e.dst !== null);
  assert.deepEqual(remote, {
    mac: '02:42:0a:00:01:0d',
    dev: 'vxlan0',
    dst: '10.200.2.13',
    master: null,
    state: 'permanent',
    flags: ['self'],
    vni: null,
  });
  const host = parseFdb(JSON.parse(fx('host.fdb.json')));
  assert.deepEqual(
    host.filter((e) => e.dev === 'flannel.1').map((e) => [e.mac, e.dst]),
    [['0e:00:00:00:01:0d', '10.200.2.13']],
  );
});

test('parseNetnsIds', () => {
  assert.deepEqual(parseNetnsIds(batch('overlay.batch').results[3] ?? []), [
    { nsid: 0, name: 'vxi-f-n1' },
    { nsid: 1, name: 'vxi-f-c1' },
  ]);
});
