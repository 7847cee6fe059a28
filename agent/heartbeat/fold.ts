/**
 * Folding a round's probes into results, pure: what the prober saw of each probe it sent (the
 * pending record, filled in by the socket and the capture) in, one ProbeResult per probe out.
 * PMTU search probes fold into their path's full-size probe; a full-size probe answered on a
 * VXLAN port also stands for the small VXLAN-port probe there.
 */
import type { ProbePath, ProbeResult } from '../../shared/schema.js';
import { type PmtuMemo, pmtuVerdict } from './pmtu.js';

/** What the prober knows of one probe it sent, hop by hop (see ProbeResult). */
export interface Pending {
  id: number;
  path: ProbePath;
  /** The probed peer (node name). */
  dst: string;
  /** The address probed. */
  target: string;
  port: number;
  /** Outer size (pmtu probes), else 0. */
  size: number;
  round: number;
  /** Send time (epoch ms). */
  at: number;
  leftSrc: boolean;
  answered: boolean;
  arrived: boolean;
  replySeen: boolean;
  /** Kernel capture time of the request leaving here (epoch ms), if captured. */
  leftTs: number | null;
  /** Kernel capture time of the reply arriving here, if captured. */
  replyTs: number | null;
  /** When the socket delivered the reply (epoch ms): the RTT for uncaptured paths. */
  socketTs: number | null;
}

/** A fresh record for a probe just sent: nothing seen yet. */
export function pendingOf(
  p: Pick<Pending, 'id' | 'path' | 'dst' | 'target' | 'port' | 'size' | 'round' | 'at'>,
): Pending {
  return {
    ...p,
    leftSrc: false,
    answered: false,
    arrived: false,
    replySeen: false,
    leftTs: null,
    replyTs: null,
    socketTs: null,
  };
}

/**
 * Round-trip time in seconds: between the kernel's capture stamps of the request leaving and
 * the reply arriving when both were captured (no event-loop delay in it), else from the send
 * call to the first sighting of the reply.
 */
export function rttOf(p: Pending): number | null {
  if (p.leftTs !== null && p.replyTs !== null) return Math.max(0, p.replyTs - p.leftTs) / 1000;
  const seen = p.replyTs ?? p.socketTs;
  return seen === null ? null : Math.max(0, seen - p.at) / 1000;
}

/**
 * "Full-size stands for small": a full-size DF probe answered on a VXLAN port proves that port
 * open on this path (the same 5-tuple a small probe would use), so it stands for the small
 * VXLAN-port probe. Where it was not answered, the small probe is sent (`followUp`) to tell
 * "port filtered" from "too big".
 */
export function planSmallProbes(mains: Pending[]): { standsFor: Pending[]; followUp: Pending[] } {
  return {
    standsFor: mains.filter((p) => p.answered),
    followUp: mains.filter((p) => !p.answered),
  };
}

/** Everything the fold needs besides the probes. */
export interface FoldContext {
  /** This node. */
  node: string;
  round: number;
  /** Capture was on: the leftSrc/replySeen hops of captured paths were looked at. */
  canCapture: boolean;
  /** Ids of the full-size PMTU probes (one per peer and port); other pmtu probes were the search. */
  mainPmtu: Set<number>;
  /** Ids of the full-size probes that stand for the small VXLAN-port probe. */
  standsFor: Set<number>;
  /** ICMP frag-needed MTU seen this round, by target address. */
  fragNeeded: Map<string, number>;
  /** Path MTU the kernel learned, by target address. */
  learned: Map<string, number>;
  /** The remembered PMTU search of a peer's port. */
  memo: (dst: string, port: number) => PmtuMemo | undefined;
}

/** The round's results, in send order (search probes folded away). */
export function foldResults(probes: Pending[], c: FoldContext): ProbeResult[] {
  const results: ProbeResult[] = [];
  for (const p of probes) {
    if (p.path === 'pmtu' && !c.mainPmtu.has(p.id)) continue; // search probes fold into one result per port
    const icmpMtu = c.fragNeeded.get(p.target) ?? null;
    const captured = p.path === 'vxlan' || p.path === 'pmtu' || p.path === 'control';
    const r: ProbeResult = {
      path: p.path,
      src: c.node,
      dst: p.dst,
      target: p.target,
      port: p.port,
      round: c.round,
      at: p.at,
      sent: true,
      leftSrc: c.canCapture && captured ? p.leftSrc : null,
      arrivedDst: p.answered ? p.arrived : null,
      answered: p.answered,
      replySeen: c.canCapture && captured ? p.replySeen : null,
      rttSeconds: p.answered ? rttOf(p) : null,
      icmp: icmpMtu && (p.path === 'pmtu' || p.path === 'vxlan') ? [`frag-needed mtu=${icmpMtu}`] : [],
    };
    if (c.standsFor.has(p.id)) {
      results.push({
        ...r,
        path: 'vxlan',
        icmp: [],
        note: `full-size probe (${p.size} B) answered on this port: it stands for the small one`,
      });
    }
    if (p.path === 'pmtu') {
      const v = pmtuVerdict({
        answered: p.answered,
        required: p.size,
        learned: c.learned.get(p.target) ?? null,
        fragNeeded: icmpMtu,
        memo: c.memo(p.dst, p.port),
      });
      r.answered = v.fits;
      r.pmtu = v.pmtu;
    }
    results.push(r);
  }
  return results;
}
