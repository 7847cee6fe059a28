import type { Check, Finding } from '../../shared/schema.js';
import { nsById, problem, toolIn } from './util.js';

/** A workload-side hop with a larger MTU than the VTEP it ends in sends frames the VTEP drops. */
export const chainMtu: Check = {
  id: 'chain-mtu',
  title: 'MTUs along each overlay chain are consistent',
  incident: [8],
  run(s) {
    const out: Finding[] = [];
    for (const c of s.chains) {
      if (!c.vtep) continue;
      const vtepHop = c.hops.find((h) => h.dev === c.vtep?.dev && h.netns === c.vtep.netns);
      if (!vtepHop) continue;
      const bad = c.hops.slice(0, c.hops.indexOf(vtepHop)).filter((h) => h.mtu > vtepHop.mtu);
      if (bad.length === 0) continue;
      const first = c.hops[0]!;
      const ipFor = (id: string) => {
        const n = nsById(s, id);
        return n ? toolIn(n, 'ip') : 'ip';
      };
      out.push(
        problem(s, {
          check: 'chain-mtu',
          kind: 'mtu-mismatch',
          severity: 'warning',
          incident: 8,
          subject: `${nsById(s, first.netns)?.name ?? first.netns}/${first.dev}`,
          summary: `${c.id}: ${bad.map((h) => `${h.dev} MTU ${h.mtu}`).join(', ')} larger than VTEP ${vtepHop.dev} MTU ${vtepHop.mtu}; large packets from the workload are dropped`,
          evidence: [c.hops.map((h) => `${h.dev} ${h.mtu}`).join(' -> ')],
          remediation: `Set the workload-side MTU to the VTEP's: ${bad.map((h) => `${ipFor(h.netns)} link set ${h.dev} mtu ${vtepHop.mtu}`).join('; ')} (for CNI/Docker, fix the network's MTU option so new workloads get it).`,
        }),
      );
    }
    return out;
  },
};
