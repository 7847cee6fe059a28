/**
 * The heartbeat's cost, two ways; prints one JSON document. Compare runs by ratio.
 *
 * codec:     in one process, per probe: sign + encode a request, verify + decode + replay-check
 *            it at the receiver, encode the signed reply, verify + decode the reply.
 * footprint: the real agent (bin/vxdoctor.js, capture on) in namespace vxb0-a with 64 peers at 5 s
 *            rounds, full mesh: steady-state RSS and CPU (its own, and with the inventory's child
 *            processes), and CPU per 1,000 probes handled (sent + answered, i.e. send, capture,
 *            verify, answer). The peers are bench/peer-sim.ts in namespace vxb0-p (one process
 *            playing 64 agents: presence in KV, every probe kind both ways, overlay through the
 *            agent's real kernel VTEP); nats-server runs there too. Needs root; cleans up in
 *            finally. Env: PEERS (64), WARMUP_S (120), WINDOW_S (120), PROBES (codec, 200000),
 *            AGENT_NODE_FLAGS (node flags for the agent, e.g. `--prof`), AGENT_ARGS (agent
 *            flags, e.g. `--no-watch-netlink`), NAMESPACES (0: extra pod-like namespaces the
 *            agent inventories, veth peers of its own), VXLAB_TAG (suffixes the namespaces).
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeProbe, encodeProbe, type ProbePacket } from '../agent/heartbeat/codec.js';
import { ReplayWindow } from '../agent/heartbeat/replay.js';

const key = Buffer.from('bench-key-0123456789abcdef');
const base: ProbePacket = {
  type: 'request',
  path: 'vxlan',
  src: 'node-a',
  dst: 'node-b',
  probeId: 0,
  seq: 0,
  sentAt: 0,
  size: 0,
  arrived: false,
};
const N = Number(process.env.PROBES ?? 200_000);

function codecCost() {
  const replay = new ReplayWindow();
  let ok = 0;
  const t0 = process.cpuUsage();
  const w0 = performance.now();
  for (let i = 1; i <= N; i++) {
    const req = encodeProbe({ ...base, probeId: i, seq: i, sentAt: Date.now() }, key, { vni: 16777000 });
    const d = decodeProbe(req, key);
    if (!d.ok || !replay.accept(d.packet.src, d.packet.seq)) continue;
    const rep = encodeProbe(
      { ...d.packet, type: 'reply', src: 'node-b', dst: 'node-a', arrived: true },
      key,
      {
        vni: 16777000,
      },
    );
    if (decodeProbe(rep, key).ok) ok++;
  }
  const cpu = process.cpuUsage(t0);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  return {
    probes: N,
    answered: ok,
    cpuSeconds: Number(cpuSeconds.toFixed(3)),
    wallSeconds: Number(((performance.now() - w0) / 1000).toFixed(3)),
    probesPerCoreSecond: Math.round(N / cpuSeconds),
    cpuPer1000ProbesMs: Number(((cpuSeconds / N) * 1e6).toFixed(2)),
  };
}

// A digit: never the prefix of a lab (ids are letters only); $VXLAB_TAG keeps checkouts apart.
const NS_TAG = /^[a-z]$/.test(process.env.VXLAB_TAG ?? '') ? process.env.VXLAB_TAG : '';
const NS_AGENT = `vxb0${NS_TAG}-a`;
const NS_PEERS = `vxb0${NS_TAG}-p`;
/** Extra namespaces the agent inventories (each a veth peer of the agent's namespace, like pods). */
const NAMESPACES = Number(process.env.NAMESPACES ?? 0);
const nsName = (i: number) => `vxb0${NS_TAG}-n${i}`;
const PEERS = Number(process.env.PEERS ?? 64);
// Two minutes: at a few hundred events a second V8 is still tiering up the hot paths after 30 s
// (measured, same build: 1.91 % CPU with 30 s of warm-up, 1.66 % with 150 s).
const WARMUP_S = Number(process.env.WARMUP_S ?? 120);
const WINDOW_S = Number(process.env.WINDOW_S ?? 120);
const AGENT = { node: 'agent0', underlay: '10.201.0.1', overlay: '10.244.0.0', mac: '0e:f1:00:00:00:01' };
const PEER_BASE = '10.201.1';
const NATS_ADDR = '10.201.255.254';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function ipBatch(ns: string | null, lines: string[]): void {
  const r = spawnSync('ip', [...(ns ? ['-n', ns] : []), '-b', '-'], {
    input: lines.join('\n'),
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`ip -b (${ns ?? 'root'}): ${r.stderr}`);
}

function teardown(dir?: string): void {
  for (let i = 0; i < NAMESPACES; i++) if (dir) spawnSync('umount', [join(dir, 'netns', nsName(i))]);
  const extra = Array.from({ length: NAMESPACES }, (_, i) => `netns del ${nsName(i)}\n`).join('');
  spawnSync('ip', ['-force', '-b', '-'], { input: `netns del ${NS_AGENT}\nnetns del ${NS_PEERS}\n${extra}` });
}

/** NAMESPACES pod-like namespaces, bind-mounted into the agent's --netns-dir. */
function setupNamespaces(dir: string): void {
  if (NAMESPACES <= 0) return;
  mkdirSync(join(dir, 'netns'), { recursive: true });
  const lines: string[] = [];
  for (let i = 0; i < NAMESPACES; i++) lines.push(`netns add ${nsName(i)}`);
  ipBatch(null, lines);
  const a: string[] = [];
  for (let i = 0; i < NAMESPACES; i++) {
    ipBatch(nsName(i), [
      'link set lo up',
      `link add eth0 mtu 1450 type veth peer name veth${i} netns ${NS_AGENT}`,
      'link set eth0 up',
      `addr add 10.244.0.${(i % 250) + 2}/24 dev eth0`,
    ]);
    a.push(`link set veth${i} mtu 1450 up`);
    const f = join(dir, 'netns', nsName(i));
    writeFileSync(f, '');
    spawnSync('mount', ['--bind', `/run/netns/${nsName(i)}`, f]);
  }
  ipBatch(NS_AGENT, a);
}

/** Agent node: eth0 + flannel.1 with a route/neighbor/FDB per peer, as flannel programs them. */
function setup(): void {
  teardown();
  ipBatch(null, [`netns add ${NS_AGENT}`, `netns add ${NS_PEERS}`]);
  for (const ns of [NS_AGENT, NS_PEERS])
    spawnSync('ip', [
      'netns',
      'exec',
      ns,
      'sysctl',
      '-q',
      '-w',
      'net.ipv6.conf.all.disable_ipv6=1',
      'net.ipv4.conf.all.rp_filter=0',
      'net.ipv4.conf.default.rp_filter=0',
    ]);
  const a = [
    'link set lo up',
    `link add eth0 type veth peer name eth0 netns ${NS_PEERS}`,
    `addr add ${AGENT.underlay}/16 dev eth0`,
    'link set eth0 up',
    `link add flannel.1 address ${AGENT.mac} type vxlan id 1 local ${AGENT.underlay} dev eth0 dstport 8472 nolearning`,
    'link set flannel.1 mtu 1450 up',
    `addr add ${AGENT.overlay}/32 dev flannel.1`,
  ];
  const p = ['link set lo up', 'link set eth0 up', `addr add ${NATS_ADDR}/16 dev eth0`];
  for (let i = 1; i <= PEERS; i++) {
    const mac = `0e:f1:00:00:01:${i.toString(16).padStart(2, '0')}`;
    a.push(
      `route add 10.244.${i}.0/24 via 10.244.${i}.0 dev flannel.1 onlink`,
      `neigh add 10.244.${i}.0 lladdr ${mac} dev flannel.1 nud permanent`,
    );
    p.push(`addr add ${PEER_BASE}.${i}/16 dev eth0`);
  }
  ipBatch(NS_AGENT, a);
  ipBatch(NS_PEERS, p);
  const fdb = [];
  for (let i = 1; i <= PEERS; i++)
    fdb.push(
      `fdb append 0e:f1:00:00:01:${i.toString(16).padStart(2, '0')} dev flannel.1 dst ${PEER_BASE}.${i} self permanent`,
    );
  const r = spawnSync('bridge', ['-n', NS_AGENT, '-b', '-'], { input: fdb.join('\n'), encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`bridge fdb: ${r.stderr}`);
}

/** CPU seconds of a process (utime+stime) and of its reaped children (cutime+cstime), RSS bytes. */
function usage(pid: number) {
  const hz = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
  return {
    user: Number(f[11]) / hz,
    system: Number(f[12]) / hz,
    self: (Number(f[11]) + Number(f[12])) / hz,
    children: (Number(f[13]) + Number(f[14])) / hz,
    rssMiB: rssKb / 1024,
  };
}

function agentCounters(): { sent: number; received: number; dropped: number } {
  const r = spawnSync('ip', ['netns', 'exec', NS_AGENT, 'curl', '-sf', 'http://127.0.0.1:9701/metrics'], {
    encoding: 'utf8',
  });
  const sum = (name: string) =>
    r.stdout
      .split('\n')
      .filter((l) => l.startsWith(name))
      .reduce((a, l) => a + Number(l.split(' ').pop()), 0);
  return {
    sent: sum('vxdoctor_agent_probes_sent_total'),
    received: sum('vxdoctor_agent_probes_received_total'),
    dropped: sum('vxdoctor_agent_capture_dropped_total'),
  };
}

function start(ns: string, cmd: string, args: string[], log: string): ChildProcess {
  const p = spawn('ip', ['netns', 'exec', ns, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  p.stdout?.on('data', (d) => writeFileSync(log, d, { flag: 'a' }));
  p.stderr?.on('data', (d) => writeFileSync(log, d, { flag: 'a' }));
  return p;
}

async function stop(p: ChildProcess | undefined): Promise<void> {
  if (!p || p.exitCode !== null || p.signalCode !== null) return;
  const gone = new Promise((r) => p.once('exit', r));
  p.kill('SIGTERM');
  if (!(await Promise.race([gone.then(() => true), sleep(10_000).then(() => false)]))) p.kill('SIGKILL');
}

async function footprint() {
  if (process.getuid?.() !== 0) return { skipped: 'needs root (network namespaces)' };
  const dir = mkdtempSync(join(tmpdir(), 'vxdoctor-bench-'));
  const keyFile = join(dir, 'probe.key');
  writeFileSync(keyFile, Buffer.from('bench-probe-key-0123456789abcdef'), { mode: 0o600 });
  const procs: ChildProcess[] = [];
  try {
    setup();
    setupNamespaces(dir);
    procs.push(
      start(
        NS_PEERS,
        'nats-server',
        ['-js', '-sd', join(dir, 'js'), '-a', NATS_ADDR, '-p', '4222'],
        join(dir, 'nats.log'),
      ),
    );
    await sleep(1000);
    const simOut: string[] = [];
    const sim = spawn(
      'ip',
      [
        'netns',
        'exec',
        NS_PEERS,
        process.execPath,
        '--import',
        'tsx',
        'bench/peer-sim.ts',
        JSON.stringify({
          key: keyFile,
          nats: `nats://${NATS_ADDR}:4222`,
          agent: AGENT,
          peers: PEERS,
          base: PEER_BASE,
          intervalMs: 5000,
          probeVni: 16777000,
          probePort: 7999,
          ttlMs: 30_000,
        }),
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    procs.push(sim);
    sim.stdout?.on('data', (d) => simOut.push(String(d)));
    for (let i = 0; i < 100 && !simOut.join('').includes('ready'); i++) await sleep(100);
    if (!simOut.join('').includes('ready')) throw new Error('peer-sim did not start');
    const agent = start(
      NS_AGENT,
      process.execPath,
      [
        ...(process.env.AGENT_NODE_FLAGS?.split(' ').filter(Boolean) ?? []), // e.g. --cpu-prof
        'bin/vxdoctor.js',
        'agent',
        '--node',
        AGENT.node,
        '--nats',
        `nats://${NATS_ADDR}:4222`,
        '--underlay-if',
        'eth0',
        '--netns-dir',
        join(dir, 'netns'),
        '--no-proc-netns',
        '--label',
        'rack=A',
        '--probe-key-file',
        keyFile,
        '--interval',
        '5s',
        '--full-mesh-max',
        String(PEERS + 1),
        ...(process.env.AGENT_ARGS?.split(' ').filter(Boolean) ?? []), // e.g. --no-watch-netlink
      ],
      join(dir, 'agent.log'),
    );
    procs.push(agent);
    await sleep(WARMUP_S * 1000);
    const pid = agent.pid!;
    const u0 = usage(pid);
    const c0 = agentCounters();
    const t0 = Date.now();
    let rssMax = u0.rssMiB;
    for (let t = 0; t < WINDOW_S; t += 5) {
      await sleep(5000);
      rssMax = Math.max(rssMax, usage(pid).rssMiB);
    }
    const u1 = usage(pid);
    const c1 = agentCounters();
    const secs = (Date.now() - t0) / 1000;
    const self = u1.self - u0.self;
    const withChildren = self + (u1.children - u0.children);
    const handled = c1.sent - c0.sent + (c1.received - c0.received);
    await stop(sim);
    const peerCounts = JSON.parse(
      simOut
        .join('')
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .pop() ?? '{}',
    );
    return {
      peers: PEERS,
      namespaces: NAMESPACES,
      watchNetlink: !process.env.AGENT_ARGS?.includes('--no-watch-netlink'),
      intervalSeconds: 5,
      warmupSeconds: WARMUP_S,
      windowSeconds: Number(secs.toFixed(1)),
      rssMiB: {
        atStart: Number(u0.rssMiB.toFixed(1)),
        atEnd: Number(u1.rssMiB.toFixed(1)),
        max: Number(rssMax.toFixed(1)),
      },
      cpuPercent: Number(((self / secs) * 100).toFixed(2)),
      cpuPercentUser: Number((((u1.user - u0.user) / secs) * 100).toFixed(2)),
      cpuPercentSystem: Number((((u1.system - u0.system) / secs) * 100).toFixed(2)),
      cpuPercentWithChildren: Number(((withChildren / secs) * 100).toFixed(2)),
      probesSentPerRound: Math.round(((c1.sent - c0.sent) / secs) * 5),
      probesAnsweredPerRound: Math.round(((c1.received - c0.received) / secs) * 5),
      cpuPer1000ProbesMs: handled ? Number(((withChildren / handled) * 1e6).toFixed(1)) : null,
      captureDropped: c1.dropped,
      peerSim: peerCounts,
    };
  } finally {
    for (const p of procs.reverse()) await stop(p);
    teardown(dir);
    rmSync(dir, { recursive: true, force: true });
  }
}

const codec = codecCost();
const live = await footprint();
process.stdout.write(`${JSON.stringify({ benchmark: 'probe', codec, footprint: live })}\n`);
