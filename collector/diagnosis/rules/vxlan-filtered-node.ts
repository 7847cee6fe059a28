/**
 * VXLAN dropped in front of one node, per port: every probe on that port to the node fails
 * (consistently) while its control probes pass (or another VXLAN port passes). Reached the NIC
 * and never answered -> host-firewall-vxlan (its input chain; the replies to the node's own
 * probes on that port die there too); never reached it -> underlay-vxlan-filtered in front of
 * the node. The same filtering in front of several nodes without topology labels is one fault.
 */
import type { RootCauseKind } from '../../../shared/schema.js';
import type { Candidate, Rule } from '../engine.js';
import { isControlUdp, rootCauseId } from '../engine.js';
import { KINDS } from '../kinds.js';
import { byPort, consistentDrop, passingPorts, pmtuDropped, portName } from './vxlan-ports.js';

export const vxlanFilteredNode: Rule = {
  id: 'vxlan-filtered-node',
  kinds: ['host-firewall-vxlan', 'underlay-vxlan-filtered'],
  run(ctx) {
    const filtered: Array<[string, Candidate]> = [];
    for (const n of ctx.input.nodes) {
      if (!ctx.failingTo(n.name)) continue; // a drop needs failures
      const ports = byPort(
        ctx,
        ctx.toNode(n.name).filter((p) => !ctx.isExplained(p)),
      );
      const dropped: number[] = [];
      const passing: number[] = [];
      for (const [port, ps] of ports) {
        if (ps.every((p) => p.status === 'fail')) dropped.push(port);
        else if (ps.every((p) => p.status === 'pass')) passing.push(port);
      }
      if (!dropped.length) continue;
      const vx = dropped.flatMap((port) => ports.get(port) ?? []);
      const sameDrop = pmtuDropped(
        ctx.toNode(n.name).filter((p) => !ctx.isExplained(p)),
        dropped,
      );
      if (!consistentDrop(vx, sameDrop) && new Set(vx.map((p) => p.src)).size < 3) continue;
      const ctl = ctx.toNode(n.name).filter(isControlUdp);
      if (ctl.some((p) => p.status === 'fail')) continue;
      if (!ctl.length && !passing.length) continue;
      dropped.sort((x, y) => x - y);
      passing.sort((x, y) => x - y);
      const reachedNic = vx.every((p) => p.last.arrivedDst === true);
      const kind: RootCauseKind = reachedNic ? 'host-firewall-vxlan' : 'underlay-vxlan-filtered';
      const names = dropped.map((p) => portName(ctx, p)).join(' and ');
      const id = rootCauseId(kind, [n.name]);
      const c = ctx.add(id, {
        kind,
        severity: 'critical',
        nodes: new Set([n.name]),
        summary: reachedNic
          ? `${n.name} drops VXLAN ${names} after its NIC${passingPorts(ctx, passing)}: probes reach ${n.name}'s NIC and are never answered (host firewall)`
          : `VXLAN ${names} to ${n.name} is dropped on the path in front of it${passingPorts(ctx, passing)}; control probes pass`,
        evidence: [],
        remediation: reachedNic
          ? `Allow ${dropped.map((p) => `UDP ${p}`).join(' and ')} in ${n.name}'s own firewall, e.g. \`nft insert rule inet filter input udp dport ${dropped.length > 1 ? `{ ${dropped.join(', ')} }` : dropped[0]} accept\` or \`iptables -I INPUT -p udp --dport ${dropped[0]} -j ACCEPT\`, and persist it.`
          : KINDS[kind].remediation,
        observers: new Set(),
        repeated: false,
        onset: ctx.input.now,
        confidence: vx.every((p) => p.failStreak >= 2) ? 'high' : 'medium',
      });
      ctx.attach(c, vx);
      const onPort = (port: number | null) => port === null || dropped.includes(port);
      ctx.attach(
        c,
        ctx.unexplained().filter(
          (p) =>
            (p.dst === n.name && (p.path === 'overlay' || p.path === 'pmtu')) ||
            // its input chain also drops the replies to its own probes on that port
            (reachedNic && p.src === n.name && (p.path === 'vxlan' || p.path === 'pmtu') && onPort(p.port)),
        ),
      );
      if (kind === 'underlay-vxlan-filtered') filtered.push([id, c]);
    }
    if (filtered.length < 2) return;
    const nodes = filtered.flatMap(([, c]) => [...c.nodes]).sort();
    for (const [id] of filtered) ctx.candidates.delete(id);
    ctx.add(rootCauseId('underlay-vxlan-filtered', nodes), {
      kind: 'underlay-vxlan-filtered',
      severity: 'critical',
      nodes: new Set(nodes),
      summary: `VXLAN is dropped on the underlay between ${nodes.join(', ')}: probes leave and never arrive while control probes pass (set --group-label to localize the segment). ${filtered[0]?.[1].summary ?? ''}`,
      evidence: filtered.flatMap(([, c]) => c.evidence),
      remediation: KINDS['underlay-vxlan-filtered'].remediation,
      observers: new Set(filtered.flatMap(([, c]) => [...c.observers])),
      repeated: filtered.some(([, c]) => c.repeated),
      onset: Math.min(...filtered.map(([, c]) => c.onset)),
      confidence: 'medium',
    });
  },
};
