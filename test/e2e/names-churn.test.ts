/**
 * Node churn and any node name, end to end on the lab with the shipped NATS configuration (TLS,
 * the agents' one identity from deploy/kubernetes/nats-auth.ts, run by the real nats-server):
 *  - the lab's agents run with FQDN-style node names (`--node ip-10-200-1-11.ec2.internal`, an
 *    underscore in one of them); the lab namespaces stay n1..n4;
 *  - three agents start; the fourth node's agent joins the running lab later with the same
 *    credentials: no configuration change, no restart of NATS, the collector or the others;
 *  - a fault on the joined node (host-fw-vxlan) is diagnosed like on the others, and the names
 *    appear in the diagnosis, /metrics, the page's API and `vxdoctor status`.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createWriteStream, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { generateAuth } from '../../deploy/kubernetes/nats-auth.js';
import type { DiagnosisResponse, NodeView } from '../../shared/schema.js';
import { Lab, labAllowed, labId } from '../lab/lab.js';
import { buildDist, freePort, OUTPUT, ROOT, waitFor, writeTestTls } from './harness.js';

const run = labAllowed();
const pexec = promisify(execFile);

/** The FQDN-style name each lab node's agent gets (built from its underlay address). */
function fqdn(node: string, underlay: string): string {
  const ip = underlay.replaceAll('.', '-');
  if (node === 'n2') return `compute-h${ip.split('-').slice(2).join('-')}.domain.tld`;
  if (node === 'n4') return `worker_${ip.split('-').at(-1)}.rack-b.lab`;
  return `ip-${ip}.ec2.internal`;
}

