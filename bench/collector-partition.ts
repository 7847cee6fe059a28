/**
 * One collector vs two partitioned collectors (`--partition 0/2`, `1/2`) on the same simulated
 * load; prints one JSON document (also written to test-output/collector-partition.json).
 *
 * Per phase: a fresh nats-server (127.0.0.1, JetStream on a temp dir), the real collector(s)
 * (bin/vxdoctor.js, dist/ built), NODES simulated agents in GROUPS racks (bench/sim/partition-sim.ts:
 * presence in KV, one probes message per node per ROUND_S round, targets from the agent's own
 * probe-set code). After WARMUP_S, each collector process's CPU (utime+stime from /proc) and RSS
 * (sampled every second, max) over MEASURE_S; at half of it a VXLAN drop between two racks is
 * injected and each instance's time until /api/v1/diagnosis names it is recorded; API and /metrics
 * latencies are sampled; the durable's backlog (pending + unacked) at the end.
 * Env: NODES (400), RACKS (10), ROUND_S (5), WARMUP_S (30), MEASURE_S (60).
 * The machine is shared: compare the phases by ratio; the load average is in the output.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { STREAM_NAME } from '../shared/subjects.js';
import type { DiagnosisResponse } from '../shared/schema.js';
import { noFault, type SimFault, SimPublisher, simCluster } from './sim/partition-sim.js';
import { freePort, procSample } from './collector-scale.js';

const ROOT = join(import.meta.dirname, '..');
const OUT = join(ROOT, 'test-output');
const NODES = Number(process.env.NODES ?? 400);
const GROUPS = Number(process.env.RACKS ?? 10);
const ROUND_MS = Number(process.env.ROUND_S ?? 5) * 1000;
const WARMUP_MS = Number(process.env.WARMUP_S ?? 30) * 1000;
const MEASURE_MS = Number(process.env.MEASURE_S ?? 60) * 1000;
const LABEL = 'rack';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** CPU seconds and RSS of a process (bench/collector-scale.ts `procSample`; 0 once it is gone). */
function usage(pid: number): { rss: number; cpu: number } {
  const u = procSample(pid);
  return { rss: u?.rss ?? 0, cpu: u?.cpuS ?? 0 };
}

function quantile(xs: number[], q: number): number | null {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] as number;
}

async function timed(url: string): Promise<number> {
  const t = performance.now();
  const r = await fetch(url);
  await r.arrayBuffer();
  return (performance.now() - t) / 1000;
}

