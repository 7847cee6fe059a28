/**
 * The PMTU probe's plan and verdict, pure (plain data in, data out; the prober sends and waits).
 *
 * Per peer and VXLAN port the prober sends one full-size DF probe: the MTU that overlay carries
 * plus 50 bytes of encapsulation. When it fails (or an ICMP frag-needed came back), a bounded
 * search finds the largest outer size that passes: a coarse ladder from 1280 in 16-byte steps,
 * then a 2-byte refinement above the best coarse size. A search result is remembered for
 * PMTU_CACHE_ROUNDS rounds.
 */
import type { NodePresence, ProbeResult } from '../../shared/schema.js';

/** Outer IPv4 + UDP + VXLAN + inner Ethernet: what a VXLAN packet adds to the overlay MTU. */
export const VXLAN_OVERHEAD = 50;
/** Outer IPv4 + UDP header: a probe of outer size `s` carries `s - 28` bytes of payload. */
export const OUTER_HEADERS = 28;
/** Rounds a PMTU search result is reused before the path is searched again. */
export const PMTU_CACHE_ROUNDS = 10;
/** Smallest size the coarse ladder tries (the IPv6 minimum MTU: anything below is broken). */
const LADDER_FLOOR = 1280;
const COARSE_STEP = 16;
const FINE_STEP = 2;

/** A remembered search: the round it ran in and the largest size that passed (null: none). */
export interface PmtuMemo {
  round: number;
  largest: number | null;
}

/** Every VXLAN port the peer's VTEPs use (4789 when it announces none), in announcement order. */
export function vxlanPortsOf(peer: NodePresence): number[] {
  const ports = [...new Set(peer.vteps.map((v) => v.port))];
  return ports.length ? ports : [4789];
}

/**
 * The full-size probe for a peer's VXLAN port: the MTU that overlay carries plus 50 bytes of
 * VXLAN encapsulation — the peer's announced overlay MTU on that port, else this node's own on
 * that port, else `fallback` (this node's smallest overlay MTU).
 */
export function requiredSize(
  peer: NodePresence,
  port: number,
  local: Map<number, number>,
  fallback: number,
): number {
  const announced = peer.vteps
    .filter((v) => v.port === port && typeof v.overlayMtu === 'number' && v.overlayMtu > 0)
    .map((v) => v.overlayMtu as number);
  const mtu = announced.length ? Math.min(...announced) : (local.get(port) ?? fallback);
  return mtu + VXLAN_OVERHEAD;
}

/**
 * Whether a path whose full-size probe was sent this round is searched: `clear` (it passed whole
 * and no frag-needed came back: forget any remembered search), `cached` (a search of the last
 * PMTU_CACHE_ROUNDS rounds still stands; a trace forces a new one), else `search`.
 */
export function searchDecision(o: {
  answered: boolean;
  fragNeeded: boolean;
  memo: PmtuMemo | undefined;
  round: number;
  force: boolean;
}): 'clear' | 'cached' | 'search' {
  if (o.answered && !o.fragNeeded) return 'clear';
  const m = o.memo;
  if (!o.force && m && o.round - m.round < PMTU_CACHE_ROUNDS && o.round >= m.round) return 'cached';
  return 'search';
}

/** The coarse ladder below a required size: 1280, 1296, … (each smaller than `required`). */
export function coarseLadder(required: number): number[] {
  const out: number[] = [];
  for (let s = LADDER_FLOOR; s < required; s += COARSE_STEP) out.push(s);
  return out;
}

/** The refinement above the best coarse size `base` (0: none passed, nothing to refine). */
export function refineLadder(base: number, required: number): number[] {
  if (!base) return [];
  const out: number[] = [];
  for (let s = base + FINE_STEP; s < Math.min(required, base + COARSE_STEP); s += FINE_STEP) out.push(s);
  return out;
}

/** The largest size among those answered (0 when none was). */
export function largestAnswered(sizes: number[]): number {
  return Math.max(0, ...sizes);
}

/**
 * The verdict of one path's full-size probe: it fits when it was answered whole and neither the
 * kernel's learned PMTU nor an ICMP frag-needed is below the required size. `memo` is the
 * search result for the path (its largest passing size stands when the probe does not fit).
 */
export function pmtuVerdict(o: {
  answered: boolean;
  required: number;
  learned: number | null;
  fragNeeded: number | null;
  memo: PmtuMemo | undefined;
}): { fits: boolean; pmtu: NonNullable<ProbeResult['pmtu']> } {
  const { required, learned, fragNeeded } = o;
  const fits =
    o.answered && (learned === null || learned >= required) && !(fragNeeded && fragNeeded < required);
  return {
    fits,
    pmtu: {
      required,
      largestPassing: fits ? required : (o.memo?.largest ?? null),
      fragNeededMtu: fragNeeded,
      learnedPmtu: learned,
    },
  };
}

/**
 * `ip -j route show cache` (iproute2 6.1): `[{"dst":"10.200.2.14","gateway":...,"expires":597,
 * "metrics":[{"mtu":1454}]}]` -> dst -> learned MTU. Entries without an MTU are left out;
 * anything that is not that JSON gives an empty map (the verdict then says "not learned").
 */
export function parseRouteCacheMtus(json: string): Map<string, number> {
  const out = new Map<string, number>();
  let rows: unknown;
  try {
    rows = JSON.parse(json || '[]');
  } catch {
    return out;
  }
  if (!Array.isArray(rows)) return out;
  for (const row of rows as Array<{ dst?: unknown; metrics?: Array<{ mtu?: unknown }> }>) {
    const mtu = row?.metrics?.find?.((m) => typeof m?.mtu === 'number')?.mtu;
    if (typeof row?.dst === 'string' && typeof mtu === 'number') out.set(row.dst, mtu);
  }
  return out;
}
