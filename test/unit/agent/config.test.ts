import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { agentConfig, command, readProbeKey } from '../../../agent/main.js';
import { ConfigError, parseCommand } from '../../../shared/config.js';

const dir = mkdtempSync(join(tmpdir(), 'vxd-agent-cfg-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const parse = (argv: string[]) => agentConfig(parseCommand(command, argv, {}));
const base = ['--node', 'n1', '--nats', 'nats://127.0.0.1:4222'];

test('defaults follow docs/contracts.md', () => {
  const c = parse(base);
  assert.equal(c.node, 'n1');
  assert.deepEqual(c.nats.servers, ['nats://127.0.0.1:4222']);
  assert.deepEqual(c.netnsDirs, ['/var/run/netns', '/var/run/docker/netns']);
  assert.equal(c.procNetns, true);
  assert.equal(c.intervalMs, 5000);
  assert.equal(c.inventoryIntervalMs, 30_000);
  assert.equal(c.probePort, 7999);
  assert.equal(c.probeVni, 16777000);
  assert.equal(c.groupLabel, 'rack');
  assert.equal(c.fullMeshMax, 64);
  assert.deepEqual(c.listen, { host: '127.0.0.1', port: 9701 });
  assert.equal(c.probeKey, null);
  assert.equal(c.probesEncoding, 'rows');
});

test('--probes-encoding: rows or json, anything else is a configuration error naming the flag', () => {
  assert.equal(parse([...base, '--probes-encoding', 'json']).probesEncoding, 'json');
  assert.equal(
    agentConfig(parseCommand(command, base, { VXDOCTOR_PROBES_ENCODING: 'json' })).probesEncoding,
    'json',
  );
  assert.throws(
    () => parse([...base, '--probes-encoding', 'protobuf']),
    (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.match((e as Error).message, /--probes-encoding: "protobuf" is not rows or json/);
      return true;
    },
  );
});

test('lab agent arguments parse', () => {
  const c = parse([
    ...base,
    '--netns-dir',
    '/run/vxd/n1/netns',
    '--netns-dir',
    '/run/vxd/n1/docker-netns',
    '--no-proc-netns',
    '--underlay-if',
    'eth0',
    '--label',
    'rack=A',
    '--interval',
    '2s',
  ]);
  assert.deepEqual(c.netnsDirs, ['/run/vxd/n1/netns', '/run/vxd/n1/docker-netns']);
  assert.equal(c.procNetns, false);
  assert.equal(c.underlayIf, 'eth0');
  assert.deepEqual(c.labels, { rack: 'A' });
  assert.equal(c.intervalMs, 2000);
});

const rejects = (argv: string[], flag: RegExp) =>
  assert.throws(
    () => parse(argv),
    (e: unknown) => e instanceof ConfigError && flag.test(e.message),
  );

test('bad config names the flag', () => {
  rejects(['--node', 'n1..x', '--nats', 'nats://a:1'], /--node/);
  rejects(['--node', `${'a'.repeat(64)}.x`, '--nats', 'nats://a:1'], /--node/);
  // FQDN-style node names (EKS, kubeadm with FQDN hostnames) are node names.
  assert.equal(
    parse(['--node', 'ip-10-0-1-5.ec2.internal', '--nats', 'nats://a:1']).node,
    'ip-10-0-1-5.ec2.internal',
  );
  rejects(['--node', 'n1'], /--nats/);
  rejects([...base, '--probe-port', '70000'], /--probe-port/);
  rejects([...base, '--interval', 'soon'], /--interval/);
  rejects([...base, '--listen', 'nohost'], /--listen/);
  rejects([...base, '--label', 'rack'], /--label/);
  rejects([...base, '--log-level', 'loud'], /--log-level/);
  rejects([...base, '--nats-creds-file', join(dir, 'missing.creds')], /--nats-creds-file/);
  rejects([...base, '--nats-cert', join(dir, 'missing.pem')], /--nats-cert/);
});

test('probe key file: missing, empty, world-readable, short are errors; 0600 is read', () => {
  const k = join(dir, 'key');
  assert.throws(() => readProbeKey(join(dir, 'nope')), /--probe-key-file: cannot read .*ENOENT/);
  writeFileSync(k, '\n', { mode: 0o600 });
  assert.throws(() => readProbeKey(k), /--probe-key-file: .* is empty/);
  writeFileSync(k, 'a'.repeat(32));
  chmodSync(k, 0o644);
  assert.throws(() => readProbeKey(k), /world-readable/);
  chmodSync(k, 0o600);
  assert.equal(readProbeKey(k).toString(), 'a'.repeat(32));
  writeFileSync(k, 'short');
  assert.throws(() => readProbeKey(k), /fewer than 16/);
  rejects([...base, '--probe-key-file', join(dir, 'nope')], /--probe-key-file/);
});

test('probe key file: binary bytes (head -c 32 /dev/urandom) are kept exactly, only edge white space is dropped', () => {
  const k = join(dir, 'binkey');
  // Invalid UTF-8 on purpose: decoding would turn these into U+FFFD and collapse keys.
  const raw = Buffer.from([
    0xff,
    0xfe,
    0x80,
    0x81,
    0xc3,
    0x28,
    0x00,
    0x0a,
    0x20,
    ...Array(16).fill(0x9f),
    0x01,
  ]);
  writeFileSync(k, Buffer.concat([Buffer.from(' \n'), raw, Buffer.from('\n')]), { mode: 0o600 });
  assert.deepEqual(readProbeKey(k), raw);
  const other = Buffer.from(raw);
  other[0] = 0xfd;
  writeFileSync(k, other, { mode: 0o600 });
  assert.notDeepEqual(readProbeKey(k), raw, 'two keys differing in a non-UTF-8 byte stay different');
});
