/**
 * Pure parsers of iproute2 JSON (`ip -j -d -force -b -`, `bridge -j fdb show`, `ip -j netns
 * list-id`). Shapes measured on iproute2 6.1 (the lab node's raw
 * output in test/fixtures/inventory/lab-node); fields missing from older
 * versions become null rather than guesses.
 */
import type { FdbEntry, Link, Neighbor, Route, VxlanInfo } from '../../shared/schema.js';

/** The commands every namespace read runs in one `ip -b` process, in this order. */
export const NETNS_BATCH = ['addr show', 'route show table all', 'neigh show', 'netns list-id'] as const;

export interface BatchResult {
  /** One entry per command: the parsed JSON array, or null when that command failed. */
  results: Array<unknown[] | null>;
  /** stderr lines other than the `Command failed` markers (first few). */
  errors: string[];
}

/**
 * Splits the output of `ip -force -b` into per-command results. Output is one JSON array per
 * line, and a failing command prints nothing on stdout, only `Command failed -:N` on stderr:
 * so lines are assigned to the commands that did not fail, in order.
 */
export function splitBatch(stdout: string, stderr: string, commandCount: number): BatchResult {
  const failed = new Set<number>();
  const errors: string[] = [];
  for (const line of stderr.split('\n')) {
    const m = /^Command failed \S+:(\d+)/.exec(line.trim());
    if (m) failed.add(Number(m[1]) - 1);
    else if (line.trim() !== '' && errors.length < 5) errors.push(line.trim());
  }
  const lines = stdout.split('\n').filter((l) => l.trim() !== '');
  const results: Array<unknown[] | null> = [];
  let next = 0;
  for (let i = 0; i < commandCount; i++) {
    if (failed.has(i)) {
      results.push(null);
      continue;
    }
    const line = lines[next++];
    if (line === undefined) {
      results.push(null);
      continue;
    }
    try {
      const v: unknown = JSON.parse(line);
      results.push(Array.isArray(v) ? v : null);
    } catch {
      results.push(null);
    }
  }
  return { results, errors };
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const strs = (v: unknown): string[] =>
  Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];

/** Links with their addresses from `ip -j -d addr show` (which carries every `link show -d` field). */
export function parseLinks(data: unknown[]): Link[] {
  const objs = data.filter(isObj);
  const byName = new Map<string, number>();
  for (const o of objs) {
    const name = str(o.ifname);
    const idx = num(o.ifindex);
    if (name !== null && idx !== null) byName.set(name, idx);
  }
  const links: Link[] = [];
  for (const o of objs) {
    const ifindex = num(o.ifindex);
    const name = str(o.ifname);
    if (ifindex === null || name === null) continue;
    const info = isObj(o.linkinfo) ? o.linkinfo : null;
    const flags = strs(o.flags);
    const kind =
      str(info?.info_kind) ??
      (o.link_type === 'loopback' || flags.includes('LOOPBACK') ? 'loopback' : 'device');
    const linkNetnsid = num(o.link_netnsid);
    // `link_index` when the peer is in another namespace, `link` (a name) when in this one.
    let peerIfindex = num(o.link_index);
    if (peerIfindex === null && typeof o.link === 'string') peerIfindex = byName.get(o.link) ?? null;
    if (peerIfindex === null && typeof o.link === 'number') peerIfindex = o.link;
    const addresses: string[] = [];
    if (Array.isArray(o.addr_info)) {
      for (const a of o.addr_info) {
        if (!isObj(a)) continue;
        const local = str(a.local);
        const plen = num(a.prefixlen);
        if (local !== null && plen !== null) addresses.push(`${local}/${plen}`);
      }
    }
    links.push({
      ifindex,
      name,
      kind,
      operstate: str(o.operstate) ?? 'UNKNOWN',
      adminUp: flags.includes('UP'),
      mtu: num(o.mtu) ?? 0,
      mac: str(o.address),
      master: str(o.master),
      peerIfindex,
      linkNetnsid,
      vxlan: kind === 'vxlan' && info ? parseVxlan(info.info_data, byName) : null,
      addresses,
    });
  }
  return links;
}