describe('churn and FQDN node names with the shipped NATS configuration', {
  skip: run ? false : 'needs root (network namespaces)',
}, () => {
  const dir = mkdtempSync(join(tmpdir(), 'vxd-churn-'));
  const procs: ChildProcess[] = [];
  let lab: Lab | null = null;
  let nats: ChildProcess | null = null;
  let collector: ChildProcess | null = null;
  let collectorUrl = '';
  let confHash = '';
  const auth = generateAuth();
  const names = new Map<string, string>();

  const spawnLogged = (
    name: string,
    cmd: string,
    args: string[],
    env?: Record<string, string>,
  ): ChildProcess => {
    mkdirSync(OUTPUT, { recursive: true });
    const log = createWriteStream(join(OUTPUT, `churn-${name}.log`));
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    p.stdout?.pipe(log);
    p.stderr?.pipe(log);
    procs.push(p);
    return p;
  };
  const startAgent = (node: string): ChildProcess => {
    const n = lab?.node(node);
    assert.ok(n);
    return spawnLogged(`agent-${node}`, 'ip', [
      'netns',
      'exec',
      n.netns,
      process.execPath,
      join(ROOT, 'bin', 'vxdoctor.js'),
      'agent',
      '--node',
      names.get(node) as string,
      '--nats',
      'tls://127.0.0.1:4222',
      '--nats-ca',
      join(dir, 'tls', 'ca.crt'),
      '--nats-nkey-seed-file',
      join(dir, 'agent.nk'),
      ...n.agentArgs,
      '--probe-key-file',
      join(dir, 'probe.key'),
      '--interval',
      '2s',
      '--inventory-interval',
      '10s',
    ]);
  };

  before(async () => {
    buildDist();
    writeTestTls(dir, 'ca');
    mkdirSync(join(dir, 'auth'));
    writeFileSync(join(dir, 'auth', 'auth.conf'), auth.authConf);
    writeFileSync(join(dir, 'agent.nk'), auth.agentSeed, { mode: 0o600 });
    writeFileSync(join(dir, 'probe.key'), `${'p'.repeat(16)}${Date.now().toString(16)}\n`, { mode: 0o600 });
    // The ConfigMap's nats.conf, pointed at the temp dir and loopback, one server (no routes).
    const cm = parseAllDocuments(readFileSync(join(ROOT, 'deploy/kubernetes/nats.yaml'), 'utf8'))
      .map((d) => d.toJS())
      .find((d) => d?.kind === 'ConfigMap');
    const port = await freePort();
    const conf = (cm.data['nats.conf'] as string)
      .replaceAll('/etc/nats/', `${dir}/`)
      .replaceAll('/data/jetstream', join(dir, 'js'))
      .replace('listen: 0.0.0.0:4222', `listen: 127.0.0.1:${port}`)
      .replace('http: 0.0.0.0:8222', `http: 127.0.0.1:${await freePort()}`)
      .replace(/\ncluster \{[\s\S]*?\n\}\n/, '\n');
    assert.doesNotMatch(conf, /cluster \{/);
    writeFileSync(join(dir, 'nats.conf'), conf);
    confHash = createHash('sha256')
      .update(readFileSync(join(dir, 'nats.conf')))
      .digest('hex');
    nats = spawnLogged('nats-server', 'nats-server', ['-c', join(dir, 'nats.conf')], {
      POD_NAME: 'vxdoctor-nats-0',
    });
    await waitFor(
      'nats-server listening',
      () => {
        if (nats?.exitCode !== null) throw new Error(`nats-server exited ${nats?.exitCode}`);
        return readFileSync(join(OUTPUT, 'churn-nats-server.log'), 'utf8').includes('Server is ready');
      },
      15_000,
      100,
    );
    lab = await Lab.up({ id: labId('vxn') });
    for (const n of lab.nodes) names.set(n.name, fqdn(n.name, n.underlay));
    await lab.relay(port);
    const cport = await freePort();
    collectorUrl = `http://127.0.0.1:${cport}`;
    collector = spawnLogged('collector', process.execPath, [
      join(ROOT, 'bin/vxdoctor.js'),
      'collector',
      '--nats',
      `tls://127.0.0.1:${port}`,
      '--nats-ca',
      join(dir, 'tls', 'ca.crt'),
      '--nats-user',
      'vxdoctor-collector',
      '--nats-password',
      auth.collectorPassword,
      '--listen',
      `127.0.0.1:${cport}`,
      '--presence-ttl',
      '12s',
    ]);
    await waitFor('collector /readyz', async () => (await fetch(`${collectorUrl}/readyz`)).ok, 60_000, 250);
  });

  after(async () => {
    for (const p of procs.splice(0).reverse()) {
      if (p.pid && p.exitCode === null && p.signalCode === null) {
        p.kill('SIGTERM');
        await new Promise<void>((r) => {
          const t = setTimeout(() => {
            p.kill('SIGKILL');
            r();
          }, 10_000);
          p.once('exit', () => {
            clearTimeout(t);
            r();
          });
        });
      }
    }
    await lab?.down().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });

  const nodesUp = async (): Promise<string[]> =>
    ((await (await fetch(`${collectorUrl}/api/v1/nodes`)).json()) as NodeView[])
      .filter((n) => n.state === 'up')
      .map((n) => n.name)
      .sort();

  it('a node joins with no configuration change or restart, and is diagnosed like the others', async () => {
    const first = ['n1', 'n2', 'n4'];
    const early = first.map(startAgent);
    const want3 = first.map((n) => names.get(n) as string).sort();
    await waitFor(
      'the first three agents up',
      async () => JSON.stringify(await nodesUp()) === JSON.stringify(want3),
      90_000,
      500,
    );
    const pids = [nats, collector, ...early].map((p) => p?.pid);
    // The fourth node joins: same flags, same credentials, nothing regenerated.
    const joinedAt = Date.now();
    startAgent('n3');
    const joined = names.get('n3') as string;
    const all = [...names.values()].sort();
    await waitFor(
      'the joined agent up',
      async () => JSON.stringify(await nodesUp()) === JSON.stringify(all),
      90_000,
      500,
    );
    const joinSecs = (Date.now() - joinedAt) / 1000;
    // Its probes reach the others and theirs reach it (pairs with it on the VXLAN path measured).
    await waitFor(
      'pairs with the joined node measured',
      async () => {
        const r = (await (await fetch(`${collectorUrl}/api/v1/pairs?path=vxlan`)).json()) as {
          pairs?: { src: string; dst: string; ok?: boolean | null; loss?: number | null }[];
        };
        const ps = (r.pairs ?? []).filter((p) => p.src === joined || p.dst === joined);
        return ps.length >= 6;
      },
      60_000,
      1000,
    );
    await lab?.fault('host-fw-vxlan');
    const rc = await waitFor(
      'host-firewall-vxlan on the joined node',
      async () => {
        const d = (await (await fetch(`${collectorUrl}/api/v1/diagnosis`)).json()) as DiagnosisResponse;
        return d.rootCauses.find((x) => x.kind === 'host-firewall-vxlan' && x.nodes.includes(joined));
      },
      90_000,
      500,
    );
    assert.deepEqual(rc?.nodes, [joined]);
    // Nothing was restarted, nothing reconfigured.
    assert.deepEqual(
      [nats, collector, ...early].map((p) => (p?.exitCode === null && p.signalCode === null ? p.pid : -1)),
      pids,
    );
    assert.equal(
      createHash('sha256')
        .update(readFileSync(join(dir, 'nats.conf')))
        .digest('hex'),
      confHash,
    );
    // The names everywhere: /metrics, the page's node API, `vxdoctor status`.
    const metrics = await (await fetch(`${collectorUrl}/metrics`)).text();
    for (const name of all)
      assert.ok(metrics.includes(`vxdoctor_agent_up{node="${name}"} 1`), `metrics: ${name}`);
    assert.match(
      metrics,
      new RegExp(
        `vxdoctor_rootcause\\{[^}]*kind="host-firewall-vxlan"[^}]*node="${joined.replaceAll('.', '\\.')}"`,
      ),
    );
    for (const name of all) {
      const r = await fetch(`${collectorUrl}/api/v1/nodes/${encodeURIComponent(name)}`);
      assert.equal(r.status, 200, name);
      assert.equal(((await r.json()) as NodeView).name, name);
    }
    const st = await pexec(
      process.execPath,
      [join(ROOT, 'bin/vxdoctor.js'), 'status', '--collector', collectorUrl, '-o', 'json'],
      {
        timeout: 30_000,
      },
    ).catch((e: { stdout: string }) => e); // exit 1: a critical root cause is active
    const text = String(st.stdout);
    for (const name of all) assert.ok(text.includes(`"${name}"`), `status: ${name}`);
    const human = await pexec(
      process.execPath,
      [join(ROOT, 'bin/vxdoctor.js'), 'status', '--collector', collectorUrl],
      {
        timeout: 30_000,
      },
    ).catch((e: { stdout: string }) => e);
    assert.ok(String(human.stdout).includes(joined), 'status text names the joined node');
    // `trace` between two dotted names reaches both agents (their trace subjects are encoded).
    const src = names.get('n1') as string;
    const tr = await pexec(
      process.execPath,
      [join(ROOT, 'bin/vxdoctor.js'), 'trace', src, joined, '--collector', collectorUrl, '-o', 'json'],
      { timeout: 60_000 },
    ).then(
      (r) => ({ code: 0, stdout: r.stdout }),
      (e: { code: number; stdout: string }) => ({ code: e.code, stdout: String(e.stdout) }),
    );
    assert.ok(tr.code === 0 || tr.code === 1, `trace exit ${tr.code} (4 = no agent answered): ${tr.stdout}`);
    const reply = JSON.parse(tr.stdout) as { src: string; dst: string; reverse?: { src: string } };
    assert.deepEqual([reply.src, reply.dst], [src, joined]);
    assert.equal(reply.reverse?.src, joined, "the joined node's agent answered its trace subject");
    writeFileSync(
      join(OUTPUT, 'churn-join.json'),
      `${JSON.stringify({ joinToUpSeconds: joinSecs, names: all }, null, 2)}\n`,
    );
    await lab?.clear();
  });
});
