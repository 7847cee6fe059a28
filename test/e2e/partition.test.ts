/**
 * Two collector processes sharing the work (`--partition 0/2`, `--partition 1/2`) on a real
 * nats-server (127.0.0.1, JetStream on a temp dir), fed by simulated agents of varied names in
 * three racks (bench/sim/partition-sim.ts): each instance ingests exactly the probes messages of the
 * nodes it owns, both answer /api/v1/diagnosis with the same segment fault (the cluster view),
 * and when one instance is killed the other reports it missing with the nodes nobody judges.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { SimPublisher, type SimFault, simCluster } from '../../bench/sim/partition-sim.js';
import { partitionOf } from '../../collector/partition/assign.js';
import { rootCauseId } from '../../collector/diagnosis/index.js';
import type { DiagnosisResponse, NodeDetail } from '../../shared/schema.js';
import { buildDist, freePort, NatsServer, OUTPUT, ROOT, sleep, waitFor } from './harness.js';

const LABEL = 'row';
// Varied rack names, sorted as the segment id sorts them: 'Rack-North' < 'east_3' < 'r2.south'.
const RACKS = ['Rack-North', 'r2.south', 'east_3'];
/** Names vary per run; the first seed from a random start where each rack has nodes of both instances. */
function cluster() {
  for (let seed = Math.floor(Math.random() * 200); ; seed++) {
    const nodes = simCluster(17, RACKS, seed);
    if (
      RACKS.every(
        (r) => new Set(nodes.filter((n) => n.group === r).map((n) => partitionOf(n.name, 2))).size === 2,
      )
    )
      return nodes;
  }
}
const NODES = cluster();
const OWNER = new Map(NODES.map((n) => [n.name, partitionOf(n.name, 2)]));
const segmentFault: SimFault = (s, d, path) =>
  path !== 'control' &&
  ((s.group === 'Rack-North' && d.group === 'r2.south') ||
    (s.group === 'r2.south' && d.group === 'Rack-North'));
const SEGMENT_ID = rootCauseId('underlay-vxlan-filtered', [], {
  label: LABEL,
  from: 'Rack-North',
  to: 'r2.south',
});

function metric(text: string, name: string, labels = ''): number {
  const re = new RegExp(`^${name}${labels ? `\\{${labels}\\}` : '(?:\\{[^}]*\\})?'} (\\S+)$`, 'm');
  const m = re.exec(text);
  return m ? Number(m[1]) : Number.NaN;
}

