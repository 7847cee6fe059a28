/**
 * Per-kind knowledge, in one table: the default remediation, which probe paths a root cause of
 * that kind on its nodes explains, which other kinds it absorbs (one fault, one root cause),
 * and whether findings of it on several nodes are one fault.
 */
import type { RootCauseKind } from '../../shared/schema.js';

export interface KindInfo {
  remediation: string;
  /** Probe paths a configuration root cause on its nodes explains (findings rule). */
  explains?: ReadonlySet<string>;
  /** Kinds whose candidates on the same nodes become evidence of this one. */
  absorbs?: readonly RootCauseKind[];
  /** Findings of this kind on several nodes are one fault (one root cause). */
  merged?: boolean;
}

const paths = (...p: string[]): ReadonlySet<string> => new Set(p);

export const KINDS: Record<RootCauseKind, KindInfo> = {
  'underlay-vxlan-filtered': {
    remediation:
      'Allow UDP 4789 (Docker overlay) and UDP 8472 (flannel) on every hop of the underlay path: switch port modes and ACLs (Huawei CE ToR ports: `interface <port>` then `port nvo3 mode access`), routers and firewalls in between. Verify with `vxdoctor trace SRC DST`.',
  },
  'host-firewall-vxlan': {
    remediation:
      "Allow VXLAN in the node's own firewall, e.g. `nft insert rule inet filter input udp dport { 4789, 8472 } accept` or `iptables -I INPUT -p udp -m multiport --dports 4789,8472 -j ACCEPT`, and persist it.",
    explains: paths('overlay', 'vxlan', 'pmtu'),
  },
  'underlay-mtu': {
    remediation:
      'Raise the underlay MTU on every hop (NIC, switch ports) to at least overlay MTU + 50, or lower the overlay MTU (Docker: `-o com.docker.network.driver.mtu=N`; flannel: `--iface-mtu`/net-conf MTU).',
    // A local underlay-MTU finding explains overlay failures; the pmtu probes stay for the
    // underlay-mtu rule to measure (largest size, frag-needed, learned PMTU), which then leads.
    explains: paths('overlay'),
    absorbs: ['mtu-mismatch', 'underlay-mtu'],
  },
  'underlay-loss': {
    remediation:
      'Find the lossy hop on the path: interface error and discard counters on the switch ports and uplinks of the segment (`show interface` / `ethtool -S`), optics (DOM levels), ECMP members (one bad member loses a share of flows), congestion (queue drops). Do not change MTUs for this: loss that does not depend on packet size is not an MTU problem.',
  },
  'fdb-wrong-destination': {
    remediation:
      'The VTEP forwards to a wrong underlay address (often a NAT address such as 10.0.2.15): start flannel with `--iface=<unique underlay interface>` (or `--public-ip=<node address>`), then restart it so the FDB is reprogrammed.',
    explains: paths('overlay'),
  },
  'duplicate-vtep-address': {
    remediation:
      'Several nodes advertise the same VTEP address (e.g. Vagrant NAT 10.0.2.15): set flannel `--iface=<unique interface>` / `--public-ip` on every node and restart flannel.',
    explains: paths('overlay', 'vxlan'),
    absorbs: ['fdb-wrong-destination'],
    merged: true,
  },
  'missing-gwbridge': {
    remediation:
      'Recreate docker_gwbridge: `docker network create --subnet 172.18.0.0/16 --gateway 172.18.0.1 -o com.docker.network.bridge.enable_icc=false -o com.docker.network.bridge.name=docker_gwbridge docker_gwbridge`, then restart the service tasks.',
    explains: paths('overlay'),
  },
  'vni-mismatch': {
    remediation:
      "Nodes disagree on the overlay VNI: recreate the overlay network (or the node's VTEP) so every node uses the same VNI; on Docker, leave and rejoin the overlay network on the odd node.",
    explains: paths('overlay'),
  },
  'dstport-mismatch': {
    remediation:
      'Nodes disagree on the VXLAN destination port: use the same port everywhere (Docker `--data-path-port`, flannel backend Port), then recreate the VTEP on the odd node.',
    explains: paths('overlay', 'vxlan'),
  },
  'neighbor-missing': {
    remediation:
      "The remote endpoint's neighbor entry is missing on the VTEP: restart the overlay agent (Docker daemon / flannel) on the node, or re-add the PERMANENT entry with `ip neigh replace`.",
    explains: paths('overlay'),
  },
  'control-ports-blocked': {
    remediation:
      'Open the Swarm control ports between the nodes: TCP 2377 (management), TCP and UDP 7946 (gossip), plus UDP 4789 (data), in switches, routers and firewalls.',
  },
  'vtep-down': {
    remediation:
      'Bring the VTEP back up (`ip link set <vtep> up` in its namespace) and check why it went down (overlay driver logs).',
    explains: paths('overlay'),
  },
  'node-unreachable': {
    remediation:
      "Every probe path to the node fails while its agent still reports: check the node's underlay link, switch port and routes (`ip link`, `ip route`, switch port state).",
  },
  'agent-down': {
    remediation:
      'The agent stopped reporting (presence expired): check the agent process/pod on the node (`kubectl -n vxdoctor get pods -o wide`, `docker service ps vxdoctor_agent`) and its NATS connectivity.',
  },
  'kernel-unsupported': {
    remediation:
      'Upgrade the kernel: Docker overlay needs >= 3.16 (3.10 may assign overlapping subnets); UFO + virtio needs >= 3.13 / 3.10.0-229.',
  },
  'offload-risk': {
    remediation: 'Disable the risky offload (`ethtool -K <nic> ufo off`) or upgrade the kernel/driver.',
  },
  'subnet-overlap': {
    remediation:
      'An overlay subnet overlaps a host route or address: recreate the overlay network with a non-overlapping `--subnet`, or remove the conflicting route.',
    explains: paths('overlay'),
  },
  'duplicate-vtep-mac': {
    remediation: 'Two VTEPs share one MAC address: recreate the VTEP on one node so it gets a unique MAC.',
    explains: paths('overlay'),
    merged: true,
  },
  'mtu-mismatch': {
    remediation:
      'Make the MTUs along the overlay chain consistent (container eth0 and VTEP <= underlay MTU - 50).',
    explains: paths('overlay'),
  },
  'sysctl-risk': { remediation: 'Set the sysctl to the recommended value and persist it in /etc/sysctl.d/.' },
  'inventory-incomplete': {
    remediation:
      'The agent could not read part of the node: run it privileged (CAP_NET_ADMIN, CAP_SYS_ADMIN, host network and PID namespace, /var/run/docker/netns and /run/netns mounted, nft/iptables installed).',
  },
};

/** Default remediation per kind (kept for callers of the old export). */
export const DEFAULT_REMEDIATION: Record<RootCauseKind, string> = Object.fromEntries(
  Object.entries(KINDS).map(([k, v]) => [k, v.remediation]),
) as Record<RootCauseKind, string>;

/** The overlay a VXLAN port usually belongs to, when no VTEP of a node names it. */
export function overlayOfPort(port: number, vteps: Array<{ style: string; port: number }>): string {
  const styles = [...new Set(vteps.filter((v) => v.port === port).map((v) => v.style))];
  const name = (s: string) =>
    s === 'docker' ? 'the Docker/Swarm overlay' : s === 'flannel' ? 'flannel' : `the ${s} VXLAN overlay`;
  if (styles.length) return styles.map(name).join(' and ');
  if (port === 4789) return 'the Docker/Swarm overlay (IANA VXLAN port)';
  if (port === 8472) return 'flannel (Linux default VXLAN port)';
  return 'a VXLAN overlay';
}
