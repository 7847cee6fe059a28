import type { ClusterMember, Finding, RootCauseKind, Severity, VtepSummary } from '../schema.js';

export function clusterFinding(
  node: string,
  f: {
    check: string;
    kind: RootCauseKind;
    severity: Severity;
    incident: number | null;
    subject: string;
    summary: string;
    evidence: string[];
    remediation: string;
  },
): Finding {
  return { status: 'problem', node, ...f };
}

/**
 * One overlay across nodes: a CNI (flannel, Calico, Cilium, Weave, Antrea) is one network per
 * cluster whatever each node's pod subnet; Docker overlays (and unknown VTEPs) by subnet.
 */
export function overlayKey(v: VtepSummary): string {
  const k = v.overlay ?? (v.style === 'flannel' ? 'flannel' : undefined);
  if (k && k !== 'docker' && k !== 'unknown') return k;
  return `${v.style}:${[...v.subnets].sort().join(',')}`;
}

export function overlays(snaps: ClusterMember[]): Map<string, Array<{ node: string; vtep: VtepSummary }>> {
  const m = new Map<string, Array<{ node: string; vtep: VtepSummary }>>();
  for (const s of snaps)
    for (const v of s.vteps) {
      const k = overlayKey(v);
      m.set(k, [...(m.get(k) ?? []), { node: s.node, vtep: v }]);
    }
  return m;
}

/** The most common value (ties: the smallest), and the members that differ from it. */
export function oddOnesOut<T>(items: T[], value: (t: T) => number): { majority: number; odd: T[] } {
  const counts = new Map<number, number>();
  for (const i of items) counts.set(value(i), (counts.get(value(i)) ?? 0) + 1);
  const majority = [...counts.entries()].sort((a, b) => b[1] - a[1] || a[0] - b[0])[0]?.[0] ?? 0;
  return { majority, odd: items.filter((i) => value(i) !== majority) };
}

/** A list for a finding's text, bounded (a finding must stay small whatever the cluster size). */
export function someOf(items: string[], max = 10): string {
  return items.length <= max
    ? items.join(', ')
    : `${items.slice(0, max).join(', ')} and ${items.length - max} more`;
}
