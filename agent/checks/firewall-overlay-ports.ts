import type { Check, FirewallRule, Finding, NodeSnapshot } from '../../shared/schema.js';
import { problem, unknown } from './util.js';

interface Port {
  protocol: 'udp' | 'tcp';
  port: number;
}
const VXLAN_PORTS = [4789, 8472];
const CONTROL: Port[] = [
  { protocol: 'tcp', port: 2377 },
  { protocol: 'tcp', port: 7946 },
  { protocol: 'udp', port: 7946 },
];
/** Hooks incoming overlay traffic passes (null: a chain whose hook inventory could not tell). */
const INCOMING_HOOKS = new Set<string | null>([null, 'input', 'prerouting', 'forward']);

const portText = (p: Port) => `${p.protocol.toUpperCase()} ${p.port}`;

/** Does the rule decide for packets to `p`? Port-less rules are whole-protocol rules (`udp drop`). */
function matches(r: FirewallRule, p: Port): boolean {
  if (r.protocol !== 'any' && r.protocol !== p.protocol) return false;
  return r.dports.length === 0 ? r.protocol !== 'any' : r.dports.includes(p.port);
}

const chainKey = (r: Pick<FirewallRule, 'family' | 'table' | 'chain'>) => `${r.family} ${r.table} ${r.chain}`;

interface Verdicts {
  /** Rules that are the first decision for a watched port in their chain and drop/reject it. */
  rules: Map<FirewallRule, Port[]>;
  /** Input base chains with policy drop where no rule accepts the port. */
  policies: Map<string, Port[]>;
}

const push = <K>(m: Map<K, Port[]>, k: K, p: Port) => m.set(k, [...(m.get(k) ?? []), p]);

/**
 * Rules are kept in ruleset order; within one chain the first rule that decides for a port wins,
 * so a drop behind an accept for the same port never sees those packets. Chains are judged
 * separately: an accept in one nft base chain does not stop a drop in another at the same hook.
 */
function judge(s: NodeSnapshot, ports: Port[], policyPorts: Port[]): Verdicts {
  const fw = s.firewall!;
  const out: Verdicts = { rules: new Map(), policies: new Map() };
  const chains = new Map<string, FirewallRule[]>();
  for (const r of fw.rules) {
    if (r.verdict === 'other' || !INCOMING_HOOKS.has(r.hook)) continue;
    const k = `${r.source} ${chainKey(r)}`;
    chains.set(k, [...(chains.get(k) ?? []), r]);
  }
  for (const rules of chains.values())
    for (const p of ports) {
      const first = rules.find((r) => matches(r, p));
      if (first && first.verdict !== 'accept') push(out.rules, first, p);
    }
  for (const [key, policy] of Object.entries(fw.policies)) {
    if (policy.toLowerCase() !== 'drop') continue;
    const own = fw.rules.filter((r) => chainKey(r) === key);
    // The parser keeps policies of input and forward base chains only; VXLAN to this node's own
    // address passes input. Without a rule in the chain to tell the hook, go by its name.
    const hook =
      own.find((r) => r.hook)?.hook ?? (/forward|fwd/i.test(key.split(' ')[2] ?? '') ? 'forward' : 'input');
    if (hook !== 'input') continue;
    const [family, table] = key.split(' ');
    // Regular chains jumped to from this hook (hook inherited) can accept before the policy applies.
    const reachable = fw.rules.filter(
      (r) => chainKey(r) === key || (r.family === family && r.table === table && r.hook === 'input'),
    );
    for (const p of policyPorts) {
      const first = reachable.find((r) => r.verdict !== 'other' && matches(r, p));
      if (!first) push(out.policies, key, p);
    }
  }
  return out;
}

/** Remediation command that lets `ports` in before anything else in the chain. */
function allowCommand(key: string, source: FirewallRule['source'] | null, ports: Port[]): string {
  const [family, table, chain] = key.split(' ') as [string, string, string];
  const byProto = (['udp', 'tcp'] as const)
    .map((proto) => [proto, ports.filter((p) => p.protocol === proto).map((p) => p.port)] as const)
    .filter(([, list]) => list.length > 0);
  if (source === 'iptables' || (family === 'ip' && /^[A-Z]+$/.test(chain)))
    return byProto
      .map(
        ([proto, list]) =>
          `iptables${table === 'filter' ? '' : ` -t ${table}`} -I ${chain} -p ${proto} ${list.length > 1 ? `-m multiport --dports ${list.join(',')}` : `--dport ${list[0]}`} -j ACCEPT`,
      )
      .join('; ');
  return byProto
    .map(
      ([proto, list]) =>
        `nft insert rule ${family} ${table} ${chain} ${proto} dport { ${list.join(', ')} } accept`,
    )
    .join('; ');
}

