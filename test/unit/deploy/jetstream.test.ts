/**
 * JetStream objects as the deploy files ask for them, against real nats-servers (no root):
 * `--js-replicas` reaches the stream and both KV buckets (a 3-server cluster on 127.0.0.1, like
 * the NATS StatefulSet, and the default 1 on a single server), and the collector's durable
 * consumer carries an `inactive_threshold` (deploy/kubernetes/collector.yaml names it after the
 * pod, which changes on every rollout), also set on a durable an older version created without.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AckPolicy, DeliverPolicy, type JetStreamManager, jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { connectNats } from '../../../agent/publish/nats.js';
import { DURABLE_INACTIVE_MS } from '../../../collector/consumer.js';
import { startCollector } from '../../../collector/runtime.js';
import { KV_ROOTCAUSES } from '../../../shared/nats.js';
import { silentLogger } from '../../../shared/logging.js';
import { KV_NODES, STREAM_NAME } from '../../../shared/subjects.js';
import { freePort, NatsServer, waitFor } from '../../e2e/harness.js';

const log = silentLogger();
const NS = 1e6; // ns per ms

/** Three nats-servers routed into one JetStream cluster (as deploy/kubernetes/nats.yaml). */
async function startCluster(): Promise<{ urls: string[]; stop(): Promise<void> }> {
  const ports = await Promise.all([0, 1, 2].map(() => freePort()));
  const cports = await Promise.all([0, 1, 2].map(() => freePort()));
  const dirs = [0, 1, 2].map(() => mkdtempSync(join(tmpdir(), 'vxd-jsc-')));
  const routes = cports.map((p) => `nats://127.0.0.1:${p}`).join(',');
  const procs: ChildProcess[] = ports.map((p, i) =>
    spawn(
      'nats-server',
      [
        ...['-js', '-sd', dirs[i] as string, '-a', '127.0.0.1', '-p', String(p), '-n', `vxd-s${i}`],
        ...['--cluster_name', 'vxd', '--cluster', `nats://127.0.0.1:${cports[i]}`, '--routes', routes],
      ],
      { stdio: 'ignore' },
    ),
  );
  const urls = ports.map((p) => `nats://127.0.0.1:${p}`);
  const stop = async () => {
    for (const p of procs) if (p.pid && p.exitCode === null) process.kill(p.pid, 'SIGTERM');
    await new Promise((r) => setTimeout(r, 300));
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  };
  try {
    // Ready when the meta leader is elected: JetStream account info answers.
    await waitFor(
      'JetStream cluster meta leader',
      async () => {
        const nc = await connect({ servers: urls, timeout: 500, reconnect: false });
        try {
          await jetstreamManager(nc, { timeout: 1000 });
          return true;
        } finally {
          await nc.close();
        }
      },
      20_000,
      200,
    );
  } catch (err) {
    await stop();
    throw err;
  }
  return { urls, stop };
}

async function replicasOf(jsm: JetStreamManager, stream: string): Promise<number> {
  return (await jsm.streams.info(stream)).config.num_replicas;
}

function collector(servers: string[], extra: { jsReplicas?: number; durable?: string; inactiveMs?: number }) {
  return startCollector({
    nats: servers,
    listenHost: '127.0.0.1',
    listenPort: 0,
    groupLabel: 'rack',
    windowMs: 60_000,
    presenceTtlMs: 30_000,
    durable: extra.durable ?? 'vxdoctor-collector-test',
    ...(extra.jsReplicas ? { jsReplicas: extra.jsReplicas } : {}),
    ...(extra.inactiveMs ? { durableInactiveMs: extra.inactiveMs } : {}),
    log,
  });
}

/** Waits until the collector has created its durable, then returns its configuration. */
const durableOf = (jsm: JetStreamManager, name: string) =>
  waitFor(
    `durable ${name}`,
    async () => (await jsm.consumers.info(STREAM_NAME, name).catch(() => undefined))?.config,
    15_000,
    100,
  );

