/**
 * Collector scale benchmark: N simulated agents (bench/collector-sim.ts, the agent's own
 * presence, outbox, publisher, probe-set and check code) publish through a real nats-server to
 * the real collector (`bin/vxdoctor.js collector`, a child process measured from /proc). Rounds
 * are paced (5 s). Per N, after a warm-up of one evidence window and a bit, it measures for
 * `--measure` seconds, then injects a segment fault (every VXLAN-port probe between two groups
 * lost in the underlay) and times until /api/v1/diagnosis names it.
 *
 * Prints one JSON document per N on stdout (and writes test-output/collector-scale-<N>.json):
 *  collector CPU (% of one core) and RSS max, ingest lag p50/max (age of the oldest message the
 *  durable has not been delivered) and consumer backlog, messages lost unread (the collector's
 *  own count of stream sequences it never saw, while measured and since start) and discarded by
 *  the stream's cap (read or not), slow-consumer cuts, stream bytes per
 *  node per hour, /metrics and /api/v1/diagnosis latency p50/max, time to verdict of the fault,
 *  agent-side bytes published per node per round (by kind), the simulator's and nats-server's
 *  own CPU, and the collector's pair-cap refusals.
 *
 * Not part of `npm test` (minutes per N). Needs nats-server on PATH and a built dist/ (it runs
 * `tsc` first unless --no-build).
 * Usage: node --import tsx bench/collector-scale.ts [--nodes 100,500,1000,2000,5000]
 *   [--groups G | default N/40] [--warmup 150] [--measure 90] [--fault-timeout 120] [--no-build]
 *   [--encoding rows|json] (the agents' --probes-encoding) [--heap-mb M] (collector heap cap)
 *   [--semi-mb S] (collector young-generation semi-space, --max-semi-space-size; V8's default)
 *   [--table-peers 64] (peers in each simulated node's FDB/neighbor/route tables)
 */
import { type ChildProcess, fork, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { MESSAGE_KINDS, STREAM_NAME } from '../shared/subjects.js';
import { clusterOf, type SimOptions } from './collector-sim.js';

const ROOT = join(import.meta.dirname, '..');
const argv = process.argv.slice(2);
const arg = (name: string, def: string): string => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] !== undefined ? (argv[i + 1] as string) : def;
};
const SIZES = arg('nodes', '100,500,1000,2000,5000')
  .split(',')
  .map((s) => Number(s.trim()))
  .filter((n) => Number.isInteger(n) && n >= 2);
const WARMUP_S = Number(arg('warmup', '150'));
const MEASURE_S = Number(arg('measure', '90'));
const FAULT_TIMEOUT_S = Number(arg('fault-timeout', '120'));
const INTERVAL_MS = 5000;
const HEAP_MB = Number(arg('heap-mb', '0'));
const SEMI_MB = Number(arg('semi-mb', '0'));
const DURABLE = 'vxdoctor-collector';
const TICK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim() || '100');

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const p = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(p));
    });
  });
}

/** CPU seconds (user+system) and RSS (bytes) of a process from /proc. */
export function procSample(pid: number): { cpuS: number; rss: number } | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const cpuS = (Number(f[11]) + Number(f[12])) / TICK;
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return { cpuS, rss: Number(m?.[1] ?? 0) * 1024 };
  } catch {
    return null;
  }
}

export function quantile(xs: number[], q: number): number | null {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] as number;
}

const r3 = (x: number | null) => (x === null ? null : Math.round(x * 1000) / 1000);
const MiB = (b: number) => Math.round((b / 1048576) * 10) / 10;

async function timed(url: string): Promise<{ ms: number; status: number; body: string }> {
  const t = performance.now();
  try {
    const r = await fetch(url, { signal: AbortSignal.timeout(30_000) });
    const body = await r.text();
    return { ms: performance.now() - t, status: r.status, body };
  } catch (err) {
    return { ms: performance.now() - t, status: 0, body: String(err) };
  }
}

function metricSum(text: string, name: string, filter = ''): number {
  let s = 0;
  for (const line of text.split('\n'))
    if (
      line.startsWith(name) &&
      (line[name.length] === '{' || line[name.length] === ' ') &&
      line.includes(filter)
    )
      s += Number(line.slice(line.lastIndexOf(' ') + 1)) || 0;
  return s;
}

