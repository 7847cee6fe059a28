/**
 * Which failing paths a round walks, and what a walk becomes in the probe result (pure), plus
 * reverse names from the node's hosts file. The sending is walker.ts; the round calls this
 * through the prober (runWalks) after its fold, before its source port closes.
 *
 * Bounded: at most MAX_WALKS_PER_ROUND paths a round (distinct peers), only VXLAN-port/PMTU
 * results that failed (or met frag-needed); a trace walks its target's every VXLAN port.
 */
import { readFile } from 'node:fs/promises';
import type { HopsEvidence, ProbeResult } from '../../shared/schema.js';
import type { HopComparison, HopWalk } from './hops.js';

export const MAX_WALKS_PER_ROUND = 2;

/** A result whose path is worth walking: VXLAN-port/PMTU probe unanswered, or frag-needed. */
export function needsWalk(r: ProbeResult): boolean {
  if (!r.sent || r.port === null) return false;
  if (r.path !== 'vxlan' && r.path !== 'pmtu') return false;
  if (r.icmp.some((s) => s.startsWith('frag-needed'))) return true;
  if (r.path === 'pmtu') return !!r.pmtu && (r.pmtu.largestPassing ?? 0) < r.pmtu.required;
  return !r.answered && !r.note?.includes('stands for');
}

/**
 * The results to walk this round: failing ones, those whose peer's control probe passed first
 * (a filtered port, not a dead node), one per peer, at most `max`. `all` (trace): every
 * VXLAN-port/PMTU result of the round, one per port.
 */
export function pickWalks(results: readonly ProbeResult[], max: number, all = false): ProbeResult[] {
  const ctlOk = new Set(results.filter((r) => r.path === 'control' && r.answered).map((r) => r.dst));
  const cands = results.filter((r) =>
    all ? (r.path === 'vxlan' || r.path === 'pmtu') && r.port !== null : needsWalk(r),
  );
  if (all) {
    // One walk per destination port; the PMTU (full-size) result first, it carries the size.
    const byPort = new Map<string, ProbeResult>();
    for (const r of [...cands].sort((a, b) => (a.path === 'pmtu' ? -1 : 0) - (b.path === 'pmtu' ? -1 : 0)))
      if (!byPort.has(`${r.dst}|${r.port}`)) byPort.set(`${r.dst}|${r.port}`, r);
    return [...byPort.values()];
  }
  const ranked = [...cands].sort((a, b) => Number(ctlOk.has(b.dst)) - Number(ctlOk.has(a.dst)));
  const out: ProbeResult[] = [];
  const peers = new Set<string>();
  for (const r of ranked) {
    if (out.length >= max) break;
    if (peers.has(r.dst)) continue;
    peers.add(r.dst);
    out.push(r);
  }
  return out;
}

/** Outer size a walk of `r` sends: the PMTU probe's required size, else the small probe's. */
export function walkSize(r: ProbeResult, smallSize: number): number {
  return r.path === 'pmtu' && r.pmtu ? r.pmtu.required : smallSize;
}

/**
 * The evidence block for a walk. `fragFrom` is the router whose frag-needed the capture saw for
 * the target this round: once the kernel learned the smaller path MTU it fragments the walk's
 * copies locally, and the walk alone would no longer meet the small link.
 */
export function hopsEvidence(
  cmp: HopComparison,
  vxlan: HopWalk,
  control: HopWalk | null,
  o: { at: number; fragFrom?: { from: string; mtu: number } | null },
): HopsEvidence {
  let { verdict, at: hop, next, mtu, text } = cmp;
  if (verdict !== 'frag-needed' && o.fragFrom) {
    verdict = 'frag-needed';
    hop = o.fragFrom.from;
    next = null;
    mtu = o.fragFrom.mtu;
    text = `${hop} answers frag-needed (next-hop MTU ${mtu}) for ${vxlan.size}-byte packets to port ${vxlan.port}`;
  }
  return {
    at: o.at,
    sport: vxlan.sport,
    port: vxlan.port,
    controlPort: control?.port ?? null,
    size: vxlan.size,
    verdict,
    hop,
    next,
    mtu,
    text,
    rows: cmp.rows.slice(0, 16),
  };
}

/** `/etc/hosts` as address -> first name (pure parser). */
export function parseHosts(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const [addr, name] = line.replace(/#.*/, '').trim().split(/\s+/);
    if (addr && name && !(addr in out)) out[addr] = name;
  }
  return out;
}

/** Reverse names where the node has them: its hosts file (no DNS traffic from a walk). */
export async function readHostNames(path = '/etc/hosts'): Promise<Record<string, string>> {
  try {
    return parseHosts(await readFile(path, 'utf8'));
  } catch {
    return {};
  }
}
