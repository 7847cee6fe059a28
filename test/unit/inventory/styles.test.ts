/**
 * Recognition by content and per-style checks, table-driven over real iproute2 output of the
 * style lab nodes (test/fixtures/inventory/styles, captured by its capture.sh from
 * test/lab/styles.sh): every style is recognized from what the kernel shows, its healthy node
 * has no warning or critical finding, and each of its faults is named by the right check (the
 * node checks on n1; port and VNI by the cluster check against a healthy second node).
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { runChecks } from '../../../agent/checks/index.js';
import { parseFdb, parseLinks, parseNeighbors, parseRoutes } from '../../../agent/inventory/parse-ip.js';
import {
  buildTopology,
  classifyRole,
  detectUnderlay,
  resolveNsids,
} from '../../../agent/inventory/topology.js';
import { CLUSTER_CHECKS } from '../../../shared/crosschecks/index.js';
import type { Finding, NetnsSnapshot, NodeSnapshot, OverlayKind } from '../../../shared/schema.js';
import { SCHEMA_VERSION } from '../../../shared/schema.js';

const DIR = new URL('../../fixtures/inventory/styles/', import.meta.url).pathname;
const json = (p: string): unknown[] => JSON.parse(readFileSync(p, 'utf8') || '[]') as unknown[];

function ns(dir: string, id: string, name: string, path: string | null): NetnsSnapshot {
  return {
    id,
    name,
    path,
    inode: null,
    origin: path === null ? 'host' : 'netns-dir',
    role: 'other',
    links: parseLinks(json(join(dir, 'addr.json'))),
    routes: parseRoutes(json(join(dir, 'route.json'))),
    neighbors: parseNeighbors(json(join(dir, 'neigh.json'))),
    fdb: parseFdb(json(join(dir, 'fdb.json'))),
    sysctls: path === null ? { 'net.ipv4.ip_forward': '1', 'net.ipv4.conf.all.rp_filter': '0' } : {},
    unknowns: [],
  };
}

/** A NodeSnapshot as the inventory builds it, from one captured state of node n1. */
export function snapshotOf(style: string, state: string, node = 'n1'): NodeSnapshot {
  const base = join(DIR, style, node === 'n1' ? state : `${state}-${node}`);
  const namespaces = [ns(join(base, 'host'), 'host', 'host', null)];
  // The Docker sandbox under a name and an exec-root that are not Docker's defaults.
  if (existsSync(join(base, 'sandbox')))
    namespaces.push(
      ns(
        join(base, 'sandbox'),
        '/run/lab/engine-x/netns/blue-net',
        'blue-net',
        '/run/lab/engine-x/netns/blue-net',
      ),
    );
  if (existsSync(join(base, 'pod')))
    namespaces.push(ns(join(base, 'pod'), `/run/lab/${node}/netns/pod`, 'pod', `/run/lab/${node}/netns/pod`));
  const nsids = resolveNsids(namespaces);
  for (const n of namespaces) n.role = classifyRole(n);
  const underlay = detectUnderlay(namespaces[0]!, namespaces, 'eth0').underlay;
  const topo = buildTopology(namespaces, nsids, underlay);
  const overlayNs = namespaces.filter((n) => n.role === 'docker-overlay');
  return {
    schemaVersion: SCHEMA_VERSION,
    node,
    labels: {},
    takenAt: new Date(0).toISOString(),
    durationMs: 0,
    host: { hostname: node, kernel: '6.1.0-18-amd64', os: 'Debian GNU/Linux 12', privileged: true, nics: [] },
    namespaces,
    chains: topo.chains,
    vteps: topo.vteps,
    underlay,
    firewall: { rules: [], policies: {} },
    docker: {
      present: overlayNs.length > 0,
      swarm: overlayNs.length > 0,
      overlayNamespaces: overlayNs.map((n) => n.name),
      gwbridge: namespaces[0]!.links.some((l) => l.name === 'docker_gwbridge'),
    },
    unknowns: [],
  };
}

const serious = (f: Finding[]) => f.filter((x) => x.status === 'problem' && x.severity !== 'info');

interface Row {
  style: string;
  overlay: OverlayKind;
  dev: string;
  port: number;
  /** What the overlay carries (collect-metadata devices have a larger device MTU). */
  overlayMtu: number;
  faults: Record<string, { check: string; kind: string; match?: RegExp }>;
}

