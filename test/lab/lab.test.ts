/**
 * The lab itself, on the real kernel datapath (root): the healthy lab passes both overlays between
 * every pair of nodes; each fault breaks exactly what it must and nothing else; `clear` restores;
 * `down` leaves nothing behind, also when the test process dies.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { execRunner } from '../../shared/exec.js';
import { FAULTS, LAB_SH, Lab, labId, labNodes, requireRoot } from './lab.js';

const ID = labId('vxt');
const isRoot = process.getuid?.() === 0;
const NODES = ['n1', 'n2', 'n3', 'n4'] as const;
type Path = 'docker' | 'flannel' | 'underlay';
const rackOf = (n: string) => (n === 'n1' || n === 'n2' ? 'A' : 'B');
const num = (n: string) => Number(n.slice(1));
const underlayOf = (n: string) => `10.200.${rackOf(n) === 'A' ? 1 : 2}.1${num(n)}`;
const target = (p: Path, n: string) =>
  p === 'docker' ? `10.0.1.1${num(n)}` : p === 'flannel' ? `10.244.${num(n)}.2` : underlayOf(n);
const source = (p: Path, n: string) => (p === 'docker' ? `${n}-c1` : p === 'flannel' ? `${n}-p1` : n);

/** Which ordered pairs a fault must break, per path (ping a -> b needs both directions). */
const touches = (a: string, b: string, x: string) => a === x || b === x;
const between = (a: string, b: string, x: string, y: string) => (a === x && b === y) || (a === y && b === x);
const EXPECT_BROKEN: Record<string, (p: Path, a: string, b: string) => boolean> = {
  healthy: () => false,
  'tor-drop-vxlan': (p, a, b) => p !== 'underlay' && rackOf(a) !== rackOf(b),
  'host-fw-vxlan': (p, a, b) => p === 'docker' && touches(a, b, 'n3'),
  'mtu-blackhole': () => false, // small packets pass; DF tests below
  'mtu-fragneeded': () => false,
  'fdb-nat': (p, a, b) => p === 'flannel' && between(a, b, 'n1', 'n3'),
  'dup-vtep': (p) => p === 'flannel',
  'missing-gwbridge': () => false,
  'vni-mismatch': (p, a, b) => p === 'docker' && touches(a, b, 'n4'),
  'dstport-mismatch': (p, a, b) => p === 'docker' && touches(a, b, 'n4'),
  'neighbor-missing': (p, a, b) => p === 'docker' && between(a, b, 'n1', 'n3'),
  'control-ports-blocked': () => false,
  'vtep-down': (p, a, b) => p === 'docker' && touches(a, b, 'n2'),
  'subnet-overlap': () => false,
  'node-isolated': (_p, a, b) => touches(a, b, 'n4'),
  'tor-gray-loss': () => false, // random: measured below
  'tor-drop-4789': (p, a, b) => p === 'docker' && rackOf(a) !== rackOf(b),
};
/** Faults whose breakage is random: their own test measures the rate instead. */
const RANDOM_FAULTS = new Set(['tor-gray-loss']);

let lab: Lab | null = null;

/** Every ordered pair on every path, as "path a->b" strings, that does NOT answer a ping. */
async function unreachable(l: Lab): Promise<string[]> {
  const jobs: Promise<string[]>[] = [];
  for (const p of ['docker', 'flannel', 'underlay'] as Path[]) {
    for (const a of NODES) {
      const peers = NODES.filter((b) => b !== a);
      jobs.push(
        l
          .exec(source(p, a), ['fping', '-a', '-r', '2', '-t', '300', ...peers.map((b) => target(p, b))], {
            timeoutMs: 10_000,
          })
          .then((r) => {
            assert.equal(r.failure, null, `fping in ${source(p, a)}: ${r.failure}`);
            const alive = new Set(r.stdout.split('\n').filter(Boolean));
            return peers.filter((b) => !alive.has(target(p, b))).map((b) => `${p} ${a}->${b}`);
          }),
      );
    }
  }
  return (await Promise.all(jobs)).flat().sort();
}

function expected(fault: string): string[] {
  const rule = EXPECT_BROKEN[fault];
  assert.ok(rule, `no expectation for ${fault}`);
  const out: string[] = [];
  for (const p of ['docker', 'flannel', 'underlay'] as Path[])
    for (const a of NODES) for (const b of NODES) if (a !== b && rule(p, a, b)) out.push(`${p} ${a}->${b}`);
  return out.sort();
}