async function phase(partitions: number) {
  const dir = mkdtempSync(join(tmpdir(), 'vxd-bench-nats-'));
  const natsPort = await freePort();
  const nats = spawn('nats-server', ['-js', '-sd', dir, '-a', '127.0.0.1', '-p', String(natsPort)], {
    stdio: 'ignore',
  });
  const natsUrl = `nats://127.0.0.1:${natsPort}`;
  const procs: Array<{ p: ChildProcess; url: string; durable: string }> = [];
  try {
    for (let t = Date.now(); ; ) {
      try {
        await (await connect({ servers: natsUrl, reconnect: false, timeout: 500 })).close();
        break;
      } catch (err) {
        if (Date.now() - t > 10_000) throw err;
        await sleep(100);
      }
    }
    const nc = await connect({ servers: natsUrl });
    const pub = new SimPublisher(nc, LABEL);
    await pub.init();
    const racks = Array.from({ length: GROUPS }, (_, i) => `row${i % 3}-r${i}`);
    const nodes = simCluster(NODES, racks, 7);
    await pub.presence(nodes);
    for (let i = 0; i < partitions; i++) {
      const port = await freePort();
      const args = [
        join(ROOT, 'bin/vxdoctor.js'),
        'collector',
        '--nats',
        natsUrl,
        '--listen',
        `127.0.0.1:${port}`,
      ];
      if (partitions > 1) args.push('--partition', `${i}/${partitions}`);
      const log = createWriteStream(join(OUT, `bench-partition-${partitions}-${i}.log`));
      const p = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
      p.stdout?.pipe(log);
      p.stderr?.pipe(log);
      procs.push({
        p,
        url: `http://127.0.0.1:${port}`,
        durable: partitions > 1 ? `vxdoctor-collector-p${i}of${partitions}` : 'vxdoctor-collector',
      });
    }
    for (const c of procs)
      for (let t = Date.now(); ; await sleep(250)) {
        if (Date.now() - t > 60_000) throw new Error(`${c.url} not ready`);
        if (
          await fetch(`${c.url}/readyz`).then(
            (r) => r.ok,
            () => false,
          )
        )
          break;
      }
    let fault: SimFault = noFault;
    let round = 0;
    let publishing = true;
    const roundTimes: number[] = [];
    const publisher = (async () => {
      let next = Date.now();
      while (publishing) {
        const t = performance.now();
        await pub.round(nodes, ++round, fault);
        roundTimes.push((performance.now() - t) / 1000);
        if (round % 3 === 0) await pub.presence(nodes);
        next += ROUND_MS;
        await sleep(Math.max(0, next - Date.now()));
      }
    })();
    await sleep(WARMUP_MS);
    const counted = async () =>
      Promise.all(
        procs.map(async (c) => {
          const t = await (await fetch(`${c.url}/metrics`)).text();
          const sum = (re: RegExp) => [...t.matchAll(re)].reduce((s, m) => s + Number(m[1]), 0);
          return {
            ingested: sum(/^vxdoctor_ingest_messages_total\{kind="\w+"\} (\S+)$/gm),
            skipped: sum(/^vxdoctor_collector_partition_skipped_messages (\S+)$/gm),
          };
        }),
      );
    const count0 = await counted();
    const start = procs.map((c) => usage(c.p.pid as number));
    const bytes0 = pub.bytes;
    const sent0 = [...pub.sent.values()].reduce((a, b) => a + b, 0);
    const rssMax = procs.map(() => 0);
    const apiLat: number[] = [];
    const metricsLat: number[] = [];
    const verdict: Array<number | null> = procs.map(() => null);
    const t0 = Date.now();
    let injectedAt = 0;
    const segmentId = `underlay-vxlan-filtered:${LABEL}:${[racks[0], racks[1]].sort().join(':')}`;
    while (Date.now() - t0 < MEASURE_MS) {
      procs.forEach((c, i) => {
        rssMax[i] = Math.max(rssMax[i] as number, usage(c.p.pid as number).rss);
      });
      if (!injectedAt && Date.now() - t0 >= MEASURE_MS / 2) {
        injectedAt = Date.now();
        fault = (s, d, path) =>
          path !== 'control' &&
          ((s.group === racks[0] && d.group === racks[1]) || (s.group === racks[1] && d.group === racks[0]));
      }
      for (const [i, c] of procs.entries()) {
        apiLat.push(await timed(`${c.url}/api/v1/diagnosis`));
        metricsLat.push(await timed(`${c.url}/metrics`));
        if (injectedAt && verdict[i] === null) {
          const d = (await (await fetch(`${c.url}/api/v1/diagnosis`)).json()) as DiagnosisResponse;
          if (d.rootCauses.some((r) => r.id === segmentId)) verdict[i] = (Date.now() - injectedAt) / 1000;
        }
      }
      await sleep(1000);
    }
    const secs = (Date.now() - t0) / 1000;
    const end = procs.map((c) => usage(c.p.pid as number));
    const count1 = await counted();
    const published = [...pub.sent.values()].reduce((a, b) => a + b, 0) - sent0;
    publishing = false;
    await publisher;
    const jsm = await jetstreamManager(nc);
    const backlog: Array<number | null> = [];
    for (const c of procs) {
      const ci = await jsm.consumers.info(STREAM_NAME, c.durable).catch(() => null);
      backlog.push(ci ? ci.num_pending + ci.num_ack_pending : null);
    }
    await nc.close();
    return {
      collectors: partitions,
      instances: procs.map((c, i) => ({
        partition: partitions > 1 ? `${i}/${partitions}` : null,
        cpuCores: Number((((end[i]?.cpu ?? 0) - (start[i]?.cpu ?? 0)) / secs).toFixed(3)),
        rssMaxMiB: Math.round((rssMax[i] as number) / 2 ** 20),
        // Over the measured window: messages parsed and applied, and other partitions' acked unread.
        messagesIngested: (count1[i]?.ingested ?? 0) - (count0[i]?.ingested ?? 0),
        messagesSkipped: (count1[i]?.skipped ?? 0) - (count0[i]?.skipped ?? 0),
        cpuSecondsPer1000Ingested: Number(
          (
            (((end[i]?.cpu ?? 0) - (start[i]?.cpu ?? 0)) * 1000) /
            Math.max(1, (count1[i]?.ingested ?? 0) - (count0[i]?.ingested ?? 0))
          ).toFixed(3),
        ),
        backlogAtEnd: backlog[i],
        segmentVerdictSeconds: verdict[i],
      })),
      totalCpuCores: Number(
        procs.reduce((s, _c, i) => s + ((end[i]?.cpu ?? 0) - (start[i]?.cpu ?? 0)) / secs, 0).toFixed(3),
      ),
      apiDiagnosisSeconds: { p50: quantile(apiLat, 0.5), max: quantile(apiLat, 1) },
      metricsSeconds: { p50: quantile(metricsLat, 0.5), max: quantile(metricsLat, 1) },
      messagesPublished: published,
      publishedBytesPerRound: Math.round((pub.bytes - bytes0) / Math.max(1, secs / (ROUND_MS / 1000))),
      publishRoundSeconds: { p50: quantile(roundTimes, 0.5), max: quantile(roundTimes, 1) },
      loadavg1: Number(loadavg()[0]?.toFixed(2)),
    };
  } finally {
    for (const c of procs) {
      if (c.p.exitCode === null && c.p.signalCode === null) {
        c.p.kill('SIGTERM');
        await Promise.race([new Promise((r) => c.p.once('exit', r)), sleep(10_000)]);
      }
    }
    nats.kill('SIGTERM');
    await Promise.race([new Promise((r) => nats.once('exit', r)), sleep(5000)]);
    rmSync(dir, { recursive: true, force: true });
  }
}

mkdirSync(OUT, { recursive: true });
const result = {
  bench: 'collector-partition',
  measuredAt: new Date().toISOString(),
  nodes: NODES,
  groups: GROUPS,
  roundSeconds: ROUND_MS / 1000,
  measureSeconds: MEASURE_MS / 1000,
  phases: [await phase(1), await phase(2)],
};
writeFileSync(join(OUT, 'collector-partition.json'), `${JSON.stringify(result, null, 2)}\n`);
process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
