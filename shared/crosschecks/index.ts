/**
 * Cross-node checks: pure functions over several nodes' snapshots, run by the collector.
 * Listed explicitly; a throwing check is isolated like the node checks.
 */
import { runIsolated } from '../check-runner.js';
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
  return runIsolated(o.checks ?? CLUSTER_CHECKS, (c, options) => c.run(snaps, { options }), o);
}
