import assert from 'node:assert/strict';
import { rmSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { collectSnapshot, type InventoryOptions } from '../../../agent/inventory/index.js';
import { silentLogger } from '../../../shared/logging.js';
import type { NodeSnapshot } from '../../../shared/schema.js';
import { type Call, fail, fakeRunner, fx, makeWorld, notFound } from './fake.js';

const worlds: string[] = [];
after(() => {
  for (const w of worlds) rmSync(w, { recursive: true, force: true });
});

function setup(status?: string) {
  const w = makeWorld(status);
  worlds.push(w.root);
  const opts: InventoryOptions = {
    node: 'n1',
    labels: { rack: 'A' },
    netnsDirs: w.netnsDirs,
    procNetns: false,
    underlayIf: 'eth0',
    procRoot: w.procRoot,
    ipNetnsDirs: [w.ipNetnsDir],
  };
  return { w, opts };
}

const run = (
  opts: InventoryOptions,
  override?: (c: Call) => ReturnType<typeof fail> | undefined | Promise<ReturnType<typeof fail>>,
) => {
  const f = fakeRunner(override);
  return collectSnapshot(opts, { runner: f.runner, log: silentLogger() }).then((s) => ({
    s,
    calls: f.calls,
  }));
};

const hopsOf = (s: NodeSnapshot, style: string) =>
  s.chains.find((c) => c.style === style)?.hops.map((h) => `${h.dev}:${h.kind}:${h.mtu}`);

test('healthy node: namespaces, roles, chains, VTEPs, firewall, docker facts', async () => {
  const { opts } = setup();
  const { s, calls } = await run(opts);
  assert.deepEqual(s.unknowns, []);
  assert.deepEqual(
    s.namespaces.map((n) => [n.name, n.role]),
    [
      ['host', 'host'],
      ['0123456789ab', 'container'],
      ['1-abcdef0123', 'docker-overlay'],
      ['ingress_sbox', 'docker-ingress'],
      ['cni-0f1e2d3c', 'container'],
    ],
  );
  assert.deepEqual(hopsOf(s, 'docker'), [
    'eth0:veth:1450',
    'veth0:veth:1450',
    'br0:bridge:1450',
    'vxlan0:vxlan:1450',
    'eth0:veth:1500',
  ]);
  assert.deepEqual(hopsOf(s, 'flannel'), [
    'eth0:veth:1450',
    'vethpod:veth:1450',
    'cni0:bridge:1450',
    'flannel.1:vxlan:1450',
    'eth0:veth:1500',
  ]);
  const docker = s.chains.find((c) => c.style === 'docker');
  assert.equal(docker?.hops[0]?.netns, join(opts.netnsDirs[1] ?? '', '0123456789ab'));
  assert.equal(docker?.hops[4]?.netns, 'host');
  assert.deepEqual(docker?.vtep?.vni, 256);
  assert.deepEqual(docker?.underlay, { dev: 'eth0', mtu: 1500, address: '10.200.1.11' });
  const v = Object.fromEntries(s.vteps.map((x) => [x.dev, x]));
  assert.deepEqual(
    [v.vxlan0?.style, v.vxlan0?.local, v.vxlan0?.port, v.vxlan0?.subnets, v.vxlan0?.fdbDsts],
    ['docker', '10.200.1.11', 4789, ['10.0.1.0/24'], ['10.200.2.13']],
  );
  assert.deepEqual(
    [v['flannel.1']?.style, v['flannel.1']?.local, v['flannel.1']?.vni, v['flannel.1']?.subnets],
    ['flannel', '10.200.1.11', 1, ['10.244.1.0/24', '10.244.3.0/24']],
  );
  assert.deepEqual(s.underlay, { dev: 'eth0', mtu: 1500, addresses: ['10.200.1.11'] });
  assert.deepEqual(s.docker, {
    present: true,
    swarm: true,
    overlayNamespaces: ['1-abcdef0123'],
    gwbridge: true,
  });
  assert.equal(s.host.privileged, true);
  assert.deepEqual(
    s.host.nics.map((n) => [n.name, n.driver, n.offloads['tx-udp_tnl-segmentation']]),
    [['eth0', 'veth', 'on']],
  );
  assert.ok(
    s.firewall?.rules.some((r) => r.verdict === 'drop' && r.dports.includes(4789) && r.hook === 'input'),
  );
  assert.ok(
    s.firewall?.rules.some((r) => r.source === 'iptables' && r.dports.join() === '7946,8472'),
    'multiport rule via iptables-save',
  );
  const host = s.namespaces[0];
  assert.equal(host?.sysctls['net.ipv4.ip_forward'], '1', 'host sysctls come from <procRoot>/sys');
  assert.equal(host?.sysctls['net.ipv4.conf.eth0.rp_filter'], '2');
  assert.equal(
    s.namespaces[2]?.sysctls['net.bridge.bridge-nf-call-iptables'],
    '1',
    'bridge namespace via sysctl -e',
  );
  // Batching: one ip process per namespace, bridge fdb only where bridges/VTEPs are.
  assert.equal(calls.filter((c) => c.args.includes('-b')).length, 5);
  assert.equal(calls.filter((c) => c.cmd === 'bridge' || c.args[1] === 'bridge').length, 2);
  assert.equal(JSON.parse(JSON.stringify(s)).namespaces.length, 5, 'JSON-safe');
});

test('not root: other namespaces and nft become permission unknowns, host still read', async () => {
  const { opts } = setup(fx('notroot-status.txt'));
  const { s } = await run(opts, (c) => {
    if (c.cmd === 'nsenter') return fail(fx('notroot-nsenter.stderr'));
    if (c.cmd === 'nft') return fail(fx('notroot-nft.stderr'));
    return undefined;
  });
  assert.equal(s.host.privileged, false);
  assert.deepEqual(
    s.namespaces.map((n) => n.id),
    ['host'],
  );
  const perm = s.unknowns.filter((u) => u.what.startsWith('netns:'));
  assert.equal(perm.length, 4);
  assert.ok(perm.every((u) => u.reason === 'permission denied (not root)'));
  assert.ok(s.unknowns.some((u) => u.what === 'nft' && /permission denied/.test(u.reason)));
  assert.equal(s.firewall, null);
  assert.ok(s.unknowns.some((u) => u.what === 'privileges'));
  assert.equal(
    s.chains.find((c) => c.style === 'flannel')?.hops.length,
    3,
    'flannel chain without the unreadable pod',
  );
});

test('ip missing: every namespace unknown "ip not installed", nothing thrown', async () => {
  const { opts } = setup();
  const { s, calls } = await run(opts, (c) => (c.cmd === 'ip' || c.args[1] === 'ip' ? notFound : undefined));
  assert.deepEqual(s.namespaces, []);
  assert.ok(s.unknowns.some((u) => u.what === 'netns:host' && u.reason === 'ip not installed'));
  assert.equal(s.unknowns.filter((u) => u.reason === 'ip not installed').length, 5);
  assert.equal(
    calls.filter((c) => c.cmd === 'nsenter').length,
    0,
    'no namespace tried once ip is known missing',
  );
  assert.deepEqual(s.chains, []);
});

test('ip missing only inside nsenter (exec failure) maps to "ip not installed"', async () => {
  const { opts } = setup();
  const { s } = await run(opts, (c) =>
    c.cmd === 'nsenter' && c.args[1] === 'ip'
      ? fail('nsenter: failed to execute ip: No such file or directory', 127)
      : undefined,
  );
  assert.equal(s.unknowns.filter((u) => u.reason === 'ip not installed').length, 4);
});

test('nft and ethtool missing', async () => {
  const { opts } = setup();
  const { s } = await run(opts, (c) => (c.cmd === 'nft' || c.cmd === 'ethtool' ? notFound : undefined));
  assert.ok(s.unknowns.some((u) => u.what === 'nft' && u.reason === 'nft not installed'));
  assert.ok(s.unknowns.some((u) => u.what === 'ethtool' && u.reason === 'ethtool not installed'));
  assert.equal(s.firewall, null);
  assert.deepEqual(s.host.nics, []);
  assert.equal(s.chains.length, 2, 'the rest of the inventory is intact');
});

test('legacy iptables tables present (/proc/net/ip_tables_names): iptables-legacy-save read too', async () => {
  const { w, opts } = setup();
  const { mkdirSync, writeFileSync } = await import('node:fs');
  mkdirSync(join(w.procRoot, 'net'), { recursive: true });
  writeFileSync(join(w.procRoot, 'net/ip_tables_names'), 'filter\n');
  const { s, calls } = await run(opts);
  assert.ok(calls.some((c) => c.cmd === 'iptables-legacy-save'));
  const legacy = s.firewall?.rules.filter((r) => r.source === 'iptables' && r.text.includes('REJECT'));
  assert.deepEqual(
    legacy?.map((r) => r.dports),
    [[2377, 7946]],
  );
  assert.equal(s.firewall?.policies['ip filter FORWARD'], 'drop');
});

test('without legacy tables no iptables-legacy-save runs', async () => {
  const { opts } = setup();
  const { calls } = await run(opts);
  assert.ok(!calls.some((c) => c.cmd === 'iptables-legacy-save'));
});

test('netns dir missing', async () => {
  const { w, opts } = setup();
  const { s } = await run({ ...opts, netnsDirs: [...opts.netnsDirs, join(w.root, 'nope')] });
  assert.deepEqual(s.unknowns, [{ what: `netns-dir:${join(w.root, 'nope')}`, reason: 'netns dir missing' }]);
  assert.equal(s.namespaces.length, 5);
});

test('namespace deleted mid-read (batch fails): reported, snapshot goes on', async () => {
  const { opts } = setup();
  const path = join(opts.netnsDirs[1] ?? '', '0123456789ab');
  const { s } = await run(opts, (c) => {
    if (c.cmd === 'nsenter' && c.args[0] === `--net=${path}`) {
      unlinkSync(path);
      return fail(`nsenter: cannot open ${path}: No such file or directory`);
    }
    return undefined;
  });
  assert.deepEqual(s.unknowns, [{ what: `netns:${path}`, reason: 'namespace vanished during read' }]);
  assert.equal(s.namespaces.length, 4);
  assert.equal(
    s.chains.find((c) => c.style === 'docker')?.hops[0]?.dev,
    'br0',
    'docker chain without the vanished container',
  );
});

test('namespace deleted after its ip batch (fdb read fails / file gone): dropped as vanished', async () => {
  const { opts } = setup();
  const path = join(opts.netnsDirs[1] ?? '', '1-abcdef0123');
  const { s } = await run(opts, (c) => {
    if (c.cmd === 'nsenter' && c.args[0] === `--net=${path}` && c.args[1] === 'bridge') {
      unlinkSync(path);
      return fail("nsenter: reassociate to namespace 'ns/net' failed: Invalid argument");
    }
    return undefined;
  });
  assert.deepEqual(s.unknowns, [{ what: `netns:${path}`, reason: 'namespace vanished during read' }]);
  assert.ok(!s.namespaces.some((n) => n.id === path));
  assert.ok(!s.chains.some((c) => c.style === 'docker'));
});

test('proc discovery: de-duplicated by inode, unique process namespaces added', async () => {
  const { w, opts } = setup();
  const { mkdirSync, writeFileSync, linkSync } = await import('node:fs');
  // pid 1 shares the host namespace (same inode via hard link), pid 42 has its own
  for (const pid of ['1', '42']) mkdirSync(join(w.procRoot, pid, 'ns'), { recursive: true });
  linkSync(join(w.procRoot, 'self/ns/net'), join(w.procRoot, '1/ns/net'));
  writeFileSync(join(w.procRoot, '42/ns/net'), '');
  const { s, calls } = await run({ ...opts, procNetns: true }, (c) =>
    c.cmd === 'nsenter' && c.args[0]?.includes('/42/')
      ? fail('nsenter: cannot open x: No such file or directory')
      : undefined,
  );
  assert.ok(calls.some((c) => c.args[0] === `--net=${join(w.procRoot, '42/ns/net')}`));
  assert.ok(
    !calls.some((c) => c.args[0] === `--net=${join(w.procRoot, '1/ns/net')}`),
    'pid 1 is the host namespace',
  );
  assert.deepEqual(s.unknowns, [
    { what: `netns:${join(w.procRoot, '42/ns/net')}`, reason: 'namespace vanished during read' },
  ]);
});

test('replaying the captured outputs gives the snapshot the real run produced (snapshot-healthy.json)', async () => {
  const real = JSON.parse(fx('snapshot-healthy.json')) as NodeSnapshot;
  const { opts } = setup();
  // the fixture outputs were captured after the firewall rules went in: compare without them
  const { s } = await run(opts);
  const base = (p: string) => p.replace(/.*\//, '');
  const view = (x: NodeSnapshot) => ({
    namespaces: x.namespaces.map((n) => ({
      name: n.name,
      role: n.role,
      links: n.links.map((l) => ({ ...l, mac: l.kind === 'veth' ? null : l.mac })),
      routes: n.routes,
      neighbors: n.neighbors,
    })),
    chains: x.chains.map((c) => ({
      ...c,
      hops: c.hops.map((h) => ({ ...h, netns: base(h.netns) })),
      vtep: c.vtep && { ...c.vtep, netns: base(c.vtep.netns) },
    })),
    vteps: x.vteps.map((v) => ({ ...v, netns: base(v.netns) })),
    underlay: x.underlay,
    docker: x.docker,
  });
  assert.deepEqual(view(s), view(real));
});

test('Swarm from what the node does: listening on TCP 7946 in the host namespace', async () => {
  const { w, opts } = setup();
  const { s: before } = await run(opts);
  assert.equal(before.docker.swarmListening, undefined, 'no Swarm port listening');
  const { mkdirSync, writeFileSync } = await import('node:fs');
  mkdirSync(join(w.procRoot, 'net'), { recursive: true });
  writeFileSync(
    join(w.procRoot, 'net/tcp'),
    '  sl  local_address rem_address   st\n   0: 00000000:1F0A 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1\n',
  );
  const { s } = await run(opts);
  assert.deepEqual(s.docker.swarmListening, [7946]);
  assert.equal(s.docker.swarm, true);
});
