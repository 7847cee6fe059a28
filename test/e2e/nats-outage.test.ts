/**
 * NATS outage with agents running on the lab: nats-server is stopped (SIGTERM) for 30 s and
 * restarted on the same port and store. Afterwards the stream holds every snapshot/findings
 * change and the outage window's probe rounds within the outbox bound, none twice.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import type { NodeSummary } from '../../shared/schema.js';
import { requireRoot } from '../lab/lab.js';
import { type LabAgents, StreamReader, sleep, startLabAgents, waitFor } from './harness.js';

const NODES = ['n1', 'n2', 'n3', 'n4'];
/** The summary shows the Docker VTEP down: its hop in an overlay chain (summaries carry no links). */
const vxlan0Down = (s: NodeSummary) =>
  s.chains.some((c) => c.hops.some((h) => h.dev === 'vxlan0' && h.operstate === 'DOWN'));
const OUTBOX_BYTES = 65536;
let env: LabAgents | null = null;
let reader: StreamReader | null = null;

after(async () => {
  await reader?.close();
  await env?.teardown();
});

/** Reads one agent metric through its /metrics inside the node namespace. */
async function agentMetric(node: string, name: string): Promise<number> {
  const r = await env?.lab.exec(node, [
    process.execPath,
    '-e',
    "fetch('http://127.0.0.1:9701/metrics').then(r=>r.text()).then(t=>process.stdout.write(t))",
  ]);
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(r?.stdout ?? '');
  if (!m) throw new Error(`${name} not in ${node}'s /metrics: ${r?.stderr}`);
  return Number(m[1]);
}

test('30 s NATS outage: outbox flushes in order, bounded, without duplicates', {
  timeout: 600_000,
}, async (t) => {
  if (!requireRoot(t)) return;
  env = await startLabAgents({
    id: 'vxd',
    name: 'nats-outage',
    extraArgs: ['--outbox-bytes', String(OUTBOX_BYTES)],
  });
  reader = await StreamReader.open(env.nats.url);
  const r = reader;
  await waitFor(
    'probes with results from every node',
    () => NODES.every((n) => r.of('probes', n).some((m) => m.results.length >= 3 * 3)),
    90_000,
  );

  const stopAt = Date.now();
  await env.nats.stop();
  await sleep(5000);
  // A change during the outage: n2's Docker VTEP goes down (snapshot and findings change).
  await env.lab.fault('vtep-down');
  await sleep(25_000);
  const restartAt = Date.now();
  await env.nats.restart();

  // Wait until every node published rounds sent after the restart (the outbox is empty by then).
  await waitFor(
    'rounds after restart',
    () => NODES.every((n) => r.of('probes', n).some((m) => m.at > restartAt + 3000)),
    60_000,
  );
  await waitFor(
    "n2's summary with vxlan0 down",
    () => r.of('summary', 'n2').some((m) => vxlan0Down(m.summary)),
    60_000,
  );
  await env.lab.clear();

  // No message twice; the JetStream de-dup header is the message id.
  const ids = r.out.map((x) => x.msg.id);
  assert.equal(new Set(ids).size, ids.length, 'a message arrived twice');
  for (const x of r.out) assert.equal(x.msgId, x.msg.id);

  for (const n of NODES) {
    const probes = r.of('probes', n);
    const rounds = probes.map((m) => m.round);
    assert.deepEqual(
      rounds,
      [...rounds].sort((a, b) => a - b),
      `${n}: rounds out of order`,
    );
    assert.equal(new Set(rounds).size, rounds.length, `${n}: a round twice`);
    // Outage rounds arrived (sent while the server was down, published after restart) ...
    const outage = probes.filter((m) => m.at > stopAt && m.at < restartAt);
    assert.ok(outage.length > 0, `${n}: no round from the outage window arrived`);
    // ... within the bound: what the outbox kept (bytes on the wire, the compact rows form)
    // fits in OUTBOX_BYTES, the rest was dropped, counted.
    const keptBytes = r.out
      .filter((x) => x.msg.type === 'probes' && x.msg.node === n && x.msg.at > stopAt && x.msg.at < restartAt)
      .reduce((s, x) => s + x.bytes, 0);
    assert.ok(keptBytes <= OUTBOX_BYTES, `${n}: ${keptBytes} outage bytes > bound`);
    const missing = (rounds.at(-1) ?? 0) - (rounds[0] ?? 0) + 1 - rounds.length;
    const dropped = await agentMetric(n, 'vxdoctor_agent_outbox_dropped_total');
    assert.equal(missing, dropped, `${n}: ${missing} rounds missing, ${dropped} dropped`);
    // Rounds after the gap are contiguous up to now (the gap, if any, is one run of oldest rounds).
    const gaps = rounds.slice(1).filter((x, i) => x !== (rounds[i] as number) + 1).length;
    assert.ok(gaps <= 1, `${n}: ${gaps} gaps in rounds`);
    // Drained: the outbox empties (a round or a change-driven report may be on its way right
    // now, so it is watched for a few seconds rather than read once).
    await waitFor(
      `${n}: outbox drained`,
      async () => (await agentMetric(n, 'vxdoctor_agent_outbox_bytes')) === 0,
      15_000,
    );
  }
  // The snapshot change made during the outage was published as it was taken then.
  const changed = r.of('summary', 'n2').find((m) => vxlan0Down(m.summary));
  assert.ok(changed && changed.at < restartAt, 'vtep-down snapshot was not taken during the outage');
  const findingsDuring = r.of('findings', 'n2').filter((m) => m.at > stopAt && m.at < restartAt);
  assert.ok(findingsDuring.length <= 1, 'findings are replaced in the outbox, not queued');
  const codes = await env.stopAgents();
  assert.deepEqual(codes, [0, 0, 0, 0]);
});
