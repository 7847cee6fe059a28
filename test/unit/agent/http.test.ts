import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Registry } from 'prom-client';
import { buildAgentApp } from '../../../agent/http.js';
import { registerAgentMetrics } from '../../../agent/metrics.js';

test('/healthz follows the loop; /metrics reads live values with fixed names and types', async () => {
  let ok = true;
  let dropped = 3;
  const registry = new Registry();
  registerAgentMetrics(registry, {
    inventorySeconds: () => 0.25,
    probeStats: () => ({
      sent: { vxlan: 5, control: 4, pmtu: 1, overlay: 2 },
      received: { vxlan: 5, control: 4, pmtu: 1, overlay: 0 },
      rejected: { 'bad-hmac': 2 },
      captureDropped: 7,
    }),
    outbox: () => ({ bytes: 1234, dropped }),
    checkRuns: () => [
      { check: 'vtep-mtu', ok: true, durationSeconds: 0.001 },
      { check: 'fdb-dst', ok: false, durationSeconds: 0.002, error: 'boom' },
    ],
    natsConnected: () => false,
  });
  const app = await buildAgentApp({ registry, healthy: () => ({ ok, detail: {} }) });
  assert.equal((await app.inject('/healthz')).statusCode, 200);
  ok = false;
  assert.equal((await app.inject('/healthz')).statusCode, 503);
  const m1 = (await app.inject('/metrics')).body;
  for (const line of [
    'vxdoctor_agent_inventory_duration_seconds 0.25',
    'vxdoctor_agent_probes_sent_total{path="vxlan"} 5',
    'vxdoctor_agent_probes_received_total{path="overlay"} 0',
    'vxdoctor_agent_probes_rejected_total{reason="bad-hmac"} 2',
    'vxdoctor_agent_probes_rejected_total{reason="replay"} 0',
    'vxdoctor_agent_capture_dropped_total 7',
    'vxdoctor_agent_outbox_bytes 1234',
    'vxdoctor_agent_outbox_dropped_total 3',
    'vxdoctor_agent_check_success{check="vtep-mtu"} 1',
    'vxdoctor_agent_check_success{check="fdb-dst"} 0',
    'vxdoctor_agent_check_duration_seconds{check="fdb-dst"} 0.002',
    'vxdoctor_agent_nats_connected 0',
    '# TYPE vxdoctor_agent_probes_sent_total counter',
    '# TYPE vxdoctor_agent_outbox_dropped_total counter',
    '# TYPE vxdoctor_agent_outbox_bytes gauge',
  ])
    assert.ok(m1.split('\n').includes(line), `missing: ${line}`);
  dropped = 9; // read at scrape time, not cached
  assert.ok((await app.inject('/metrics')).body.includes('vxdoctor_agent_outbox_dropped_total 9'));
  await app.close();
});
