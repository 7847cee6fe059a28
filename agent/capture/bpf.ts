/**
 * BPF filters built from numbers only — never from user text. The VNI sits in bytes 4-6 of
 * the UDP payload, i.e. udp[12:3]; `udp[12:4] & 0xffffff00` compares it without the reserved byte.
 * The probe's type byte (0 request, 1 reply) is byte 27 of the payload, i.e. udp[35].
 *
 * With `self` (this node's underlay address) the kernel keeps only frames the prober uses:
 * everything addressed to us, and of what we send only requests (they testify "left here") —
 * not our replies to peers, nor control requests the socket already receives. That halves the
 * frames copied into the agent.
 */
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

export function probeFilter(o: {
  vxlanPorts: number[];
  probeVni: number;
  controlPort: number;
  self?: string;
}): string {
  const ints = [...o.vxlanPorts, o.probeVni, o.controlPort];
  if (!ints.every((n) => Number.isInteger(n) && n >= 0 && n <= 0xffffff))
    throw new RangeError('bad filter numbers');
  if (o.self !== undefined && !IPV4.test(o.self)) throw new RangeError('bad filter address');
  const ports = [...new Set(o.vxlanPorts)].sort((a, b) => a - b).map((p) => `port ${p}`);
  const vni = ((o.probeVni << 8) >>> 0).toString();
  const vxlan = `udp and (${ports.join(' or ')}) and udp[12:4] & 0xffffff00 = ${vni}`;
  const control = `udp and port ${o.controlPort}`;
  // frag-needed (PMTU) and time-exceeded (hop walks: the routers a TTL-scoped copy reached)
  const icmp = '(icmp and ((icmp[0] = 3 and icmp[1] = 4) or (icmp[0] = 11 and icmp[1] = 0)))';
  if (!o.self) return [`(${vxlan})`, `(${control})`, icmp].join(' or ');
  const out = `src host ${o.self} and udp[35] = 0`;
  return [
    `(${vxlan} and (dst host ${o.self} or (${out})))`,
    `(${control} and ((dst host ${o.self} and udp[35] = 1) or (${out})))`,
    icmp,
  ].join(' or ');
}

/**
 * ICMP errors routers send back to this node for its hop walks: time-exceeded (type 11) and
 * destination unreachable (type 3: frag-needed, port unreachable), addressed to `self`.
 */
export function icmpErrorFilter(self: string): string {
  if (!IPV4.test(self)) throw new RangeError('bad filter address');
  return `icmp and (icmp[0] = 11 or icmp[0] = 3) and dst host ${self}`;
}
