/**
 * Inventory benchmark. Builds (prefix `vxi-b`) one namespace that plays the host, with a bridge,
 * a VTEP carrying 5,000 FDB entries and a veth into each of N workload namespaces (bind-mounted
 * under /run/vxi-b/netns like Docker's netns dir), then times collectSnapshot run inside the host
 * namespace (median of 5) against the physical limit: one `ip -b` batch process per namespace
 * reading the same data plus the one `bridge fdb` read, at the same concurrency.
 * Prints one JSON document: {bench, concurrency, results: [{namespaces, medianMs, perNamespaceMs, limitMs, ratio,
 * snapshotBytes}]} (snapshotBytes: the snapshot's JSON size, which NATS' 1 MiB default max_payload bounds).
 * Needs root. Cleans up in finally.  Usage: node --import tsx bench/inventory.ts [sizes...]
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { collectSnapshot } from '../agent/inventory/index.js';
import { NETNS_BATCH } from '../agent/inventory/parse-ip.js';
import { execRunner } from '../shared/exec.js';
import { silentLogger } from '../shared/logging.js';

const P = 'vxi-b';
const HOST = `${P}-h`;
const DIR = `/run/${P}/netns`;
const FDB_ENTRIES = 5000;
const RUNS = 5;
const CONCURRENCY = Number(process.env.VXI_BENCH_CONCURRENCY ?? 4);

function sh(cmd: string, args: string[], input?: string, passStderr = false): string {
  const r = spawnSync(cmd, args, {
    input,
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
    stdio: ['pipe', 'pipe', passStderr ? 'inherit' : 'pipe'],
  });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? 0;
};

function teardown(): void {
  spawnSync('sh', [
    '-c',
    `for m in $(awk '$2 ~ "^/run/${P}/" {print $2}' /proc/mounts); do umount "$m"; done`,
  ]);
  rmSync(`/run/${P}`, { recursive: true, force: true });
  const names = sh('ip', ['netns', 'list'])
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter((n) => n.startsWith(`${P}-`));
  if (names.length)
    spawnSync('ip', ['-force', '-b', '-'], { input: names.map((n) => `netns del ${n}`).join('\n') });
}

function setup(n: number): void {
  teardown();
  const names = Array.from({ length: n }, (_, i) => `${P}-c${i}`);
  sh('ip', ['-b', '-'], [HOST, ...names].map((x) => `netns add ${x}`).join('\n'));
  const hostCmds = [
    'link set lo up',
    'link add br0 type bridge',
    'addr add 10.0.0.1/16 dev br0',
    'link add vxlan0 type vxlan id 256 dstport 4789 learning proxy l2miss l3miss',
    'link set vxlan0 mtu 1450 master br0 up',
    'link set br0 up',
  ];
  names.forEach((x, i) => {
    hostCmds.push(
      `link add vb${i} mtu 1450 type veth peer name eth0 netns ${x}`,
      `link set vb${i} master br0 up`,
    );
  });
  sh('ip', ['-n', HOST, '-b', '-'], hostCmds.join('\n'));
  const fdb: string[] = [];
  for (let i = 0; i < FDB_ENTRIES; i++) {
    const mac = `02:42:${((i >> 16) & 255).toString(16).padStart(2, '0')}:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}:01`;
    fdb.push(`fdb add ${mac} dev vxlan0 dst 192.168.${(i >> 8) & 255}.${i & 255} self permanent`);
  }
  sh('bridge', ['-n', HOST, '-b', '-'], fdb.join('\n'));
  mkdirSync(DIR, { recursive: true });
  names.forEach((x, i) => {
    sh(
      'ip',
      ['-n', x, '-b', '-'],
      `link set lo up\naddr add 10.0.${(i + 2) >> 8}.${(i + 2) & 255}/16 dev eth0\nlink set eth0 up`,
    );
    writeFileSync(`${DIR}/${x}`, '');
    sh('mount', ['--bind', `/run/netns/${x}`, `${DIR}/${x}`]);
  });
}

/** Runs inside the host namespace: times collectSnapshot and the per-namespace batch limit. */
async function measure(n: number): Promise<void> {
  const opts = { node: 'bench', labels: {}, netnsDirs: [DIR], procNetns: false, concurrency: CONCURRENCY };
  const deps = { runner: execRunner, log: silentLogger() };
  const snap = await collectSnapshot(opts, deps); // warm-up, and sanity
  if (snap.namespaces.length !== n + 1)
    throw new Error(
      `expected ${n + 1} namespaces, got ${snap.namespaces.length}: ${JSON.stringify(snap.unknowns)}`,
    );
  const fdb = snap.namespaces[0]?.fdb.filter((e) => e.dst !== null).length;
  if (fdb !== FDB_ENTRIES) throw new Error(`expected ${FDB_ENTRIES} FDB entries, got ${fdb}`);
  if (process.env.VXI_BENCH_TRACE) {
    const t0 = performance.now();
    const traced: typeof execRunner = async (cmd, args, o) => {
      const s = performance.now() - t0;
      const r = await execRunner(cmd, args, o);
      process.stderr.write(
        `${s.toFixed(1)}+${r.durationMs.toFixed(1)} ${cmd} ${args.slice(0, 3).join(' ')}\n`,
      );
      return r;
    };
    await collectSnapshot(opts, { ...deps, runner: traced });
    process.stderr.write(`total ${(performance.now() - t0).toFixed(1)}\n`);
  }
  const times: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    const t = performance.now();
    await collectSnapshot(opts, deps);
    times.push(performance.now() - t);
  }
  const input = `${NETNS_BATCH.join('\n')}\n`;
  const paths = [null, ...Array.from({ length: n }, (_, i) => `${DIR}/${P}-c${i}`)];
  const limits: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    const t = performance.now();
    let next = 0;
    const worker = async () => {
      while (next < paths.length) {
        const p = paths[next++];
        const argv = ['-j', '-d', '-force', '-b', '-'];
        await (p === null
          ? execRunner('ip', argv, { input })
          : execRunner('nsenter', [`--net=${p}`, 'ip', ...argv], { input }));
      }
    };
    await Promise.all([
      ...Array.from({ length: CONCURRENCY }, worker),
      execRunner('bridge', ['-j', 'fdb', 'show']),
    ]);
    limits.push(performance.now() - t);
  }
  const medianMs = median(times);
  const limitMs = median(limits);
  const round = (x: number) => Math.round(x * 10) / 10;
  process.stdout.write(
    `${JSON.stringify({ namespaces: n, medianMs: round(medianMs), perNamespaceMs: round(medianMs / n), limitMs: round(limitMs), ratio: round(medianMs / limitMs), snapshotBytes: Buffer.byteLength(JSON.stringify(snap)) })}\n`,
  );
}

async function main(): Promise<void> {
  const measureArg = process.argv.indexOf('--measure');
  if (measureArg >= 0) {
    await measure(Number(process.argv[measureArg + 1]));
    return;
  }
  if (process.getuid?.() !== 0) throw new Error('bench/inventory.ts needs root (network namespaces)');
  const sizes = process.argv
    .slice(2)
    .map(Number)
    .filter((x) => x > 0);
  const results: unknown[] = [];
  try {
    for (const n of sizes.length ? sizes : [10, 100, 300]) {
      setup(n);
      const out = sh(
        'ip',
        [
          'netns',
          'exec',
          HOST,
          process.execPath,
          '--import',
          'tsx',
          new URL(import.meta.url).pathname,
          '--measure',
          String(n),
        ],
        undefined,
        true,
      );
      results.push(JSON.parse(out.trim()));
    }
  } finally {
    teardown();
  }
  process.stdout.write(`${JSON.stringify({ bench: 'inventory', concurrency: CONCURRENCY, results })}\n`);
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack}\n`);
  process.exitCode = 1;
});
