/**
 * The Swarm incidents on a real Docker Swarm (test/lab/swarm.sh: four nodes in two racks, one
 * dockerd per node in its own namespaces, three managers and a worker, a user overlay with a
 * global busybox service). vxdoctor's agents run as processes in the node namespaces (network,
 * mount with the node's own /var/run/docker, UTS) against the real daemons' libnetwork state;
 * nats-server, the collector, Prometheus with the shipped rules and Alertmanager run on the
 * host's loopback.
 *
 * For each incident: inject -> /api/v1/diagnosis names the expected kind and place and nothing
 * else critical -> what real Docker does meanwhile is asserted (cross-rack container traffic,
 * nodes Down, no leader, tasks failing) -> the page reaches the webhook -> clear.
 * Timings go to test-output/swarm-timings.json.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import type { DiagnosisResponse, NodeView, RootCause, RootCauseKind } from '../../shared/schema.js';
import { labAllowed, labId } from '../lab/lab.js';
import { type SwarmFault, SwarmLab, type SwarmNode } from '../lab/swarm.js';
import { alertsByKind, buildDist, freePort, NatsServer, OUTPUT, ROOT, sleep, waitFor } from './harness.js';
import { Monitoring } from './monitoring.js';

const execFileP = promisify(execFile);

interface Expectation {
  kind: RootCauseKind;
  /** Rack segment (A<->B) rather than one node. */
  segment?: true;
}

const EXPECT: Array<[SwarmFault, Expectation]> = [
  ['tor-drop-vxlan', { kind: 'underlay-vxlan-filtered', segment: true }],
  ['control-ports-blocked', { kind: 'control-ports-blocked', segment: true }],
  ['missing-gwbridge', { kind: 'missing-gwbridge' }],
  ['host-fw-vxlan', { kind: 'host-firewall-vxlan' }],
  ['mtu-blackhole', { kind: 'underlay-mtu' }],
  ['mtu-fragneeded', { kind: 'underlay-mtu' }],
];

interface Timing {
  incident: string;
  node: string | null;
  diagnosisSeconds: number | null;
  webhookSeconds: number | null;
  recoverSeconds: number;
}

