/** agent-down: presence expired. Explains every failing pair touching the node. */
import { KINDS } from '../kinds.js';
import { type Rule, rootCauseId } from '../engine.js';

export const agentDown: Rule = {
  id: 'agent-down',
  kinds: ['agent-down'],
  run(ctx) {
    for (const n of ctx.input.nodes) {
      if (n.state !== 'expired') continue;
      const at = new Date(n.expiredAt ?? ctx.input.now).toISOString();
      const c = ctx.add(rootCauseId('agent-down', [n.name]), {
        kind: 'agent-down',
        severity: 'critical',
        nodes: new Set([n.name]),
        summary: `The agent on ${n.name} stopped reporting: presence expired at ${at}`,
        evidence: [
          `presence of ${n.name} expired at ${at}, last message ${new Date(n.lastSeen).toISOString()}`,
        ],
        remediation: KINDS['agent-down'].remediation,
        observers: new Set(),
        repeated: false,
        onset: n.expiredAt ?? ctx.input.now,
        byEvaluations: true,
        confidence: 'high',
      });
      const obs = c.observers.size;
      ctx.attach(c, ctx.touching(ctx.unexplained(), new Set([n.name])));
      // Pair failures of a dead agent's peers are consequences, not independent observers.
      if (obs === 0) c.observers.clear();
    }
  },
};
