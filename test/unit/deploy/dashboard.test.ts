/**
 * The Grafana dashboard: fixed uid, tags, $datasource and cluster variables, every panel on the
 * $datasource, and every metric its queries name is one of the metrics in the interface list
 * (INTERFACES.md, copied here because that file is not part of the repository).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';

// INTERFACES.md "Metrics" table. Histograms add _bucket/_sum/_count.
const METRICS = new Set([
  'vxdoctor_rootcause_active',
  'vxdoctor_findings',
  'vxdoctor_peer_reachable_ratio',
  'vxdoctor_segment_loss_ratio',
  'vxdoctor_probe_rtt_seconds',
  'vxdoctor_agent_up',
  'vxdoctor_nodes',
  'vxdoctor_ingest_messages_total',
  'vxdoctor_ingest_rejected_total',
  'vxdoctor_nats_connected',
  'vxdoctor_agent_inventory_duration_seconds',
  'vxdoctor_agent_probes_sent_total',
  'vxdoctor_agent_probes_received_total',
  'vxdoctor_agent_probes_rejected_total',
  'vxdoctor_agent_capture_dropped_total',
  'vxdoctor_agent_outbox_bytes',
  'vxdoctor_agent_outbox_dropped_total',
  'vxdoctor_check_duration_seconds',
  'vxdoctor_check_success',
]);
const HISTOGRAMS = new Set(['vxdoctor_probe_rtt_seconds']);

export function metricsIn(expr: string): string[] {
  return [...expr.matchAll(/\b(vxdoctor_[a-z0-9_]+)/g)].map((m) => m[1] as string);
}

export function unknownMetrics(names: string[]): string[] {
  return names.filter((n) => {
    if (METRICS.has(n)) return false;
    const base = n.replace(/_(bucket|sum|count)$/, '');
    return !(base !== n && HISTOGRAMS.has(base));
  });
}

interface Panel {
  type: string;
  title: string;
  datasource?: { uid: string };
  targets?: { expr: string }[];
  panels?: Panel[];
}
const dash = JSON.parse(readFileSync('deploy/grafana/vxdoctor.json', 'utf8')) as {
  uid: string;
  tags: string[];
  templating: { list: { name: string; type: string; query: unknown }[] };
  panels: Panel[];
};
const panels = dash.panels.flatMap((p) => [p, ...(p.panels ?? [])]).filter((p) => p.type !== 'row');

test('dashboard: fixed uid, tags, datasource and cluster variables', () => {
  assert.equal(dash.uid, 'vxdoctor-overview');
  assert.ok(dash.tags.includes('vxdoctor'));
  const vars = Object.fromEntries(dash.templating.list.map((v) => [v.name, v]));
  assert.equal(vars.datasource?.type, 'datasource');
  assert.equal(vars.datasource?.query, 'prometheus');
  assert.ok(vars.cluster, 'cluster variable');
});

test('dashboard: every panel uses $datasource and filters by cluster', () => {
  assert.ok(panels.length >= 10);
  for (const p of panels) {
    assert.equal(p.datasource?.uid, '$' + '{datasource}', p.title);
    assert.ok(p.targets?.length, `${p.title} has queries`);
    for (const t of p.targets ?? []) assert.match(t.expr, /cluster=~"\$cluster"/, `${p.title}: ${t.expr}`);
  }
});

test('dashboard: queries name only metrics from the interface list', () => {
  const used = panels.flatMap((p) => (p.targets ?? []).flatMap((t) => metricsIn(t.expr)));
  assert.deepEqual(unknownMetrics(used), []);
  for (const want of [
    'vxdoctor_rootcause_active',
    'vxdoctor_segment_loss_ratio',
    'vxdoctor_probe_rtt_seconds_bucket',
    'vxdoctor_agent_up',
    'vxdoctor_ingest_rejected_total',
  ]) {
    assert.ok(used.includes(want), `dashboard shows ${want}`);
  }
  assert.deepEqual(unknownMetrics(['vxdoctor_rtt_seconds', 'vxdoctor_agent_up_bucket']), [
    'vxdoctor_rtt_seconds',
    'vxdoctor_agent_up_bucket',
  ]);
});

test('alert rules name only metrics from the interface list', () => {
  const rules = readFileSync('deploy/prometheus/vxdoctor-rules.yml', 'utf8');
  assert.deepEqual(unknownMetrics(metricsIn(rules)), []);
});
