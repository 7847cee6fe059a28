import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NETNS_BATCH, parseLinks, parseRoutes, splitBatch } from '../../../agent/inventory/parse-ip.js';
import { classifyRole, detectUnderlay, networkOf, resolveNsids } from '../../../agent/inventory/topology.js';
import type { Link, NetnsSnapshot } from '../../../shared/schema.js';
import { fx } from './fake.js';

function ns(id: string, file: string, origin: NetnsSnapshot['origin'] = 'netns-dir'): NetnsSnapshot {
  const b = splitBatch(fx(file), '', NETNS_BATCH.length);
  return {
    id,
    name: id,
    path: origin === 'host' ? null : id,
    inode: null,
    origin,
    role: 'other',
    links: parseLinks(b.results[0] ?? []),
    routes: parseRoutes(b.results[1] ?? []),
    neighbors: [],
    fdb: [],
    sysctls: {},
    unknowns: [],
  };
}

const host = ns('host', 'host.batch', 'host');
const ov = ns('1-abcdef0123', 'overlay.batch');
const c1 = ns('0123456789ab', 'container.batch');
const pod = ns('cni-0f1e2d3c', 'pod.batch');
const ing = ns('ingress_sbox', 'ingress.batch');

test('resolveNsids: veth pairs matched both ways resolve each nsid relative to its namespace', () => {
  const m = resolveNsids([host, ov, c1, pod, ing]);
  // container: eth0 (nsid 0) -> overlay, eth1 (nsid 1) -> host gwbridge
  assert.equal(m.get('0123456789ab')?.get(0), '1-abcdef0123');
  assert.equal(m.get('0123456789ab')?.get(1), 'host');
  assert.equal(m.get('1-abcdef0123')?.get(1), '0123456789ab');
  assert.equal(m.get('host')?.get(3), 'cni-0f1e2d3c');
  // the overlay's nsid 0 is only used by the moved VTEP (no veth): not guessable from pairs
  assert.equal(m.get('1-abcdef0123')?.get(0), undefined);
  // host eth0's peer is in the ToR namespace, which is not inventoried
  assert.equal(m.get('host')?.get(0), undefined);
});

test('resolveNsids: known names win; ambiguous pairs stay unresolved', () => {
  const known = new Map([['1-abcdef0123', new Map([[0, 'host']])]]);
  assert.equal(resolveNsids([host, ov, c1], known).get('1-abcdef0123')?.get(0), 'host');
  const veth = (ifindex: number, peer: number): Link => ({
    ifindex,
    name: `v${ifindex}`,
    kind: 'veth',
    operstate: 'UP',
    adminUp: true,
    mtu: 1500,
    mac: null,
    master: null,
    peerIfindex: peer,
    linkNetnsid: 0,
    vxlan: null,
    addresses: [],
  });
  const mk = (id: string, links: Link[]): NetnsSnapshot => ({
    ...host,
    id,
    name: id,
    origin: 'netns-dir',
    links,
  });
  // a has v2 (peer 5); b and c both have ifindex 5 pointing back at 2: ambiguous
  const m = resolveNsids([mk('a', [veth(2, 5)]), mk('b', [veth(5, 2)]), mk('c', [veth(5, 2)])]);
  assert.equal(m.get('a')?.get(0), undefined);
  // a second link with the same nsid disambiguates
  const m2 = resolveNsids([
    mk('a', [veth(2, 5), veth(3, 7)]),
    mk('b', [veth(5, 2)]),
    mk('c', [veth(5, 2), veth(7, 3)]),
  ]);
  assert.equal(m2.get('a')?.get(0), 'c');
});

test('classifyRole', () => {
  assert.deepEqual([host, ov, c1, pod, ing].map(classifyRole), [
    'host',
    'docker-overlay',
    'container',
    'container',
    'docker-ingress',
  ]);
  // By content: the same bridge + VTEP sandbox under any name (or place) is Docker's.
  assert.equal(classifyRole({ ...ov, name: 'lb_abc' }), 'docker-overlay', 'bridge+vxlan under another name');
  assert.equal(
    classifyRole({ ...ov, name: 'x', path: '/run/docker-alt/netns/x' }),
    'docker-overlay',
    'another exec-root',
  );
  // A bridge + VTEP sandbox that is not built like libnetwork's (own local address, none of its
  // flags, not moved in, not in Docker's directory, no Docker name) is not taken for Docker.
  const plain = {
    ...ov,
    name: 'lab-x',
    path: '/var/run/netns/lab-x',
    links: ov.links.map((l) =>
      l.vxlan
        ? {
            ...l,
            linkNetnsid: null,
            vxlan: {
              ...l.vxlan,
              local: '10.9.0.1',
              learning: false,
              proxy: false,
              l2miss: false,
              l3miss: false,
            },
          }
        : l,
    ),
  };
  assert.equal(classifyRole(plain), 'other');
});

test('detectUnderlay: explicit, default route, VTEP lower device, VTEP local address', () => {
  assert.deepEqual(detectUnderlay(host, [host], 'eth0').underlay, {
    dev: 'eth0',
    mtu: 1500,
    addresses: ['10.200.1.11'],
  });
  assert.match(detectUnderlay(host, [host], 'ens5').reason ?? '', /ens5 not found/);
  // no default route in the lab node: flannel.1's `dev eth0` finds it
  assert.equal(detectUnderlay(host, [host]).underlay?.dev, 'eth0');
  const withDefault = {
    ...host,
    routes: [
      ...host.routes,
      {
        dst: 'default',
        dev: 'docker_gwbridge',
        gateway: '172.18.0.254',
        prefsrc: null,
        flags: [],
        mtu: null,
        table: 'main',
      },
    ],
  };
  assert.equal(detectUnderlay(withDefault, [withDefault]).underlay?.dev, 'docker_gwbridge');
  const noLower = {
    ...host,
    links: host.links.map((l) => (l.vxlan ? { ...l, vxlan: { ...l.vxlan, lowerDevice: null } } : l)),
  };
  assert.equal(
    detectUnderlay(noLower, [noLower]).underlay?.dev,
    'eth0',
    'device owning flannel local 10.200.1.11',
  );
  const bare = { ...noLower, links: noLower.links.filter((l) => l.kind !== 'vxlan') };
  assert.equal(detectUnderlay(bare, [bare]).underlay, null);
});

test('detectUnderlay: IPv6 link-local is not an underlay address', () => {
  const v6 = {
    ...host,
    links: host.links.map((l) =>
      l.name === 'eth0' ? { ...l, addresses: [...l.addresses, 'fd00::2/64', 'fe80::1/64'] } : l,
    ),
  };
  assert.deepEqual(detectUnderlay(v6, [v6], 'eth0').underlay?.addresses, ['10.200.1.11', 'fd00::2']);
});

test('networkOf', () => {
  assert.equal(networkOf('10.0.1.1/24'), '10.0.1.0/24');
  assert.equal(networkOf('172.18.0.1/16'), '172.18.0.0/16');
  assert.equal(networkOf('10.244.1.0/32'), '10.244.1.0/32');
  assert.equal(networkOf('fe80::1/64'), 'fe80::1/64');
});
