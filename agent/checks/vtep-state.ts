import type { Check, Finding } from '../../shared/schema.js';
import { problem, subjectOf, toolIn, vxlanLinks } from './util.js';

export const vtepState: Check = {
  id: 'vtep-state',
  title: 'VTEPs are up and attached to their bridge',
  incident: [8],
  run(s) {
    const out: Finding[] = [];
    for (const { ns, link } of vxlanLinks(s)) {
      const ip = toolIn(ns, 'ip');
      if (!link.adminUp || link.operstate === 'DOWN') {
        out.push(
          problem(s, {
            check: 'vtep-state',
            kind: 'vtep-down',
            severity: 'critical',
            incident: 8,
            subject: subjectOf(ns, link.name),
            summary: `VTEP ${link.name} (VNI ${link.vxlan?.vni}) is down: nothing crosses this overlay to or from the node`,
            evidence: [`${link.name}: admin ${link.adminUp ? 'up' : 'down'}, operstate ${link.operstate}`],
            remediation: `${ip} link set ${link.name} up (then check why it went down: docker/flannel logs).`,
          }),
        );
      }
      const bridged = ns.links.some((l) => l.kind === 'bridge');
      // Weave's VXLAN vport lives in its datapath: outside it, the fast datapath has no tunnel.
      const weave = s.vteps.find((v) => v.netns === ns.id && v.dev === link.name)?.overlay === 'weave';
      if (weave && !link.master) {
        out.push(
          problem(s, {
            check: 'vtep-state',
            kind: 'vtep-down',
            severity: 'critical',
            incident: 6,
            subject: subjectOf(ns, link.name),
            summary: `Weave fast-datapath VTEP ${link.name} (UDP ${link.vxlan?.port}) is not in Weave's datapath: fast datapath traffic cannot be tunnelled`,
            evidence: [`${link.name} has no master in ${ns.name}`],
            remediation: `Restart Weave (weave reset; weave launch) so it re-creates ${link.name} in its datapath.`,
          }),
        );
      }
      if (ns.role === 'docker-overlay' && bridged && !link.master) {
        out.push(
          problem(s, {
            check: 'vtep-state',
            kind: 'vtep-down',
            severity: 'critical',
            incident: 8,
            subject: subjectOf(ns, link.name),
            summary: `VTEP ${link.name} is not attached to the overlay bridge: containers cannot reach it`,
            evidence: [`${link.name} has no master in ${ns.name}`],
            remediation: `${ip} link set ${link.name} master br0`,
          }),
        );
      }
    }
    return out;
  },
};
