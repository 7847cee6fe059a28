/**
 * Cross-node checks: pure functions over several nodes (ClusterMember: VTEPs and underlay),
 * run by each agent over its own snapshot and its peers' presence records (./local.ts).
 * Listed explicitly; a throwing check is isolated like the node checks.
 */
import { runIsolated } from '../check-runner.js';
import type { Logger } from '../logging.js';
import type { CheckRun, ClusterCheck, ClusterMember, Finding } from '../schema.js';
import { duplicateVtep } from './duplicate-vtep.js';
import { fdbUnowned } from './fdb-unowned.js';
import { vxlanParams } from './vxlan-params.js';

export const CLUSTER_CHECKS: ClusterCheck[] = [vxlanParams, duplicateVtep, fdbUnowned];

export function runClusterChecks(
  snaps: ClusterMember[],
  o: { options?: Record<string, Record<string, unknown>>; log?: Logger; checks?: ClusterCheck[] } = {},
): { findings: Finding[]; checkRuns: CheckRun[] } {
  return runIsolated(o.checks ?? CLUSTER_CHECKS, (c, options) => c.run(snaps, { options }), o);
}
export { LocalCrossChecker, presenceMember, selfMember } from './local.js';
