/**
 * node-unreachable: every incoming probe path to an up node fails (at least one underlay or
 * control probe among them) while its agent still reports. Explains every pair touching it.
 */
import { KINDS } from '../kinds.js';
import { type Rule, rootCauseId } from '../engine.js';

export const nodeUnreachable: Rule = {
  id: 'node-unreachable',
  kinds: ['node-unreachable'],
  run(ctx) {
    for (const n of ctx.input.nodes) {
      if (n.state !== 'up' || !ctx.failingTo(n.name)) continue;
      const incoming = ctx.toNode(n.name).filter((p) => !ctx.isExplained(p));
      const base = incoming.filter((p) => p.path === 'control' || p.path === 'vxlan');
      if (!base.length || incoming.some((p) => p.status === 'pass')) continue;
      const c = ctx.add(rootCauseId('node-unreachable', [n.name]), {
        kind: 'node-unreachable',
        severity: 'critical',
        nodes: new Set([n.name]),
        summary: `${n.name} is unreachable on every probe path (vxlan, control, pmtu, overlay) while its agent still reports`,
        evidence: [`presence of ${n.name} is fresh (last seen ${new Date(n.lastSeen).toISOString()})`],
        remediation: KINDS['node-unreachable'].remediation,
        observers: new Set(),
        repeated: false,
        onset: ctx.input.now,
      });
      ctx.attach(c, incoming);
      ctx.attach(c, ctx.touching(ctx.unexplained(), new Set([n.name])));
    }
  },
};
