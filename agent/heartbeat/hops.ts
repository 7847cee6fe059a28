/**
 * Hop walks (pure parts): TTL-scoped copies of a probe on its exact 5-tuple, the ICMP errors
 * routers send back for them, and what the hop lists of the VXLAN port and the control port say
 * together.
 *
 * A walk sends the same datagram (same source port, destination, destination port, size, DF)
 * with TTL 1, 2, … up to a bound. Every router on the way whose TTL runs out answers ICMP
 * time-exceeded (type 11 code 0) quoting the IP header and at least the UDP header of what it
 * dropped; a router that cannot forward a DF packet answers frag-needed (type 3 code 4) with its
 * next-hop MTU. The quoted UDP checksum differs between the walk's probes (each payload carries
 * its own probe id and sequence), so a reply is matched to its TTL by the quoted 5-tuple, length
 * and checksum alone — the 8 bytes every router quotes — and, where a router quotes more, by the
 * payload bytes too.
 */

export type IcmpErrorKind = 'time-exceeded' | 'frag-needed' | 'port-unreachable' | 'unreachable';

export interface QuotedUdp {
  src: string;
  dst: string;
  /** IP identification of the quoted packet. */
  ipId: number;
  sport: number;
  dport: number;
  /** UDP length and checksum as quoted (the datagram as sent). */
  udpLen: number;
  udpSum: number;
  /** Payload bytes the router quoted after the UDP header (often the whole of it on Linux). */
  payload: Buffer;
}

export interface IcmpError {
  kind: IcmpErrorKind;
  /** The router (or host) that sent the error. */
  from: string;
  /** Next-hop MTU of a frag-needed, else null. */
  mtu: number | null;
  quoted: QuotedUdp;
}

const ip4 = (b: Buffer, o: number) => `${b[o]}.${b[o + 1]}.${b[o + 2]}.${b[o + 3]}`;

/**
 * An ICMPv4 error about a UDP datagram, from a captured Ethernet frame; null for anything else
 * (other ICMP, not UDP inside, truncated quote).
 */
export function parseIcmpError(frame: Buffer): IcmpError | null {
  if (frame.length < 14 + 20 + 8 + 20 + 8) return null;
  let o = 12;
  let type = frame.readUInt16BE(o);
  if (type === 0x8100) {
    o += 4;
    type = frame.readUInt16BE(o);
  }
  o += 2;
  if (type !== 0x0800 || frame[o]! >> 4 !== 4 || frame[o + 9] !== 1) return null;
  const ihl = (frame[o]! & 0x0f) * 4;
  if ((frame.readUInt16BE(o + 6) & 0x1fff) !== 0) return null;
  const from = ip4(frame, o + 12);
  const icmp = o + ihl;
  const t = frame[icmp]!;
  const c = frame[icmp + 1]!;
  let kind: IcmpErrorKind;
  if (t === 11 && c === 0) kind = 'time-exceeded';
  else if (t === 3 && c === 4) kind = 'frag-needed';
  else if (t === 3 && c === 3) kind = 'port-unreachable';
  else if (t === 3) kind = 'unreachable';
  else return null;
  const inner = icmp + 8;
  if (frame.length < inner + 20 || frame[inner]! >> 4 !== 4) return null;
  const innerIhl = (frame[inner]! & 0x0f) * 4;
  if (frame[inner + 9] !== 17) return null;
  const udp = inner + innerIhl;
  if (frame.length < udp + 8) return null;
  // The quote ends at the IP packet's end (the frame may carry Ethernet padding past it).
  const ipEnd = Math.min(frame.length, o + frame.readUInt16BE(o + 2));
  return {
    kind,
    from,
    mtu: kind === 'frag-needed' ? frame.readUInt16BE(icmp + 6) : null,
    quoted: {
      src: ip4(frame, inner + 12),
      dst: ip4(frame, inner + 16),
      ipId: frame.readUInt16BE(inner + 4),
      sport: frame.readUInt16BE(udp),
      dport: frame.readUInt16BE(udp + 2),
      udpLen: frame.readUInt16BE(udp + 4),
      udpSum: frame.readUInt16BE(udp + 6),
      payload: frame.subarray(udp + 8, Math.max(udp + 8, ipEnd)),
    },
  };
}

