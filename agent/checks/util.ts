/** Small pure helpers shared by the checks: finding construction and IPv4 arithmetic. */
import type {
  Finding,
  Link,
  NetnsSnapshot,
  NodeSnapshot,
  RootCauseKind,
  Severity,
} from '../../shared/schema.js';

export function problem(
  s: NodeSnapshot,
  f: {
    check: string;
    kind: RootCauseKind | null;
    severity: Severity;
    incident: number | null;
    subject: string;
    summary: string;
    evidence: string[];
    remediation: string;
  },
): Finding {
  return { status: 'problem', node: s.node, ...f };
}

export function unknown(s: NodeSnapshot, check: string, subject: string, reason: string): Finding {
  return {
    check,
    status: 'unknown',
    severity: 'info',
    kind: null,
    incident: null,
    node: s.node,
    subject,
    summary: `could not check: ${reason}`,
    evidence: [],
    remediation: '',
  };
}

/** `<netns name>/<dev>` — stable subject of a device. */
export const subjectOf = (ns: NetnsSnapshot, dev: string): string => `${ns.name}/${dev}`;

export function nsById(s: NodeSnapshot, id: string): NetnsSnapshot | undefined {
  return s.namespaces.find((n) => n.id === id);
}

export function hostNs(s: NodeSnapshot): NetnsSnapshot | undefined {
  return s.namespaces.find((n) => n.id === 'host');
}

export function vxlanLinks(s: NodeSnapshot): Array<{ ns: NetnsSnapshot; link: Link }> {
  return s.namespaces.flatMap((ns) => ns.links.filter((l) => l.vxlan).map((link) => ({ ns, link })));
}

export function ipToInt(ip: string): number | null {
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(ip);
  if (!m) return null;
  const o = m.slice(1).map(Number);
  if (o.some((x) => x > 255)) return null;
  return (((o[0]! << 24) >>> 0) + (o[1]! << 16) + (o[2]! << 8) + o[3]!) >>> 0;
}

/** [first, last] address of an IPv4 CIDR, null for anything else (IPv6, `default`). */
export function cidrRange(cidr: string): [number, number] | null {
  const [ip, lenText] = cidr.split('/');
  const base = ipToInt(ip ?? '');
  const len = lenText === undefined ? 32 : Number(lenText);
  if (base === null || !Number.isInteger(len) || len < 0 || len > 32) return null;
  const mask = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
  const first = (base & mask) >>> 0;
  return [first, (first | (~mask >>> 0)) >>> 0];
}

export function overlaps(a: string, b: string): boolean {
  const ra = cidrRange(a);
  const rb = cidrRange(b);
  return !!ra && !!rb && ra[0] <= rb[1] && rb[0] <= ra[1];
}

export function inCidr(ip: string, cidr: string): boolean {
  const r = cidrRange(cidr);
  const n = ipToInt(ip);
  return !!r && n !== null && n >= r[0] && n <= r[1];
}

/** Addresses (no prefix) on every link of every namespace of the node's host namespace. */
export function hostAddresses(s: NodeSnapshot): string[] {
  return (hostNs(s)?.links ?? []).flatMap((l) => l.addresses.map((a) => a.split('/')[0] ?? ''));
}

/** The command prefix that runs `tool` (ip, bridge) inside a namespace, for remediations. */
export function toolIn(ns: NetnsSnapshot, tool: 'ip' | 'bridge'): string {
  if (ns.id === 'host' || !ns.path) return tool;
  if (/^\/(var\/)?run\/netns\/[^/]+$/.test(ns.path)) return `${tool} -n ${ns.name}`;
  return `nsenter --net=${ns.path} ${tool}`;
}
