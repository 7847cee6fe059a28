/**
 * The flags the deploy files rely on: `--proc-root` (agent and inspect; the manifests mount the
 * host's /proc at /host/proc) reaches the inventory, and the inventory really reads namespaces
 * under it; `--js-replicas` is one definition shared by agent and collector; the collector's
 * `--durable-inactive`. Each also from its VXDOCTOR_* variable.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { command as inspectCommand } from '../../../agent/inspect.js';
import { collectSnapshot } from '../../../agent/inventory/index.js';
import { agentConfig, command as agentCommand, inventoryOptions } from '../../../agent/main.js';
import { command as collectorCommand, durableInactive } from '../../../collector/main.js';
import {
  ConfigError,
  JETSTREAM_FLAGS,
  jsReplicas,
  PROC_ROOT_FLAG,
  parseCommand,
  procRootOf,
} from '../../../shared/config.js';
import type { CommandRunner } from '../../../shared/exec.js';
import { silentLogger } from '../../../shared/logging.js';

const BASE = ['--node', 'n1', '--nats', 'nats://127.0.0.1:4222'];
const agent = (argv: string[], env: Record<string, string> = {}) =>
  agentConfig(parseCommand(agentCommand, [...BASE, ...argv], env));

test('--proc-root: default /proc, flag, VXDOCTOR_PROC_ROOT, absolute only, passed to the inventory', () => {
  assert.equal(agent([]).procRoot, '/proc');
  assert.equal(agent(['--proc-root=/host/proc']).procRoot, '/host/proc');
  assert.equal(agent(['--proc-root', '/host/proc/']).procRoot, '/host/proc');
  assert.equal(agent([], { VXDOCTOR_PROC_ROOT: '/host/proc' }).procRoot, '/host/proc');
  assert.equal(agent(['--proc-root=/x'], { VXDOCTOR_PROC_ROOT: '/host/proc' }).procRoot, '/x', 'flag wins');
  assert.throws(() => agent(['--proc-root=host/proc']), ConfigError);
  assert.equal(procRootOf('/'), '/');
  const opts = inventoryOptions(agent(['--proc-root=/host/proc', '--no-proc-netns']));
  assert.equal(opts.procRoot, '/host/proc');
  assert.equal(opts.procNetns, false);
});

test('inspect shares the --proc-root definition (kubectl exec ... vxdoctor inspect --proc-root=/host/proc)', () => {
  for (const spec of [agentCommand, inspectCommand])
    assert.equal(
      spec.flags.find((f) => f.name === 'proc-root'),
      PROC_ROOT_FLAG,
      spec.name,
    );
  assert.equal(
    parseCommand(inspectCommand, ['--proc-root=/host/proc'], {}).values['proc-root'],
    '/host/proc',
  );
});

test('the inventory discovers namespaces under --proc-root, not under /proc', async () => {
  // A fake proc tree: <root>/self/ns/net is this process's namespace (the host one) and
  // <root>/424242/ns/net is some other file: it is found as namespace pid:424242 only when the
  // inventory scans <root> (no such pid under the real /proc).
  const root = mkdtempSync(join(tmpdir(), 'vxd-procroot-'));
  try {
    mkdirSync(join(root, 'self', 'ns'), { recursive: true });
    symlinkSync('/proc/self/ns/net', join(root, 'self', 'ns', 'net'));
    mkdirSync(join(root, '424242', 'ns'), { recursive: true });
    writeFileSync(join(root, '424242', 'ns', 'net'), '');
    const cfg = agent([`--proc-root=${root}`, `--netns-dir=${join(root, 'none')}`]);
    const runner: CommandRunner = async () => ({
      code: 1,
      stdout: '',
      stderr: 'not in this test',
      failure: null,
      durationMs: 0,
    });
    const snap = await collectSnapshot(inventoryOptions(cfg), { runner, log: silentLogger() });
    const text = JSON.stringify(snap);
    assert.ok(text.includes(join(root, '424242', 'ns', 'net')), `the inventory looked under ${root}`);
    assert.ok(!text.includes('"pid:1"'), 'nothing from the real /proc');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('--js-replicas: one definition for agent and collector, default 1, 1..5, env', () => {
  for (const spec of [agentCommand, collectorCommand]) {
    const f = spec.flags.find((x) => x.name === 'js-replicas');
    assert.equal(f, JETSTREAM_FLAGS[0], `${spec.name} uses the shared definition`);
  }
  assert.equal(agent([]).jsReplicas, 1);
  assert.equal(agent(['--js-replicas=3']).jsReplicas, 3);
  assert.equal(agent([], { VXDOCTOR_JS_REPLICAS: '3' }).jsReplicas, 3);
  assert.throws(() => agent(['--js-replicas=0']), /--js-replicas/);
  assert.throws(() => agent(['--js-replicas=7']), /--js-replicas/);
  const c = parseCommand(collectorCommand, ['--nats', 'nats://x:4222', '--js-replicas', '3'], {});
  assert.equal(jsReplicas(c.values), 3);
  assert.equal(jsReplicas(parseCommand(collectorCommand, ['--nats', 'nats://x:4222'], {}).values), 1);
});

test('--durable-inactive: default 1h, at least 1m', () => {
  const v = parseCommand(collectorCommand, ['--nats', 'nats://x:4222'], {}).values;
  assert.equal(durableInactive(v['durable-inactive'] as number), 3_600_000);
  const e = parseCommand(collectorCommand, ['--nats', 'nats://x:4222'], { VXDOCTOR_DURABLE_INACTIVE: '2h' });
  assert.equal(e.values['durable-inactive'], 7_200_000);
  assert.throws(() => durableInactive(5000), /--durable-inactive/);
});