/** The UDP checksum Linux puts on `payload` sent from src:sport to dst:dport (RFC 768). */
export function udpChecksum(src: string, dst: string, sport: number, dport: number, payload: Buffer): number {
  const len = 8 + payload.length;
  let sum = 0;
  const add16 = (v: number) => {
    sum += v;
  };
  for (const a of [src, dst]) {
    const p = a.split('.').map(Number);
    add16((p[0]! << 8) | p[1]!);
    add16((p[2]! << 8) | p[3]!);
  }
  add16(17);
  add16(len);
  add16(sport);
  add16(dport);
  add16(len);
  for (let i = 0; i + 1 < payload.length; i += 2) add16((payload[i]! << 8) | payload[i + 1]!);
  if (payload.length % 2 === 1) add16(payload[payload.length - 1]! << 8);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  const r = ~sum & 0xffff;
  return r === 0 ? 0xffff : r;
}

/** One TTL-scoped probe of a walk, as sent. */
export interface WalkProbe {
  ttl: number;
  src: string;
  dst: string;
  sport: number;
  dport: number;
  payload: Buffer;
  /** udpChecksum() of the datagram (what a router quotes). */
  udpSum: number;
}

/**
 * The checksum field of a datagram still carrying the NIC's job (CHECKSUM_PARTIAL: veth, some
 * virtual NICs): the folded pseudo-header sum, the same for every payload. A router behind such
 * a link quotes this, not the real checksum.
 */
export function udpPartialChecksum(src: string, dst: string, len: number): number {
  let sum = 17 + len;
  for (const a of [src, dst]) {
    const p = a.split('.').map(Number);
    sum += ((p[0]! << 8) | p[1]!) + ((p[2]! << 8) | p[3]!);
  }
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum;
}

/**
 * The walk probe an ICMP error is about: same quoted 5-tuple and UDP length, and either the
 * probe's own checksum (with the quoted payload bytes, as many as were quoted, equal to the
 * probe's), or — when the quoted checksum tells nothing (zero, or the payload-independent
 * partial sum of an offloading virtual link) — quoted payload bytes that match exactly one probe.
 * Null when none (or more than one) matches.
 */
export function matchWalkProbe(e: IcmpError, probes: readonly WalkProbe[]): WalkProbe | null {
  const q = e.quoted;
  const byBytes: WalkProbe[] = [];
  for (const p of probes) {
    if (q.src !== p.src || q.dst !== p.dst || q.sport !== p.sport || q.dport !== p.dport) continue;
    if (q.udpLen !== 8 + p.payload.length) continue;
    const n = Math.min(q.payload.length, p.payload.length);
    if (!q.payload.subarray(0, n).equals(p.payload.subarray(0, n))) continue;
    if (q.udpSum === p.udpSum) return p;
    const blind = q.udpSum === 0 || q.udpSum === udpPartialChecksum(p.src, p.dst, 8 + p.payload.length);
    if (blind && n > 0) byBytes.push(p);
  }
  return byBytes.length === 1 ? byBytes[0]! : null;
}

/** Upper bound on a walk's TTLs: beyond it the fabric is not what a walk can name. */
export const MAX_WALK_TTL = 16;
export const DEFAULT_WALK_TTL = 8;

/** TTLs of a walk: 1..maxTtl, clamped to 1..MAX_WALK_TTL (a bad bound is an error). */
export function walkPlan(maxTtl = DEFAULT_WALK_TTL): number[] {
  if (!Number.isInteger(maxTtl) || maxTtl < 1)
    throw new RangeError(`walk max TTL must be ≥ 1, got ${maxTtl}`);
  return Array.from({ length: Math.min(maxTtl, MAX_WALK_TTL) }, (_, i) => i + 1);
}

/** What one TTL of a walk brought back. */
export interface HopReply {
  ttl: number;
  /** Router that answered, null when nothing came back within the walk's wait. */
  address: string | null;
  kind: IcmpErrorKind | 'answered' | null;
  mtu: number | null;
}

/** A walk on one port: per TTL what answered; `reached` when the destination answered itself. */
export interface HopWalk {
  /** The walk's destination (its own answers are not a router's). */
  dst: string;
  port: number;
  sport: number;
  size: number;
  replies: HopReply[];
  /** The destination answered (probe reply, or ICMP from the destination address). */
  reached: boolean;
}

