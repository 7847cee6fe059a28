/**
 * Hop walks (I/O): sends a probe's TTL-scoped copies on its exact 5-tuple and collects the ICMP
 * errors the routers send back, from libpcap. The pure parts (matching, folding, comparing) are
 * in hops.ts.
 *
 * Same 5-tuple: the copies leave from the probe's own source port (the caller's socket where it
 * has one, else a socket bound here to that port), to the same address and port, with the same
 * size; Node's dgram sockets send with DF set (IP_PMTUDISC_WANT), like the probe. Only the TTL
 * differs (`socket.setTTL()`), set and restored around each send, whose callback runs after the
 * kernel took the datagram, so no other send shares a TTL by accident.
 *
 * Cost: one datagram per TTL (at most MAX_WALK_TTL) and one ICMP error per answering router,
 * then `waitMs` of waiting; the caller bounds how many walks run per round.
 */
import { createSocket, type Socket } from 'node:dgram';
import type { CaptureFactory, PacketCapture } from '../capture/index.js';
import { icmpErrorFilter } from '../capture/bpf.js';
import {
  foldWalk,
  type HopWalk,
  type IcmpError,
  parseIcmpError,
  udpChecksum,
  type WalkProbe,
  walkPlan,
} from './hops.js';

export interface WalkRequest {
  /** This node's underlay address (the probe's source) and the probe's 5-tuple. */
  src: string;
  sport: number;
  dst: string;
  dport: number;
  /** The probe payload for one TTL of the walk (each must differ: that tells the replies apart). */
  payload: (ttl: number) => Buffer;
  maxTtl?: number;
  /** How long to wait for ICMP after the last send (ms). */
  waitMs?: number;
  /** The socket the probe itself is sent from (bound to src:sport); else one is bound here. */
  socket?: Socket;
  /** TTL the socket goes back to after the walk (default 64, Linux's). */
  restoreTtl?: number;
}

export const DEFAULT_WALK_WAIT_MS = 400;

/** Probes in flight, by walk: frames fed in are matched against all of them. */
interface Active {
  probes: WalkProbe[];
  errors: IcmpError[];
}

export class HopWalker {
  private capture: PacketCapture | null = null;
  private readonly active = new Set<Active>();

  /**
   * With `capture`, start() opens a capture of ICMP errors on `iface`; without, the owner feeds
   * frames it captured itself (the prober's capture) to `feed()`.
   */
  constructor(private readonly o: { capture?: CaptureFactory; iface?: string; self: string }) {}

  /** Opens the capture; returns why walks cannot see routers when it could not. */
  async start(): Promise<string | null> {
    if (!this.o.capture || !this.o.iface) return null;
    const c = await this.o.capture(this.o.iface, icmpErrorFilter(this.o.self), (f) => this.feed(f));
    if ('unavailable' in c) return c.unavailable;
    this.capture = c;
    return null;
  }

  stop(): void {
    this.capture?.stop();
    this.capture = null;
  }

  /** A captured frame (any): ICMP errors about a walk in flight are kept for it. */
  feed(frame: Buffer): void {
    if (this.active.size === 0 || frame.length < 34) return;
    const e = parseIcmpError(frame);
    if (!e) return;
    for (const a of this.active) {
      if (a.probes.some((p) => p.sport === e.quoted.sport && p.dst === e.quoted.dst)) {
        // The quoted payload is a view of the capture's buffer: copy what outlives the call.
        a.errors.push({ ...e, quoted: { ...e.quoted, payload: Buffer.from(e.quoted.payload) } });
      }
    }
  }

  async walk(r: WalkRequest): Promise<HopWalk & { sendErrors: string[] }> {
    const own = r.socket ? null : await bindSocket(r.src, r.sport);
    const sock = r.socket ?? own!;
    const probes = walkPlan(r.maxTtl).map((ttl): WalkProbe => {
      const payload = r.payload(ttl);
      return {
        ttl,
        src: r.src,
        dst: r.dst,
        sport: r.sport,
        dport: r.dport,
        payload,
        udpSum: udpChecksum(r.src, r.dst, r.sport, r.dport, payload),
      };
    });
    const a: Active = { probes, errors: [] };
    this.active.add(a);
    const sendErrors: string[] = [];
    try {
      for (const p of probes) {
        sock.setTTL(p.ttl);
        const err = await new Promise<Error | null>((res) =>
          sock.send(p.payload, r.dport, r.dst, (e) => res(e ?? null)),
        );
        if (err) sendErrors.push(`ttl ${p.ttl}: ${err.message}`);
      }
    } finally {
      sock.setTTL(r.restoreTtl ?? 64);
    }
    await new Promise((res) => setTimeout(res, r.waitMs ?? DEFAULT_WALK_WAIT_MS));
    this.active.delete(a);
    own?.close();
    const size = 28 + (probes[0]?.payload.length ?? 0);
    return { ...foldWalk(probes, a.errors, { size, dst: r.dst }), sendErrors };
  }
}

function bindSocket(addr: string, port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = createSocket('udp4');
    s.once('error', reject);
    s.bind(port, addr, () => {
      s.off('error', reject);
      // ICMP errors also reach a connected/bound socket as 'error' events: the capture counts them.
      s.on('error', () => {});
      resolve(s);
    });
  });
}