/** DF ping of `size` bytes of IP packet from namespace suffix `from` to `dst`. */
async function dfPing(l: Lab, from: string, dst: string, size: number) {
  const r = await l.exec(
    from,
    ['ping', '-c', '2', '-i', '0.2', '-W', '1', '-M', 'do', '-s', String(size - 28), dst],
    {
      timeoutMs: 10_000,
    },
  );
  return { ok: r.code === 0, out: r.stdout + r.stderr };
}

/** TCP connect with a 1 s limit: 'refused' (reached the host, no listener), 'timeout' (dropped) or 'other'. */
async function tcpProbe(l: Lab, from: string, dst: string, port: number) {
  const r = await l.exec(from, ['timeout', '1', 'bash', '-c', `exec 3<>/dev/tcp/${dst}/${port}`], {
    timeoutMs: 5000,
  });
  if (r.code === 124) return 'timeout';
  if (/Connection refused/.test(r.stderr)) return 'refused';
  return `other(${r.code}: ${r.stderr.trim()})`;
}

/** Starts tcpdump in namespace `ns` for `filter`, returns a stop() giving the decoded lines. */
async function capture(l: Lab, ns: string, filter: string) {
  const child = spawn(
    'ip',
    ['netns', 'exec', l.ns(ns), 'tcpdump', '-nli', 'eth0', '-T', 'vxlan', '-v', filter],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => {
    out += d;
  });
  child.stderr.on('data', (d) => {
    err += d;
  });
  // wait until tcpdump says it is listening
  for (let i = 0; i < 100 && !/listening on/.test(err); i++) await new Promise((r) => setTimeout(r, 20));
  assert.match(err, /listening on/, `tcpdump in ${ns} did not start: ${err}`);
  return async () => {
    await new Promise((r) => setTimeout(r, 200));
    const done = new Promise((r) => child.on('close', r));
    child.kill('SIGTERM');
    await done;
    return out;
  };
}

const nsList = () =>
  spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    .stdout.split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter((n) => n.startsWith(`${ID}-`));

