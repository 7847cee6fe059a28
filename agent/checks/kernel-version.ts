import type { Check, Finding } from '../../shared/schema.js';
import { problem, unknown } from './util.js';

/** `6.1.0-18-amd64` -> [6,1,0,18]; `3.10.0-123.el7.x86_64` -> [3,10,0,123]. */
export function parseKernel(release: string): number[] | null {
  const m = /^(\d+)\.(\d+)(?:\.(\d+))?(?:-(\d+))?/.exec(release.trim());
  if (!m) return null;
  return [Number(m[1]), Number(m[2]), Number(m[3] ?? 0), Number(m[4] ?? 0)];
}

export function kernelBelow(v: number[], ref: number[]): boolean {
  for (let i = 0; i < ref.length; i++) {
    const a = v[i] ?? 0;
    const b = ref[i] ?? 0;
    if (a !== b) return a < b;
  }
  return false;
}

export const kernelVersion: Check = {
  id: 'kernel-version',
  title: 'Kernel supports Docker overlay networking',
  incident: [3],
  run(s) {
    if (!s.docker.present || s.docker.overlayNamespaces.length === 0) return [];
    const v = parseKernel(s.host.kernel);
    if (!v)
      return [unknown(s, 'kernel-version', 'host/kernel', `cannot parse kernel release "${s.host.kernel}"`)];
    if (!kernelBelow(v, [3, 16])) return [];
    const out: Finding[] = [
      problem(s, {
        check: 'kernel-version',
        kind: 'kernel-unsupported',
        severity: 'critical',
        incident: 3,
        subject: 'host/kernel',
        summary: `kernel ${s.host.kernel} is older than 3.16, which Docker overlay networks need`,
        evidence: [
          `uname -r: ${s.host.kernel}`,
          `Docker overlay namespaces: ${s.docker.overlayNamespaces.join(', ')}`,
        ],
        remediation:
          'Upgrade the kernel to >= 3.16 (a current distribution kernel); until then create overlays with explicit, non-overlapping subnets: docker network create -d overlay --subnet <free CIDR> ...',
      }),
    ];
    // Incident 3: on 3.10 Docker may auto-assign overlay subnets that overlap existing ones. A
    // separate finding because its fix (explicit subnets) works before the kernel is upgraded.
    if (v[0] === 3 && v[1] === 10) {
      const subnets = [...new Set(s.vteps.filter((t) => t.style === 'docker').flatMap((t) => t.subnets))];
      out.push(
        problem(s, {
          check: 'kernel-version',
          kind: 'kernel-unsupported',
          severity: 'warning',
          incident: 3,
          subject: 'host/kernel-subnets',
          summary: `on kernel ${s.host.kernel} (3.10) auto-assigned overlay subnets may overlap existing subnets; overlay traffic to them then goes to the wrong place`,
          evidence: [
            `uname -r: ${s.host.kernel}`,
            `Docker overlay subnets: ${subnets.join(', ') || 'none found'}`,
          ],
          remediation:
            'Create overlays with explicit subnets that no host route or address uses (ip route; ip -4 addr): docker network create -d overlay --subnet <free CIDR> ...; the overlay-subnet-overlap check names an existing overlap.',
        }),
      );
    }
    return out;
  },
};
