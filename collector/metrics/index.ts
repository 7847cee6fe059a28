/**
 * Collector metrics (names fixed in INTERFACES.md). Every value is read from state in
 * `collect()` at scrape time; label sets come from bounded vocabularies and known label
 * combinations are pre-set to 0. The registry is injected (no global registry).
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import { PROBE_PATHS, ROOT_CAUSE_KINDS, type RootCause } from '../../shared/schema.js';
import { MESSAGE_KINDS } from '../../shared/subjects.js';
import { PRESENCE_REJECT_REASONS } from '../../agent/publish/presence.js';
import { type IngestCounters, REJECT_REASONS } from '../ingest/index.js';
import { type ClusterState, RTT_BUCKETS } from '../state/index.js';

const SEVERITIES = ['critical', 'warning', 'info'] as const;
const SCOPES = ['node', 'segment', 'cluster'] as const;

export interface MetricsSources {
  state: ClusterState;
  ingest: IngestCounters;
  rootCauses: () => RootCause[];
  natsConnected: () => boolean;
}

export function scopeOf(rc: RootCause): (typeof SCOPES)[number] {
  if (rc.segment) return 'segment';
  return rc.nodes.length <= 1 ? 'node' : 'cluster';
}

/** Registers every collector metric on `registry`. */
export function registerCollectorMetrics(registry: Registry, src: MetricsSources): void {
  const registers = [registry];
  new Gauge({
    name: 'vxdoctor_rootcause_active',
    help: 'Active root causes by kind, severity and scope (node, segment, cluster).',
    labelNames: ['kind', 'severity', 'scope'],
    registers,
    collect() {
      this.reset();
      for (const kind of ROOT_CAUSE_KINDS)
        for (const severity of SEVERITIES) for (const scope of SCOPES) this.set({ kind, severity, scope }, 0);
      for (const rc of src.rootCauses())
        this.inc({ kind: rc.kind, severity: rc.severity, scope: scopeOf(rc) });
    },
  });
  new Gauge({
    name: 'vxdoctor_findings',
    help: 'Active findings per node, check and severity (node checks and cluster checks).',
    labelNames: ['node', 'check', 'severity'],
    registers,
    collect() {
      this.reset();
      for (const f of src.state.activeFindings()) {
        if (f.status !== 'problem') continue;
        this.inc({ node: f.node, check: f.check, severity: f.severity });
      }
    },
  });
  new Gauge({
    name: 'vxdoctor_peer_reachable_ratio',
    help: 'Fraction of probed peers whose latest probe from this node passed, per path.',
    labelNames: ['node', 'path'],
    registers,
    collect() {
      this.reset();
      const acc = new Map<string, { ok: number; n: number; node: string; path: string }>();
      for (const p of src.state.pairStatuses()) {
        if (p.status === 'unknown') continue;
        const k = `${p.src}|${p.path}`;
        let a = acc.get(k);
        if (!a) {
          a = { ok: 0, n: 0, node: p.src, path: p.path };
          acc.set(k, a);
        }
        a.n++;
        if (p.status === 'pass') a.ok++;
      }
      for (const a of acc.values()) this.set({ node: a.node, path: a.path }, a.ok / a.n);
    },
  });
  new Gauge({
    name: 'vxdoctor_segment_loss_ratio',
    help: 'Mean probe loss over the window between two topology groups, per path.',
    labelNames: ['from', 'to', 'path'],
    registers,
    collect() {
      this.reset();
      for (const path of PROBE_PATHS)
        for (const g of src.state.groupPairs(path))
          if (g.loss !== null) this.set({ from: g.from, to: g.to, path }, g.loss);
    },
  });
  registry.registerMetric({
    name: 'vxdoctor_probe_rtt_seconds',
    help: 'Round-trip time of answered probes, per path.',
    type: 'histogram',
    aggregator: 'sum',
    get: async () => {
      const values: Array<{ value: number; labels: Record<string, string | number>; metricName: string }> =
        [];
      for (const path of PROBE_PATHS) {
        const h = src.state.rtt[path];
        let cum = 0;
        RTT_BUCKETS.forEach((le, i) => {
          cum += h.buckets[i] ?? 0;
          values.push({ value: cum, labels: { le, path }, metricName: 'vxdoctor_probe_rtt_seconds_bucket' });
        });
        values.push({
          value: h.count,
          labels: { le: '+Inf', path },
          metricName: 'vxdoctor_probe_rtt_seconds_bucket',
        });
        values.push({ value: h.sum, labels: { path }, metricName: 'vxdoctor_probe_rtt_seconds_sum' });
        values.push({ value: h.count, labels: { path }, metricName: 'vxdoctor_probe_rtt_seconds_count' });
      }
      return {
        name: 'vxdoctor_probe_rtt_seconds',
        help: 'Round-trip time of answered probes, per path.',
        type: 'histogram',
        values,
        aggregator: 'sum',
      };
    },
    reset: () => {},
  } as never);
  new Gauge({
    name: 'vxdoctor_agent_up',
    help: '1 when the node agent presence is fresh, 0 when expired.',
    labelNames: ['node'],
    registers,
    collect() {
      this.reset();
      for (const n of src.state.nodeStatuses()) this.set({ node: n.name }, n.state === 'up' ? 1 : 0);
    },
  });
  new Gauge({
    name: 'vxdoctor_nodes',
    help: 'Known nodes by presence state.',
    labelNames: ['state'],
    registers,
    collect() {
      const c = { up: 0, expired: 0 };
      for (const n of src.state.nodeStatuses()) c[n.state]++;
      this.set({ state: 'up' }, c.up);
      this.set({ state: 'expired' }, c.expired);
    },
  });
  new Counter({
    name: 'vxdoctor_ingest_messages_total',
    help: 'Valid messages ingested, by kind.',
    labelNames: ['kind'],
    registers,
    collect() {
      this.reset();
      for (const kind of MESSAGE_KINDS) this.inc({ kind }, src.ingest.messages[kind]);
    },
  });
  new Counter({
    name: 'vxdoctor_ingest_rejected_total',
    help: 'Messages rejected at ingest (and acked), by reason.',
    labelNames: ['reason'],
    registers,
    collect() {
      this.reset();
      for (const reason of REJECT_REASONS) this.inc({ reason }, src.ingest.rejected[reason]);
    },
  });
  new Counter({
    name: 'vxdoctor_ingest_duplicates_total',
    help: 'Valid messages dropped as already applied (redelivery, duplicate id).',
    registers,
    collect() {
      this.reset();
      this.inc(src.ingest.duplicates);
    },
  });
  new Counter({
    name: 'vxdoctor_ingest_trace_messages_total',
    help: 'Trace requests seen on the stream subjects (stored by JetStream, not agent reports).',
    registers,
    collect() {
      this.reset();
      this.inc(src.ingest.traceSubjects);
    },
  });
  new Counter({
    name: 'vxdoctor_presence_rejected_total',
    help: 'Presence records refused (node not shown, cannot observe or be blamed), by reason.',
    labelNames: ['reason'],
    registers,
    collect() {
      this.reset();
      for (const reason of PRESENCE_REJECT_REASONS)
        this.inc({ reason }, src.ingest.presenceRejects.counts[reason]);
    },
  });
  new Counter({
    name: 'vxdoctor_state_dropped_total',
    help: 'Records refused by the state caps (nodes known, pairs per source node), by what.',
    labelNames: ['what'],
    registers,
    collect() {
      this.reset();
      this.inc({ what: 'nodes' }, src.state.dropped.nodes);
      this.inc({ what: 'pairs' }, src.state.dropped.pairs);
    },
  });
  new Counter({
    name: 'vxdoctor_nodes_forgotten_total',
    help: 'Nodes forgotten after their presence was gone longer than the forget time.',
    registers,
    collect() {
      this.reset();
      this.inc(src.state.forgotten);
    },
  });
  new Gauge({
    name: 'vxdoctor_nats_connected',
    help: '1 when the collector is connected to NATS.',
    registers,
    collect() {
      this.set(src.natsConnected() ? 1 : 0);
    },
  });
  new Gauge({
    name: 'vxdoctor_check_duration_seconds',
    help: 'Duration of the last run of each cross-node check in the collector.',
    labelNames: ['check'],
    registers,
    collect() {
      this.reset();
      for (const r of src.state.clusterCheckRuns()) this.set({ check: r.check }, r.durationSeconds);
    },
  });
  new Gauge({
    name: 'vxdoctor_check_success',
    help: '1 when the last run of the cross-node check completed, 0 when it threw.',
    labelNames: ['check'],
    registers,
    collect() {
      this.reset();
      for (const r of src.state.clusterCheckRuns()) this.set({ check: r.check }, r.ok ? 1 : 0);
    },
  });
}