describe('swarm: real Docker Swarm incidents -> agents -> collector -> Alertmanager', {
  concurrency: false,
}, () => {
  let skip = false;
  let lab: SwarmLab | null = null;
  let nats: NatsServer | null = null;
  let collector: ChildProcess | null = null;
  let collectorUrl = '';
  const agents = new Map<string, ChildProcess>();
  const mon = new Monitoring();
  const alerts = alertsByKind();
  const timings: Timing[] = [];
  let keyDir = '';
  let natsNodePort = 0;
  let stackFigures: { buildSeconds: number; deploySeconds: number } | null = null;

  const diagnosis = async (): Promise<RootCause[]> =>
    ((await (await fetch(`${collectorUrl}/api/v1/diagnosis`)).json()) as DiagnosisResponse).rootCauses;
  const critical = async () => (await diagnosis()).filter((rc) => rc.severity === 'critical');
  const rackOf = (n: string) => lab!.node(n).rack;

  async function docker(node: string, args: string[]): Promise<string> {
    const r = await lab!.docker(node, args);
    if (r.code !== 0) throw new Error(`docker ${args.join(' ')} on ${node}: ${r.stderr.trim()}`);
    return r.stdout.trim();
  }
  /** The node's `web` container id and its address on the user overlay. */
  async function webContainer(node: string): Promise<{ id: string; ip: string }> {
    const id = (await docker(node, ['ps', '-q', '--filter', 'label=com.docker.swarm.service.name=web']))
      .split('\n')[0]
      ?.trim();
    if (!id) throw new Error(`no web container on ${node}`);
    const ip = await docker(node, [
      'inspect',
      '-f',
      '{{(index .NetworkSettings.Networks "labnet").IPAddress}}',
      id,
    ]);
    return { id, ip };
  }
  /** Overlay ping from a's web container to b's: true if answered. */
  async function overlayPing(a: string, b: string): Promise<boolean> {
    const [ca, cb] = await Promise.all([webContainer(a), webContainer(b)]);
    const r = await lab!.docker(a, ['exec', ca.id, 'ping', '-c', '2', '-W', '1', '-s', '56', cb.ip]);
    return r.code === 0;
  }
  async function swarmHealthy(): Promise<boolean> {
    const m = lab!.nodes.find((n) => n.role === 'manager')!.name;
    const nodes = await docker(m, ['node', 'ls', '--format', '{{.Status}}']).catch(() => '');
    const ready = nodes.split('\n').filter((s) => s === 'Ready').length;
    if (ready !== lab!.nodes.length) return false;
    const ps = await docker(m, [
      'service',
      'ps',
      'web',
      '--filter',
      'desired-state=running',
      '--format',
      '{{.CurrentState}}',
    ]);
    return ps.split('\n').filter((s) => s.startsWith('Running')).length === lab!.nodes.length;
  }

  async function startAgent(node: string): Promise<void> {
    const n = lab!.node(node);
    const argv = await lab!.nodeExec(node, [
      process.execPath,
      join(ROOT, 'bin', 'vxdoctor.js'),
      'agent',
      '--node',
      node,
      '--nats',
      `nats://127.0.0.1:${natsNodePort}`,
      // What the stack mounts: the node's own Docker namespaces (no /proc scan: the lab's
      // nodes share the host's PID namespace).
      '--netns-dir',
      '/var/run/docker/netns',
      '--no-proc-netns',
      '--underlay-if',
      'eth0',
      '--label',
      `rack=${n.rack}`,
      '--probe-key-file',
      join(keyDir, 'probe.key'),
      '--interval',
      '2s',
      '--inventory-interval',
      '4s',
    ]);
    const log = createWriteStream(join(OUTPUT, `swarm-agent-${node}.log`), { flags: 'a' });
    const p = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    p.stdout?.pipe(log);
    p.stderr?.pipe(log);
    agents.set(node, p);
  }
  async function stopAgent(node: string): Promise<void> {
    const p = agents.get(node);
    agents.delete(node);
    if (!p?.pid || p.exitCode !== null) return;
    const gone = new Promise<void>((r) => p.once('exit', () => r()));
    p.kill('SIGTERM');
    await Promise.race([gone, sleep(10_000)]);
    if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  }

  before(async () => {
    if (!labAllowed()) {
      skip = true;
      return;
    }
    mkdirSync(OUTPUT, { recursive: true });
    buildDist();
    keyDir = mkdtempSync(join(tmpdir(), 'vxd-swarm-key-'));
    writeFileSync(join(keyDir, 'probe.key'), `swarm-${Date.now().toString(16)}-probe-key\n`, { mode: 0o600 });
    lab = await SwarmLab.up({ id: labId('vxw') });
    nats = await NatsServer.start('swarm-nats-server');
    natsNodePort = 20000 + Math.floor(Math.random() * 20000);
    await lab.relay(nats.port, natsNodePort);
    const port = await freePort();
    collectorUrl = `http://127.0.0.1:${port}`;
    const log = createWriteStream(join(OUTPUT, 'swarm-collector.log'), { flags: 'a' });
    collector = spawn(
      process.execPath,
      [
        join(ROOT, 'bin/vxdoctor.js'),
        'collector',
        '--nats',
        nats.url,
        '--listen',
        `127.0.0.1:${port}`,
        '--presence-ttl',
        '12s',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    collector.stdout?.pipe(log);
    collector.stderr?.pipe(log);
    await waitFor('collector /readyz', async () => (await fetch(`${collectorUrl}/readyz`)).ok, 30_000);
    await mon.start({ collectorHostPort: `127.0.0.1:${port}`, logDir: OUTPUT });
  });

  after(async () => {
    writeFileSync(
      join(OUTPUT, 'swarm-timings.json'),
      `${JSON.stringify({ labUpSeconds: lab?.upSeconds ?? null, stack: stackFigures, incidents: timings }, null, 2)}\n`,
    );
    for (const n of [...agents.keys()]) await stopAgent(n);
    if (collector?.pid && collector.exitCode === null) collector.kill('SIGTERM');
    await mon.stop().catch(() => undefined);
    await lab?.down();
    await nats?.destroy();
    if (keyDir) rmSync(keyDir, { recursive: true, force: true });
  });

  it('the stack as docs/install-swarm.md deploys it: local image, secrets, global agents in the host network', async (t) => {
    if (skip) return t.skip('needs root');
    const m0 = lab!.nodes.find((n) => n.role === 'manager')!.name;
    // The image from deploy/docker (local base, no registry), built in the first manager's daemon.
    const t0 = Date.now();
    const build = await execFileP(
      'bash',
      [join(ROOT, 'deploy/docker/build-local.sh'), '--nats', 'nats:2.9.25-alpine'],
      {
        env: {
          ...process.env,
          DOCKER_HOST: `unix:///run/${lab!.id}/${m0}/docker.sock`,
          VXDOCTOR_DOCKER_CLI: '/usr/bin/docker',
        },
        timeout: 600_000,
        maxBuffer: 64 * 1024 * 1024,
      },
    );
    const tarball = build.stdout.trim().split('\n').at(-1)!;
    const buildSeconds = (Date.now() - t0) / 1000;
    const t1 = Date.now();
    await lab!.stack(tarball);
    await waitFor(
      'agent global on every node, collector 1/1, nats 1/1',
      async () => {
        const ls = await docker(m0, ['stack', 'services', 'vxdoctor', '--format', '{{.Name}} {{.Replicas}}']);
        const want = [
          `vxdoctor_agent ${lab!.nodes.length}/${lab!.nodes.length}`,
          'vxdoctor_collector 1/1',
          'vxdoctor_nats 1/1',
        ];
        return want.every((w) => ls.split('\n').includes(w));
      },
      120_000,
      1000,
    );
    const deploySeconds = (Date.now() - t1) / 1000;
    stackFigures = { buildSeconds, deploySeconds };
    t.diagnostic(
      `image build ${buildSeconds.toFixed(1)} s (${tarball}); stack deploy to all tasks running ${deploySeconds.toFixed(1)} s`,
    );
    // Prometheus's path: every agent answers on its node address :9701, seen from another node.
    for (const n of lab!.nodes) {
      const from = lab!.nodes.find((x) => x.rack !== n.rack)!;
      const body = await waitFor(
        `${n.name}'s agent /metrics at ${n.underlay}:9701`,
        async () => {
          const r = await execFileP('ip', [
            'netns',
            'exec',
            from.netns,
            'curl',
            '-sf',
            '--max-time',
            '3',
            `http://${n.underlay}:9701/metrics`,
          ]);
          return r.stdout.includes('vxdoctor_agent_inventory_duration_seconds') ? r.stdout : null;
        },
        60_000,
        1000,
      );
      assert.ok(body);
    }
    // The containerized agent (caps, read-only root, the stack's mounts) reads the node's real
    // libnetwork state: the user overlay's VTEP is in its inventory.
    const wk = lab!.nodes.find((n) => n.role === 'worker')!.name;
    const agentC = (
      await docker(wk, ['ps', '-q', '--filter', 'label=com.docker.swarm.service.name=vxdoctor_agent'])
    ).trim();
    const vni = Number(
      await docker(m0, [
        'network',
        'inspect',
        '-f',
        '{{index .Options "com.docker.network.driver.overlay.vxlanid_list"}}',
        'labnet',
      ]),
    );
    const r = await lab!.docker(wk, [
      'exec',
      agentC,
      'vxdoctor',
      'inspect',
      '--json',
      '--proc-root',
      '/host/proc',
    ]);
    const snap = (
      JSON.parse(r.stdout) as { snapshot: { node: string; vteps: Array<{ style: string; vni: number }> } }
    ).snapshot;
    assert.equal(snap.node, wk, 'the node name from {{.Node.Hostname}} / the UTS namespace');
    assert.ok(
      snap.vteps.some((v) => v.style === 'docker' && v.vni === vni),
      `labnet VNI ${vni} in ${JSON.stringify(snap.vteps)}`,
    );
    // Agents reach NATS through the routing mesh (127.0.0.1:4222) and the collector through the
    // service VIP: both are IPVS. Where the kernel has no IPVS they cannot connect.
    const ipvs = existsSync('/proc/sys/net/ipv4/vs');
    const health = async (n: SwarmNode) =>
      JSON.parse(
        (
          await execFileP('ip', [
            'netns',
            'exec',
            n.netns,
            'curl',
            '-sf',
            '--max-time',
            '3',
            'http://127.0.0.1:9701/healthz',
          ])
        ).stdout,
      ) as { nats: boolean };
    if (ipvs) {
      await waitFor(
        'every stack agent connected to the stack NATS',
        async () => (await Promise.all(lab!.nodes.map(health))).every((h) => h.nats),
        90_000,
        1000,
      );
    } else {
      assert.ok(
        (await Promise.all(lab!.nodes.map(health))).every((h) => !h.nats),
        'no routing mesh without IPVS',
      );
      t.diagnostic(
        'this kernel has no IPVS (/proc/sys/net/ipv4/vs): no routing mesh, no service VIPs; NATS and the collector in the stack cannot be reached, incidents run with agents as node processes',
      );
    }
    await lab!.stackRm();
  });

  it('healthy swarm: nodes Ready, web on every node, overlay across racks, no root cause', async (t) => {
    if (skip) return t.skip('needs root');
    t.diagnostic(`swarm lab up in ${lab!.upSeconds.toFixed(1)} s`);
    for (const n of lab!.nodes) await startAgent(n.name);
    assert.equal(lab!.nodes.filter((n) => n.role === 'manager').length % 2, 1, 'an odd number of managers');
    assert.ok(
      new Set(lab!.nodes.filter((n) => n.role === 'manager').map((n) => n.rack)).size > 1,
      'managers in both racks',
    );
    await waitFor('swarm healthy', swarmHealthy, 60_000, 1000);
    await waitFor(
      'every node up at the collector',
      async () => {
        const nodes = (await (await fetch(`${collectorUrl}/api/v1/nodes`)).json()) as NodeView[];
        return nodes.filter((n) => n.state === 'up').length === lab!.nodes.length;
      },
      60_000,
    );
    const [a, b] = [lab!.nodes[0]!.name, lab!.nodes.at(-1)!.name];
    assert.notEqual(rackOf(a), rackOf(b));
    assert.ok(await overlayPing(a, b), `overlay ping ${a} -> ${b} across racks`);
    await waitFor('diagnosis empty', async () => (await diagnosis()).length === 0, 60_000, 1000);
  });

  for (const [fault, exp] of EXPECT) {
    it(`${fault} -> ${exp.kind} (real Docker)`, async (t) => {
      if (skip) return t.skip('needs root');
      const node = lab!.faultNode(fault);
      await waitFor('swarm healthy before the fault', swarmHealthy, 120_000, 1000);
      await waitFor(
        'no root cause before the fault',
        async () => (await diagnosis()).length === 0,
        90_000,
        1000,
      );
      const t0 = Date.now();
      await lab!.fault(fault);
      try {
        const match = (rc: RootCause) =>
          rc.kind === exp.kind &&
          (exp.segment
            ? !!rc.segment && [rc.segment.from, rc.segment.to].sort().join() === 'A,B'
            : !!node && rc.nodes.includes(node));
        const found = (await waitFor(
          `${exp.kind} in the diagnosis`,
          async () => (await diagnosis()).find(match),
          60_000,
          500,
        )) as RootCause;
        const diagnosisSeconds = (Date.now() - t0) / 1000;
        assert.ok(found.remediation.length > 20 && found.evidence.length > 0, 'remediation and evidence');

        // What real Docker does meanwhile.
        const [a1, a2] = lab!.nodes.filter((n) => n.rack === 'A').map((n) => n.name);
        const b1 = lab!.nodes.find((n) => n.rack === 'B')!.name;
        if (fault === 'tor-drop-vxlan') {
          assert.equal(await overlayPing(a1!, b1), false, 'containers across racks cannot talk');
          assert.equal(await overlayPing(a1!, a2!), true, 'containers in one rack can');
          const plain = await execFileP('ip', [
            'netns',
            'exec',
            lab!.node(a1!).netns,
            'ping',
            '-c',
            '2',
            '-W',
            '1',
            lab!.node(b1).underlay,
          ]).then(
            () => true,
            () => false,
          );
          assert.equal(plain, true, 'plain ping between the nodes works');
          assert.ok(await swarmHealthy(), 'Docker sees nothing wrong: nodes Ready, tasks Running');
        }
        if (fault === 'control-ports-blocked') {
          const m0 = lab!.nodes.find((n) => n.role === 'manager' && n.rack === 'A')!.name;
          const down = await waitFor(
            'nodes of rack B Down on a rack-A manager',
            async () => {
              const ls = await docker(m0, ['node', 'ls', '--format', '{{.Hostname}} {{.Status}}']);
              const d = ls
                .split('\n')
                .filter((l) => l.endsWith(' Down'))
                .map((l) => l.split(' ')[0]!);
              return d.length > 0 && d.every((n) => rackOf(n) === 'B') ? d : null;
            },
            60_000,
            1000,
          );
          t.diagnostic(`Docker: ${(down ?? []).join(', ')} Down`);
          const mB = lab!.nodes.find((n) => n.role === 'manager' && n.rack === 'B')!.name;
          // Cut off from the two rack-A managers, the rack-B manager first times out, then says so.
          const noLeader = await waitFor(
            `${mB} without a leader`,
            async () => {
              const r = await lab!.docker(mB, ['node', 'ls']);
              return /does not have a leader/.test(r.stderr) ? r.stderr.trim() : null;
            },
            60_000,
            1000,
          );
          t.diagnostic(`Docker on ${mB}: ${noLeader}`);
          const rcs = await diagnosis();
          assert.equal(rcs.filter((rc) => rc.kind === 'control-ports-blocked').length, 1, 'one root cause');
          assert.ok(
            !rcs.some((rc) => rc.kind === 'node-unreachable' || rc.kind === 'agent-down'),
            'no node-level verdicts',
          );
        }
        if (fault === 'missing-gwbridge') {
          const m0 = lab!.nodes.find((n) => n.role === 'manager')!.name;
          await docker(m0, [
            'service',
            'create',
            '--detach',
            '--quiet',
            '--name',
            'api',
            '--replicas',
            String(lab!.nodes.length * 2),
            '--network',
            'labnet',
            'vxlab/busybox:1',
            'sleep',
            '1000000',
          ]);
          try {
            const failedOn = await waitFor(
              `api tasks failing on ${node}`,
              async () => {
                const ps = await docker(m0, [
                  'service',
                  'ps',
                  'api',
                  '--no-trunc',
                  '--format',
                  '{{.Node}}|{{.Error}}',
                ]);
                const bad = ps
                  .split('\n')
                  .filter((l) => l.startsWith(`${node}|`) && /gwbridge|network/.test(l));
                return bad.length > 0 ? bad[0] : null;
              },
              60_000,
              1000,
            );
            t.diagnostic(`Docker: ${failedOn}`);
          } finally {
            await docker(m0, ['service', 'rm', 'api']).catch(() => '');
          }
        }
        const rcs = await critical();
        assert.deepEqual(
          rcs.filter((rc) => rc.kind !== exp.kind).map((rc) => `${rc.kind} ${rc.nodes.join(',')}`),
          [],
          `nothing else critical for ${fault}`,
        );
        assert.equal(rcs.filter((rc) => rc.kind === exp.kind).length, 1, 'one fault, one root cause');
        const alertname = alerts.get(exp.kind);
        assert.ok(alertname, `an alert for ${exp.kind}`);
        await waitFor(
          `${alertname} at the webhook`,
          () => mon.firing(alertname!, t0).length > 0,
          90_000,
          500,
        );
        const webhookSeconds = (Date.now() - t0) / 1000;
        const tc = Date.now();
        await lab!.clear();
        await waitFor('swarm healthy after clear', swarmHealthy, 120_000, 1000);
        timings.push({
          incident: fault,
          node,
          diagnosisSeconds,
          webhookSeconds,
          recoverSeconds: (Date.now() - tc) / 1000,
        });
        t.diagnostic(
          `${fault}: diagnosis ${diagnosisSeconds.toFixed(1)} s, webhook ${webhookSeconds.toFixed(1)} s`,
        );
      } finally {
        await lab!.clear().catch(() => undefined);
      }
    });
  }

  it('dockerd stopped on one node: containers gone, agent up -> no agent or node verdict; Swarm says Down', async (t) => {
    if (skip) return t.skip('needs root');
    const node = lab!.faultNode('dockerd-stopped')!;
    await waitFor('swarm healthy', swarmHealthy, 120_000, 1000);
    await waitFor('no root cause', async () => (await diagnosis()).length === 0, 90_000, 1000);
    const t0 = Date.now();
    await lab!.fault('dockerd-stopped');
    try {
      const m0 = lab!.nodes.find((n) => n.role === 'manager' && n.name !== node)!.name;
      await waitFor(
        `${node} Down in docker node ls`,
        async () =>
          (await docker(m0, ['node', 'ls', '--format', '{{.Hostname}} {{.Status}}']))
            .split('\n')
            .includes(`${node} Down`),
        60_000,
        1000,
      );
      // The agent keeps reporting; the node's overlay namespaces are gone with its containers.
      await waitFor(
        `${node}'s snapshot without a Docker VTEP`,
        async () => {
          const r = await fetch(`${collectorUrl}/api/v1/nodes/${node}`);
          if (!r.ok) return false;
          const body = JSON.stringify(await r.json());
          return !/"style":"docker"/.test(body);
        },
        60_000,
        1000,
      ).catch(() => t.diagnostic('node detail still lists a docker VTEP'));
      await sleep(10_000);
      const rcs = await critical();
      assert.ok(!rcs.some((rc) => rc.kind === 'agent-down' && rc.nodes.includes(node)), 'the agent is up');
      assert.ok(!rcs.some((rc) => rc.kind === 'node-unreachable'), 'the node is reachable');
      assert.deepEqual(
        rcs.map((rc) => rc.kind),
        [],
        'no network root cause for a stopped engine',
      );
      timings.push({
        incident: 'dockerd-stopped',
        node,
        diagnosisSeconds: null,
        webhookSeconds: null,
        recoverSeconds: 0,
      });
      t.diagnostic(
        `dockerd-stopped: Swarm Down after ${((Date.now() - t0) / 1000).toFixed(1)} s; vxdoctor: no critical root cause`,
      );
    } finally {
      await lab!.clear();
    }
    await waitFor('swarm healthy after dockerd restart', swarmHealthy, 120_000, 1000);
  });

  it('agent stopped on one node (dockerd up) -> agent-down there -> VxdoctorAgentDown', async (t) => {
    if (skip) return t.skip('needs root');
    const node = lab!.nodes[1]!.name;
    await waitFor('no root cause', async () => (await diagnosis()).length === 0, 90_000, 1000);
    const t0 = Date.now();
    await stopAgent(node);
    const found = await waitFor(
      `agent-down on ${node}`,
      async () => (await diagnosis()).find((rc) => rc.kind === 'agent-down' && rc.nodes.includes(node)),
      60_000,
      500,
    );
    const diagnosisSeconds = (Date.now() - t0) / 1000;
    assert.ok(found);
    const rcs = await critical();
    assert.ok(
      !rcs.some((rc) => rc.kind === 'node-unreachable'),
      'a stopped agent is not an unreachable node',
    );
    assert.ok(await swarmHealthy(), 'Docker is unaffected');
    await waitFor(
      'VxdoctorAgentDown at the webhook',
      () => mon.firing('VxdoctorAgentDown', t0).length > 0,
      90_000,
      500,
    );
    timings.push({
      incident: 'agent-stopped',
      node,
      diagnosisSeconds,
      webhookSeconds: (Date.now() - t0) / 1000,
      recoverSeconds: 0,
    });
    await startAgent(node);
  });
});
