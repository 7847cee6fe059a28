/**
 * Agent self-metrics (names in docs/contracts.md: all vxdoctor_agent_*). Values are read from the live components
 * in collect(), never pushed from timers.
 */
import { Gauge, type Registry } from 'prom-client';
import { registerBuildInfo } from '../shared/build-info.js';
import { PROBE_PATHS, type CheckRun, type ProbePath } from '../shared/schema.js';
import { PRESENCE_REJECT_REASONS } from '../shared/presence.js';

export interface AgentMetricSources {
  inventorySeconds(): number | null;
  probeStats(): {
    sent: Partial<Record<ProbePath, number>>;
    received: Partial<Record<ProbePath, number>>;
    rejected: Record<string, number>;
    captureDropped: number;
  } | null;
  outbox(): { bytes: number; dropped: number };
  checkRuns(): CheckRun[];
  natsConnected(): boolean;
  /** Presence records of peers refused, by reason (optional for callers without presence). */
  presenceRejected?(): Record<string, number>;
}

const REJECT_REASONS = [
  'bad-hmac',
  'replay',
  'malformed',
  // Added reasons (never rename the ones above):
  'not-probe',
  'bad-version',
  'misaddressed',
  'stale',
  'future',
];

/** Counters mirrored from monotonically increasing component counters (prom type = counter). */
class MirrorCounter extends Gauge<string> {}

export function registerAgentMetrics(registry: Registry, src: AgentMetricSources): void {
  registerBuildInfo(registry, 'agent');
  new Gauge({
    name: 'vxdoctor_agent_inventory_duration_seconds',
    help: 'Duration of the last inventory run.',
    registers: [registry],
    collect() {
      const v = src.inventorySeconds();
      if (v !== null) this.set(v);
    },
  });
  const byPath = (name: string, help: string, pick: 'sent' | 'received') => {
    const g = new MirrorCounter({
      name,
      help,
      labelNames: ['path'],
      registers: [registry],
      collect() {
        const s = src.probeStats();
        for (const p of PROBE_PATHS) this.set({ path: p }, s?.[pick][p] ?? 0);
      },
    });
    // exposed as counter type
    (g as unknown as { type: string }).type = 'counter';
  };
  byPath('vxdoctor_agent_probes_sent_total', 'Probes sent, by path.', 'sent');
  byPath('vxdoctor_agent_probes_received_total', 'Probes received (valid), by path.', 'received');
  const rej = new MirrorCounter({
    name: 'vxdoctor_agent_probes_rejected_total',
    help: 'Probes rejected on receive, by reason.',
    labelNames: ['reason'],
    registers: [registry],
    collect() {
      const r = src.probeStats()?.rejected ?? {};
      for (const reason of new Set([...REJECT_REASONS, ...Object.keys(r)]))
        this.set({ reason }, r[reason] ?? 0);
    },
  });
  (rej as unknown as { type: string }).type = 'counter';
  const cap = new MirrorCounter({
    name: 'vxdoctor_agent_capture_dropped_total',
    help: 'Packets the capture dropped (libpcap/kernel).',
    registers: [registry],
    collect() {
      this.set(src.probeStats()?.captureDropped ?? 0);
    },
  });
  (cap as unknown as { type: string }).type = 'counter';
  const pres = new MirrorCounter({
    name: 'vxdoctor_agent_presence_rejected_total',
    help: 'Peer presence records refused (the peer is not probed), by reason.',
    labelNames: ['reason'],
    registers: [registry],
    collect() {
      const r = src.presenceRejected?.() ?? {};
      for (const reason of PRESENCE_REJECT_REASONS) this.set({ reason }, r[reason] ?? 0);
    },
  });
  (pres as unknown as { type: string }).type = 'counter';
  new Gauge({
    name: 'vxdoctor_agent_outbox_bytes',
    help: 'Bytes waiting in the outbox (NATS unreachable or slow).',
    registers: [registry],
    collect() {
      this.set(src.outbox().bytes);
    },
  });
  const drop = new MirrorCounter({
    name: 'vxdoctor_agent_outbox_dropped_total',
    help: 'Probe messages dropped from the outbox because its byte bound was reached.',
    registers: [registry],
    collect() {
      this.set(src.outbox().dropped);
    },
  });
  (drop as unknown as { type: string }).type = 'counter';
  new Gauge({
    name: 'vxdoctor_agent_check_duration_seconds',
    help: 'Duration of the last run of each check.',
    labelNames: ['check'],
    registers: [registry],
    collect() {
      for (const r of src.checkRuns()) this.set({ check: r.check }, r.durationSeconds);
    },
  });
  new Gauge({
    name: 'vxdoctor_agent_check_success',
    help: '1 when the check ran to completion last time, else 0.',
    labelNames: ['check'],
    registers: [registry],
    collect() {
      for (const r of src.checkRuns()) this.set({ check: r.check }, r.ok ? 1 : 0);
    },
  });
  new Gauge({
    name: 'vxdoctor_agent_nats_connected',
    help: '1 while the agent is connected to NATS.',
    registers: [registry],
    collect() {
      this.set(src.natsConnected() ? 1 : 0);
    },
  });
}
