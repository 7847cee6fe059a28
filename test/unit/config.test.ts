import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type CommandSpec,
  ConfigError,
  parseCommand,
  parseDuration,
  parseLabels,
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
