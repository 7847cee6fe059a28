/**
 * Inventory against real namespaces (root). Uses its own namespaces (prefix vxi-l / vxi-d), built
 * by test/fixtures/inventory/topology.sh, a copy of the lab node n1 layout.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { after, before, describe, type TestContext, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { collectSnapshot } from '../../agent/inventory/index.js';
import { type CommandRunner, execRunner } from '../../shared/exec.js';
import { silentLogger } from '../../shared/logging.js';
import type { NodeSnapshot } from '../../shared/schema.js';

const isRoot = process.getuid?.() === 0;
/** requireRoot semantics (TEAM.md): skip when not root unless CI=true, where it must run. */
function requireRoot(t: TestContext): boolean {
  if (isRoot) return true;
  if (process.env.CI === 'true') throw new Error('lab tests must run as root under CI=true');
  t.skip('needs root (network namespaces): run as root');
  return false;
}

const repo = fileURLToPath(new URL('../..', import.meta.url));
const topo = fileURLToPath(new URL('../fixtures/inventory/topology.sh', import.meta.url));
const sh = (cmd: string, args: string[]) => {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
};

describe('inventory of a lab-like node (docker + flannel chains)', () => {
  const P = 'vxi-l';
  let snap: NodeSnapshot | null = null;
  before(() => {
    if (!isRoot) return;
    sh('bash', [topo, 'up', P]);
    const out = sh('ip', [
      'netns',
      'exec',
      `${P}-n1`,
      process.execPath,
      '--import',
      'tsx',
      `${repo}agent/inventory/dump.ts`,
      '--node',
      'n1',
      '--netns-dir',
      `/run/${P}/n1/netns`,
      '--netns-dir',
      `/run/${P}/n1/docker-netns`,
      '--no-proc-netns',
      '--underlay-if',
      'eth0',
    ]);
    snap = JSON.parse(out) as NodeSnapshot;
  });
  after(() => {
    if (isRoot) spawnSync('bash', [topo, 'down', P]);
  });

  test('docker chain: c1 eth0 1450 -> veth -> br0 -> vxlan0 VNI 256 port 4789 -> eth0 1500', (t) => {
    if (!requireRoot(t) || !snap) return;
    const c = snap.chains.find((x) => x.style === 'docker');
    assert.ok(c, JSON.stringify(snap.chains));
    assert.deepEqual(
      c.hops.map((h) => [h.dev, h.kind, h.mtu]),
      [
        ['eth0', 'veth', 1450],
        ['veth0', 'veth', 1450],
        ['br0', 'bridge', 1450],
        ['vxlan0', 'vxlan', 1450],
        ['eth0', 'veth', 1500],
      ],
    );
    assert.equal(c.hops[0]?.netns, `/run/${P}/n1/docker-netns/0123456789ab`);
    assert.equal(c.hops[3]?.netns, `/run/${P}/n1/docker-netns/1-abcdef0123`);
    assert.equal(c.hops[4]?.netns, 'host');
    assert.deepEqual([c.vtep?.vni, c.vtep?.port], [256, 4789]);
    assert.deepEqual(c.underlay, { dev: 'eth0', mtu: 1500, address: '10.200.1.11' });
  });

  test('flannel chain: pod eth0 -> veth -> cni0 -> flannel.1 VNI 1 port 8472 -> eth0', (t) => {
    if (!requireRoot(t) || !snap) return;
    const c = snap.chains.find((x) => x.style === 'flannel');
    assert.ok(c);
    assert.deepEqual(
      c.hops.map((h) => [h.netns.replace(/.*\//, ''), h.dev, h.mtu]),
      [
        ['cni-0f1e2d3c', 'eth0', 1450],
        ['host', 'vethpod', 1450],
        ['host', 'cni0', 1450],
        ['host', 'flannel.1', 1450],
        ['host', 'eth0', 1500],
      ],
    );
    assert.deepEqual([c.vtep?.vni, c.vtep?.port], [1, 8472]);
  });

  test('VTEPs, roles, docker facts, sysctls, firewall read for real', (t) => {
    if (!requireRoot(t) || !snap) return;
    const s = snap;
    assert.deepEqual(s.unknowns, []);
    const vx = s.vteps.find((v) => v.dev === 'vxlan0');
    assert.deepEqual(
      [vx?.local, vx?.fdbDsts, vx?.subnets],
      ['10.200.1.11', ['10.200.2.13'], ['10.0.1.0/24']],
    );
    const fl = s.vteps.find((v) => v.dev === 'flannel.1');
    assert.deepEqual([fl?.local, fl?.fdbDsts], ['10.200.1.11', ['10.200.2.13']]);
    assert.deepEqual(Object.fromEntries(s.namespaces.map((n) => [n.name, n.role])), {
      host: 'host',
      '0123456789ab': 'container',
      '1-abcdef0123': 'docker-overlay',
      ingress_sbox: 'docker-ingress',
      'cni-0f1e2d3c': 'container',
    });
    assert.deepEqual(s.docker, {
      present: true,
      swarm: true,
      overlayNamespaces: ['1-abcdef0123'],
      gwbridge: true,
    });
    const host = s.namespaces.find((n) => n.id === 'host');
    assert.equal(host?.sysctls['net.ipv4.conf.eth0.rp_filter'], '0');
    assert.ok(host?.neighbors.some((n) => n.dev === 'flannel.1' && n.state.includes('PERMANENT')));
    assert.deepEqual(s.underlay, { dev: 'eth0', mtu: 1500, addresses: ['10.200.1.11'] });
    assert.equal(s.host.nics[0]?.driver, 'veth');
    assert.ok(s.firewall !== null, 'nft readable as root');
  });
});

describe('a namespace deleted while the read is under way', () => {
  const P = 'vxi-d';
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
