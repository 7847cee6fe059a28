import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { registerCollectorMetrics } from '../../../collector/metrics/index.js';
import { ROOT_CAUSE_KINDS } from '../../../shared/schema.js';
import { fixtureCluster } from './fixture-state.js';

const GOLDEN = new URL('../../fixtures/collector/metrics.golden.txt', import.meta.url);

async function render(): Promise<string> {
  const { state, ingest, diagnoser } = fixtureCluster();
  const registry = new Registry();
  registerCollectorMetrics(registry, {
    state,
    ingest,
    rootCauses: () => diagnoser.current().rootCauses,
    natsConnected: () => true,
  });
  return registry.metrics();
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
});