const down = { check: 'vtep-state', kind: 'vtep-down' };
const mtu = { check: 'vtep-underlay-mtu', kind: 'underlay-mtu' };
const port = { check: 'vxlan-params', kind: 'dstport-mismatch' };
const vni = { check: 'vxlan-params', kind: 'vni-mismatch' };
const ROWS: Row[] = [
  {
    style: 'docker',
    overlay: 'docker',
    dev: 'vxlan0',
    port: 4789,
    overlayMtu: 1450,
    faults: {
      'vtep-down': down,
      detached: { ...down, match: /not attached to the overlay bridge/ },
      'mtu-small': mtu,
      'wrong-port': port,
      'wrong-vni': vni,
    },
  },
  {
    style: 'flannel',
    overlay: 'flannel',
    dev: 'flannel.1',
    port: 8472,
    overlayMtu: 1450,
    faults: { 'vtep-down': down, 'mtu-small': mtu, 'wrong-port': port, 'wrong-vni': vni },
  },
  {
    style: 'calico',
    overlay: 'calico',
    dev: 'vxlan.calico',
    port: 4789,
    overlayMtu: 1450,
    faults: {
      'vtep-down': down,
      'mtu-small': { ...mtu, match: /vxlanMTU/ },
      'wrong-port': port,
      'wrong-vni': vni,
    },
  },
  {
    style: 'cilium',
    overlay: 'cilium',
    dev: 'cilium_vxlan',
    port: 8472,
    overlayMtu: 1450,
    faults: { 'vtep-down': down, 'mtu-small': mtu, 'wrong-port': port },
  },
  {
    style: 'weave',
    overlay: 'weave',
    dev: 'vxlan-6784',
    port: 6784,
    overlayMtu: 1410,
    faults: {
      'vtep-down': down,
      detached: { ...down, match: /not in Weave's datapath/ },
      // The seed incident: datapath MTU 1410, cloud NIC 1454: a 1424-byte heartbeat, 1460 on the wire.
      'mtu-small': {
        ...mtu,
        match: /Weave fast datapath.*1424-byte frame.*1460 bytes on the wire.*MTU 1454/,
      },
      'wrong-port': port,
    },
  },
  {
    style: 'antrea',
    overlay: 'antrea',
    dev: 'vxlan_sys_4789',
    port: 4789,
    overlayMtu: 1450,
    faults: { 'vtep-down': down, 'mtu-small': mtu, 'wrong-port': port },
  },
  {
    style: 'unknown',
    overlay: 'unknown',
    dev: 'vx-ovl',
    port: 9100,
    overlayMtu: 1400,
    faults: { 'vtep-down': down, 'mtu-small': mtu, 'wrong-port': port, 'wrong-vni': vni },
  },
];

const CLUSTER = new Set(['wrong-port', 'wrong-vni']);

for (const row of ROWS) {
  describe(`style ${row.style}`, () => {
    it('is recognized from what the kernel shows', () => {
      const s = snapshotOf(row.style, 'healthy');
      const v = s.vteps.find((x) => x.dev === row.dev);
      assert.ok(v, JSON.stringify(s.vteps));
      assert.equal(v.overlay, row.overlay);
      assert.equal(v.port, row.port);
      assert.equal(v.overlayMtu ?? v.mtu, row.overlayMtu);
      if (row.style === 'docker')
        assert.equal(s.namespaces.find((n) => n.name === 'blue-net')?.role, 'docker-overlay');
    });
    it('healthy: no warning or critical finding', () => {
      const s = snapshotOf(row.style, 'healthy');
      assert.deepEqual(serious(runChecks(s).findings), []);
      const other = { ...snapshotOf(row.style, 'healthy', 'n2') };
      assert.deepEqual(
        CLUSTER_CHECKS.flatMap((c) => c.run([s, other], { options: {} })),
        [],
        'two healthy nodes agree',
      );
    });
    for (const [fault, want] of Object.entries(row.faults)) {
      it(`${fault}: named by ${want.check} (${want.kind})`, () => {
        const s = snapshotOf(row.style, fault);
        assert.equal(s.vteps.find((x) => x.dev === row.dev)?.overlay, row.overlay, 'still recognized');
        const found = CLUSTER.has(fault)
          ? CLUSTER_CHECKS.flatMap((c) => c.run([s, snapshotOf(row.style, 'healthy', 'n2')], { options: {} }))
          : serious(runChecks(s).findings);
        const hit = found.find(
          (f) =>
            f.check === want.check &&
            f.kind === want.kind &&
            f.severity === 'critical' &&
            f.node === 'n1' &&
            (!want.match || want.match.test(`${f.summary} ${f.remediation}`)),
        );
        assert.ok(hit, JSON.stringify(found, null, 1));
      });
    }
  });
}

it('an empty FDB is normal on a collect-metadata VTEP, and a finding on a VTEP with its own VNI', () => {
  const cilium = snapshotOf('cilium', 'healthy');
  assert.equal(cilium.namespaces[0]!.fdb.filter((e) => e.dev === 'cilium_vxlan' && e.dst).length, 0);
  assert.deepEqual(
    runChecks(cilium).findings.filter((f) => f.check === 'vtep-neighbor-fdb' && f.status === 'problem'),
    [],
  );
  // The same node with flannel's neighbor but its FDB entry gone: half-programmed.
  const flannel = snapshotOf('flannel', 'healthy');
  flannel.namespaces[0]!.fdb = flannel.namespaces[0]!.fdb.filter((e) => e.dev !== 'flannel.1');
  assert.ok(
    runChecks(flannel).findings.some((f) => f.check === 'vtep-neighbor-fdb' && f.severity === 'critical'),
  );
});
