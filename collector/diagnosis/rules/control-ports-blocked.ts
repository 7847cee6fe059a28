/**
 * control-ports-blocked: Swarm control ports (TCP 2377, TCP/UDP 7946) fail across a segment while
 * the agent's UDP port or VXLAN passes there and pairs inside each group work; else per node,
 * when they failed two rounds running.
 */
import type { PairStatus } from '../../state/index.js';
import { isControlUdp, portLabel, type Rule, rootCauseId, SWARM_PORTS } from '../engine.js';
import { KINDS } from '../kinds.js';

const isSwarm = (p: PairStatus) => p.path === 'control' && p.port !== null && SWARM_PORTS.has(p.port);

export const controlPortsBlocked: Rule = {
  id: 'control-ports-blocked',
  kinds: ['control-ports-blocked'],
  run(ctx) {
    for (const [a, b] of ctx.segments) {
      if (!ctx.failingAcross(a, b)) continue; // blocked ports need failures
      const seg = ctx.across(a, b);
      const cross = seg.filter((p) => isSwarm(p) && !ctx.isExplained(p));
      if (!cross.length || cross.some((p) => p.status !== 'fail')) continue;
      if ([...ctx.inside(a), ...ctx.inside(b)].some((p) => isSwarm(p) && p.status === 'fail')) continue;
      const reach = seg.filter((p) => isControlUdp(p) || p.path === 'vxlan');
      if (!reach.length || reach.some((p) => p.status !== 'pass')) continue;
      const segment = { label: ctx.groupLabel, from: a, to: b };
      const ports = [...new Set(cross.map(portLabel))].sort();
      const c = ctx.add(rootCauseId('control-ports-blocked', [], segment), {
        kind: 'control-ports-blocked',
        severity: 'critical',
        nodes: new Set(),
        segment,
        summary: `Swarm control ports (${ports.join(', ')}) are blocked between ${ctx.groupLabel} ${a} and ${ctx.groupLabel} ${b}`,
        evidence: [
          `every probed ${ctx.groupLabel} ${a} <-> ${ctx.groupLabel} ${b} pair fails on ${ports.join(', ')} (${cross.length} probes), pairs inside each ${ctx.groupLabel} pass`,
          `reachability probes across the segment pass (${reach.length}): ${[...new Set(reach.map((p) => p.path + (p.port ? ` ${p.port}` : '')))].join(', ')}`,
        ],
        remediation: KINDS['control-ports-blocked'].remediation,
        observers: new Set(),
        repeated: false,
        onset: ctx.input.now,
      });
      ctx.attach(c, cross);
      ctx.attach(
        c,
        seg.filter((p) => p.status === 'fail' && p.path === 'control' && !ctx.isExplained(p)),
      );
      for (const p of cross) {
        c.nodes.add(p.src);
        c.nodes.add(p.dst);
      }
    }
    for (const n of ctx.input.nodes) {
      if (!ctx.failingTo(n.name)) continue;
      const failing = ctx
        .toNode(n.name)
        .filter((p) => isSwarm(p) && !ctx.isExplained(p) && p.status === 'fail');
      // Two rounds running: one round of TCP connects timing out to every node at once is the
      // prober (a stalled event loop), not a firewall.
      if (!failing.length || failing.some((p) => p.failStreak < 2)) continue;
      const c = ctx.add(rootCauseId('control-ports-blocked', [n.name]), {
        kind: 'control-ports-blocked',
        severity: 'critical',
        nodes: new Set([n.name]),
        summary: `Swarm control ports to ${n.name} are blocked (${[...new Set(failing.map((p) => p.port))].join(', ')})`,
        evidence: [],
        remediation: KINDS['control-ports-blocked'].remediation,
        observers: new Set(),
        repeated: false,
        onset: ctx.input.now,
      });
      ctx.attach(c, failing);
    }
  },
};
