/**
 * Pure topology over per-namespace data: which namespace a `link_netnsid` points at, namespace
 * roles, the underlay device, overlay chains and VTEP summaries.
 */
import type {
  ChainHop,
  Link,
  NetnsRole,
  NetnsSnapshot,
  OverlayChain,
  OverlayKind,
  VtepSummary,
} from '../../shared/schema.js';

/** Per namespace id: nsid (relative to that namespace) -> namespace id. */
export type NsidMap = Map<string, Map<number, string>>;

/**
 * Resolves every `link_netnsid` to a namespace. `known` holds what names already resolved
 * (`ip netns list-id` names matched by inode); the rest is found by matching veth pairs both
 * ways: L in A (peer ifindex p, nsid k) and M in B with ifindex p whose peer ifindex is L's.
 * Every link of A with nsid k must agree, so candidates are intersected.
 */
export function resolveNsids(namespaces: NetnsSnapshot[], known: NsidMap = new Map()): NsidMap {
  const out: NsidMap = new Map();
  for (const [id, m] of known) out.set(id, new Map(m));
  const candidates = new Map<string, Set<string>>(); // `${A}\0${k}` -> namespace ids
  for (const a of namespaces) {
    for (const l of a.links) {
      if (l.linkNetnsid === null || l.peerIfindex === null || l.kind !== 'veth') continue;
      if (out.get(a.id)?.has(l.linkNetnsid)) continue;
      const here = new Set<string>();
      for (const b of namespaces) {
        if (b.id === a.id) continue;
        const m = b.links.find((x) => x.ifindex === l.peerIfindex);
        if (m && m.kind === 'veth' && m.peerIfindex === l.ifindex && m.linkNetnsid !== null) here.add(b.id);
      }
      const key = `${a.id}\0${l.linkNetnsid}`;
      const prev = candidates.get(key);
      candidates.set(key, prev ? new Set([...prev].filter((x) => here.has(x))) : here);
    }
  }
  for (const [key, set] of candidates) {
    if (set.size !== 1) continue;
    const [a, k] = key.split('\0') as [string, string];
    const m = out.get(a) ?? new Map<number, string>();
    out.set(a, m);
    m.set(Number(k), [...set][0] as string);
  }
  return out;
}

/** The namespace a link's peer lives in and the peer link itself, when resolvable. */
export function peerOf(
  namespaces: Map<string, NetnsSnapshot>,
  nsids: NsidMap,
  ns: NetnsSnapshot,
  link: Link,
): { ns: NetnsSnapshot; link: Link } | null {
  if (link.peerIfindex === null) return null;
  const otherId = link.linkNetnsid === null ? ns.id : nsids.get(ns.id)?.get(link.linkNetnsid);
  const other = otherId === undefined ? undefined : namespaces.get(otherId);
  if (!other) return null;
  const peer = other.links.find((l) => l.ifindex === link.peerIfindex);
  return peer ? { ns: other, link: peer } : null;
}

const DOCKER_OVERLAY_NAME = /^\d+-[0-9a-z]+$/;
/** Docker's namespace directory under any exec-root (`/var/run/docker/netns`, `/run/docker-x/netns`). */
const DOCKER_NETNS_PLACE = /\/[^/]*docker[^/]*\/netns\/[^/]+$/;

/**
 * Role from contents, with the name and place as hints. A Docker overlay sandbox is what
 * libnetwork builds, whatever the namespace is called: a namespace of its own holding a bridge
 * and a VTEP with its own VNI (not collect-metadata), the VTEP created elsewhere and moved in
 * (no local address; the ARP-proxy/miss flags libnetwork sets), or the namespace in Docker's
 * netns directory, or named `<n>-<id>`.
 */
export function classifyRole(ns: NetnsSnapshot): NetnsRole {
  if (ns.origin === 'host') return 'host';
  const hasBridge = ns.links.some((l) => l.kind === 'bridge');
  const vteps = ns.links.filter((l) => l.kind === 'vxlan');
  const ownVni = vteps.filter((l) => !l.vxlan?.external);
  if (hasBridge && ownVni.length > 0) {
    const docker =
      DOCKER_OVERLAY_NAME.test(ns.name) ||
      (ns.path !== null && DOCKER_NETNS_PLACE.test(ns.path)) ||
      ownVni.some(
        (l) =>
          !l.vxlan?.local && (l.linkNetnsid !== null || l.vxlan?.proxy || l.vxlan?.l2miss || l.vxlan?.l3miss),
      );
    if (docker) return 'docker-overlay';
  }
  if (ns.name === 'ingress_sbox') return 'docker-ingress';
  if (!hasBridge && vteps.length === 0 && ns.links.some((l) => l.kind === 'veth' && l.linkNetnsid !== null))
    return 'container';
  return 'other';
}

