import type { Check, Finding } from '../../shared/schema.js';
import { hostAddresses, problem, subjectOf, vxlanLinks } from './util.js';

/**
 * A VTEP whose `local` address is on no host interface cannot send: the kernel has no source
 * for the outer packet. Kind `vtep-down`: the VTEP is unusable, whatever its link state says.
 */
export const vtepLocalAddress: Check = {
  id: 'vtep-local-address',
  title: 'VTEP local address belongs to this node',
  incident: [7],
  run(s) {
    const mine = new Set(hostAddresses(s));
    const out: Finding[] = [];
    for (const { ns, link } of vxlanLinks(s)) {
      const local = link.vxlan?.local;
      if (!local || mine.has(local)) continue;
      out.push(
        problem(s, {
          check: 'vtep-local-address',
          kind: 'vtep-down',
          severity: 'critical',
          incident: 7,
          subject: subjectOf(ns, link.name),
          summary: `VTEP ${link.name} sends from ${local}, which is on no interface of this node`,
          evidence: [`${link.name} local ${local}`, `host addresses: ${[...mine].join(', ') || 'none'}`],
          remediation: `Recreate ${link.name} with this node's underlay address as local (flannel: --iface=<underlay interface> or --public-ip=<underlay address>).`,
        }),
      );
    }
    return out;
  },
};