function stopChild(c: ChildProcess | null, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (!c || c.exitCode !== null || c.pid === undefined) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(() => {
      try {
        process.kill(c.pid as number, 'SIGKILL');
      } catch {}
      resolve();
    }, 10_000);
    c.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
    try {
      process.kill(c.pid as number, signal);
    } catch {
      resolve();
    }
  });
}

/**
 * What a run has started and made, so that an interrupted bench (SIGINT, SIGTERM) still stops
 * its daemons, by PID, and removes its directory before it exits.
 */
const live = { children: new Set<ChildProcess>(), dirs: new Set<string>() };
let interrupted = false;
for (const sig of ['SIGINT', 'SIGTERM'] as const)
  process.on(sig, () => {
    if (interrupted) return;
    interrupted = true;
    process.stderr.write(`collector-scale: ${sig}: stopping what the run started\n`);
    Promise.all([...live.children].map((c) => stopChild(c)))
      .finally(() => {
        for (const d of live.dirs) rmSync(d, { recursive: true, force: true });
        process.exit(sig === 'SIGINT' ? 130 : 143);
      })
      .catch(() => undefined);
  });

async function runOne(n: number): Promise<Record<string, unknown>> {
  const groups = Number(arg('groups', String(Math.max(3, Math.round(n / 40)))));
  const prefix = `s${n.toString(36)}${Math.random().toString(36).slice(2, 5)}`;
  const dir = mkdtempSync(join(tmpdir(), 'vxd-scale-'));
  live.dirs.add(dir);
  const natsPort = await freePort();
  const monPort = await freePort();
  const httpPort = await freePort();
  let nats: ChildProcess | null = null;
  let collector: ChildProcess | null = null;
  let sim: ChildProcess | null = null;
  let nc: Awaited<ReturnType<typeof connect>> | null = null;
  try {
    nats = spawn(
      'nats-server',
      ['-js', '-a', '127.0.0.1', '-p', String(natsPort), '-m', String(monPort), '-sd', dir],
      {
        stdio: ['ignore', 'ignore', 'ignore'],
      },
    );
    live.children.add(nats);
    const natsUrl = `nats://127.0.0.1:${natsPort}`;
    for (let i = 0; i < 100 && !nc; i++) {
      try {
        nc = await connect({ servers: natsUrl });
      } catch {
        await sleep(100);
      }
    }
    if (!nc) throw new Error('nats-server did not start');
    const jsm = await jetstreamManager(nc);
    collector = spawn(
      process.execPath,
      [
        // e.g. VXD_BENCH_COLLECTOR_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof' to profile it
        ...(process.env.VXD_BENCH_COLLECTOR_NODE_ARGS ?? '').split(' ').filter(Boolean),
        // --heap-mb M: the heap cap the manifests ship (NODE_OPTIONS=--max-old-space-size=M)
        ...(HEAP_MB > 0 ? [`--max-old-space-size=${HEAP_MB}`] : []),
        ...(SEMI_MB > 0 ? [`--max-semi-space-size=${SEMI_MB}`] : []),
        join(ROOT, 'bin/vxdoctor.js'),
        'collector',
        '--nats',
        natsUrl,
        '--listen',
        `127.0.0.1:${httpPort}`,
        '--durable',
        DURABLE,
        '--log-level',
        'warn',
      ],
      { stdio: ['ignore', openSync(join(ROOT, 'test-output', `collector-scale-${n}.log`), 'w'), 'inherit'] },
    );
    live.children.add(collector);
    const base = `http://127.0.0.1:${httpPort}`;
    for (let i = 0; i < 300; i++) {
      if ((await timed(`${base}/readyz`)).status === 200) break;
      await sleep(200);
    }
    const simOpts: SimOptions = {
      nats: natsUrl,
      nodes: n,
      groups,
      intervalMs: INTERVAL_MS,
      snapshotEveryMs: 30_000,
      republishMs: 300_000,
      presenceTtlMs: 30_000,
      statsEveryMs: 5000,
      prefix,
      encoding: arg('encoding', 'rows') === 'json' ? 'json' : 'rows',
      tablePeers: Number(arg('table-peers', '64')),
    };
    sim = fork(join(ROOT, 'bench/collector-sim.ts'), [JSON.stringify(simOpts)], {
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    live.children.add(sim);
    let simStats: Record<string, unknown> & {
      bytes?: Record<string, number>;
      messages?: Record<string, number>;
    } = {};
    let ready: { setupMs?: number } | null = null;
    sim.on('message', (m: { ready?: boolean; stats?: typeof simStats }) => {
      if (m.ready) ready = m as typeof ready;
      if (m.stats) simStats = m.stats;
    });
    for (let i = 0; i < 1200 && !ready; i++) await sleep(250);
    if (!ready) throw new Error('simulator did not get ready');
    const started = Date.now();
    process.stderr.write(
      `[${n}] simulator ready in ${(ready as { setupMs: number }).setupMs} ms; warm-up ${WARMUP_S} s\n`,
    );
    await sleep(WARMUP_S * 1000);

    // Measurement window.
    const pids = { collector: collector.pid as number, sim: sim.pid as number, nats: nats.pid as number };
    const first = Object.fromEntries(Object.entries(pids).map(([k, p]) => [k, procSample(p)])) as Record<
      string,
      { cpuS: number; rss: number } | null
    >;
    const rssMax: Record<string, number> = { collector: 0, sim: 0, nats: 0 };
    const lag: number[] = [];
    const backlog: number[] = [];
    const metricsMs: number[] = [];
    const diagMs: number[] = [];
    const s0 = await jsm.streams.info(STREAM_NAME);
    const pub0 = JSON.parse(JSON.stringify(simStats)) as typeof simStats;
    const t0 = Date.now();
    let metricsText = '';
    const loopP99: number[] = [];
    const loopMax: number[] = [];
    let firstMetricsText = '';
    let firstMetricsAt = 0;
    let lastMetricsTextAt = 0;
    let lastMetricsAt = 0;
    const sampleLag = async (): Promise<void> => {
      try {
        const ci = await jsm.consumers.info(STREAM_NAME, DURABLE);
        backlog.push(ci.num_pending + ci.num_ack_pending);
        if (process.env.VXD_BENCH_DEBUG)
          process.stderr.write(
            `[${n}] consumer pending ${ci.num_pending} ack-pending ${ci.num_ack_pending} waiting ${ci.num_waiting} delivered ${ci.delivered.stream_seq} redelivered ${ci.num_redelivered}\n`,
          );
        const next = ci.delivered.stream_seq + 1;
        const si = await jsm.streams.info(STREAM_NAME);
        if (next > si.state.last_seq) lag.push(0);
        else {
          const seq = Math.max(next, si.state.first_seq);
          const m = await jsm.streams.getMessage(STREAM_NAME, { seq });
          if (m) lag.push(Math.max(0, (Date.now() - m.time.getTime()) / 1000));
        }
      } catch {
        // the consumer may be re-attaching: not a sample
      }
    };
    while (Date.now() - t0 < MEASURE_S * 1000) {
      for (const [k, p] of Object.entries(pids)) {
        const s = procSample(p);
        if (s) rssMax[k] = Math.max(rssMax[k] ?? 0, s.rss);
      }
      if (Date.now() - lastMetricsAt >= 5000) {
        lastMetricsAt = Date.now();
        const [m, d] = await Promise.all([timed(`${base}/metrics`), timed(`${base}/api/v1/diagnosis`)]);
        metricsMs.push(m.ms);
        diagMs.push(d.ms);
        if (m.status === 200) {
          // prom-client's event-loop delay, over the 5 s since the last scrape (it resets per scrape).
          loopP99.push(metricSum(m.body, 'nodejs_eventloop_lag_p99_seconds') * 1000);
          loopMax.push(metricSum(m.body, 'nodejs_eventloop_lag_max_seconds') * 1000);
          metricsText = m.body;
          if (!firstMetricsText) {
            firstMetricsText = m.body;
            firstMetricsAt = Date.now();
          }
          lastMetricsTextAt = Date.now();
        }
        await sampleLag();
      }
      await sleep(1000);
    }
    const dt = (Date.now() - t0) / 1000;
    const last = Object.fromEntries(Object.entries(pids).map(([k, p]) => [k, procSample(p)])) as typeof first;
    const cpu = (k: string) => {
      const a = first[k];
      const b = last[k];
      return a && b ? Math.round(((b.cpuS - a.cpuS) / dt) * 1000) / 10 : null;
    };
    const s1 = await jsm.streams.info(STREAM_NAME);
    const pub1 = simStats;
    const dBytes = (k: string) => (pub1.bytes?.[k] ?? 0) - (pub0.bytes?.[k] ?? 0);
    const dMsgs = (k: string) => (pub1.messages?.[k] ?? 0) - (pub0.messages?.[k] ?? 0);
    const rounds = dMsgs('probes') / n;
    const perRound = (k: string) => (rounds > 0 ? Math.round(dBytes(k) / n / rounds) : null);
    // Discarded by the stream's max_bytes while measured: read or not (a full stream discards
    // its oldest messages, usually long read). Lost unread: the collector's own count of the
    // stream sequences it never saw (vxdoctor_state_dropped_total{what="messages"}).
    const discardedByCap = Math.max(0, s1.state.first_seq - s0.state.first_seq);
    const lostCount = (text: string) => metricSum(text, 'vxdoctor_state_dropped_total', 'what="messages"');
    const lostUnread = firstMetricsText ? lostCount(metricsText) - lostCount(firstMetricsText) : null;
    const lostUnreadSinceStart = metricsText ? lostCount(metricsText) : null;
    const capped = s1.state.bytes >= 0.98 * (s1.config.max_bytes ?? Number.POSITIVE_INFINITY);
    const streamBytesRate = capped ? null : (((s1.state.bytes - s0.state.bytes) / dt) * 3600) / n; // bytes per node per hour
    const varz = (await timed(`http://127.0.0.1:${monPort}/varz`)).body;
    let slowConsumers: number | null = null;
    try {
      slowConsumers = (JSON.parse(varz) as { slow_consumers?: number }).slow_consumers ?? null;
    } catch {}

    // The fault: every VXLAN-port probe between two groups lost in the underlay.
    const names = [...new Set(clusterOf(n, groups, prefix).map((x) => x.group))].sort();
    const fault = { a: names[1] as string, b: names[names.length - 1] as string };
    sim.send({ fault });
    const tf = Date.now();
    let verdictS: number | null = null;
    let named: unknown = null;
    while (Date.now() - tf < FAULT_TIMEOUT_S * 1000) {
      const d = await timed(`${base}/api/v1/diagnosis`);
      if (d.status === 200) {
        const body = JSON.parse(d.body) as {
          rootCauses: Array<{ kind: string; segment?: { from: string; to: string }; id: string }>;
        };
        const hit = body.rootCauses.find(
          (r) =>
            r.kind === 'underlay-vxlan-filtered' &&
            r.segment &&
            new Set([r.segment.from, r.segment.to]).size === 2 &&
            [r.segment.from, r.segment.to].every((g) => g === fault.a || g === fault.b),
        );
        if (hit) {
          verdictS = Math.round((Date.now() - tf) / 100) / 10;
          named = {
            id: hit.id,
            others: body.rootCauses
              .filter((r) => r !== hit)
              .map((r) => r.id)
              .slice(0, 10),
          };
          break;
        }
      }
      await sleep(1000);
    }
    sim.send({ fault: null });

    const result = {
      bench: 'collector-scale',
      nodes: n,
      groups,
      intervalMs: INTERVAL_MS,
      warmupS: WARMUP_S,
      measuredS: Math.round(dt),
      collector: {
        heapCapMiB: HEAP_MB > 0 ? HEAP_MB : null,
        semiSpaceMiB: SEMI_MB > 0 ? SEMI_MB : null,
        cpuPercentOfCore: cpu('collector'),
        rssMaxMiB: MiB(rssMax.collector ?? 0),
        // Where reads wait: the event loop's delay (p99 per 5 s, its median; the largest) and the
        // share of the measured time in GC pauses by kind (the process's own counters).
        eventLoopDelayMs: {
          p99Median: r3(quantile(loopP99, 0.5)),
          max: r3(loopMax.length ? Math.max(...loopMax) : null),
        },
        gcShare: Object.fromEntries(
          ['major', 'minor', 'incremental'].map((kind) => [
            kind,
            r3(
              (metricSum(metricsText, 'nodejs_gc_duration_seconds_sum', `kind="${kind}"`) -
                metricSum(firstMetricsText, 'nodejs_gc_duration_seconds_sum', `kind="${kind}"`)) /
                Math.max(1, (lastMetricsTextAt - firstMetricsAt) / 1000),
            ),
          ]),
        ),
      },
      ingest: {
        lagP50S: r3(quantile(lag, 0.5)),
        lagMaxS: r3(lag.length ? Math.max(...lag) : null),
        backlogP50: quantile(backlog, 0.5),
        backlogMax: backlog.length ? Math.max(...backlog) : null,
        slowConsumers,
        lostUnread,
        lostUnreadSinceStart,
        discardedByCap,
      },
      latencyMs: {
        metricsP50: r3(quantile(metricsMs, 0.5)),
        metricsMax: r3(metricsMs.length ? Math.max(...metricsMs) : null),
        diagnosisP50: r3(quantile(diagMs, 0.5)),
        diagnosisMax: r3(diagMs.length ? Math.max(...diagMs) : null),
      },
      encoding: simOpts.encoding,
      stream: {
        bytesPerNodePerHour: streamBytesRate === null ? null : Math.round(streamBytesRate),
        publishedBytesPerNodePerHour: Math.round(
          ((MESSAGE_KINDS.reduce((a, k) => a + dBytes(k), 0) / dt) * 3600) / n,
        ),
        bytesStored: s1.state.bytes,
        capped,
        messages: s1.state.messages,
      },
      agent: {
        bytesPerRound: Object.fromEntries(MESSAGE_KINDS.map((k) => [k, perRound(k)])),
        summaryBytes: (pub1 as { summaryBytes?: number }).summaryBytes ?? null,
        messagesPerSecond: Math.round(MESSAGE_KINDS.reduce((a, k) => a + dMsgs(k), 0) / dt),
        publishFailures: pub1.failures ?? null,
        outboxDropped: pub1.outboxDropped ?? null,
        roundsLate: pub1.roundsLate ?? null,
      },
      state: {
        pairsDropped: metricSum(metricsText, 'vxdoctor_state_dropped_total', 'what="pairs"'),
        nodes: metricSum(metricsText, 'vxdoctor_agent_up'),
        reachableSeries: metricsText.split('\n').filter((l) => l.startsWith('vxdoctor_peer_reachable_ratio{'))
          .length,
      },
      fault: { segment: fault, verdictS, named },
      simulator: { cpuPercentOfCore: cpu('sim'), rssMaxMiB: MiB(rssMax.sim ?? 0) },
      natsServer: { cpuPercentOfCore: cpu('nats'), rssMaxMiB: MiB(rssMax.nats ?? 0) },
      wallS: Math.round((Date.now() - started) / 1000),
    };
    return result;
  } finally {
    sim?.connected && sim.send({ stop: true });
    await stopChild(sim);
    await stopChild(collector);
    await nc?.close().catch(() => undefined);
    await stopChild(nats);
    rmSync(dir, { recursive: true, force: true });
    live.dirs.delete(dir);
    for (const c of [sim, collector, nats]) if (c) live.children.delete(c);
  }
}

async function main(): Promise<void> {
  if (!argv.includes('--no-build')) {
    const b = spawnSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: ROOT, stdio: 'inherit' });
    if (b.status !== 0) throw new Error('build failed');
  }
  mkdirSync(join(ROOT, 'test-output'), { recursive: true });
  for (const n of SIZES) {
    const r = await runOne(n);
    const json = JSON.stringify(r);
    process.stdout.write(`${json}\n`);
    writeFileSync(join(ROOT, 'test-output', `collector-scale-${n}.json`), `${JSON.stringify(r, null, 2)}\n`);
  }
}

if (process.argv[1]?.endsWith('collector-scale.ts')) {
  main().catch((err) => {
    process.stderr.write(`collector-scale: ${err?.stack ?? err}\n`);
    process.exit(1);
  });
}