/** Builds a walk from the probes sent and the errors matched to them (pure fold). */
export function foldWalk(
  probes: readonly WalkProbe[],
  errors: readonly IcmpError[],
  opts: { size: number; dst: string; reachedTtl?: number | null },
): HopWalk {
  const first = probes[0];
  const byTtl = new Map<number, HopReply>();
  for (const p of probes) byTtl.set(p.ttl, { ttl: p.ttl, address: null, kind: null, mtu: null });
  let reached = opts.reachedTtl != null;
  for (const e of errors) {
    const p = matchWalkProbe(e, probes);
    if (!p) continue;
    const r = byTtl.get(p.ttl)!;
    if (r.address !== null) continue;
    r.address = e.from;
    r.kind = e.kind;
    r.mtu = e.mtu;
    if (e.from === p.dst) reached = true;
  }
  if (opts.reachedTtl != null) {
    const r = byTtl.get(opts.reachedTtl);
    if (r && r.address === null) Object.assign(r, { address: opts.dst, kind: 'answered' });
  }
  // Past the first TTL that reached the destination, more of the same says nothing new.
  const replies = [...byTtl.values()].sort((a, b) => a.ttl - b.ttl);
  const end = replies.findIndex((r) => r.address !== null && r.address === opts.dst);
  return {
    dst: opts.dst,
    port: first?.dport ?? 0,
    sport: first?.sport ?? 0,
    size: opts.size,
    replies: end >= 0 ? replies.slice(0, end + 1) : replies,
    reached,
  };
}

/** One row of the `hops` evidence block. */
export interface HopRow {
  ttl: number;
  address: string | null;
  /** Reverse name where the node has one (filled in by the caller; null otherwise). */
  name: string | null;
  /** The hop answered for the VXLAN-port walk / the control-port walk. */
  vxlan: boolean;
  control: boolean;
  /** The router the control walk met at this TTL when it is another one (another ECMP member). */
  controlAddress: string | null;
  /** Next-hop MTU this hop announced with frag-needed. */
  fragNeededMtu: number | null;
}

export type HopVerdict =
  /** VXLAN dies after `at` (the last hop that forwarded it), control passes further. */
  | 'vxlan-dies-after'
  /** A hop answered frag-needed for the VXLAN/PMTU walk. */
  | 'frag-needed'
  /** Both walks reach the same hops: the walk shows nothing on this path. */
  | 'same'
  /** No hop answered either walk (pure L2 fabric, ICMP filtered): nothing to name. */
  | 'could-not-walk';

export interface HopComparison {
  verdict: HopVerdict;
  /** The hop named (router address), null for `same` / `could-not-walk`. */
  at: string | null;
  /** The first hop that answered for control but never for VXLAN (vxlan-dies-after). */
  next: string | null;
  mtu: number | null;
  rows: HopRow[];
  text: string;
}

const hopName = (a: string, names: Record<string, string>) => (names[a] ? `${a} (${names[a]})` : a);

/**
 * Compares a VXLAN-port walk with the control-port walk on the same path: the last hop that
 * answered for VXLAN names where VXLAN dies, and the first hop that answered for control but
 * never for VXLAN is the next device (forwarded by X, never by Y; control passes both). A hop
 * sending frag-needed names the MTU bottleneck. No answering hop at all: could not walk.
 */
