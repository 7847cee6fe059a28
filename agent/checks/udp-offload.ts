import type { Check, Finding } from '../../shared/schema.js';
import { kernelBelow, parseKernel } from './kernel-version.js';
import { problem } from './util.js';

/**
 * Incident 5: with UFO on, a large UDP packet over a raw socket corrupts virtio_net on kernels
 * before 3.13 (RHEL backported the fix in 3.10.0-229), taking the whole VM off the network.
 */
function buggy(release: string): boolean {
  const v = parseKernel(release);
  if (!v) return false;
  if (/\.el\d/.test(release) && v[0] === 3 && v[1] === 10) return kernelBelow(v, [3, 10, 0, 229]);
  return kernelBelow(v, [3, 13]);
}

export const udpOffload: Check = {
  id: 'udp-offload',
  title: 'No UFO on virtio_net with the known kernel bug',
  incident: [5],
  run(s) {
    if (!buggy(s.host.kernel)) return [];
    const out: Finding[] = [];
    for (const nic of s.host.nics) {
      const ufo = nic.offloads['udp-fragmentation-offload'] ?? '';
      if (nic.driver !== 'virtio_net' || !ufo.startsWith('on')) continue;
      out.push(
        problem(s, {
          check: 'udp-offload',
          kind: 'offload-risk',
          severity: 'critical',
          incident: 5,
          subject: `host/${nic.name}`,
          summary: `${nic.name} (virtio_net) has UDP fragmentation offload on, on kernel ${s.host.kernel}: a large UDP probe (e.g. Weave's PMTU check) can knock the VM off the network`,
          evidence: [`driver ${nic.driver}`, `udp-fragmentation-offload: ${ufo}`, `kernel ${s.host.kernel}`],
          remediation: `ethtool -K ${nic.name} ufo off (persist it), or upgrade to kernel >= 3.13 / RHEL >= 3.10.0-229.`,
        }),
      );
    }
    return out;
  },
};
