/** Hand parsing of captured Ethernet/IPv4 frames (pure; returns null for anything else). */
export interface ParsedFrame {
  src: string;
  dst: string;
  /** The IP packet is a fragment (MF set or offset > 0): it did not cross the path whole. */
  fragmented: boolean;
  udp: { sport: number; dport: number; payload: Buffer } | null;
  /** ICMP destination unreachable, fragmentation needed (type 3 code 4). */
  fragNeeded: { mtu: number; origDst: string; origDport: number | null } | null;
}

const ip4 = (b: Buffer, o: number) => `${b[o]}.${b[o + 1]}.${b[o + 2]}.${b[o + 3]}`;

export function parseFrame(b: Buffer): ParsedFrame | null {
  if (b.length < 34) return null;
  let o = 12;
  let type = b.readUInt16BE(o);
  if (type === 0x8100) {
    o += 4;
    type = b.readUInt16BE(o);
  }
  o += 2;
  if (type !== 0x0800 || b[o]! >> 4 !== 4) return null;
  const ihl = (b[o]! & 0x0f) * 4;
  const proto = b[o + 9];
  const fragField = b.readUInt16BE(o + 6);
  const frag = fragField & 0x1fff;
  const fragmented = frag > 0 || (fragField & 0x2000) !== 0;
  const src = ip4(b, o + 12);
  const dst = ip4(b, o + 16);
  const l4 = o + ihl;
  if (proto === 17 && frag === 0 && b.length >= l4 + 8) {
    const len = Math.min(b.readUInt16BE(l4 + 4), b.length - l4);
    return {
      src,
      dst,
      fragmented,
      udp: {
        sport: b.readUInt16BE(l4),
        dport: b.readUInt16BE(l4 + 2),
        payload: b.subarray(l4 + 8, l4 + Math.max(8, len)),
      },
      fragNeeded: null,
    };
  }
  if (proto === 1 && b.length >= l4 + 8 + 20 && b[l4] === 3 && b[l4 + 1] === 4) {
    const inner = l4 + 8;
    const innerIhl = (b[inner]! & 0x0f) * 4;
    const dport =
      b[inner + 9] === 17 && b.length >= inner + innerIhl + 4 ? b.readUInt16BE(inner + innerIhl + 2) : null;
    return {
      src,
      dst,
      fragmented,
      udp: null,
      fragNeeded: { mtu: b.readUInt16BE(l4 + 6), origDst: ip4(b, inner + 16), origDport: dport },
    };
  }
  return { src, dst, fragmented, udp: null, fragNeeded: null };
}
