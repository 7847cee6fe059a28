/**
 * The Docker overlay side probe with a fake command runner (the I/O port): only the round's
 * targets are pinged, from the plan's container; fping output becomes per-container results;
 * a missing fping says so instead of reporting losses.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { dockerProbe, parseFping } from '../../../agent/heartbeat/side-probes.js';
import type { CommandRunner, RunResult } from '../../../shared/exec.js';
import { loopbackPresence } from './loopback.js';

const FPING = [
  '10.0.9.13 : xmt/rcv/%loss = 1/1/0%, min/avg/max = 0.20/0.25/0.30',
  '10.0.9.14 : xmt/rcv/%loss = 1/0/100%',
].join('\n');

test('fping summary: rtt seconds per address, null when lost; other lines ignored', () => {
  assert.deepEqual(
    [...parseFping(`${FPING}\nICMP Host Unreachable from 10.0.9.2\n`)],
    [
      ['10.0.9.13', 0.25 / 1000],
      ['10.0.9.14', null],
    ],
  );
});

test('docker probe: pings only the round targets from the plan container; lost and answered apart', async () => {
  const calls: string[][] = [];
  const result = (over: Partial<RunResult>): RunResult => ({
    code: 0,
    stdout: '',
    stderr: FPING,
    failure: null,
    durationMs: 1,
    ...over,
  });
  const runner: CommandRunner = async (cmd, args) => {
    calls.push([cmd, ...args]);
    return result({});
  };
  const plan = {
    source: '/run/docker/netns/ctr7',
    targets: [
      { ip: '10.0.9.13', peer: '192.0.2.3' },
      { ip: '10.0.9.14', peer: '192.0.2.4' },
      { ip: '10.0.9.15', peer: '192.0.2.5' }, // its node is not a target this round
    ],
  };
  const peers = [
    loopbackPresence('w3', '192.0.2.3', 1),
    loopbackPresence('w4', '192.0.2.4', 1),
    loopbackPresence('w5', '192.0.2.5', 1),
  ];
  const o = { node: 'w1', plan, peers, targets: ['w3', 'w4'], round: 4, roundTimeoutMs: 900, runner };
  const r = await dockerProbe(o);
  assert.equal(calls.length, 1);
  assert.deepEqual(calls[0], [
    'nsenter',
    '--net=/run/docker/netns/ctr7',
    'fping',
    '-c1',
    '-t800',
    '-q',
    '10.0.9.13',
    '10.0.9.14',
  ]);
  assert.equal(r.sent, 2);
  assert.equal(r.missing, false);
  assert.deepEqual(
    r.results.map((x) => [x.dst, x.target, x.answered, x.rttSeconds, x.path]),
    [
      ['w3', '10.0.9.13', true, 0.25 / 1000, 'overlay'],
      ['w4', '10.0.9.14', false, null, 'overlay'],
    ],
  );

  const missing = await dockerProbe({
    ...o,
    runner: async () => result({ code: null, failure: 'not-found', stderr: '' }),
  });
  assert.deepEqual(
    missing,
    { results: [], sent: 0, missing: true },
    'no fping: no losses reported, it says why',
  );
  assert.deepEqual(
    (await dockerProbe({ ...o, plan: { ...plan, source: null } })).results,
    [],
    'no local container',
  );
});
