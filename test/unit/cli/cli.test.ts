import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { Registry } from 'prom-client';
import { buildApp, TraceTimeoutError } from '../../../collector/app.js';
import { command as statusCommand, exitCodeFor, fetchStatus, formatStatus } from '../../../cli/status.js';
import { command as traceCommand, formatTrace, run as runTrace } from '../../../cli/trace.js';
import { parseCommand } from '../../../shared/config.js';
import { silentLogger } from '../../../shared/logging.js';
import type { RootCause } from '../../../shared/schema.js';
import { fixtureCluster } from '../collector/fixture-state.js';
import { probe } from '../collector/synth.js';

describe('vxdoctor status / trace', () => {
  let app: FastifyInstance;
  let base = '';
  before(async () => {
    const { state, diagnoser } = fixtureCluster();
    app = await buildApp({
      state,
      registry: new Registry(),
      log: silentLogger(),
      natsConnected: () => true,
      diagnosis: () => diagnoser.current(),
      trace: async (r) => {
        if (r.src === 'n2') throw new TraceTimeoutError('no reply');
        return {
          src: r.src,
          dst: r.dst,
          results: [probe(r.src, r.dst, 'vxlan', 4789, 1, 0, { kind: 'lost-in-path' })],
          verdict: [`vxlan: left ${r.src}, never reached ${r.dst} (filtered between them)`],
        };
      },
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  });
  after(() => app.close());

  it('takes -o json as --output json', () => {
    assert.equal(parseCommand(statusCommand, ['-o', 'json', '--collector', 'x'], {}).values.output, 'json');
    assert.equal(parseCommand(statusCommand, ['-ojson'], {}).values.output, 'json');
    assert.equal(parseCommand(statusCommand, [], {}).values.output, 'text');
    assert.throws(() => parseCommand(statusCommand, ['-x'], {}), /unknown flag -x/);
  });

  it('exit code: 1 critical, 3 warnings only, 0 healthy', () => {
    const rc = (severity: RootCause['severity']) => ({ severity }) as RootCause;
    assert.equal(exitCodeFor([rc('warning'), rc('critical')]), 1);
    assert.equal(exitCodeFor([rc('warning'), rc('info')]), 3);
    assert.equal(exitCodeFor([rc('info')]), 0);
    assert.equal(exitCodeFor([]), 0);
  });

  it('status summarizes nodes, root causes with place and fix, pair health per path', async () => {
    const s = await fetchStatus(base, 2000);
    assert.equal(s.exitCode, 1);
    const text = formatStatus(s);
    assert.match(text, /Nodes: +3\/4 up, 1 expired \(n4\)/);
    assert.match(text, /NATS: +connected\n/);
    assert.match(text, /Root causes: +3 critical, 0 warning, 0 info/);
    assert.match(text, /\[critical\] underlay-vxlan-filtered at rack A <-> B/);
    assert.match(text, /fix: Allow UDP 4789/);
    assert.match(text, /\[critical\] agent-down at n4/);
    assert.match(text, /Pairs \(last 2 min\):/);
    assert.match(
      text,
      /vxlan +\d+\/12 ok, \d+ failing, loss \d+% of \d+ probes.*A->B loss 100% of \d+ probes/,
    );
    assert.match(text, /control +12\/12 ok, loss 0% of \d+ probes\n/);
    assert.match(text, /Status: +CRITICAL/);
  });

  it('trace prints the hop chain and the verdict; exit codes for failure, 404 and 504', async () => {
    const text = formatTrace({
      src: 'n1',
      dst: 'n3',
      results: [
        probe('n1', 'n3', 'vxlan', 4789, 1, 0, { kind: 'lost-in-path' }),
        probe('n1', 'n3', 'control', 7999, 1, 0, { kind: 'ok' }),
      ],
      verdict: ['vxlan: left n1, never reached n3'],
    });
    assert.match(
      text,
      /vxlan +10\.200\.2\.13:4789 +FAIL +sent yes -> left n1 yes -> arrived n3 NO -> answered NO/,
    );
    assert.match(text, /control +10\.200\.2\.13:7999 +OK +sent yes .* rtt 0\.50 ms/);
    assert.match(text, /verdict:\n {2}vxlan: left n1, never reached n3/);
    const both = formatTrace({
      src: 'n1',
      dst: 'n3',
      results: [probe('n1', 'n3', 'control', 7999, 1, 0, { kind: 'ok' })],
      verdict: ['control: ok'],
      reverse: {
        src: 'n3',
        dst: 'n1',
        results: [],
        verdict: [],
        error: 'no agent answers on vxdoctor.trace.v1.n3',
      },
    });
    assert.match(
      both,
      /^trace n1 -> n3\n[\s\S]*\n\ntrace n3 -> n1\nerror: no agent answers on vxdoctor\.trace\.v1\.n3\n$/,
    );
    const argv = (src: string, dst: string) =>
      parseCommand(traceCommand, [src, dst, '--collector', base, '--output', 'json'], {});
    const captured: string[] = [];
    const io = { out: (c: string) => captured.push(c), err: (c: string) => captured.push(c) };
    assert.equal(await runTrace(argv('n1', 'n3'), io), 1);
    assert.equal(await runTrace(argv('n1', 'n9'), io), 2);
    assert.equal(await runTrace(argv('n2', 'n3'), io), 4);
    assert.match(captured.join(''), /unknown node n9/);
    assert.match(captured.join(''), /"verdict"/);
  });
});