describe('partitioned collectors (--partition I/N) on a real NATS', () => {
  let nats: NatsServer;
  let nc: NatsConnection;
  let pub: SimPublisher;
  const procs: ChildProcess[] = [];
  const urls: string[] = [];
  let round = 0;

  const diagnosis = async (i: number) =>
    (await (await fetch(`${urls[i]}/api/v1/diagnosis`)).json()) as DiagnosisResponse;
  const metrics = async (i: number) => (await fetch(`${urls[i]}/metrics`)).text();

  before(async () => {
    buildDist();
    nats = await NatsServer.start('partition-nats');
    for (const i of [0, 1]) {
      const port = await freePort();
      urls.push(`http://127.0.0.1:${port}`);
      const log = createWriteStream(join(OUTPUT, `partition-collector-${i}.log`));
      const p = spawn(
        process.execPath,
        [
          join(ROOT, 'bin/vxdoctor.js'),
          'collector',
          '--nats',
          nats.url,
          '--listen',
          `127.0.0.1:${port}`,
          '--group-label',
          LABEL,
          '--partition',
          `${i}/2`,
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      p.stdout?.pipe(log);
      p.stderr?.pipe(log);
      procs.push(p);
    }
    for (const u of urls)
      await waitFor('collector /readyz', async () => (await fetch(`${u}/readyz`)).ok, 30_000, 250);
    nc = await connect({ servers: nats.url });
    pub = new SimPublisher(nc, LABEL);
    await pub.init();
    await pub.presence(NODES);
  });

  after(async () => {
    for (const p of procs)
      if (p.pid && p.exitCode === null && p.signalCode === null) {
        p.kill('SIGTERM');
        await Promise.race([new Promise((r) => p.once('exit', r)), sleep(10_000)]);
      }
    await nc?.close().catch(() => undefined);
    await nats?.destroy();
  });

  it('each instance ingests only its share, and both name the segment fault from the merged view', async () => {
    const owned = [0, 1].map((i) => NODES.filter((n) => OWNER.get(n.name) === i).length);
    assert.ok(owned[0] && owned[1], `both partitions own nodes (${owned.join('/')})`);
    const named = async () => {
      const ds = await Promise.all([diagnosis(0), diagnosis(1)]);
      return ds.every(
        (d) => d.rootCauses.some((r) => r.id === SEGMENT_ID) && d.partitions?.missing.length === 0,
      )
        ? ds
        : undefined;
    };
    // A node-local verdict only the owner of one node can see: the cluster view shows it on both.
    const lone = NODES.find((n) => OWNER.get(n.name) === 1 && n.group === 'east_3') as (typeof NODES)[number];
    const vtepDown = `vtep-down:${lone.name}`;
    await pub.findings(lone.name, [
      {
        check: 'vtep-state',
        status: 'problem',
        severity: 'critical',
        kind: 'vtep-down',
        incident: null,
        node: lone.name,
        subject: 'host/flannel.1',
        summary: `flannel.1 is down on ${lone.name}`,
        evidence: ['flannel.1 state DOWN'],
        remediation: 'ip link set flannel.1 up',
      },
    ]);
    let ds: DiagnosisResponse[] | undefined;
    const end = Date.now() + 60_000;
    while (!ds && Date.now() < end) {
      await pub.round(NODES, ++round, segmentFault);
      await sleep(1500);
      ds = await named();
    }
    assert.ok(ds, 'segment named by both instances');
    for (const [i, d] of ds.entries()) {
      assert.deepEqual(d.partitions?.present, [0, 1], `instance ${i}`);
      assert.equal(d.partitions?.index, i);
      const rc = d.rootCauses.find((r) => r.id === SEGMENT_ID);
      assert.equal(rc?.kind, 'underlay-vxlan-filtered');
      // Its nodes are both racks' (some owned by each instance), nothing in the third rack.
      const expected = NODES.filter((n) => n.group !== 'east_3')
        .map((n) => n.name)
        .sort();
      assert.deepEqual(rc?.nodes, expected);
      // No other verdict: the pairs across the segment are its evidence, not node faults.
      assert.deepEqual(
        d.rootCauses.map((r) => r.id),
        [SEGMENT_ID],
      );
    }
    // Stop publishing, then every message published is ingested by exactly its owner.
    const expect = [0, 1].map((i) =>
      [...pub.sent].filter(([n]) => OWNER.get(n) === i).reduce((s, [, c]) => s + c, 0),
    );
    const total = (expect[0] ?? 0) + (expect[1] ?? 0);
    const counts = (await waitFor(
      'both instances to have consumed every message',
      async () => {
        const c = await Promise.all(
          [0, 1].map(async (i) => {
            const t = await metrics(i);
            return {
              probes:
                metric(t, 'vxdoctor_ingest_messages_total', 'kind="probes"') +
                metric(t, 'vxdoctor_ingest_messages_total', 'kind="findings"'),
              dup: metric(t, 'vxdoctor_ingest_duplicates_total'),
              skipped: metric(t, 'vxdoctor_collector_partition_skipped_messages'),
            };
          }),
        );
        return c.every((x) => x.probes - x.dup + x.skipped === total) ? c : undefined;
      },
      20_000,
      250,
    )) as Array<{ probes: number; dup: number; skipped: number }>;
    for (const i of [0, 1]) {
      assert.equal(counts[i]?.probes, expect[i], `instance ${i} ingested only its nodes' probes`);
      assert.equal(counts[i]?.skipped, expect[1 - i], `instance ${i} skipped the other's`);
    }
    // A node's detail on the instance that does not own it comes from its owner (findings included).
    for (const i of [0, 1]) {
      const r = await fetch(`${urls[i]}/api/v1/nodes/${encodeURIComponent(lone.name)}`);
      assert.equal(r.status, 200, `instance ${i}`);
      const nd = (await r.json()) as NodeDetail;
      assert.equal(nd.name, lone.name);
      assert.deepEqual(
        nd.findingList.map((f) => f.kind),
        ['vtep-down'],
        `instance ${i} shows the owner's findings`,
      );
    }
    const t0 = await metrics(0);
    assert.equal(metric(t0, 'vxdoctor_collector_partitions', 'state="present"'), 2);
    assert.equal(metric(t0, 'vxdoctor_collector_partitions', 'state="missing"'), 0);
  });

  it('an instance that dies is reported missing, with the nodes nobody judges', async () => {
    const dead = procs[1] as ChildProcess;
    dead.kill('SIGKILL');
    await new Promise((r) =>
      dead.exitCode !== null || dead.signalCode !== null ? r(null) : dead.once('exit', r),
    );
    const d = (await waitFor(
      'instance 0 to report partition 1 missing',
      async () => {
        await pub.round(NODES, ++round, segmentFault);
        const x = await diagnosis(0);
        return x.partitions?.missing.includes(1) ? x : undefined;
      },
      40_000,
      1000,
    )) as DiagnosisResponse;
    const orphans = NODES.filter((n) => OWNER.get(n.name) === 1).map((n) => n.name);
    assert.deepEqual(d.partitions?.present, [0]);
    assert.equal(d.partitions?.unjudgedNodes, orphans.length);
    assert.deepEqual([...(d.partitions?.unjudgedSample ?? [])].sort(), orphans.sort());
    const t = await metrics(0);
    assert.equal(metric(t, 'vxdoctor_collector_partitions', 'state="missing"'), 1);
    // `vxdoctor status` against the survivor says so and is not OK.
    const st = spawnSync(
      process.execPath,
      [join(ROOT, 'bin/vxdoctor.js'), 'status', '--collector', urls[0] as string],
      {
        encoding: 'utf8',
        timeout: 30_000,
      },
    );
    assert.match(
      st.stdout,
      new RegExp(`Collectors: +1/2 partitions answer; MISSING 1/2: ${orphans.length} nodes judged by nobody`),
    );
    assert.notEqual(st.status, 0);
    // The dead owner's node details: a clear 503 naming the partition, not a half-empty node.
    const r = await fetch(`${urls[0]}/api/v1/nodes/${encodeURIComponent(orphans[0] as string)}`);
    assert.equal(r.status, 503);
    assert.match(
      ((await r.json()) as { error: string }).error,
      /partition p1of2, owner of .* does not answer/,
    );
    assert.equal(metric(t, 'vxdoctor_collector_partition_unjudged_nodes'), orphans.length);
  });
});
