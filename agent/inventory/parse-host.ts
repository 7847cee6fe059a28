/** Pure parsers of host facts: ethtool, sysctl, /etc/os-release, /proc/self/status. */

/** Offload features worth keeping (VXLAN/UDP segmentation and checksum, incident 5). */
export const OFFLOAD_FEATURES = [
  'udp-fragmentation-offload',
  'tx-udp_tnl-segmentation',
  'tx-udp_tnl-csum-segmentation',
  'tx-udp-segmentation',
  'tx-checksumming',
  'rx-checksumming',
  'scatter-gather',
  'tcp-segmentation-offload',
  'generic-segmentation-offload',
  'generic-receive-offload',
  'large-receive-offload',
  'rx-udp_tunnel-port-offload',
] as const;

/** `ethtool -i DEV` -> driver name. */
export function parseEthtoolDriver(text: string): string | null {
  const m = /^driver:\s*(\S+)/m.exec(text);
  return m?.[1] ?? null;
}

/** `ethtool -k DEV` -> feature -> `on` / `off` / `off [fixed]` for the kept features. */
export function parseEthtoolFeatures(
  text: string,
  keep: readonly string[] = OFFLOAD_FEATURES,
): Record<string, string> {
  const out: Record<string, string> = {};
  const wanted = new Set(keep);
  for (const line of text.split('\n')) {
    const m = /^\s*([a-z0-9_-]+):\s*(on|off)(\s*\[fixed\])?\s*$/.exec(line);
    if (m?.[1] && m[2] && wanted.has(m[1])) out[m[1]] = m[3] ? `${m[2]} [fixed]` : m[2];
  }
  return out;
}

/** `sysctl -e a b c` -> {"a": "1", ...} (keys the kernel lacks are simply absent). */
export function parseSysctl(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const i = line.indexOf(' = ');
    if (i > 0) out[line.slice(0, i).trim()] = line.slice(i + 3).trim();
  }
  return out;
}

/** `/etc/os-release` -> PRETTY_NAME (or NAME VERSION). */
export function parseOsRelease(text: string): string | null {
  const vals: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^([A-Z_]+)=(.*)$/.exec(line.trim());
    if (m?.[1] && m[2] !== undefined) vals[m[1]] = m[2].replace(/^["']|["']$/g, '');
  }
  return vals.PRETTY_NAME ?? (vals.NAME ? `${vals.NAME} ${vals.VERSION ?? ''}`.trim() : null);
}

const CAP_NET_ADMIN = 12n;

/** `/proc/self/status` -> root (Uid effective 0) or CAP_NET_ADMIN in CapEff. */
export function parsePrivileged(status: string): boolean {
  const uid = /^Uid:\s+\d+\s+(\d+)/m.exec(status);
  if (uid?.[1] === '0') return true;
  const cap = /^CapEff:\s+([0-9a-fA-F]+)/m.exec(status);
  if (!cap?.[1]) return false;
  return ((BigInt(`0x${cap[1]}`) >> CAP_NET_ADMIN) & 1n) === 1n;
}

/** `/proc/net/dev` -> the interface names of the reader's network namespace, in file order. */
export function ifaceNames(procNetDev: string): string[] {
  const out: string[] = [];
  for (const line of procNetDev.split('\n').slice(2)) {
    const i = line.indexOf(':');
    const name = i > 0 ? line.slice(0, i).trim() : '';
    if (name) out.push(name);
  }
  return out;
}

/** Swarm's TCP control ports: 2377 (managers' cluster management), 7946 (every node's gossip). */
export const SWARM_TCP_PORTS = [2377, 7946] as const;

/**
 * Local ports in LISTEN state (`st` 0A) from `/proc/net/tcp` or `/proc/net/tcp6` text, e.g.
 * `   0: 00000000:1C99 00000000:0000 0A ...` -> 7321. Lines that are not such rows are skipped.
 */
export function parseListeningTcp(text: string): number[] {
  const out = new Set<number>();
  for (const line of text.split('\n')) {
    const m = /^\s*\d+:\s+[0-9A-Fa-f]+:([0-9A-Fa-f]{4})\s+[0-9A-Fa-f]+:[0-9A-Fa-f]{4}\s+0A\s/.exec(line);
    if (m?.[1]) out.add(Number.parseInt(m[1], 16));
  }
  return [...out].sort((a, b) => a - b);
}
