/** The human report of `vxdoctor inspect`: pure, snapshot + findings in, text out. */
import type { CheckRun, Finding, NodeSnapshot, OverlayChain, Severity } from '../shared/schema.js';

const ORDER: Severity[] = ['critical', 'warning', 'info'];

function chainLine(s: NodeSnapshot, c: OverlayChain): string {
  const short = (netns: string) =>
    netns === 'host' ? '' : `${s.namespaces.find((n) => n.id === netns)?.name ?? netns}:`;
  const hops = c.hops.map((h, i) => {
    const vtep =
      c.vtep && h.dev === c.vtep.dev && h.netns === c.vtep.netns
        ? ` (vni ${c.vtep.vni} :${c.vtep.port})`
        : '';
    return `${i === 0 ? short(h.netns) : ''}${h.dev} ${h.mtu}${vtep}`;
  });
  return `  ${c.style.padEnd(7)} ${hops.join(' -> ')}`;
}

export function renderReport(s: NodeSnapshot, findings: Finding[], checkRuns: CheckRun[]): string {
  const out: string[] = [];
  const u = s.underlay;
  out.push(
    `node ${s.node}${
      Object.keys(s.labels).length
        ? ` (${Object.entries(s.labels)
            .map(([k, v]) => `${k}=${v}`)
            .join(', ')})`
        : ''
    }`,
  );
  out.push(`  kernel ${s.host.kernel}, ${s.host.os}${s.host.privileged ? '' : ', NOT privileged'}`);
  out.push(`  underlay ${u ? `${u.dev} mtu ${u.mtu} ${u.addresses.join(' ')}` : 'not found'}`);
  out.push(
    `  ${s.namespaces.length} namespaces, ${s.vteps.length} VTEPs; docker ${s.docker.present ? `yes${s.docker.swarm ? ' (swarm)' : ''}, gwbridge ${s.docker.gwbridge ? 'yes' : 'NO'}` : 'no'}`,
  );
  out.push('');
  out.push(s.chains.length ? 'overlay chains (MTU at every link):' : 'no overlay chains found');
  for (const c of s.chains) out.push(chainLine(s, c));
  out.push('');
  const problems = findings.filter((f) => f.status === 'problem');
  const unknowns = findings.filter((f) => f.status === 'unknown');
  if (problems.length === 0) out.push('findings: none — healthy');
  for (const sev of ORDER) {
    const group = problems.filter((f) => f.severity === sev);
    if (group.length === 0) continue;
    out.push(`${sev.toUpperCase()} (${group.length})`);
    for (const f of group) {
      out.push(`  [${f.check}] ${f.subject}: ${f.summary}`);
      for (const e of f.evidence) out.push(`      - ${e}`);
      if (f.remediation) out.push(`      fix: ${f.remediation}`);
    }
  }
  if (unknowns.length) {
    out.push(`UNKNOWN (${unknowns.length}) — could not look:`);
    for (const f of unknowns) out.push(`  [${f.check}] ${f.subject}: ${f.summary}`);
  }
  const failed = checkRuns.filter((r) => !r.ok);
  if (failed.length)
    out.push(`checks that failed to run: ${failed.map((r) => `${r.check} (${r.error})`).join(', ')}`);
  return `${out.join('\n')}\n`;
}

/** 1 when a critical problem exists, 3 for warnings only, 0 otherwise. */
export function exitCodeFor(findings: Finding[]): number {
  const p = findings.filter((f) => f.status === 'problem');
  if (p.some((f) => f.severity === 'critical')) return 1;
  if (p.some((f) => f.severity === 'warning')) return 3;
  return 0;
}
