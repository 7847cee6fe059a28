/**
 * underlay-vxlan-filtered on a segment, per VXLAN port: every probe on that port across two
 * topology groups fails (consistently: two rounds, or many probes at once), the pairs inside each
 * group pass on it, and the segment is reachable (control probes or another VXLAN port pass).
 * One root cause per segment, naming each dropped port and its overlay, and the ports that pass.
 */
import type { PairStatus } from '../../state/index.js';
import { isControlUdp, type Rule, rootCauseId } from '../engine.js';
import { KINDS } from '../kinds.js';
import { byPort, consistentDrop, passingPorts, pmtuDropped, portName } from './vxlan-ports.js';

const EXPLAINS = new Set(['vxlan', 'overlay', 'pmtu']);

export const vxlanFilteredSegment: Rule = {
  id: 'vxlan-filtered-segment',
  kinds: ['underlay-vxlan-filtered'],
  run(ctx) {
    for (const [a, b] of ctx.segments) {
      if (!ctx.failingAcross(a, b)) continue; // a drop needs failures
      const seg = ctx.across(a, b);
      const open = seg.filter((p) => !ctx.isExplained(p));
      const cross = byPort(ctx, open);
      const dropped: number[] = [];
      const passing: number[] = [];
      // With more peers than a full mesh, the pairs across a segment are probed in rotation:
      // a pair whose latest probe passed BEFORE the failures began says nothing against them.
      // Only passes since the earliest failure contradict a drop.
      const droppedOn = new Map<number, PairStatus[]>();
      for (const [port, ps] of cross) {
        const fails = ps.filter((p) => p.status === 'fail');
        if (!fails.length) {
          if (ps.every((p) => p.status === 'pass')) passing.push(port);
          continue;
        }
        const onset = Math.min(...fails.map((p) => p.failSince ?? p.last.at));
        if (ps.some((p) => p.status === 'pass' && p.last.at >= onset)) continue;
        dropped.push(port);
        droppedOn.set(port, fails);
      }
      if (!dropped.length) continue;
      const droppedPairs = dropped.flatMap((port) => droppedOn.get(port) ?? []);
      const sameDrop = pmtuDropped(open, dropped);
      if (!consistentDrop(droppedPairs, sameDrop)) continue;
      const insideFail = [...ctx.inside(a), ...ctx.inside(b)].some(
        (p) => p.path === 'vxlan' && dropped.includes(p.port ?? -1) && p.status === 'fail',
      );
      if (insideFail) continue;
      const ctl = seg.filter((p) => isControlUdp(p));
      const ctlOk = ctl.length > 0 && ctl.every((p) => p.status === 'pass');
      if (!ctlOk && !passing.length) continue;
      dropped.sort((x, y) => x - y);
      passing.sort((x, y) => x - y);
      const segment = { label: ctx.groupLabel, from: a, to: b };
      const names = dropped.map((p) => portName(ctx, p)).join(' and ');
      const c = ctx.add(rootCauseId('underlay-vxlan-filtered', [], segment), {
        kind: 'underlay-vxlan-filtered',
        severity: 'critical',
        nodes: new Set(),
        segment,
        summary: `The underlay between ${ctx.groupLabel} ${a} and ${ctx.groupLabel} ${b} drops VXLAN ${names}${passingPorts(ctx, passing)}: probes leave one ${ctx.groupLabel} and never reach the other, while ${ctlOk ? 'control probes pass' : 'the other VXLAN port passes'} and pairs inside each ${ctx.groupLabel} work`,
        evidence: [
          ...dropped.map((port) => {
            const ps = droppedOn.get(port) ?? [];
            const streaks = ps.map((p) => p.failStreak);
            const lo = Math.min(...streaks);
            const hi = Math.max(...streaks);
            return `every probed ${ctx.groupLabel} ${a} <-> ${ctx.groupLabel} ${b} pair fails on UDP ${port} (${ps.length} pairs, each for ${lo === hi ? lo : `${lo}-${hi}`} rounds in a row), pairs inside each ${ctx.groupLabel} pass`;
          }),
          ...(ctlOk ? [`reachability probes across the segment pass (${ctl.length} control pairs)`] : []),
          ...passing.map(
            (port) => `UDP ${port} across the segment passes (${cross.get(port)?.length ?? 0} pairs)`,
          ),
        ],
        remediation: `Allow ${dropped.map((p) => `UDP ${p}`).join(' and ')} between ${ctx.groupLabel} ${a} and ${b} on every hop (switch port modes and ACLs, e.g. Huawei CE ToR ports: \`interface <port>\` then \`port nvo3 mode access\`; routers and firewalls in between). Verify with \`vxdoctor trace SRC DST\`.`,
        observers: new Set(),
        repeated: false,
        onset: ctx.input.now,
        confidence: droppedPairs.every((p) => p.failStreak >= 2) ? 'high' : 'medium',
      });
      ctx.attach(c, droppedPairs);
      // pmtu and overlay probes across the segment die on the same hop (on a dropped port).
      ctx.attach(
        c,
        seg.filter((p) => p.status === 'fail' && EXPLAINS.has(p.path) && !ctx.isExplained(p)),
      );
      for (const p of droppedPairs) {
        c.nodes.add(p.src);
        c.nodes.add(p.dst);
      }
    }
  },
};
