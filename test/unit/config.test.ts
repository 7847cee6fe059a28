import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type CommandSpec,
  ConfigError,
  natsPassword,
  parseCommand,
  parseDuration,
  parseLabels,
  parseListen,
} from '../../shared/config.js';

const spec: CommandSpec = {
  name: 'agent',
  usage: 'vxdoctor agent',
  summary: 'x',
  flags: [
    { name: 'node', type: 'string', help: 'node name', required: true },
    { name: 'interval', type: 'duration', help: 'round', default: '5s' },
    { name: 'netns-dir', type: 'list', help: 'dirs', default: ['/var/run/netns'] },
    { name: 'proc-netns', type: 'bool', help: 'scan /proc', default: true },
  ],
};

describe('parseCommand', () => {
  it('reads flags, defaults and --no- booleans', () => {
    const p = parseCommand(
      spec,
      ['--node', 'n1', '--netns-dir=/a', '--netns-dir', '/b', '--no-proc-netns'],
      {},
    );
    assert.equal(p.values.node, 'n1');
    assert.equal(p.values.interval, 5000);
    assert.deepEqual(p.values['netns-dir'], ['/a', '/b']);
    assert.equal(p.values['proc-netns'], false);
  });
  it('reads VXDOCTOR_* variables and lets the command line win', () => {
    const env = { VXDOCTOR_NODE: 'env-node', VXDOCTOR_INTERVAL: '2s', VXDOCTOR_NETNS_DIR: '/x,/y' };
    const p = parseCommand(spec, ['--interval', '750ms'], env);
    assert.equal(p.values.node, 'env-node');
    assert.equal(p.values.interval, 750);
    assert.deepEqual(p.values['netns-dir'], ['/x', '/y']);
  });
  it('names the flag on bad input', () => {
    assert.throws(
      () => parseCommand(spec, ['--node', 'n', '--interval', 'soon'], {}),
      /--interval: not a duration/,
    );
    assert.throws(() => parseCommand(spec, ['--bogus'], {}), ConfigError);
    assert.throws(() => parseCommand(spec, [], {}), /--node is required \(or set VXDOCTOR_NODE\)/);
    assert.throws(() => parseCommand(spec, ['--node', 'n', 'extra'], {}), /unexpected argument/);
  });
  it('parses durations and labels', () => {
    assert.equal(parseDuration('2m'), 120_000);
    assert.equal(parseDuration('1.5'), 1500);
    assert.deepEqual(parseLabels(['rack=A', 'zone=z1']), { rack: 'A', zone: 'z1' });
    assert.throws(() => parseLabels(['rack']), /key=value/);
  });
});

describe('natsPassword', () => {
  const files: Record<string, string> = { '/s/pw': 'hunter2\n', '/s/crlf': 'a b\r\n', '/s/empty': '\n' };
  const read = (f: string) => {
    const t = files[f];
    if (t === undefined) throw new Error('ENOENT: no such file');
    return t;
  };
  it('reads the file without its trailing newline, keeps inner spaces', () => {
    assert.equal(natsPassword({ 'nats-password-file': '/s/pw' }, read), 'hunter2');
    assert.equal(natsPassword({ 'nats-password-file': '/s/crlf' }, read), 'a b');
  });
  it('passes --nats-password through; neither gives undefined', () => {
    assert.equal(natsPassword({ 'nats-password': 'x\n' }, read), 'x\n');
    assert.equal(natsPassword({}, read), undefined);
  });
  it('rejects both, an unreadable file and an empty one, naming the flag', () => {
    assert.throws(
      () => natsPassword({ 'nats-password': 'x', 'nats-password-file': '/s/pw' }, read),
      (e: Error) => e instanceof ConfigError && /one, not both/.test(e.message),
    );
    assert.throws(
      () => natsPassword({ 'nats-password-file': '/s/missing' }, read),
      (e: Error) =>
        e instanceof ConfigError && /--nats-password-file: cannot read \/s\/missing/.test(e.message),
    );
    assert.throws(
      () => natsPassword({ 'nats-password-file': '/s/empty' }, read),
      (e: Error) => e instanceof ConfigError && /is empty/.test(e.message),
    );
  });
});

describe('parseListen (agent and collector --listen)', () => {
  it('takes HOST:PORT, [IPV6]:PORT and :PORT (every IPv4 address)', () => {
    assert.deepEqual(parseListen('0.0.0.0:9701'), { host: '0.0.0.0', port: 9701 });
    assert.deepEqual(parseListen('127.0.0.1:9700'), { host: '127.0.0.1', port: 9700 });
    assert.deepEqual(parseListen('node-7.example:8123'), { host: 'node-7.example', port: 8123 });
    assert.deepEqual(parseListen('[::1]:80'), { host: '::1', port: 80 });
    assert.deepEqual(parseListen('[fe80::1:2]:9701'), { host: 'fe80::1:2', port: 9701 });
    assert.deepEqual(parseListen(':9700'), { host: '0.0.0.0', port: 9700 });
    assert.deepEqual(parseListen('127.0.0.1:0'), { host: '127.0.0.1', port: 0 });
  });
  it('refuses anything else with ConfigError naming the flag and the value', () => {
    for (const bad of ['9700', 'a:99999', 'host:', 'a:b:80', '[::1]80', '[]:80', 'host:80x', ''])
      assert.throws(
        () => parseListen(bad),
        (e: unknown) =>
          e instanceof ConfigError && e.message.includes('--listen') && e.message.includes(`"${bad}"`),
        bad,
      );
    assert.throws(() => parseListen('::1:80'), /in brackets/);
  });
});
