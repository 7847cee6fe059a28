/**
 * The answering side of the heartbeat (like cilium's `health/probe/responder`): verifies what
 * arrives (HMAC, addressee, send-time skew, replay window), counts arrivals per sender and path
 * (reported in the agent's probe report: "arrived there"), and signs the reply to a request.
 * It owns no socket: the prober hands it payloads from its control socket and from the capture,
 * and sends the reply bytes the same way the request came.
 */
import type { ArrivalReport, ProbePath } from '../../shared/schema.js';
import { decodeProbe, encodeProbe, type ProbePacket } from './codec.js';
import { ReplayWindow } from './replay.js';

/** Default tolerated send-time skew of a probe (nodes are expected to run NTP). */
export const PROBE_MAX_SKEW_MS = 30_000;

export interface ResponderOptions {
  node: string;
  key: Buffer;
  probeVni: number;
  /** See ProberOptions.maxSkewMs. */
  maxSkewMs?: number;
  /** Clock (epoch ms), for tests. */
  clock?: () => number;
  /**
   * This node's next probe sequence number. Requests and replies share one sequence: the peer's
   * replay window keys on (sender, seq) whatever the packet type.
   */
  nextSeq: () => number;
}

export class Responder {
  /** Probes that arrived here, per path (requests answered). */
  readonly received: Record<ProbePath, number> = { vxlan: 0, control: 0, pmtu: 0, overlay: 0 };
  /** Refused packets by reason (codec reasons, misaddressed, future, stale, replay). */
  readonly rejected: Record<string, number> = {};
  private readonly o: ResponderOptions;
  private readonly replay = new ReplayWindow();
  private arrivals = new Map<string, ArrivalReport>();

  constructor(o: ResponderOptions) {
    this.o = o;
  }

  /** The packet in `payload` if its signature holds, else null (counted by reason). */
  decode(payload: Buffer): ProbePacket | null {
    const r = decodeProbe(payload, this.o.key);
    if (r.ok) return r.packet;
    this.count(r.reason);
    return null;
  }

  /** Whether a verified packet is for this node, fresh and not seen before (else counted). */
  accept(p: ProbePacket): boolean {
    if (p.dst !== this.o.node) return this.count('misaddressed');
    // Freshness before the replay window: a far-future send time never enters it, and nothing
    // older than the skew is answered, whatever this process remembers (it may have restarted).
    const now = (this.o.clock ?? Date.now)();
    const skew = this.o.maxSkewMs ?? PROBE_MAX_SKEW_MS;
    if (p.sentAt > now + skew) return this.count('future');
    if (p.sentAt < now - skew) return this.count('stale');
    if (!this.replay.accept(p.src, p.seq, p.sentAt)) return this.count('replay');
    return true;
  }

  /** An accepted request arrived: note it and return the signed reply to send back. */
  answer(p: ProbePacket): Buffer {
    this.noteArrival(p.src, p.path);
    return encodeProbe(
      { ...p, type: 'reply', src: this.o.node, dst: p.src, seq: this.o.nextSeq(), arrived: true },
      this.o.key,
      { vni: this.o.probeVni },
    );
  }

  /** The arrivals since the last call (one per sender and path), and start counting anew. */
  takeArrivals(): ArrivalReport[] {
    const out = [...this.arrivals.values()];
    this.arrivals = new Map();
    return out;
  }

  private noteArrival(from: string, path: ProbePath): void {
    const k = `${from}\u0000${path}`;
    const a = this.arrivals.get(k) ?? { from, path, count: 0, lastAt: 0 };
    a.count++;
    a.lastAt = Date.now();
    this.arrivals.set(k, a);
    this.received[path]++;
  }

  private count(reason: string): false {
    this.rejected[reason] = (this.rejected[reason] ?? 0) + 1;
    return false;
  }
}
