/**
 * Probe packet codec. A probe is the UDP payload of a real VXLAN packet:
 *
 *   0   VXLAN header (8): flags 0x08, reserved, VNI (3 bytes, the reserved probe VNI), reserved
 *   8   inner Ethernet (14): dst 02:56:58:44:00:01, src 02:56:58:44:00:02, ethertype 0x88B5
 *   22  body: magic u32 'VXDP', version u8, type u8 (0 request, 1 reply), path u8, flags u8
 *       (bit 0: arrived), probeId u32, seq u32, sentAt f64 (epoch ms), size u16,
 *       src len u8 + bytes, dst len u8 + bytes
 *   ..  HMAC-SHA256 truncated to 16 bytes over everything before it (cluster key)
 *   ..  zero padding up to `padTo` (PMTU probes), not covered by the HMAC
 *
 * `decodeProbe` never throws: whatever arrives on the wire yields a typed reason.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { ProbePath } from '../../shared/schema.js';

export const PROBE_MAGIC = 0x56584450; // 'VXDP'
export const PROBE_VERSION = 1;
export const VXLAN_HEADER_LEN = 8;
export const DEFAULT_PROBE_VNI = 16777000;
export const PROBE_ETHERTYPE = 0x88b5;
const INNER_ETH_LEN = 14;
const BODY_FIXED = 4 + 1 + 1 + 1 + 1 + 4 + 4 + 8 + 2;
const MAC_LEN = 16;
/** Longest node name a probe carries: any Kubernetes node name (RFC 1123 subdomain, 253). */
export const MAX_NAME_BYTES = 253;
const PATHS: readonly ProbePath[] = ['vxlan', 'control', 'pmtu', 'overlay'];
const DST_MAC = Buffer.from([0x02, 0x56, 0x58, 0x44, 0x00, 0x01]);
const SRC_MAC = Buffer.from([0x02, 0x56, 0x58, 0x44, 0x00, 0x02]);

export interface ProbePacket {
  type: 'request' | 'reply';
  path: ProbePath;
  /** Node names, at most MAX_NAME_BYTES (253) bytes each. */
  src: string;
  dst: string;
  /** uint32, unique per sender. */
  probeId: number;
  /** uint32, increasing per sender (replay protection). */
  seq: number;
  /** Epoch ms of the request; a reply echoes it. */
  sentAt: number;
  /** Intended outer IP packet size (PMTU probes), 0 otherwise. */
  size: number;
  /** Reply only: the responder saw the request. */
  arrived: boolean;
}

export type DecodeResult =
  | { ok: true; packet: ProbePacket; vni: number }
  | { ok: false; reason: 'malformed' | 'not-probe' | 'bad-version' | 'bad-hmac' };

export function minProbeLength(src: string, dst: string): number {
  return (
    VXLAN_HEADER_LEN +
    INNER_ETH_LEN +
    BODY_FIXED +
    2 +
    Buffer.byteLength(src) +
    Buffer.byteLength(dst) +
    MAC_LEN
  );
}

function mac(key: Buffer, data: Buffer): Buffer {
  return createHmac('sha256', key).update(data).digest().subarray(0, MAC_LEN);
}

export function encodeProbe(p: ProbePacket, key: Buffer, opts: { vni: number; padTo?: number }): Buffer {
  const src = Buffer.from(p.src);
  const dst = Buffer.from(p.dst);
  if (src.length > MAX_NAME_BYTES || dst.length > MAX_NAME_BYTES)
    throw new RangeError(`node names are limited to ${MAX_NAME_BYTES} bytes`);
  const signedLen = minProbeLength(p.src, p.dst) - MAC_LEN;
  const total = Math.max(signedLen + MAC_LEN, opts.padTo ?? 0);
  const b = Buffer.alloc(total);
  b[0] = 0x08;
  b.writeUIntBE(opts.vni & 0xffffff, 4, 3);
  DST_MAC.copy(b, 8);
  SRC_MAC.copy(b, 14);
  b.writeUInt16BE(PROBE_ETHERTYPE, 20);
  let o = 22;
  o = b.writeUInt32BE(PROBE_MAGIC, o);
  o = b.writeUInt8(PROBE_VERSION, o);
  o = b.writeUInt8(p.type === 'reply' ? 1 : 0, o);
  o = b.writeUInt8(PATHS.indexOf(p.path), o);
  o = b.writeUInt8(p.arrived ? 1 : 0, o);
  o = b.writeUInt32BE(p.probeId >>> 0, o);
  o = b.writeUInt32BE(p.seq >>> 0, o);
  o = b.writeDoubleBE(p.sentAt, o);
  o = b.writeUInt16BE(Math.max(0, Math.min(65535, p.size)), o);
  o = b.writeUInt8(src.length, o);
  o += src.copy(b, o);
  o = b.writeUInt8(dst.length, o);
  o += dst.copy(b, o);
  mac(key, b.subarray(0, o)).copy(b, o);
  return b;
}