/** The overlay's own defaults, as its source creates the device. */
export const OVERLAY_DEFAULTS: Record<
  Exclude<OverlayKind, 'unknown'>,
  { port: number; vni: number | null }
> = {
  docker: { port: 4789, vni: null }, // VNI per network, 256 and up (4096 and up in newer releases)
  flannel: { port: 8472, vni: 1 }, // kernel default port; device flannel.<VNI>
  calico: { port: 4789, vni: 4096 }, // vxlan.calico (IPv4)
  cilium: { port: 8472, vni: null }, // cilium_vxlan, collect-metadata
  weave: { port: 6784, vni: null }, // vxlan-<weave port + 1>, an ODP vport, collect-metadata
  antrea: { port: 4789, vni: null }, // OVS tunnel port (kernel device vxlan_sys_<port>), collect-metadata
};

const NAME_HINTS: Array<[RegExp, OverlayKind]> = [
  [/^flannel\.\d+$/, 'flannel'],
  [/^vxlan\.calico$/, 'calico'],
  [/^cilium_vxlan$/, 'cilium'],
  [/^vxlan-\d+$/, 'weave'],
  [/^(antrea-tun\d+|vxlan_sys_\d+)$/, 'antrea'],
];

/**
 * Which overlay built this VTEP, from what the kernel shows; the device name breaks ties and
 * keeps a recognized device recognized when one of its values is wrong (the fault to report).
 *  - collect-metadata (`external`): Weave fast datapath (port 6784, an ODP vport; master the
 *    datapath), an OVS tunnel port (master of kind openvswitch: Antrea), else Cilium (port 8472,
 *    no master, next to cilium_host);
 *  - own VNI in a bridge + VTEP sandbox: Docker;
 *  - own VNI with a local address and learning off: flannel (port 8472, VNI 1) or Calico
 *    (port 4789, VNI 4096);
 *  - anything else: unknown (still inventoried, probed on its port, judged by the generic checks).
 */
export function classifyVtep(ns: NetnsSnapshot, link: Link): OverlayKind {
  const x = link.vxlan;
  if (!x) return 'unknown';
  const hint = NAME_HINTS.find(([re]) => re.test(link.name))?.[1];
  const score = new Map<OverlayKind, number>();
  const add = (k: OverlayKind, n: number) => score.set(k, (score.get(k) ?? 0) + n);
  if (x.external) {
    const master = ns.links.find((l) => l.name === link.master);
    const near = (re: RegExp) => ns.links.some((l) => re.test(l.name));
    if (x.port === 6784) add('weave', 2);
    if (master?.kind === 'openvswitch') add(x.port === 6784 ? 'weave' : 'antrea', 2);
    if (x.port === 8472 && !master) add('cilium', 2);
    if (near(/^cilium_(host|net)$/)) add('cilium', 1);
    if (near(/^antrea-gw\d+$/)) add('antrea', 1);
    if (near(/^weave$/) || master?.name === 'datapath') add('weave', 1);
    if (hint === 'weave' || hint === 'cilium' || hint === 'antrea') add(hint, 1);
  } else {
    if (ns.role === 'docker-overlay') return 'docker';
    if (x.local && !x.learning) {
      if (x.port === 8472) add('flannel', 1);
      if (x.vni === 1) add('flannel', 1);
      if (x.port === 4789) add('calico', 1);
      if (x.vni === 4096) add('calico', 1);
    }
    if (hint === 'flannel' || hint === 'calico') add(hint, 1.5);
  }
  // Two pieces of evidence (two content matches, or one and the name) name the overlay.
  let best: OverlayKind = 'unknown';
  let top = 2 - 1e-9;
  for (const [k, n] of score)
    if (n > top) {
      best = k;
      top = n;
    }
  return best;
}

/** The schema's three-valued `style` (kept for older readers) of an overlay kind. */
export function legacyStyle(k: OverlayKind): VtepSummary['style'] {
  return k === 'docker' ? 'docker' : k === 'flannel' ? 'flannel' : 'other';
}