export function compareWalks(
  vxlan: HopWalk,
  control: HopWalk | null,
  names: Record<string, string> = {},
): HopComparison {
  const ttls = new Set<number>([
    ...vxlan.replies.map((r) => r.ttl),
    ...(control?.replies ?? []).map((r) => r.ttl),
  ]);
  const rows: HopRow[] = [];
  for (const ttl of [...ttls].sort((a, b) => a - b)) {
    const v = vxlan.replies.find((r) => r.ttl === ttl);
    const c = control?.replies.find((r) => r.ttl === ttl);
    const address = v?.address ?? c?.address ?? null;
    rows.push({
      ttl,
      address,
      name: address ? (names[address] ?? null) : null,
      vxlan: v?.address != null,
      control: c?.address != null,
      controlAddress: c?.address != null && v?.address != null && c.address !== v.address ? c.address : null,
      fragNeededMtu: v?.kind === 'frag-needed' ? v.mtu : null,
    });
  }
  // Trailing TTLs where nothing answered either walk add nothing.
  while (rows.length > 0 && rows[rows.length - 1]!.address === null) rows.pop();
  // Either walk may be the one that met the small link first (then the kernel learns the path
  // MTU and fragments the other walk's copies locally).
  const fragOf = (w: HopWalk | null) => w?.replies.find((r) => r.kind === 'frag-needed' && r.address);
  const frag = fragOf(vxlan) ?? fragOf(control);
  if (frag) {
    return {
      verdict: 'frag-needed',
      at: frag.address,
      next: null,
      mtu: frag.mtu,
      rows,
      text: `${hopName(frag.address!, names)} answers frag-needed (next-hop MTU ${frag.mtu}) at TTL ${frag.ttl}`,
    };
  }
  // The destination answering (port unreachable, its agent's reply) names no router.
  if (!rows.some((r) => r.address !== null && r.address !== vxlan.dst)) {
    return {
      verdict: 'could-not-walk',
      at: null,
      next: null,
      mtu: null,
      rows,
      text: 'could not walk: no hop answered ICMP time-exceeded for either port (L2 fabric or ICMP filtered)',
    };
  }
  const vxlanAnswered = vxlan.replies.filter((r) => r.address !== null);
  const lastV = vxlanAnswered[vxlanAnswered.length - 1] ?? null;
  const seenV = new Set(vxlanAnswered.map((r) => r.address));
  const firstMissing = (control?.replies ?? []).find(
    (r) =>
      r.address !== null && r.address !== vxlan.dst && !seenV.has(r.address) && r.ttl > (lastV?.ttl ?? 0),
  );
  if (firstMissing && !vxlan.reached) {
    const at = lastV?.address ?? null;
    const by = at ? `forwarded by ${hopName(at, names)}` : 'forwarded by no hop';
    return {
      verdict: 'vxlan-dies-after',
      at,
      next: firstMissing.address,
      mtu: null,
      rows,
      text: `VXLAN port ${vxlan.port} ${by}, never by ${hopName(firstMissing.address!, names)}; control passes both`,
    };
  }
  return {
    verdict: 'same',
    at: null,
    next: null,
    mtu: null,
    rows,
    text: `VXLAN port ${vxlan.port} and control pass the same ${rows.filter((r) => r.address).length} hops`,
  };
}

/** Fixed number of probe source ports per path (ECMP members are chosen by the 5-tuple hash). */
export const SPORT_SPREAD = 16;

/**
 * The source ports of a path: SPORT_SPREAD consecutive ports from `base` (a per-node range the
 * agent binds), the same set every round, so per-sport counters compare like with like.
 */
export function sportSet(base: number, n = SPORT_SPREAD): number[] {
  if (!Number.isInteger(base) || base < 1024 || base + n - 1 > 65535)
    throw new RangeError(`source port range ${base}..${base + n - 1} is not within 1024..65535`);
  return Array.from({ length: n }, (_, i) => base + i);
}

export interface SportSpread {
  /** How many source ports failed every probe in the window / were probed at all. */
  failing: number;
  total: number;
  /** Loss concentrates on some flows: some sports fail all, others pass all. */
  concentrated: boolean;
  /** A failing and a passing source port to walk (index into the counters), when concentrated. */
  walkFailing: number | null;
  walkPassing: number | null;
  text: string;
}

/**
 * Per-source-port counters (`sent[i]`, `ok[i]`: probes sent from the i-th sport and answered)
 * judged together: a flow fails when none of its probes passed, passes when all did. When some
 * fail and some pass, one of the parallel paths drops it.
 */
export function judgeSports(sent: readonly number[], ok: readonly number[]): SportSpread {
  let failing = 0;
  let passing = 0;
  let total = 0;
  let walkFailing: number | null = null;
  let walkPassing: number | null = null;
  for (let i = 0; i < sent.length; i++) {
    const s = sent[i] ?? 0;
    if (s === 0) continue;
    total++;
    const k = ok[i] ?? 0;
    if (k === 0) {
      failing++;
      walkFailing ??= i;
    } else if (k >= s) {
      passing++;
      walkPassing ??= i;
    }
  }
  const concentrated = failing > 0 && passing > 0 && failing + passing === total;
  return {
    failing,
    total,
    concentrated,
    walkFailing: concentrated ? walkFailing : null,
    walkPassing: concentrated ? walkPassing : null,
    text: concentrated
      ? `${failing} of ${total} flows fail: one of the parallel paths drops VXLAN`
      : `${failing} of ${total} flows fail`,
  };
}
