/**
 * inventory-incomplete: a node's inventory could not read what its checks need (not privileged,
 * a namespace unreadable, nft/iptables or routes unreadable). A warning naming the node and what
 * is missing; optional extras (ethtool details, the Docker Engine API) do not count.
 */
import { type Rule, rootCauseId } from '../engine.js';
import { KINDS } from '../kinds.js';

/** Unknowns about optional extras: their checks say `unknown` themselves, nothing is blind. */
const OPTIONAL = /^(ethtool|docker)\b/;

export const inventoryIncomplete: Rule = {
  id: 'inventory-incomplete',
  kinds: ['inventory-incomplete'],
  run(ctx) {
    for (const n of ctx.input.nodes) {
      if (n.state !== 'up') continue;
      const missing = n.unknowns.filter((u) => !OPTIONAL.test(u.what));
      const lines = missing.map((u) => `${u.what}: ${u.reason}`);
      if (n.privileged === false) lines.unshift('the agent runs without CAP_NET_ADMIN (not privileged)');
      if (!lines.length) continue;
      const what = [
        ...(n.privileged === false ? ['privileges (CAP_NET_ADMIN)'] : []),
        ...new Set(missing.map((u) => u.what)),
      ];
      ctx.add(rootCauseId('inventory-incomplete', [n.name]), {
        kind: 'inventory-incomplete',
        severity: 'warning',
        nodes: new Set([n.name]),
        summary: `${n.name}: the agent cannot read ${what.slice(0, 4).join(', ')}${what.length > 4 ? ` and ${what.length - 4} more` : ''}; checks that need it report unknown`,
        evidence: lines.map((l) => `inventory on ${n.name}: ${l}`),
        remediation: KINDS['inventory-incomplete'].remediation,
        observers: new Set([n.name]),
        repeated: false,
        onset: ctx.input.now,
        byEvaluations: true,
        confidence: 'high',
      });
    }
  },
};
