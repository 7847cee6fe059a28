/**
 * Inventory against real namespaces (root): a lab node, and namespaces (prefix vxi-d) deleted
 * while the read is under way.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { collectSnapshot } from '../../agent/inventory/index.js';
import { type CommandRunner, execRunner } from '../../shared/exec.js';
import { silentLogger } from '../../shared/logging.js';
import type { NodeSnapshot } from '../../shared/schema.js';
import { labId, requireRoot } from './lab.js';

const isRoot = process.getuid?.() === 0;
const repo = fileURLToPath(new URL('../..', import.meta.url));
const topo = fileURLToPath(new URL('../fixtures/inventory/topology.sh', import.meta.url));
const sh = (cmd: string, args: string[]) => {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
};

/**
 * Node n1 of the shared lab (`test/lab/lab.sh --id vxa`, test/lab/README.md) when the lab script exists,
 * else the same layout built by topology.sh (prefix vxi-l). Assertions use only what the lab fixes.
 */
const labSh = fileURLToPath(new URL('./lab.sh', import.meta.url));
const LAB = labId('vxa');
const useLab = existsSync(labSh);
const L = useLab
  ? {
      up: ['bash', labSh, '--id', LAB, 'up'],
      down: ['bash', labSh, '--id', LAB, 'down'],
      node: `${LAB}-n1`,
      run: `/run/${LAB}/n1`,
    }
  : {
      up: ['bash', topo, 'up', 'vxi-l'],
      down: ['bash', topo, 'down', 'vxi-l'],
      node: 'vxi-l-n1',
      run: '/run/vxi-l/n1',
    };

describe(`inventory of lab node n1 (${useLab ? 'lab.sh --id vxa' : 'topology.sh copy'}): docker + flannel chains`, () => {
  let snap: NodeSnapshot | null = null;
  before(() => {
    if (!isRoot) return;
    sh(L.up[0] ?? 'bash', L.up.slice(1));
    const out = sh('ip', [
      'netns',
      'exec',
      L.node,
      process.execPath,
      '--import',
      'tsx',
      `${repo}agent/inventory/dump.ts`,
      '--node',
      'n1',
      '--netns-dir',
      `${L.run}/netns`,
      '--netns-dir',
      `${L.run}/docker-netns`,
      '--no-proc-netns',
      '--underlay-if',
      'eth0',
    ]);
    snap = JSON.parse(out) as NodeSnapshot;
  });
  after(() => {
    if (isRoot) spawnSync(L.down[0] ?? 'bash', L.down.slice(1));
  });

  test('docker chain: c1 eth0 1450 -> veth -> br0 -> vxlan0 VNI 256 port 4789 -> eth0 1500', (t) => {
    if (!requireRoot(t) || !snap) return;
    const c = snap.chains.find((x) => x.style === 'docker');
    assert.ok(c, JSON.stringify(snap.chains));
    assert.deepEqual(
      c.hops.map((h) => [h.kind, h.mtu]),
      [
        ['veth', 1450],
        ['veth', 1450],
        ['bridge', 1450],
        ['vxlan', 1450],
        ['veth', 1500],
      ],
    );
    assert.deepEqual(
      [c.hops[0]?.dev, c.hops[2]?.dev, c.hops[3]?.dev, c.hops[4]?.dev],
      ['eth0', 'br0', 'vxlan0', 'eth0'],
    );
    assert.match(c.hops[0]?.netns ?? '', new RegExp(`^${L.run}/docker-netns/[0-9a-f]{12}$`));
    assert.match(c.hops[1]?.netns ?? '', new RegExp(`^${L.run}/docker-netns/1-[0-9a-z]+$`));
    assert.equal(c.hops[3]?.netns, c.hops[1]?.netns, 'VTEP in the overlay namespace');
    assert.equal(c.hops[4]?.netns, 'host', 'underlay in the node namespace');
    assert.deepEqual([c.vtep?.vni, c.vtep?.port], [256, 4789]);
    assert.deepEqual(c.underlay, { dev: 'eth0', mtu: 1500, address: '10.200.1.11' });
  });

  test('flannel chain: pod eth0 -> veth -> cni0 -> flannel.1 VNI 1 port 8472 -> eth0', (t) => {
    if (!requireRoot(t) || !snap) return;
    const c = snap.chains.find((x) => x.style === 'flannel');
    assert.ok(c, JSON.stringify(snap.chains));
    assert.match(c.hops[0]?.netns ?? '', new RegExp(`^${L.run}/netns/cni-`));
    // The lab fixes cni0 and flannel.1 at 1450 and the underlay at 1500; the pod's own MTU is not fixed.
    assert.deepEqual(
      c.hops.map((h) => [h.netns === 'host' ? 'host' : 'pod', h.dev, h.kind]),
      [
        ['pod', 'eth0', 'veth'],
        ['host', c.hops[1]?.dev, 'veth'],
        ['host', 'cni0', 'bridge'],
        ['host', 'flannel.1', 'vxlan'],
        ['host', 'eth0', 'veth'],
      ],
    );
    assert.deepEqual(
      c.hops.slice(2).map((h) => h.mtu),
      [1450, 1450, 1500],
    );
    assert.deepEqual([c.vtep?.vni, c.vtep?.port], [1, 8472]);
    assert.deepEqual(c.underlay, { dev: 'eth0', mtu: 1500, address: '10.200.1.11' });
  });

  test('VTEPs, roles, docker facts, sysctls, firewall read for real', (t) => {
    if (!requireRoot(t) || !snap) return;
    const s = snap;
    assert.deepEqual(s.unknowns, []);
    const remote = (d: string) => d.startsWith('10.200.') && d !== '10.200.1.11';
    const vx = s.vteps.find((v) => v.dev === 'vxlan0');
    assert.deepEqual([vx?.style, vx?.local, vx?.subnets], ['docker', '10.200.1.11', ['10.0.1.0/24']]);
    assert.ok(vx && vx.fdbDsts.length > 0 && vx.fdbDsts.every(remote), JSON.stringify(vx?.fdbDsts));
    const fl = s.vteps.find((v) => v.dev === 'flannel.1');
    assert.deepEqual([fl?.style, fl?.local, fl?.vni, fl?.port], ['flannel', '10.200.1.11', 1, 8472]);
    assert.ok(fl && fl.fdbDsts.length > 0 && fl.fdbDsts.every(remote), JSON.stringify(fl?.fdbDsts));
    const roles = s.namespaces.map((n) => n.role).sort();
    for (const r of ['host', 'docker-overlay', 'docker-ingress', 'container', 'container']) {
      assert.ok(roles.includes(r as (typeof roles)[number]), `${r} in ${roles}`);
    }
    assert.deepEqual(s.docker.present && s.docker.swarm && s.docker.gwbridge, true);
    assert.equal(s.docker.overlayNamespaces.length, 1);
    const host = s.namespaces.find((n) => n.id === 'host');
    assert.match(host?.sysctls['net.ipv4.conf.eth0.rp_filter'] ?? '', /^[012]$/);
    assert.ok(host?.neighbors.some((n) => n.dev === 'flannel.1' && n.state.includes('PERMANENT')));
    assert.deepEqual(s.underlay, { dev: 'eth0', mtu: 1500, addresses: ['10.200.1.11'] });
    assert.equal(s.host.nics[0]?.driver, 'veth');
    assert.ok(s.firewall !== null, 'nft readable as root');
  });
});

