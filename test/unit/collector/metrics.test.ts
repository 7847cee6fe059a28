import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { Gauge, Registry } from 'prom-client';
import {
  CollectorRegistry,
  nodesLabel,
  registerCollectorMetrics,
  renderFamily,
} from '../../../collector/metrics/index.js';
import { ROOT_CAUSE_KINDS, type RootCause } from '../../../shared/schema.js';
import { fixtureCluster } from './fixture-state.js';

const GOLDEN = new URL('../../fixtures/collector/metrics.golden.txt', import.meta.url);

async function render(
  o: { pageUrl?: string; rootCauses?: (rcs: RootCause[]) => RootCause[]; registry?: Registry } = {},
): Promise<string> {
  const { state, ingest, diagnoser } = fixtureCluster();
  const registry = o.registry ?? new Registry();
  registerCollectorMetrics(registry, {
    state,
    ingest,
    rootCauses: () => (o.rootCauses ?? ((x) => x))(diagnoser.current().rootCauses),
    natsConnected: () => true,
    ...(o.pageUrl ? { pageUrl: o.pageUrl } : {}),
  });
  // The build labels differ between machines and releases; the golden file pins the rest.
  return (await registry.metrics()).replace(
    /vxdoctor_build_info\{version="[^"]*",component="(\w+)",nodejs="[^"]*"\}/,
    'vxdoctor_build_info{version="V",component="$1",nodejs="N"}',
  );
}