export const firewallOverlayPorts: Check = {
  id: 'firewall-overlay-ports',
  title: 'Local firewall lets VXLAN and Swarm control ports in',
  incident: [2],
  run(s) {
    if (!s.firewall) {
      const why = s.unknowns.find((u) => /nft|firewall|iptables/.test(u.what));
      return [
        unknown(s, 'firewall-overlay-ports', 'host/firewall', why?.reason ?? 'firewall rules not read'),
      ];
    }
    const vxlan: Port[] = VXLAN_PORTS.map((port) => ({ protocol: 'udp', port }));
    // A drop policy only matters for the ports this node uses: its VTEPs' ports, 4789 under Swarm.
    const inUse = new Set([...s.vteps.map((v) => v.port), ...(s.docker.swarm ? [4789] : [])]);
    const control = s.docker.swarm ? CONTROL : [];
    const v = judge(s, [...vxlan, ...control], [...vxlan.filter((p) => inUse.has(p.port)), ...control]);
    const out: Finding[] = [];
    const group = (isVx: (p: Port) => boolean) => {
      const rules = [...v.rules]
        .map(([r, ps]) => [r, ps.filter(isVx)] as const)
        .filter(([, ps]) => ps.length > 0);
      const policies = [...v.policies]
        .map(([k, ps]) => [k, ps.filter(isVx)] as const)
        .filter(([, ps]) => ps.length > 0);
      const ports = [
        ...new Map([...rules, ...policies].flatMap(([, ps]) => ps).map((p) => [portText(p), p])).values(),
      ];
      const evidence = [
        ...rules.map(([r]) => r.text),
        ...policies.map(
          ([k, ps]) => `${k}: policy drop, and no rule accepts ${ps.map(portText).join(', ')} before it`,
        ),
      ];
      const fixes = [
        ...rules.map(([r, ps]) => allowCommand(chainKey(r), r.source, ps)),
        ...policies.map(([k, ps]) => allowCommand(k, null, ps)),
      ];
      const verb = rules[0]?.[0].verdict ?? 'drop';
      return {
        ports,
        evidence,
        fixes: [...new Set(fixes)],
        verb,
        any: evidence.length > 0,
        byRule: rules.length > 0,
      };
    };

    const vx = group((p) => p.protocol === 'udp' && VXLAN_PORTS.includes(p.port));
    if (vx.any) {
      out.push(
        problem(s, {
          check: 'firewall-overlay-ports',
          kind: 'host-firewall-vxlan',
          // A rule that names the port is certain. A drop policy with no accept for the port is
          // likely but not certain: the inventory keeps only rules that name overlay ports or a
          // whole protocol, so an accept by address or interface (ip saddr 10.0.0.0/8 accept)
          // is not seen. The heartbeats tell for sure (host-firewall-vxlan root cause).
          severity: vx.byRule ? 'critical' : 'warning',
          incident: 2,
          subject: 'host/firewall',
          summary: vx.byRule
            ? `this node's firewall ${vx.verb}s incoming VXLAN (${vx.ports.map(portText).join(', ')}): overlay traffic reaches the NIC and dies before the VTEP`
            : `this node's input policy drops incoming VXLAN (${vx.ports.map(portText).join(', ')}) unless a rule that accepts by address or interface lets the peers in: overlay traffic would die before the VTEP`,
          evidence: vx.evidence,
          remediation: `Allow the VXLAN port from the other nodes before the drop: ${vx.fixes.join('; ')} (restrict it to the underlay subnet with ip saddr / -s if you like), and make it persistent.`,
        }),
      );
    }
    const ctl = group((p) => CONTROL.some((c) => c.protocol === p.protocol && c.port === p.port));
    if (ctl.any && s.docker.swarm) {
      out.push(
        problem(s, {
          check: 'firewall-overlay-ports',
          kind: 'control-ports-blocked',
          severity: 'warning',
          incident: 2,
          subject: 'host/firewall-control',
          summary: `this node's firewall blocks Swarm control ports (${ctl.ports.map(portText).join(', ')}; TCP 2377 is needed on managers, TCP/UDP 7946 everywhere): gossip and service discovery break`,
          evidence: ctl.evidence,
          remediation: `Allow the Swarm control ports between the nodes before the drop: ${ctl.fixes.join('; ')}, and make it persistent.`,
        }),
      );
    }
    return out;
  },
};
