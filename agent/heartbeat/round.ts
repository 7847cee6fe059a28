/**
 * The sending loop of one heartbeat round: every probe of the round to every target, in chunks;
 * one wait; the small VXLAN-port probes where the full-size one failed and the PMTU search
 * (coarse ladder, then refinement), each with one more wait; the route cache read; the fold.
 * The plan and the verdicts are pure (pmtu.ts, fold.ts); this file only sends and waits.
 */
import type { Socket } from 'node:dgram';
import type { NodePresence, ProbePath, ProbeResult } from '../../shared/schema.js';
import { minProbeLength } from './codec.js';
import { foldResults, type Pending, planSmallProbes } from './fold.js';
import {
  coarseLadder,
  largestAnswered,
  OUTER_HEADERS,
  type PmtuMemo,
  refineLadder,
  requiredSize,
  searchDecision,
  vxlanPortsOf,
} from './pmtu.js';
import { SWARM_TCP } from './side-probes.js';

/** Peers whose probes are sent back to back before a short gap (see runProbeRound). */
const SEND_CHUNK = 16;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `${peer}\0${port}`: one PMTU path (the key of the PMTU memo). */
export const pathKey = (dst: string, port: number) => `${dst}\u0000${port}`;

/** What this node's own snapshot says the round needs. */
export interface LocalView {
  /** This node's smallest overlay MTU (the fallback required size). */
  overlayMtu: number;
  /** This node's overlay MTU per VXLAN port. */
  portMtu: Map<number, number>;
  /** Docker Swarm is active here (TCP side probes to the Swarm ports). */
  swarm: boolean;
  /** This node's flannel.1 address, if any (overlay probes need one). */
  flannelAddr: string | null;
}

/** What the sending loop uses of the prober. */
export interface RoundPort {
  node: string;
  roundTimeoutMs: number;
  peers: ReadonlyMap<string, NodePresence>;
  local: LocalView;
  /** Capture is on: VXLAN-port and PMTU probes can be seen (and are sent). */
  canCapture: boolean;
  /** The agent's control socket (control and flannel-overlay probes). */
  ctl: Socket | null;
  /** A new socket on the underlay address (a new source port per round: ECMP spread). */
  bindTx(): Promise<Socket>;
  /** Sends one signed probe (padded to outer size `size` when given) and records it pending. */
  send(
    sock: Socket,
    path: ProbePath,
    dst: string,
    addr: string,
    port: number,
    round: number,
    size?: number,
  ): Pending;
  pending: Map<number, Pending>;
  /** ICMP frag-needed MTU by target address (filled by the capture). */
  fragNeeded: Map<string, number>;
  pmtuCache: Map<string, PmtuMemo>;
  learnedPmtus(): Promise<Map<string, number>>;
  tcpProbe(peer: string, addr: string, port: number, round: number): Promise<ProbeResult>;
  dockerProbe(targets: string[], round: number): Promise<ProbeResult[]>;
  /**
   * Hop walks of the round's failing VXLAN-port/PMTU results (every port on a trace), on the
   * round's own source port `tx`: attaches `hops` to the results it walked.
   */
  walk?(results: ProbeResult[], tx: Socket, trace: boolean): Promise<void>;
}