describe('collector /metrics', () => {
  it('matches the golden file (fixed clock, synthetic state)', async () => {
    const text = await render();
    if (process.env.UPDATE_GOLDEN === '1') writeFileSync(GOLDEN, text);
    assert.ok(existsSync(GOLDEN), 'golden file missing: run with UPDATE_GOLDEN=1');
    assert.equal(text, readFileSync(GOLDEN, 'utf8'));
  });

  it('pre-sets every kind x severity x scope, counts the active root causes, passes promtool', async () => {
    const text = await render();
    for (const kind of ROOT_CAUSE_KINDS) {
      assert.match(
        text,
        new RegExp(`vxdoctor_rootcause_active\\{kind="${kind}",severity="info",scope="cluster"\\} 0`),
      );
    }
    assert.match(
      text,
      /vxdoctor_rootcause_active\{kind="underlay-vxlan-filtered",severity="critical",scope="segment"\} 1/,
    );
    assert.match(text, /vxdoctor_rootcause_active\{kind="agent-down",severity="critical",scope="node"\} 1/);
    assert.match(
      text,
      /vxdoctor_rootcause_active\{kind="missing-gwbridge",severity="critical",scope="node"\} 1/,
    );
    assert.match(text, /vxdoctor_segment_loss_ratio\{from="A",to="B",path="vxlan"\} 1/);
    assert.match(text, /vxdoctor_segment_loss_ratio\{from="A",to="A",path="vxlan"\} 0/);
    assert.match(text, /vxdoctor_agent_up\{node="n4"\} 0/);
    assert.match(text, /vxdoctor_nodes\{state="expired"\} 1/);
    assert.match(text, /vxdoctor_ingest_rejected_total\{reason="malformed-json"\} 1/);
    assert.match(text, /vxdoctor_ingest_rejected_total\{reason="bad-subject"\} 1/);
    assert.match(text, /vxdoctor_findings\{node="n2",check="gwbridge",severity="critical"\} 1/);
    // No per-pair series.
    assert.doesNotMatch(text, /dst="/);
    const out = execFileSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    assert.equal(out.trim(), '');
  });

  it('one vxdoctor_rootcause series per active root cause with its place and page link, bounded', async () => {
    const text = await render({ pageUrl: 'https://vx.example.com/ui/' });
    const lines = text.split('\n').filter((l) => l.startsWith('vxdoctor_rootcause{'));
    assert.equal(lines.length, 3, lines.join('\n'));
    assert.ok(
      lines.includes(
        'vxdoctor_rootcause{id="underlay-vxlan-filtered:rack:A:B",kind="underlay-vxlan-filtered",severity="critical",scope="segment",node="",nodes="",from="A",to="B",group_label="rack",page="https://vx.example.com/ui/#rc-underlay-vxlan-filtered%3Arack%3AA%3AB"} 1',
      ),
      lines.join('\n'),
    );
    assert.match(
      text,
      /vxdoctor_rootcause\{id="missing-gwbridge:n2",kind="missing-gwbridge",severity="critical",scope="node",node="n2",nodes="n2",/,
    );
    assert.match(text, /vxdoctor_build_info\{version="V",component="collector",nodejs="N"\} 1/);
    // Gone root causes leave no series behind.
    const none = await render({ rootCauses: () => [] });
    assert.doesNotMatch(none, /^vxdoctor_rootcause\{/m);
    // A cluster-wide root cause over 1,000 nodes stays one short series.
    const many = Array.from({ length: 1000 }, (_, i) => `ip-10-0-${i >> 8}-${i & 255}.ec2.internal`);
    const label = nodesLabel(many);
    assert.ok(label.length <= 220, `${label.length}`);
    assert.match(label, / \+\d+ more$/);
    assert.equal(nodesLabel(['b', 'a']), 'a,b');
  });

  it('a cleared root cause reads 0 for five minutes, then its series goes', async () => {
    const { state, ingest, diagnoser } = fixtureCluster();
    let now = state.clock();
    (state as unknown as { clock: () => number }).clock = () => now;
    let active = true;
    const registry = new Registry();
    registerCollectorMetrics(registry, {
      state,
      ingest,
      rootCauses: () => (active ? diagnoser.current().rootCauses : []),
      natsConnected: () => true,
    });
    const series = async () =>
      (await registry.metrics()).split('\n').filter((l) => l.startsWith('vxdoctor_rootcause{'));
    const before = await series();
    assert.equal(before.length, 3);
    assert.ok(before.every((l) => l.endsWith(' 1')));
    active = false;
    const cleared = await series();
    assert.deepEqual(
      cleared,
      before.map((l) => l.replace(/ 1$/, ' 0')),
    );
    now += 4 * 60_000;
    assert.equal((await series()).length, 3);
    now += 2 * 60_000;
    assert.deepEqual(await series(), []);
  });

  it("the collector's registry writes what prom-client writes, without asking the large families for values", async () => {
    const pageUrl = 'https://vx.example.com/ui/';
    const plain = await render({ pageUrl });
    const registry = new CollectorRegistry();
    assert.equal(await render({ pageUrl, registry }), plain);
    assert.match(plain, /^vxdoctor_peer_reachable_ratio\{node="n1",path="vxlan"\} /m);
    // The per-node and per-group families render themselves: their prom-client values are not read.
    for (const name of [
      'vxdoctor_peer_reachable_ratio',
      'vxdoctor_segment_loss_ratio',
      'vxdoctor_agent_up',
    ]) {
      const m = registry.getSingleMetric(name) as unknown as { get: () => never };
      m.get = () => {
        throw new Error(`${name}: values read`);
      };
    }
    const text = (await registry.metrics()).replace(/vxdoctor_build_info\{[^}]*\}/, '');
    assert.equal(text, plain.replace(/vxdoctor_build_info\{[^}]*\}/, ''));
    // The same metric in a plain prom-client registry asks for its values (and fails here).
    const other = new Registry();
    other.registerMetric(registry.getSingleMetric('vxdoctor_agent_up') as never);
    await assert.rejects(other.metrics(), /vxdoctor_agent_up: values read/);
  });

  it('a self-rendered family is byte for byte the gauge prom-client writes, whatever its labels and values', async () => {
    const rows: Array<[string, string, number]> = [
      ['n1', 'plain', 0.25],
      ['quo"te', 'back\\slash', 1],
      ['new\nline', 'ünïcödé ↔ 机架', 0.1 + 0.2],
      ['', 'empty name', 0],
      ['big', 'x', 1e21],
      ['tiny', 'x', 1e-7],
      ['nan', 'x', Number.NaN],
      ['inf', 'x', Number.POSITIVE_INFINITY],
      ['-inf', 'x', Number.NEGATIVE_INFINITY],
      ['neg-zero', 'x', -0],
      ['n1', 'again', 2 / 3],
    ];
    const help = 'Help with a back\\slash and a\nnewline.';
    const registry = new Registry();
    new Gauge({
      name: 'x_family',
      help,
      labelNames: ['node', 'what'],
      registers: [registry],
      collect() {
        for (const [node, what, v] of rows) this.set({ node, what }, v);
      },
    });
    const text = renderFamily({
      name: 'x_family',
      help,
      labelNames: ['node', 'what'],
      each(emit) {
        const labels = ['', ''];
        for (const [node, what, v] of rows) {
          labels[0] = node;
          labels[1] = what;
          emit(labels, v);
        }
      },
    });
    assert.equal(`${text}\n`, await registry.metrics());
    assert.equal(text.split('\n').length, rows.length + 2);
    // No series at all: HELP and TYPE only, as prom-client.
    const empty = renderFamily({ name: 'x_empty', help: 'h', labelNames: ['a'], each() {} });
    const r2 = new Registry();
    new Gauge({ name: 'x_empty', help: 'h', labelNames: ['a'], registers: [r2] });
    assert.equal(`${empty}\n`, await r2.metrics());
  });

  it('RTT buckets resolve tens of microseconds to seconds', async () => {
    const text = await render();
    const les = [...text.matchAll(/vxdoctor_probe_rtt_seconds_bucket\{le="([^"]+)",path="vxlan"\}/g)]
      .map((m) => m[1] as string)
      .filter((x) => x !== '+Inf')
      .map(Number);
    assert.ok((les[0] as number) <= 0.00005, `first bucket ${les[0]}`);
    assert.ok(les.filter((x) => x < 0.001).length >= 4, 'at least 4 buckets below 1 ms');
    assert.ok((les.at(-1) as number) >= 2.5, `last bucket ${les.at(-1)}`);
  });
});