describe('a namespace deleted while the read is under way', () => {
  const P = `${labId('vxi')}-d`;
  const dir = `/run/${P}/netns`;
  const names = [`${P}-a`, `${P}-b`, `${P}-c`];
  const del = (n: string) => {
    spawnSync('umount', [`${dir}/${n}`]);
    rmSync(`${dir}/${n}`, { force: true });
    spawnSync('ip', ['netns', 'del', n]);
  };
  before(() => {
    if (!isRoot) return;
    mkdirSync(dir, { recursive: true });
    for (const n of names) {
      spawnSync('ip', ['netns', 'del', n]);
      sh('ip', ['netns', 'add', n]);
      sh('ip', ['-n', n, 'link', 'add', 'br0', 'type', 'bridge']);
      writeFileSync(`${dir}/${n}`, '');
      sh('mount', ['--bind', `/run/netns/${n}`, `${dir}/${n}`]);
    }
  });
  after(() => {
    if (!isRoot) return;
    for (const n of names) del(n);
    rmSync(`/run/${P}`, { recursive: true, force: true });
  });

  const opts = { node: 'n', labels: {}, netnsDirs: [dir], procNetns: false };

  test('deleted before its ip batch runs', async (t) => {
    if (!requireRoot(t)) return;
    const runner: CommandRunner = (cmd, args, o) => {
      if (cmd === 'nsenter' && args[0] === `--net=${dir}/${P}-a`) del(`${P}-a`);
      return execRunner(cmd, args, o);
    };
    const s = await collectSnapshot(opts, { runner, log: silentLogger() });
    assert.ok(
      s.unknowns.some(
        (u) => u.what === `netns:${dir}/${P}-a` && u.reason === 'namespace vanished during read',
      ),
      JSON.stringify(s.unknowns),
    );
    assert.ok(s.namespaces.some((n) => n.name === `${P}-b` && n.links.some((l) => l.name === 'br0')));
    assert.ok(!s.namespaces.some((n) => n.name === `${P}-a`));
  });

  test('deleted between its ip batch and its bridge fdb read', async (t) => {
    if (!requireRoot(t)) return;
    const runner: CommandRunner = (cmd, args, o) => {
      if (cmd === 'nsenter' && args[0] === `--net=${dir}/${P}-b` && args[1] === 'bridge') del(`${P}-b`);
      return execRunner(cmd, args, o);
    };
    const s = await collectSnapshot(opts, { runner, log: silentLogger() });
    assert.ok(
      s.unknowns.some(
        (u) => u.what === `netns:${dir}/${P}-b` && u.reason === 'namespace vanished during read',
      ),
      JSON.stringify(s.unknowns),
    );
    assert.ok(!s.namespaces.some((n) => n.name === `${P}-b`));
    assert.ok(s.namespaces.some((n) => n.name === `${P}-c` && n.links.some((l) => l.kind === 'bridge')));
  });
});