/** One round to `targets`; `forcePmtu` searches even where a remembered search stands (trace). */
export async function runProbeRound(
  o: RoundPort,
  targets: string[],
  round: number,
  forcePmtu: boolean,
): Promise<ProbeResult[]> {
  const tx = await o.bindTx();
  const ids: number[] = [];
  const track = (p: Pending) => {
    ids.push(p.id);
    return p;
  };
  const tcp: Array<Promise<ProbeResult>> = [];
  const mainPmtu = new Set<number>();
  const { canCapture, local } = o;
  // Only ICMP frag-needed seen during this round counts for this round's verdicts.
  for (const name of targets) {
    const addr = o.peers.get(name)?.underlay[0];
    if (addr) o.fragNeeded.delete(addr);
  }
  // Sent in chunks of SEND_CHUNK peers, a short gap between chunks: the replies of a chunk
  // come back together and are read in a few wake-ups instead of one per packet (measured:
  // the agent's CPU with 64 peers fell by a sixth against one peer per millisecond). RTTs
  // do not suffer: captured probes are timed by the kernel's capture stamps at both ends;
  // socket-timed ones (overlay) go first in their chunk.
  const live = targets.flatMap((name) => {
    const peer = o.peers.get(name);
    const addr = peer?.underlay[0];
    return peer && addr ? [{ name, peer, addr }] : [];
  });
  const chunks = Math.ceil(live.length / SEND_CHUNK);
  const gap = Math.min(20, Math.floor(o.roundTimeoutMs / 10 / Math.max(1, chunks)));
  for (let c = 0; c < live.length; c += SEND_CHUNK) {
    if (c && gap) await sleep(gap);
    const chunk = live.slice(c, c + SEND_CHUNK);
    for (const { name, peer } of chunk) {
      const fl = peer.overlayEndpoints.find((e) => e.style === 'flannel');
      if (o.ctl && fl && local.flannelAddr && peer.probePort)
        track(o.send(o.ctl, 'overlay', name, fl.address, peer.probePort, round));
    }
    for (const { name, peer, addr } of chunk) {
      if (o.ctl && peer.probePort) track(o.send(o.ctl, 'control', name, addr, peer.probePort, round));
      if (local.swarm) for (const port of SWARM_TCP) tcp.push(o.tcpProbe(name, addr, port, round));
    }
    if (!canCapture) continue;
    for (const { name, peer, addr } of chunk) {
      // A full-size probe to every VXLAN port the peer uses, of the size its overlay needs; a
      // small VXLAN-port probe to a port is sent only if that port's full-size one fails (below).
      for (const port of vxlanPortsOf(peer)) {
        const size = requiredSize(peer, port, local.portMtu, local.overlayMtu);
        mainPmtu.add(track(o.send(tx, 'pmtu', name, addr, port, round, size)).id);
      }
    }
  }
  const docker = o.dockerProbe(targets, round);
  await sleep(o.roundTimeoutMs);

  // The full-size probe of each peer and port.
  const mains = new Map<string, Pending>();
  for (const id of mainPmtu) {
    const p = o.pending.get(id);
    if (p) mains.set(pathKey(p.dst, p.port), p);
  }
  // Where the full-size probe was not answered, the small VXLAN-port probe follows now and is
  // judged with the search below (same round, same wait).
  const small = planSmallProbes([...mains.values()]);
  for (const p of small.followUp) track(o.send(tx, 'vxlan', p.dst, p.target, p.port, round));
  // PMTU search per peer and port (each overlay has its own required size).
  const search = new Map<string, number[]>();
  for (const [key, p] of mains) {
    const decision = searchDecision({
      answered: p.answered,
      fragNeeded: o.fragNeeded.has(p.target),
      memo: o.pmtuCache.get(key),
      round,
      force: forcePmtu,
    });
    if (decision === 'clear') o.pmtuCache.delete(key);
    if (decision === 'search') search.set(key, []);
  }
  const ladder = async (sizesFor: (key: string, main: Pending) => number[], alsoWait = false) => {
    for (const [key, sent] of search) {
      const main = mains.get(key)!;
      for (const size of sizesFor(key, main)) {
        if (size - OUTER_HEADERS < minProbeLength(o.node, main.dst)) continue;
        sent.push(track(o.send(tx, 'pmtu', main.dst, main.target, main.port, round, size)).id);
      }
    }
    if (search.size || alsoWait) await sleep(o.roundTimeoutMs);
  };
  const best = (key: string) =>
    largestAnswered(
      search
        .get(key)!
        .map((id) => o.pending.get(id)!)
        .filter((p) => p.answered)
        .map((p) => p.size),
    );
  await ladder((_, main) => coarseLadder(main.size), small.followUp.length > 0);
  const lo = new Map<string, number>();
  for (const key of search.keys()) lo.set(key, best(key));
  await ladder((key, main) => refineLadder(lo.get(key)!, main.size));
  for (const key of search.keys()) o.pmtuCache.set(key, { round, largest: best(key) || null });

  // One read of the route cache per round (not one `ip route get` per peer), and only when
  // some full-size probe failed: one that was answered crossed whole, so no smaller learned
  // PMTU was in force for it.
  const anyFailed = [...mains.values()].some((p) => !p.answered);
  const learned = anyFailed ? await o.learnedPmtus() : new Map<string, number>();

  const results = foldResults(
    ids.flatMap((id) => o.pending.get(id) ?? []),
    {
      node: o.node,
      round,
      canCapture,
      mainPmtu,
      standsFor: new Set(small.standsFor.map((p) => p.id)),
      fragNeeded: o.fragNeeded,
      learned,
      memo: (dst, port) => o.pmtuCache.get(pathKey(dst, port)),
    },
  );
  // Nothing pending from this call is kept: the map never grows across rounds.
  for (const id of ids) o.pending.delete(id);
  try {
    if (o.walk) await o.walk(results, tx, forcePmtu);
  } finally {
    tx.close();
  }
  results.push(...(await Promise.all(tcp)), ...(await docker));
  return results;
}