describe('lab (lab.sh --id vxt) on the real datapath', { concurrency: false }, () => {
  before(async () => {
    if (!isRoot) return;
    const t0 = performance.now();
    lab = await Lab.up({ id: ID });
    const ms = performance.now() - t0;
    assert.ok(ms < 10_000, `up took ${ms} ms`);
  });
  after(async () => {
    if (lab) await lab.down();
  });

  test('FAULTS lists every fault of the lab with incident and scope', () => {
    const names = FAULTS.map((f) => f.name);
    assert.deepEqual(names, Object.keys(EXPECT_BROKEN).slice(1));
    assert.deepEqual(
      FAULTS.filter((f) => 'segment' in f.scope).map((f) => f.name),
      ['tor-drop-vxlan', 'control-ports-blocked', 'tor-gray-loss', 'tor-drop-4789'],
    );
    assert.equal(FAULTS.find((f) => f.name === 'fdb-nat')?.incident, 7);
    assert.deepEqual(labNodes('abc')[2]?.agentArgs, [
      '--netns-dir',
      '/run/abc/n3/netns',
      '--netns-dir',
      '/run/abc/n3/docker-netns',
      '--no-proc-netns',
      '--underlay-if',
      'eth0',
      '--label',
      'rack=B',
    ]);
  });

  test('healthy: namespaces, bind mounts, sysctls, no default route', async (t) => {
    if (!requireRoot(t) || !lab) return;
    const have = nsList().sort();
    const want = [
      'torA',
      'torB',
      'spine',
      ...NODES.flatMap((n) => [n, `${n}-ov`, `${n}-c1`, `${n}-p1`, `${n}-ing`]),
    ]
      .map((s) => `${ID}-${s}`)
      .sort();
    assert.deepEqual(have, want);
    for (const n of NODES) {
      const ino = (p: string) => statSync(p).ino;
      assert.equal(ino(`/run/${ID}/${n}/docker-netns/1-abcdef0123`), ino(`/run/netns/${ID}-${n}-ov`));
      assert.equal(ino(`/run/${ID}/${n}/docker-netns/ingress_sbox`), ino(`/run/netns/${ID}-${n}-ing`));
      const ctr = `/run/${ID}/${n}/docker-netns/c0ffee00000${num(n)}`;
      assert.equal(ino(ctr), ino(`/run/netns/${ID}-${n}-c1`));
      const pod = `/run/${ID}/${n}/netns/cni-5e1f0000-0000-4000-8000-00000000000${num(n)}`;
      assert.equal(ino(pod), ino(`/run/netns/${ID}-${n}-p1`));
      const routes = await lab.exec(n, ['ip', '-j', 'route', 'show', 'default']);
      assert.deepEqual(JSON.parse(routes.stdout), [], `${n} has a default route`);
      const fwd = await lab.exec(n, [
        'sysctl',
        '-n',
        'net.ipv4.ip_forward',
        'net.ipv6.conf.all.disable_ipv6',
      ]);
      assert.deepEqual(fwd.stdout.trim().split('\n'), ['1', '1']);
    }
    for (const sw of ['torA', 'torB', 'spine']) {
      const r = await lab.exec(sw, ['sysctl', '-n', 'net.bridge.bridge-nf-call-iptables']);
      assert.equal(r.stdout.trim(), '0', `${sw} bridge-nf-call-iptables`);
    }
    // Docker VTEP: created in the node namespace, lives in the overlay namespace
    const vx = JSON.parse((await lab.exec('n1-ov', ['ip', '-j', '-d', 'link', 'show', 'vxlan0'])).stdout)[0];
    assert.deepEqual(
      [vx.linkinfo.info_data.id, vx.linkinfo.info_data.port, vx.mtu, vx.master],
      [256, 4789, 1450, 'br0'],
    );
    assert.equal(vx.link_netnsid !== undefined, true, 'socket stays in the node namespace');
  });

  test('healthy: both overlays and the underlay pass between every pair of nodes, full-size DF too', async (t) => {
    if (!requireRoot(t) || !lab) return;
    assert.deepEqual(await unreachable(lab), []);
    for (const [from, dst] of [
      ['n1-c1', '10.0.1.13'],
      ['n4-c1', '10.0.1.12'],
      ['n1-p1', '10.244.3.2'],
      ['n3-p1', '10.244.2.2'],
    ] as const) {
      const r = await dfPing(lab, from, dst, 1450);
      assert.ok(r.ok, `${from} -> ${dst} 1450 DF: ${r.out}`);
    }
  });

  test('healthy: container traffic really crosses the underlay as VXLAN (VNI 256 / VNI 1)', async (t) => {
    if (!requireRoot(t) || !lab) return;
    const stop = await capture(lab, 'n3', 'udp port 4789 or udp port 8472');
    await lab.exec('n1-c1', ['ping', '-c', '1', '-W', '1', '10.0.1.13']);
    await lab.exec('n1-p1', ['ping', '-c', '1', '-W', '1', '10.244.3.2']);
    const out = await stop();
    assert.match(out, /10\.200\.1\.11\.\d+ > 10\.200\.2\.13\.4789: VXLAN.*vni 256/);
    assert.match(out, /10\.0\.1\.11 > 10\.0\.1\.13: ICMP echo request/);
    assert.match(out, /10\.200\.1\.11\.\d+ > 10\.200\.2\.13\.8472: VXLAN.*vni 1\b/);
    assert.match(out, /10\.244\.1\.2 > 10\.244\.3\.2: ICMP echo request/);
  });

  for (const f of FAULTS.filter((x) => !RANDOM_FAULTS.has(x.name))) {
    test(`fault ${f.name}: breaks exactly the expected pairs; clear restores`, async (t) => {
      if (!requireRoot(t) || !lab) return;
      await lab.fault(f.name);
      try {
        assert.deepEqual(await unreachable(lab), expected(f.name));
      } finally {
        await lab.clear();
      }
      assert.deepEqual(await unreachable(lab), [], `after clear of ${f.name}`);
    });
  }

  test('tor-gray-loss: about 1 in 3 VXLAN packets lost between the racks, none inside a rack or on the underlay', async (t) => {
    if (!requireRoot(t) || !lab) return;
    await lab.fault('tor-gray-loss');
    const pings = async (from: string, dst: string) => {
      const r = await lab!.exec(from, ['ping', '-q', '-c', '60', '-i', '0.01', '-W', '1', dst], {
        timeoutMs: 20_000,
      });
      return Number(/(\d+(?:\.\d+)?)% packet loss/.exec(r.stdout)?.[1] ?? Number.NaN) / 100;
    };
    try {
      // a ping round trip crosses the uplink twice: 1 - (2/3)^2 = 56 % expected
      const cross = await pings('n1-p1', '10.244.3.2');
      assert.ok(cross > 0.3 && cross < 0.8, `cross-rack flannel round-trip loss ${cross}`);
      assert.equal(await pings('n1-p1', '10.244.2.2'), 0, 'same rack is clean');
      assert.equal(await pings('n1', '10.200.2.13'), 0, 'plain underlay is clean');
      t.diagnostic(`cross-rack round-trip loss ${Math.round(cross * 100)} % of 60 pings`);
    } finally {
      await lab.clear();
    }
    assert.equal(await pings('n1-p1', '10.244.3.2'), 0, 'clear restores');
  });

  test('mtu-blackhole: 1500-byte DF packets to and from n4 vanish silently, 1454 passes', async (t) => {
    if (!requireRoot(t) || !lab) return;
    await lab.fault('mtu-blackhole');
    try {
      for (const [from, dst] of [
        ['n1', '10.200.2.14'],
        ['n3', '10.200.2.14'],
        ['n4', '10.200.1.11'],
        ['n4', '10.200.2.13'],
      ] as const) {
        const big = await dfPing(lab, from, dst, 1500);
        assert.ok(!big.ok, `${from} -> ${dst} 1500 should be dropped`);
        assert.doesNotMatch(big.out, /Frag needed|message too long/, 'silent: no ICMP, no local error');
        const small = await dfPing(lab, from, dst, 1454);
        assert.ok(small.ok, `${from} -> ${dst} 1454: ${small.out}`);
      }
      // overlay: a full 1450-byte container packet is a 1500-byte VXLAN packet
      assert.ok(!(await dfPing(lab, 'n1-c1', '10.0.1.14', 1450)).ok);
      assert.ok((await dfPing(lab, 'n1-c1', '10.0.1.13', 1450)).ok, 'n3 is not affected');
    } finally {
      await lab.clear();
    }
    assert.ok((await dfPing(lab, 'n1', '10.200.2.14', 1500)).ok, 'clear restores 1500');
  });

  test('mtu-fragneeded: cross-rack DF sender gets ICMP frag-needed mtu 1454 and learns the PMTU', async (t) => {
    if (!requireRoot(t) || !lab) return;
    await lab.fault('mtu-fragneeded');
    try {
      const stop = await capture(lab, 'n1', 'icmp');
      const r = await dfPing(lab, 'n1', '10.200.2.14', 1500);
      const cap = await stop();
      assert.ok(!r.ok);
      assert.match(r.out, /From 10\.200\.1\.254 .*Frag needed and DF set \(mtu = 1454\)/);
      assert.match(
        cap,
        /10\.200\.1\.254 > 10\.200\.1\.11: ICMP 10\.200\.2\.14 unreachable - need to frag \(mtu 1454\)/,
      );
      const got = await lab.exec('n1', ['ip', '-j', 'route', 'get', '10.200.2.14']);
      assert.equal(JSON.parse(got.stdout)[0]?.metrics?.[0]?.mtu, 1454, got.stdout);
      assert.ok((await dfPing(lab, 'n1', '10.200.2.14', 1454)).ok);
    } finally {
      await lab.clear();
    }
    const got = await lab.exec('n1', ['ip', '-j', 'route', 'get', '10.200.2.14']);
    assert.equal(JSON.parse(got.stdout)[0]?.metrics, undefined, `clear flushes the PMTU: ${got.stdout}`);
    assert.ok((await dfPing(lab, 'n1', '10.200.2.14', 1500)).ok);
  });

  test('tor-drop-vxlan: VXLAN leaves n1 but never reaches n3; host-fw-vxlan: it reaches n3 and dies there', async (t) => {
    if (!requireRoot(t) || !lab) return;
    await lab.fault('tor-drop-vxlan');
    try {
      const s1 = await capture(lab, 'n1', 'udp port 4789');
      const s3 = await capture(lab, 'n3', 'udp port 4789');
      await lab.exec('n1-c1', ['ping', '-c', '1', '-W', '1', '10.0.1.13']);
      const [o1, o3] = [await s1(), await s3()];
      assert.match(o1, /10\.200\.1\.11\.\d+ > 10\.200\.2\.13\.4789: VXLAN/);
      assert.doesNotMatch(o3, /VXLAN/);
    } finally {
      await lab.clear();
    }
    await lab.fault('host-fw-vxlan');
    try {
      const s3 = await capture(lab, 'n3', 'udp port 4789');
      const r = await lab.exec('n1-c1', ['ping', '-c', '1', '-W', '1', '10.0.1.13']);
      assert.notEqual(r.code, 0);
      assert.match(await s3(), /10\.200\.1\.11\.\d+ > 10\.200\.2\.13\.4789: VXLAN/);
      const rules = await lab.exec('n3', ['nft', 'list', 'ruleset']);
      assert.match(rules.stdout, /udp dport 4789 counter packets [1-9]\d* bytes \d+ drop/);
    } finally {
      await lab.clear();
    }
  });

  test('vni-mismatch: a packet to 4789 with an unknown VNI is still seen on the receiver eth0', async (t) => {
    if (!requireRoot(t) || !lab) return;
    await lab.fault('vni-mismatch');
    try {
      const vx = JSON.parse(
        (await lab.exec('n4-ov', ['ip', '-j', '-d', 'link', 'show', 'vxlan0'])).stdout,
      )[0];
      assert.equal(vx.linkinfo.info_data.id, 257);
      const s4 = await capture(lab, 'n4', 'udp port 4789');
      await lab.exec('n1-c1', ['ping', '-c', '1', '-W', '1', '10.0.1.14']);
      assert.match(await s4(), /10\.200\.1\.11\.\d+ > 10\.200\.2\.14\.4789: VXLAN.*vni 256/);
    } finally {
      await lab.clear();
    }
  });

  test('control-ports-blocked: TCP 7946/2377 across racks dropped, within a rack and other ports pass', async (t) => {
    if (!requireRoot(t) || !lab) return;
    assert.equal(await tcpProbe(lab, 'n1', '10.200.2.13', 7946), 'refused', 'healthy');
    await lab.fault('control-ports-blocked');
    try {
      assert.equal(await tcpProbe(lab, 'n1', '10.200.2.13', 7946), 'timeout');
      assert.equal(await tcpProbe(lab, 'n3', '10.200.1.12', 2377), 'timeout');
      assert.equal(await tcpProbe(lab, 'n1', '10.200.1.12', 7946), 'refused', 'same rack');
      assert.equal(await tcpProbe(lab, 'n1', '10.200.2.13', 7947), 'refused', 'other port');
    } finally {
      await lab.clear();
    }
    assert.equal(await tcpProbe(lab, 'n1', '10.200.2.13', 7946), 'refused', 'after clear');
  });

  test('config-only faults: missing-gwbridge, subnet-overlap, dup-vtep, fdb-nat are visible in iproute2', async (t) => {
    if (!requireRoot(t) || !lab) return;
    const l = lab;
    const fdbDst = async (node: string, mac: string) => {
      const fdb = JSON.parse(
        (await l.exec(node, ['bridge', '-j', 'fdb', 'show', 'dev', 'flannel.1'])).stdout,
      );
      return fdb.find((e: { mac: string }) => e.mac === mac)?.dst;
    };
    await l.fault('missing-gwbridge');
    await l.fault('subnet-overlap');
    await l.fault('fdb-nat');
    try {
      assert.notEqual((await l.exec('n2', ['ip', 'link', 'show', 'docker_gwbridge'])).code, 0);
      assert.equal((await l.exec('n1', ['ip', 'link', 'show', 'docker_gwbridge'])).code, 0);
      const rt = JSON.parse((await l.exec('n1', ['ip', '-j', 'route', 'show', '10.0.0.0/16'])).stdout);
      assert.equal(rt[0]?.gateway, '10.200.1.254');
      assert.equal(await fdbDst('n1', '0e:f1:00:00:00:0d'), '10.0.2.15');
      assert.equal(await fdbDst('n1', '0e:f1:00:00:00:0e'), '10.200.2.14');
    } finally {
      await l.clear();
    }
    assert.equal(await fdbDst('n1', '0e:f1:00:00:00:0d'), '10.200.2.13');
    await l.fault('dup-vtep');
    try {
      for (const n of NODES) {
        const fl = JSON.parse((await l.exec(n, ['ip', '-j', '-d', 'link', 'show', 'flannel.1'])).stdout)[0];
        assert.equal(fl.linkinfo.info_data.local, '10.0.2.15');
        for (const m of NODES.filter((x) => x !== n))
          assert.equal(await fdbDst(n, `0e:f1:00:00:00:0${(10 + num(m)).toString(16)}`), '10.0.2.15');
      }
    } finally {
      await l.clear();
    }
    const fl = JSON.parse((await l.exec('n2', ['ip', '-j', '-d', 'link', 'show', 'flannel.1'])).stdout)[0];
    assert.equal(fl.linkinfo.info_data.local, '10.200.1.12');
    assert.notEqual((await l.exec('n2', ['ip', 'link', 'show', 'nat0'])).code, 0);
  });

  test('relay: every node reaches the root-namespace server at 127.0.0.1:4222, even when isolated', async (t) => {
    if (!requireRoot(t) || !lab) return;
    const server: Server = createServer((s) => s.end('hello from root\n'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    try {
      await lab.relay(port);
      await lab.fault('node-isolated');
      for (const n of NODES) {
        const r = await lab.exec(n, ['socat', '-T', '2', '-', 'TCP:127.0.0.1:4222'], { timeoutMs: 5000 });
        assert.equal(r.stdout, 'hello from root\n', `${n}: ${r.stderr}`);
      }
      // the relay is reachable only inside the nodes: nothing listens on 4222 in the root namespace
      // (unless something else does; so only check the lab's own socket)
      assert.ok(existsSync(`/run/${ID}/nats.sock`));
    } finally {
      await lab.clear();
      server.close();
    }
  });

  test('down removes everything (namespaces, /run/vxt, mounts, relay processes) and is idempotent', async (t) => {
    if (!requireRoot(t) || !lab) return;
    const pids = existsSync(`/run/${ID}/relay.pids`)
      ? readFileSync(`/run/${ID}/relay.pids`, 'utf8').split('\n').filter(Boolean)
      : [];
    assert.equal(pids.length, 5, 'relay of the previous test recorded 5 socat PIDs');
    await lab.down();
    await lab.down();
    assert.deepEqual(nsList(), []);
    assert.equal(existsSync(`/run/${ID}`), false);
    assert.doesNotMatch(readFileSync('/proc/mounts', 'utf8'), new RegExp(` /run/${ID}/`));
    // gone, or a zombie waiting for its adopter (PID 1) to reap it
    const running = (pid: string) => {
      try {
        return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0] !== 'Z';
      } catch {
        return false;
      }
    };
    for (const pid of pids) assert.equal(running(pid), false, `socat ${pid} still running`);
    lab = null;
  });

  test('a test process that crashes or is killed after Lab.up leaves no namespaces behind', async (t) => {
    if (!requireRoot(t)) return;
    const labTs = fileURLToPath(new URL('./lab.ts', import.meta.url));
    for (const [mode, id] of [
      ['throw', labId('vxu')],
      ['sigterm', labId('vxv')],
    ] as const) {
      const script = `import { Lab } from ${JSON.stringify(labTs)};
        const lab = await Lab.up({ id: '${id}' });
        console.log('up', lab.nodes.length);
        if ('${mode}' === 'throw') throw new Error('test crashed');
        setInterval(() => {}, 1000);`;
      const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      child.stdout.on('data', (d) => {
        out += d;
        if (mode === 'sigterm' && /up 4/.test(out)) child.kill('SIGTERM');
      });
      const code = await new Promise((r) => child.on('close', (c, s) => r(c ?? s)));
      assert.match(out, /up 4/, `${mode}: child did not bring the lab up`);
      assert.notEqual(code, 0);
      const left = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout;
      if (new RegExp(`^${id}-`, 'm').test(left)) spawnSync('bash', [LAB_SH, '--id', id, 'down']);
      assert.doesNotMatch(left, new RegExp(`^${id}-`, 'm'), `${mode}: namespaces left behind`);
      assert.equal(existsSync(`/run/${id}`), false);
    }
  });

  test('lab.sh rejects bad ids and unknown faults', async (t) => {
    if (!requireRoot(t)) return;
    const bad = await execRunner('bash', [LAB_SH, '--id', 'X-1', 'status']);
    assert.equal(bad.code, 2);
    const unk = await execRunner('bash', [LAB_SH, '--id', 'vxw', 'fault', 'nope']);
    assert.notEqual(unk.code, 0);
    await assert.rejects(() => Lab.prototype.fault.call({ id: 'vxw' } as Lab, 'nope'), /unknown lab fault/);
  });
});
