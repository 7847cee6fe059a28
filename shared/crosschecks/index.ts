/**
 * Cross-node checks: pure functions over several nodes' snapshots, run by the collector.
 * Listed explicitly; a throwing check is isolated like the node checks.
 */
import type { Logger } from '../logging.js';
import type { CheckRun, ClusterCheck, Finding, NodeSnapshot } from '../schema.js';
import { duplicateVtep } from './duplicate-vtep.js';
import { fdbUnowned } from './fdb-unowned.js';
import { vxlanParams } from './vxlan-params.js';

export const CLUSTER_CHECKS: ClusterCheck[] = [vxlanParams, duplicateVtep, fdbUnowned];

export function runClusterChecks(
  snaps: NodeSnapshot[],
  o: { options?: Record<string, Record<string, unknown>>; log?: Logger; checks?: ClusterCheck[] } = {},
): { findings: Finding[]; checkRuns: CheckRun[] } {
  const findings: Finding[] = [];
  const checkRuns: CheckRun[] = [];
  for (const c of o.checks ?? CLUSTER_CHECKS) {
    const t0 = performance.now();
    try {
      findings.push(...c.run(snaps, { options: o.options?.[c.id] ?? {} }));
      checkRuns.push({ check: c.id, ok: true, durationSeconds: (performance.now() - t0) / 1000 });
    } catch (err) {
      o.log?.error({ err, check: c.id }, 'cluster check failed');
      checkRuns.push({
        check: c.id,
        ok: false,
        durationSeconds: (performance.now() - t0) / 1000,
        error: (err as Error).message,
      });
    }
  }
  return { findings, checkRuns };
}
