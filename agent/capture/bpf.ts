/**
 * BPF filters built from numbers only — never from user text. The VNI sits in bytes 4-6 of
 * the UDP payload, i.e. udp[12:3]; `udp[12:4] & 0xffffff00` compares it without the reserved byte.
 */
export function probeFilter(o: { vxlanPorts: number[]; probeVni: number; controlPort: number }): string {
  const ints = [...o.vxlanPorts, o.probeVni, o.controlPort];
  if (!ints.every((n) => Number.isInteger(n) && n >= 0 && n <= 0xffffff))
    throw new RangeError('bad filter numbers');
  const ports = [...new Set(o.vxlanPorts)].sort((a, b) => a - b).map((p) => `port ${p}`);
  const vni = ((o.probeVni << 8) >>> 0).toString();
  return [
    `(udp and (${ports.join(' or ')}) and udp[12:4] & 0xffffff00 = ${vni})`,
    `(udp and port ${o.controlPort})`,
    '(icmp and icmp[0] = 3 and icmp[1] = 4)',
  ].join(' or ');
}