/**
 * MTU of the traffic a collect-metadata VTEP carries, which its own (large) device MTU does not
 * tell: its master's (Weave's datapath), else the largest route `mtu` metric in its namespace
 * (Cilium programs pod routes with one), else the device that remote pod subnets are routed
 * through (Antrea's gateway); null when none is visible. Devices with an MTU not below the
 * VTEP's, the VTEP itself, loopback and the underlay are not candidates.
 */
export function overlayMtuOf(ns: NetnsSnapshot, link: Link, underlayDev: string | null): number | null {
  if (!link.vxlan?.external) return null;
  const fits = (m: number | null | undefined): m is number => typeof m === 'number' && m > 0 && m < link.mtu;
  const master = ns.links.find((l) => l.name === link.master);
  if (master && fits(master.mtu)) return master.mtu;
  const metric = ns.routes.map((r) => r.mtu).filter(fits);
  if (metric.length) return Math.max(...metric);
  const via = new Set(
    ns.routes
      .filter((r) => r.dst !== 'default' && r.dev && (r.flags.includes('onlink') || r.gateway))
      .map((r) => r.dev as string),
  );
  const gw = ns.links
    .filter((l) => via.has(l.name) && l.name !== link.name && l.name !== underlayDev && l.kind !== 'loopback')
    .map((l) => l.mtu)
    .filter(fits);
  return gw.length ? Math.max(...gw) : null;
}

/** IPv4 `a.b.c.d/n` -> network CIDR; other families unchanged. */
export function networkOf(cidr: string): string {
  const [addr, lenS] = cidr.split('/');
  const len = Number(lenS);
  const parts = (addr ?? '').split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p)) || !Number.isInteger(len)) return cidr;
  const n =
    (((parts[0] ?? 0) << 24) | ((parts[1] ?? 0) << 16) | ((parts[2] ?? 0) << 8) | (parts[3] ?? 0)) >>> 0;
  const mask = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
  const net = (n & mask) >>> 0;
  return `${net >>> 24}.${(net >>> 16) & 255}.${(net >>> 8) & 255}.${net & 255}/${len}`;
}

function inSubnet(addr: string, cidr: string): boolean {
  const len = cidr.split('/')[1];
  return networkOf(`${addr.split('/')[0]}/${len}`) === networkOf(cidr);
}

export interface Underlay {
  dev: string;
  mtu: number;
  /** Addresses without prefix length, IPv6 link-local left out. */
  addresses: string[];
}

/**
 * The node's underlay device in the host namespace: `underlayIf`, else the default route's
 * device, else a host VTEP's lower device, else the device owning a VTEP's local address.
 */
export function detectUnderlay(
  host: NetnsSnapshot,
  all: NetnsSnapshot[],
  underlayIf?: string,
): { underlay: Underlay | null; reason: string | null } {
  const mk = (l: Link): Underlay => ({
    dev: l.name,
    mtu: l.mtu,
    addresses: l.addresses
      .map((a) => a.split('/')[0] ?? a)
      .filter((a) => !a.toLowerCase().startsWith('fe80:')),
  });
  const byName = (n: string | null | undefined) => (n ? host.links.find((l) => l.name === n) : undefined);
  if (underlayIf !== undefined) {
    const l = byName(underlayIf);
    return l
      ? { underlay: mk(l), reason: null }
      : { underlay: null, reason: `underlay device ${underlayIf} not found` };
  }
  const def = host.routes.find((r) => r.dst === 'default' && r.table === 'main' && r.dev);
  const viaDefault = byName(def?.dev);
  if (viaDefault) return { underlay: mk(viaDefault), reason: null };
  for (const l of host.links) {
    const lower = byName(l.vxlan?.lowerDevice);
    if (lower) return { underlay: mk(lower), reason: null };
  }
  for (const ns of all) {
    for (const v of ns.links) {
      const local = v.vxlan?.local;
      if (!local) continue;
      const owner = host.links.find(
        (l) => l.kind !== 'vxlan' && l.addresses.some((a) => a.split('/')[0] === local),
      );
      if (owner) return { underlay: mk(owner), reason: null };
    }
  }
  return {
    underlay: null,
    reason: 'no default route, no VTEP lower device or local address to find it from',
  };
}

const hop = (ns: NetnsSnapshot, l: Link): ChainHop => ({
  netns: ns.id,
  dev: l.name,
  kind: l.kind,
  mtu: l.mtu,
  operstate: l.operstate,
});

export interface Topology {
  chains: OverlayChain[];
  vteps: VtepSummary[];
}