function parseVxlan(d: unknown, byName: Map<string, number>): VxlanInfo | null {
  if (!isObj(d)) return null;
  const vni = num(d.id);
  if (vni === null) return null;
  let lowerDevice: string | null = null;
  if (typeof d.link === 'string') lowerDevice = d.link;
  else if (typeof d.link === 'number') {
    for (const [name, idx] of byName) if (idx === d.link) lowerDevice = name;
  }
  return {
    vni,
    local: str(d.local) ?? str(d.local6),
    group: str(d.group) ?? str(d.remote) ?? str(d.group6) ?? str(d.remote6),
    // The kernel default (and what iproute2 omits on very old versions) is 8472.
    port: num(d.port) ?? 8472,
    learning: d.learning === true,
    proxy: d.proxy === true,
    l2miss: d.l2miss === true,
    l3miss: d.l3miss === true,
    lowerDevice,
    external: d.external === true,
  };
}

/** Route types that describe the namespace's own addresses, not where traffic goes. */
const SKIP_ROUTE_TYPES = new Set(['local', 'broadcast', 'multicast', 'anycast']);

/** `ip -j -d route show table all`, without local/broadcast bookkeeping entries. */
export function parseRoutes(data: unknown[]): Route[] {
  const routes: Route[] = [];
  for (const o of data) {
    if (!isObj(o)) continue;
    const dst = str(o.dst);
    if (dst === null) continue;
    if (SKIP_ROUTE_TYPES.has(str(o.type) ?? 'unicast')) continue;
    let mtu: number | null = null;
    if (Array.isArray(o.metrics)) {
      for (const m of o.metrics) if (isObj(m) && num(m.mtu) !== null) mtu = num(m.mtu);
    }
    routes.push({
      dst,
      dev: str(o.dev),
      gateway: str(o.gateway),
      prefsrc: str(o.prefsrc),
      flags: strs(o.flags),
      mtu,
      table: str(o.table) ?? (typeof o.table === 'number' ? String(o.table) : 'main'),
    });
  }
  return routes;
}

/** `ip -j neigh show`. `state` is an array in iproute2 6.x, a string in some older builds. */
export function parseNeighbors(data: unknown[]): Neighbor[] {
  const out: Neighbor[] = [];
  for (const o of data) {
    if (!isObj(o)) continue;
    const dst = str(o.dst);
    const dev = str(o.dev);
    if (dst === null || dev === null) continue;
    out.push({
      dst,
      dev,
      lladdr: str(o.lladdr),
      state: Array.isArray(o.state) ? strs(o.state) : typeof o.state === 'string' ? [o.state] : [],
    });
  }
  return out;
}

/** Bridge multicast bookkeeping entries (IPv6 all-nodes, IGMP) that say nothing about the overlay. */
const MCAST_PREFIXES = ['33:33:', '01:00:5e:'];

/** `bridge -j fdb show`, without per-port multicast self entries. */
export function parseFdb(data: unknown[]): FdbEntry[] {
  const out: FdbEntry[] = [];
  for (const o of data) {
    if (!isObj(o)) continue;
    const mac = str(o.mac);
    const dev = str(o.ifname) ?? str(o.dev);
    if (mac === null || dev === null) continue;
    const dst = str(o.dst);
    if (dst === null && MCAST_PREFIXES.some((p) => mac.startsWith(p))) continue;
    out.push({
      mac,
      dev,
      dst,
      master: str(o.master),
      state: str(o.state) ?? '',
      flags: strs(o.flags),
      vni: num(o.vni) ?? num(o.src_vni),
    });
  }
  return out;
}

/** `ip -j netns list-id`: nsid -> name (name only when the namespace is in /var/run/netns). */
export function parseNetnsIds(data: unknown[]): Array<{ nsid: number; name: string | null }> {
  const out: Array<{ nsid: number; name: string | null }> = [];
  for (const o of data) {
    if (!isObj(o)) continue;
    const nsid = num(o.nsid);
    if (nsid !== null) out.push({ nsid, name: str(o.name) });
  }
  return out;
}
