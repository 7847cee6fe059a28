/**
 * The Grafana dashboard: fixed uid, tags, $datasource and cluster variables, every panel on the
 * $datasource, and every metric its queries name is one of the metrics in the interface list
 * (docs/contracts.md, Metrics). The same names
 * are checked against the live collector and agents' /metrics on the lab in
 * test/e2e/pipeline.test.ts (shared extraction: ./dashboard-metrics.ts).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import {
  dashboardMetrics,
  dashboardPanels,
  exposedNames,
  loadDashboard,
  metricsIn,
  missingFrom,
} from './dashboard-metrics.js';

// docs/contracts.md "Metrics" table. Histograms add _bucket/_sum/_count.
const METRICS = new Set([
  'vxdoctor_rootcause_active',
  'vxdoctor_rootcause',
  'vxdoctor_rootcause_hop',
  'vxdoctor_build_info',
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
  'vxdoctor_agent_check_duration_seconds',
  'vxdoctor_agent_check_success',
  'vxdoctor_agent_nats_connected',
  // Added with the hostile-input work (README changelog):
  'vxdoctor_ingest_duplicates_total',
  'vxdoctor_presence_rejected_total',
  'vxdoctor_state_dropped_total',
  'vxdoctor_nodes_forgotten_total',
  'vxdoctor_agent_presence_rejected_total',
]);
const HISTOGRAMS = new Set(['vxdoctor_probe_rtt_seconds']);

function unknownMetrics(names: string[]): string[] {
  return names.filter((n) => {
    if (METRICS.has(n)) return false;
    const base = n.replace(/_(bucket|sum|count)$/, '');
    return !(base !== n && HISTOGRAMS.has(base));
  });
}

const dash = loadDashboard();
const panels = dashboardPanels(dash);

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
  const used = dashboardMetrics(dash);
  assert.deepEqual(unknownMetrics(used), []);
  for (const want of [
    'vxdoctor_rootcause',
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

test('the live-/metrics check (used on the lab) finds a name missing from an exposition', () => {
  const exposition = [
    '# HELP vxdoctor_agent_up 1 when up',
    '# TYPE vxdoctor_agent_up gauge',
    'vxdoctor_agent_up{node="n1"} 1',
    '# TYPE vxdoctor_probe_rtt_seconds histogram',
    '# TYPE vxdoctor_ingest_rejected_total counter',
    'process_cpu_seconds_total 1.5',
  ].join('\n');
  assert.ok(exposedNames(exposition).has('vxdoctor_probe_rtt_seconds_bucket'), 'histogram series');
  assert.ok(exposedNames(exposition).has('vxdoctor_ingest_rejected_total'), 'declared, no sample yet');
  assert.deepEqual(
    missingFrom(
      ['vxdoctor_agent_up', 'vxdoctor_probe_rtt_seconds_bucket', 'vxdoctor_rtt_seconds'],
      [exposition],
    ),
    ['vxdoctor_rtt_seconds'],
  );
  assert.ok(dashboardMetrics(dash).includes('vxdoctor_agent_up'), 'the cluster variable query counts too');
});

test('dashboard: every query picks its job, and collector series are never summed across replicas', () => {
  for (const p of panels)
    for (const t of p.targets ?? []) {
      assert.match(t.expr, /job="vxdoctor-(collector|agent)"/, `${p.title}: ${t.expr}`);
      // Two collector replicas export the same series: fold them with max/min before any sum.
      assert.doesNotMatch(
        t.expr,
        /\b(sum|count)(\s+by\s*\([^)]*\))?\s*\((rate\()?vxdoctor_\w+\{job="vxdoctor-collector"/,
        `${p.title}: ${t.expr}`,
      );
      // The agents' metrics are vxdoctor_agent_* (one meaning per name across jobs).
      for (const m of metricsIn(t.expr))
        if (/job="vxdoctor-agent"/.test(t.expr) && !/job="vxdoctor-collector"/.test(t.expr))
          assert.match(m, /^vxdoctor_agent_/, `${p.title}: ${m}`);
    }
});

test('alert rules name only metrics from the interface list', () => {
  const rules = readFileSync('deploy/prometheus/vxdoctor-rules.yml', 'utf8');
  assert.deepEqual(unknownMetrics(metricsIn(rules)), []);
});
