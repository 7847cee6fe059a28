/**
 * Configuration root causes from node findings and cluster-check findings: one candidate per
 * kind and node (or one for a kind that spans nodes as one fault), explaining the failing pairs
 * of its nodes on the paths the kind table says it breaks.
 */
import type { RootCauseKind, Severity } from '../../../shared/schema.js';
import type { TrackedFinding } from '../../state/index.js';
import { type Candidate, type Rule, rootCauseId, SEV_RANK } from '../engine.js';
import { KINDS } from '../kinds.js';

export const FINDING_KINDS: readonly RootCauseKind[] = [
  'host-firewall-vxlan',
  'underlay-mtu',
  'fdb-wrong-destination',
  'duplicate-vtep-address',
  'missing-gwbridge',
  'vni-mismatch',
  'dstport-mismatch',
  'neighbor-missing',
  'vtep-down',
  'kernel-unsupported',
  'offload-risk',
  'subnet-overlap',
  'duplicate-vtep-mac',
  'mtu-mismatch',
  'sysctl-risk',
];

export const findingsRule: Rule = {
  id: 'findings',
  kinds: FINDING_KINDS,
  run(ctx) {
    const problems = ctx.input.findings.filter((f) => f.status === 'problem' && f.kind !== null);
    const byId = new Map<string, TrackedFinding[]>();
    for (const f of problems) {
      const kind = f.kind as RootCauseKind;
      const id = KINDS[kind].merged ? `${kind}:*` : rootCauseId(kind, [f.node]);
      const l = byId.get(id);
      if (l) l.push(f);
      else byId.set(id, [f]);
    }
    const made: Candidate[] = [];
    for (const [id, list] of byId) {
      const first = list[0] as TrackedFinding;
      const kind = first.kind as RootCauseKind;
      const nodes = new Set(list.map((f) => f.node));
      const sorted = [...nodes].sort();
      const severity = list.reduce<Severity>(
        (s, f) => (SEV_RANK[f.severity] < SEV_RANK[s] ? f.severity : s),
        'info',
      );
      made.push(
        ctx.add(id, {
          kind,
          severity,
          nodes,
          summary:
            list.length === 1 ? `${first.node}: ${first.summary}` : `${sorted.join(', ')}: ${first.summary}`,
          evidence: list.flatMap((f) => [
            `${f.origin === 'cluster' ? 'cluster check' : 'check'} ${f.check} on ${f.node} (${f.subject}): ${f.summary}`,
            ...f.evidence.map((e) => `  ${e}`),
          ]),
          remediation: list.find((f) => f.remediation)?.remediation || KINDS[kind].remediation,
          observers: new Set(list.filter((f) => f.origin === 'node').map((f) => f.node)),
          byEvaluations: true,
          repeated: list.some((f) => f.observations >= 2),
          onset: Math.min(...list.map((f) => f.firstSeen)),
          confidence: 'high',
        }),
      );
    }
    // A kind that absorbs another (duplicate VTEP address -> wrong FDB destinations) explains first.
    made.sort((a, b) => (KINDS[b.kind].absorbs?.length ?? 0) - (KINDS[a.kind].absorbs?.length ?? 0));
    for (const c of made) {
      const paths = KINDS[c.kind].explains;
      if (paths) ctx.attach(c, ctx.touching(ctx.unexplained(), c.nodes, paths));
    }
  },
};