/** Chains container eth0 -> veth peer -> bridge -> VTEP -> underlay, and one summary per VTEP. */
export function buildTopology(all: NetnsSnapshot[], nsids: NsidMap, underlay: Underlay | null): Topology {
  const byId = new Map(all.map((n) => [n.id, n]));
  const host = all.find((n) => n.origin === 'host');
  const chains: OverlayChain[] = [];
  const vteps: VtepSummary[] = [];
  for (const ns of all) {
    for (const v of ns.links) {
      if (!v.vxlan) continue;
      const overlay = classifyVtep(ns, v);
      const style = legacyStyle(overlay);
      // The VTEP's UDP socket lives where it was created (`link_netnsid`); Docker creates it in the host.
      let socketNs: NetnsSnapshot | undefined = ns;
      if (v.linkNetnsid !== null) {
        const id = nsids.get(ns.id)?.get(v.linkNetnsid) ?? (style === 'docker' ? host?.id : undefined);
        socketNs = id === undefined ? undefined : byId.get(id);
      }
      let under: Link | undefined;
      if (socketNs) {
        const sock = socketNs;
        under =
          sock.links.find((l) => l.name === v.vxlan?.lowerDevice) ??
          (v.vxlan.local
            ? sock.links.find((l) => l.addresses.some((a) => a.split('/')[0] === v.vxlan?.local))
            : undefined);
        if (!under && sock === host && underlay) under = host.links.find((l) => l.name === underlay.dev);
      }
      const bridge =
        ns.links.find((l) => l.kind === 'bridge' && l.name === v.master) ??
        ns.links.find(
          (l) => l.kind === 'bridge' && l.addresses.some((b) => v.addresses.some((a) => inSubnet(a, b))),
        );
      const tail: ChainHop[] = [hop(ns, v)];
      if (under && socketNs) tail.push(hop(socketNs, under));
      const underlayOut =
        under && socketNs
          ? {
              dev: under.name,
              mtu: under.mtu,
              address: v.vxlan.local ?? under.addresses[0]?.split('/')[0] ?? null,
            }
          : null;
      const vtepRef = { netns: ns.id, dev: v.name, vni: v.vxlan.vni, port: v.vxlan.port };
      const base = `${style}:${ns.origin === 'host' ? '' : `${ns.name}/`}${v.name}`;
      const ports = bridge
        ? ns.links.filter((l) => l.master === bridge.name && l.kind === 'veth' && l.name !== v.name)
        : [];
      let made = 0;
      for (const p of ports) {
        const peer = peerOf(byId, nsids, ns, p);
        if (!peer || peer.ns.id === ns.id) continue;
        chains.push({
          id: `${base}@${peer.ns.name}/${peer.link.name}`,
          style,
          overlay,
          hops: [hop(peer.ns, peer.link), hop(ns, p), ...(bridge ? [hop(ns, bridge)] : []), ...tail],
          vtep: vtepRef,
          underlay: underlayOut,
        });
        made++;
      }
      if (made === 0) {
        chains.push({
          id: base,
          style,
          overlay,
          hops: [...(bridge ? [hop(ns, bridge)] : []), ...tail],
          vtep: vtepRef,
          underlay: underlayOut,
        });
      }
      const subnets = new Set<string>();
      for (const a of bridge?.addresses ?? []) if (!a.includes(':')) subnets.add(networkOf(a));
      for (const r of ns.routes)
        if (r.dev === v.name && r.dst !== 'default' && !r.dst.includes(':'))
          subnets.add(r.dst.includes('/') ? r.dst : `${r.dst}/32`);
      const overlayMtu = overlayMtuOf(ns, v, underlay?.dev ?? null);
      const fdbDsts = new Set<string>();
      for (const f of ns.fdb) if (f.dev === v.name && f.dst) fdbDsts.add(f.dst);
      vteps.push({
        netns: ns.id,
        dev: v.name,
        style,
        overlay,
        vni: v.vxlan.vni,
        port: v.vxlan.port,
        mac: v.mac,
        local:
          v.vxlan.local ??
          (socketNs && socketNs === host ? (underlay?.addresses[0] ?? null) : (underlayOut?.address ?? null)),
        mtu: v.mtu,
        ...(overlayMtu !== null ? { overlayMtu } : {}),
        subnets: [...subnets].sort(),
        fdbDsts: [...fdbDsts].sort(),
      });
    }
  }
  return { chains, vteps };
}