export function decodeProbe(payload: Buffer | Uint8Array, key: Buffer): DecodeResult {
  const b = Buffer.isBuffer(payload)
    ? payload
    : Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
  if (b.length < VXLAN_HEADER_LEN + INNER_ETH_LEN + BODY_FIXED + 2 + MAC_LEN)
    return { ok: false, reason: 'malformed' };
  if ((b[0]! & 0x08) === 0) return { ok: false, reason: 'not-probe' };
  if (b.readUInt16BE(20) !== PROBE_ETHERTYPE || b.readUInt32BE(22) !== PROBE_MAGIC)
    return { ok: false, reason: 'not-probe' };
  if (b[26] !== PROBE_VERSION) return { ok: false, reason: 'bad-version' };
  const type = b[27];
  const path = PATHS[b[28]!];
  if ((type !== 0 && type !== 1) || !path) return { ok: false, reason: 'malformed' };
  let o = 22 + BODY_FIXED;
  const srcLen = b[o]!;
  if (srcLen > MAX_NAME_BYTES || o + 1 + srcLen + 1 > b.length) return { ok: false, reason: 'malformed' };
  const src = b.toString('utf8', o + 1, o + 1 + srcLen);
  o += 1 + srcLen;
  const dstLen = b[o]!;
  if (dstLen > MAX_NAME_BYTES || o + 1 + dstLen + MAC_LEN > b.length)
    return { ok: false, reason: 'malformed' };
  const dst = b.toString('utf8', o + 1, o + 1 + dstLen);
  o += 1 + dstLen;
  const want = mac(key, b.subarray(0, o));
  if (!timingSafeEqual(want, b.subarray(o, o + MAC_LEN))) return { ok: false, reason: 'bad-hmac' };
  const sentAt = b.readDoubleBE(38);
  if (!Number.isFinite(sentAt)) return { ok: false, reason: 'malformed' };
  return {
    ok: true,
    vni: b.readUIntBE(4, 3),
    packet: {
      type: type === 1 ? 'reply' : 'request',
      path,
      src,
      dst,
      probeId: b.readUInt32BE(30),
      seq: b.readUInt32BE(34),
      sentAt,
      size: b.readUInt16BE(46),
      arrived: (b[29]! & 1) === 1,
    },
  };
}

/**
 * The header fields of a probe without checking its HMAC, for frames whose authenticity is not
 * in question or is checked elsewhere: those this node sent itself, and replies its socket
 * receives (and verifies) anyway. Never throws.
 */
export function peekProbe(b: Buffer): Pick<ProbePacket, 'type' | 'probeId' | 'src' | 'dst'> | null {
  if (b.length < VXLAN_HEADER_LEN + INNER_ETH_LEN + BODY_FIXED + 2) return null;
  if (b.readUInt16BE(20) !== PROBE_ETHERTYPE || b.readUInt32BE(22) !== PROBE_MAGIC) return null;
  const type = b[27];
  const o = 22 + BODY_FIXED;
  const srcLen = b[o]!;
  const dstLen = b[o + 1 + srcLen];
  if (
    (type !== 0 && type !== 1) ||
    srcLen > MAX_NAME_BYTES ||
    dstLen === undefined ||
    dstLen > MAX_NAME_BYTES
  )
    return null;
  if (o + 2 + srcLen + dstLen > b.length) return null;
  return {
    type: type === 1 ? 'reply' : 'request',
    probeId: b.readUInt32BE(30),
    src: b.toString('utf8', o + 1, o + 1 + srcLen),
    dst: b.toString('utf8', o + 2 + srcLen, o + 2 + srcLen + dstLen),
  };
}
