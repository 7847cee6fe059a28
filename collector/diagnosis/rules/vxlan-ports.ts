/** Helpers shared by the per-port VXLAN filtering rules (not a rule itself). */
import type { PairStatus } from '../../state/index.js';
import type { RuleContext } from '../engine.js';
import { overlayOfPort } from '../kinds.js';

/** Probes in the latest round that make a 100 % drop unambiguous without a second round. */
export const ONE_ROUND_PROBES = 12;

/**
 * VXLAN-port probes (small ones, and full-size ones standing for them) by port. A port the
 * destination's VTEPs no longer use (its latest snapshot says so) is left out: probes sent to it
 * before the peers learned the change say nothing about the path.
 */
export function byPort(ctx: RuleContext, ps: PairStatus[]): Map<number, PairStatus[]> {
  const out = new Map<number, PairStatus[]>();
  for (const p of ps) {
    if (p.path !== 'vxlan' || p.port === null) continue;
    const vteps = ctx.node(p.dst)?.vteps ?? [];
    if (vteps.length && !vteps.some((v) => v.port === p.port)) continue;
    const l = out.get(p.port);
    if (l) l.push(p);
    else out.set(p.port, [p]);
  }
  return out;
}

/**
 * A set of probes that all fail is a drop, not random loss, when each failed two rounds running,
 * or when enough of them failed at once that loss would not plausibly hit every one. `also`:
 * full-size probes to the same ports whose whole size search failed (the same drop, seen again).
 */
export function consistentDrop(ps: PairStatus[], also: PairStatus[] = []): boolean {
  if (!ps.length || ps.some((p) => p.status !== 'fail')) return false;
  return ps.every((p) => p.failStreak >= 2) || ps.length + also.length >= ONE_ROUND_PROBES;
}

/** pmtu probes on these ports that failed at every size (no size passed, no frag-needed). */
export function pmtuDropped(ps: PairStatus[], ports: number[]): PairStatus[] {
  return ps.filter(
    (p) =>
      p.path === 'pmtu' &&
      p.status === 'fail' &&
      ports.includes(p.port ?? -1) &&
      p.last.pmtu?.largestPassing === null &&
      p.last.pmtu.fragNeededMtu === null,
  );
}

export function allVteps(ctx: RuleContext): Array<{ style: string; port: number }> {
  return ctx.input.nodes.flatMap((n) => n.vteps);
}

/** "UDP 4789, the Docker/Swarm overlay" */
export function portName(ctx: RuleContext, port: number): string {
  return `UDP ${port}, ${overlayOfPort(port, allVteps(ctx))}`;
}

/** "; flannel on UDP 8472 passes" for the ports that pass, or ''. */
export function passingPorts(ctx: RuleContext, ports: number[]): string {
  if (!ports.length) return '';
  return `; ${ports.map((p) => `${overlayOfPort(p, allVteps(ctx))} on UDP ${p} passes`).join(', ')}`;
}