describe('JetStream replicas and the durable inactive_threshold, real nats-server', () => {
  let single: NatsServer;
  let nc: NatsConnection;
  let jsm: JetStreamManager;

  before(async () => {
    single = await NatsServer.start('unit-jetstream-nats-server');
    nc = await connect({ servers: single.url });
    jsm = await jetstreamManager(nc);
  });
  after(async () => {
    await nc?.close();
    await single?.destroy();
  });

  it('single server, defaults: stream and buckets R1, durable removed after 1 h unused', async () => {
    const c = await collector([single.url], {});
    try {
      const cfg = await durableOf(jsm, 'vxdoctor-collector-test');
      assert.ok(cfg);
      assert.equal(cfg.inactive_threshold, 60 * 60 * 1000 * NS);
      assert.equal(DURABLE_INACTIVE_MS, 3_600_000);
      assert.equal(cfg.ack_policy, AckPolicy.Explicit);
      await waitFor(
        'root cause bucket',
        async () => (await jsm.streams.info(`KV_${KV_ROOTCAUSES}`)) && true,
        15_000,
        100,
      );
      await waitFor(
        'presence bucket',
        async () => (await jsm.streams.info(`KV_${KV_NODES}`)) && true,
        15_000,
        100,
      );
      assert.equal(await replicasOf(jsm, STREAM_NAME), 1);
      assert.equal(await replicasOf(jsm, `KV_${KV_ROOTCAUSES}`), 1);
      assert.equal(await replicasOf(jsm, `KV_${KV_NODES}`), 1);
    } finally {
      await c.stop();
    }
  });

  it('a durable created without a threshold (older version) gets one, keeping its position', async () => {
    await jsm.consumers.add(STREAM_NAME, {
      durable_name: 'vxdoctor-collector-old',
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
    });
    assert.equal(
      (await jsm.consumers.info(STREAM_NAME, 'vxdoctor-collector-old')).config.inactive_threshold ?? 0,
      0,
    );
    const c = await collector([single.url], { durable: 'vxdoctor-collector-old', inactiveMs: 120_000 });
    try {
      await waitFor(
        'inactive_threshold set on the old durable',
        async () =>
          (await jsm.consumers.info(STREAM_NAME, 'vxdoctor-collector-old')).config.inactive_threshold ===
          120_000 * NS,
        15_000,
        100,
      );
      const cfg = (await jsm.consumers.info(STREAM_NAME, 'vxdoctor-collector-old')).config;
      assert.equal(cfg.deliver_policy, DeliverPolicy.All, 'same consumer, not recreated');
    } finally {
      await c.stop();
    }
  });

  it('a single server refuses 3 replicas: the value reaches the server (it is not dropped)', async () => {
    const s = await NatsServer.start('unit-jetstream-nats-server-2');
    try {
      const conn = await connectNats({ servers: [s.url], name: 't' }, log, {
        replicas: 3,
        presenceTtlMs: 30_000,
      });
      try {
        const m = await jetstreamManager(conn);
        await assert.rejects(m.streams.info(STREAM_NAME), /stream not found/);
      } finally {
        await conn.close();
      }
    } finally {
      await s.destroy();
    }
  });

  it('3-server cluster, --js-replicas 3: agent-created stream and presence bucket, collector buckets, all R3', async () => {
    const cluster = await startCluster();
    let cnc: NatsConnection | null = null;
    try {
      // The agent comes first (as it may in the lab or on Swarm): it creates the stream and the
      // presence bucket at connect.
      const agentNc = await connectNats({ servers: cluster.urls, name: 'agent' }, log, {
        replicas: 3,
        presenceTtlMs: 30_000,
      });
      cnc = await connect({ servers: cluster.urls });
      const cjsm = await jetstreamManager(cnc);
      assert.equal(await replicasOf(cjsm, STREAM_NAME), 3);
      assert.equal(await replicasOf(cjsm, `KV_${KV_NODES}`), 3);
      await agentNc.close();
      const c = await collector(cluster.urls, { jsReplicas: 3 });
      try {
        await durableOf(cjsm, 'vxdoctor-collector-test');
        await waitFor(
          'root cause bucket',
          async () => (await cjsm.streams.info(`KV_${KV_ROOTCAUSES}`)) && true,
          15_000,
          100,
        );
        assert.equal(await replicasOf(cjsm, `KV_${KV_ROOTCAUSES}`), 3);
      } finally {
        await c.stop();
      }
    } finally {
      await cnc?.close();
      await cluster.stop();
    }
  });
});
