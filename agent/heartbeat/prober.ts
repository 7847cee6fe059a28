/**
 * The heartbeat prober: per round, to every peer of the probe set,
 *  - vxlan:   a signed probe to each VXLAN port the peer's VTEPs use. The peer's kernel VTEP owns
 *             that port, so the peer sees it only with libpcap on its underlay NIC and answers
 *             the same way (to our VXLAN port); we see the answer with libpcap too. On the
 *             port the PMTU probe uses, its full-size probe stands for the small one when it is
 *             answered; only when it is not is the small one sent (same round) to tell a filtered
 *             port from a too-small path. A quarter fewer packets per peer and round, both ways.
 *  - control: the same payload to the peer agent's own UDP port (a normal socket), plus TCP
 *             connects to the Swarm ports 2377/7946 where Swarm is present (refused = reachable).
 *  - pmtu:    a DF probe of overlay MTU + 50 bytes to the VXLAN port; when it fails, a bounded
 *             search (coarse ladder, then 2-byte refinement) finds the largest size that passes;
 *             ICMP frag-needed (captured) and the kernel's learned PMTU are reported.
 *  - overlay: through the real kernel VTEP: UDP to the peer agent at its flannel.1 address;
 *             on Docker overlays one fping per round from a local container to remote containers.
 * Every probe records its fate per hop: sent, left here (capture), arrived there (the reply
 * says so), answered, reply seen (capture). Without capture, vxlan/pmtu are not sent (their
 * port is the kernel's) and `unknowns()` says why.
 */
import { createSocket, type Socket } from 'node:dgram';
import { isIPv4, connect as tcpConnect } from 'node:net';
import type { CaptureFactory, PacketCapture } from '../capture/index.js';
import { probeFilter } from '../capture/bpf.js';
import { parseFrame } from '../capture/parse.js';
import type { CommandRunner } from '../../shared/exec.js';
import type { Logger } from '../../shared/logging.js';
import type {
  ArrivalReport,
  NodePresence,
  NodeSnapshot,
  ProbePath,
  ProbeResult,
  Unknown,
} from '../../shared/schema.js';
import { decodeProbe, encodeProbe, minProbeLength, type ProbePacket, peekProbe } from './codec.js';
import { DEFAULT_PROBESET, type PeerRef, selectTargets } from './probeset.js';
import { ReplayWindow } from './replay.js';

export interface ProberOptions {
  node: string;
  labels: Record<string, string>;
  key: Buffer;
  probeVni: number;
  probePort: number;
  underlayIf: string;
  underlayAddr: string;
  groupLabel: string;
  fullMeshMax: number;
  roundTimeoutMs: number;
  capture: CaptureFactory | null;
  runner: CommandRunner;
  log: Logger;
  /**
   * Largest accepted difference between a probe's authenticated send time and this node's
   * clock (ms; default PROBE_MAX_SKEW_MS). Older probes are refused (`stale`: a capture replayed
   * later, also after this agent restarted); newer ones too (`future`: one forged far-future
   * probe would otherwise make the replay window refuse the sender's genuine probes).
   */
  maxSkewMs?: number;
  /** Clock (epoch ms), for tests. */
  clock?: () => number;
}

/** Default tolerated send-time skew of a probe (nodes are expected to run NTP). */
export const PROBE_MAX_SKEW_MS = 30_000;

interface Pending {
  path: ProbePath;
  dst: string;
  target: string;
  port: number;
  size: number;
  round: number;
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

interface DockerTarget {
  ip: string;
  peer: string;
}

const VXLAN_OVERHEAD = 50;
/** Peers whose probes are sent back to back before a short gap (see probe()). */
const SEND_CHUNK = 16;
const SWARM_TCP = [2377, 7946];
const zero = (): Record<ProbePath, number> => ({ vxlan: 0, control: 0, pmtu: 0, overlay: 0 });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class Prober {
  private readonly o: ProberOptions;
  private readonly peers = new Map<string, NodePresence>();
  private peerRefs: PeerRef[] = [];
  private readonly replay = new ReplayWindow();
  private readonly pending = new Map<number, Pending>();
  private arrivals = new Map<string, ArrivalReport>();
  private readonly fragNeeded = new Map<string, number>();
  private readonly pmtuCache = new Map<string, { round: number; largest: number | null }>();
  private ctl: Socket | null = null;
  private ans: Socket | null = null;
  private capture: PacketCapture | null = null;
  private capturePorts = '';
  private readonly missing: Unknown[] = [];
  private nextId = 1;
  private seq = 1;
  private overlayMtu = 1450;
  /** This node's overlay MTU per VXLAN port (what each overlay carries; see VtepSummary.overlayMtu). */
  private portMtu = new Map<number, number>();
  private swarm = false;
  private flannelAddr: string | null = null;
  private dockerSource: string | null = null;
  private dockerTargets: DockerTarget[] = [];
  private readonly sent = zero();
  private readonly received = zero();
  private readonly rejected: Record<string, number> = {};
  private captureDroppedBase = 0;

  constructor(o: ProberOptions) {
    this.o = o;
  }

  async start(): Promise<void> {
    this.ctl = await this.bind('0.0.0.0', this.o.probePort);
    this.ctl.on('message', (msg, rinfo) => this.onControl(msg, rinfo.address, rinfo.port));
    this.ans = await this.bind(this.o.underlayAddr, 0);
    await this.restartCapture();
  }

  private bind(addr: string, port: number): Promise<Socket> {
    return new Promise((resolve, reject) => {
      const s = createSocket('udp4');
      s.once('error', reject);
      s.bind(port, addr, () => {
        s.removeListener('error', reject);
        s.on('error', (err) => this.o.log.warn({ err }, 'udp socket error'));
        resolve(s);
      });
    });
  }

  private vxlanPorts(): number[] {
    const ports = new Set<number>([4789, 8472]);
    for (const p of this.peers.values()) for (const v of p.vteps) ports.add(v.port);
    return [...ports].sort((a, b) => a - b);
  }

  private async restartCapture(): Promise<void> {
    const ports = this.vxlanPorts();
    const key = ports.join(',');
    if (key === this.capturePorts || !this.o.capture) {
      if (!this.o.capture && this.missing.length === 0)
        this.missing.push({ what: 'capture', reason: 'capture unavailable: pcap module not installed' });
      return;
    }
    this.capture?.stop();
    this.capture = null;
    this.capturePorts = key;
    const filter = probeFilter({
      vxlanPorts: ports,
      probeVni: this.o.probeVni,
      controlPort: this.o.probePort,
      self: isIPv4(this.o.underlayAddr) ? this.o.underlayAddr : undefined,
    });
    const c = await this.o.capture(this.o.underlayIf, filter, (f, ts) => this.onFrame(f, ts));
    this.missing.length = 0;
    if ('unavailable' in c)
      this.missing.push({ what: `capture:${this.o.underlayIf}`, reason: c.unavailable });
    else this.capture = c;
  }

  updateLocal(s: NodeSnapshot): void {
    const carried = s.vteps.map((v) => v.overlayMtu ?? v.mtu);
    this.overlayMtu = Math.min(1450, ...carried) || 1450;
    this.portMtu = new Map();
    for (const v of s.vteps) {
      const m = v.overlayMtu ?? v.mtu;
      this.portMtu.set(v.port, Math.min(m, this.portMtu.get(v.port) ?? m));
    }
    this.swarm = s.docker.swarm;
    const host = s.namespaces.find((n) => n.id === 'host');
    const flannel = s.vteps.find((v) => v.style === 'flannel' && v.netns === 'host');
    this.flannelAddr = host?.links.find((l) => l.name === flannel?.dev)?.addresses[0]?.split('/')[0] ?? null;
    // Docker overlay: remote containers from the overlay namespace's PERMANENT neighbor + FDB.
    const docker = s.vteps.find((v) => v.style === 'docker');
    const ov = docker && s.namespaces.find((n) => n.id === docker.netns);
    this.dockerTargets = [];
    this.dockerSource = null;
    if (docker && ov) {
      const dstOfMac = new Map(
        ov.fdb.filter((e) => e.dev === docker.dev && e.dst).map((e) => [e.mac, e.dst!]),
      );
      for (const n of ov.neighbors) {
        const under = n.lladdr && n.dev === docker.dev ? dstOfMac.get(n.lladdr) : undefined;
        if (under) this.dockerTargets.push({ ip: n.dst, peer: under }); // peer resolved per round
      }
      const subnet = docker.subnets[0]?.split('/')[0]?.split('.').slice(0, 3).join('.');
      const ctr = s.namespaces.find(
        (n) =>
          n.role === 'container' &&
          n.path &&
          n.links.some((l) => l.addresses.some((a) => subnet && a.startsWith(`${subnet}.`))),
      );
      this.dockerSource = ctr?.path ?? null;
    }
  }

  setPeers(list: NodePresence[]): { added: string[]; removed: string[] } {
    const next = new Map(list.filter((p) => p.node !== this.o.node).map((p) => [p.node, p]));
    const added = [...next.keys()].filter((n) => !this.peers.has(n));
    const removed = [...this.peers.keys()].filter((n) => !next.has(n));
    this.peers.clear();
    for (const [k, v] of next) this.peers.set(k, v);
    for (const k of [...this.pmtuCache.keys()])
      if (removed.includes(k.split('\u0000')[0]!)) this.pmtuCache.delete(k);
    this.peerRefs = [...this.peers.values()].map((p) => ({
      name: p.node,
      group: p.labels[this.o.groupLabel] ?? '',
    }));
    if (added.length || removed.length)
      this.restartCapture().catch((err) => {
        // Never an unhandled rejection: the capture stays off and says why.
        this.capturePorts = '';
        this.missing.length = 0;
        this.missing.push({ what: `capture:${this.o.underlayIf}`, reason: `capture restart failed: ${err}` });
        this.o.log.warn({ err }, 'capture restart failed');
      });
    return { added, removed };
  }

  presenceExtras(): Pick<NodePresence, 'probePort' | 'overlayEndpoints'> {
    return {
      probePort: this.o.probePort,
      overlayEndpoints: this.flannelAddr ? [{ style: 'flannel', vni: 1, address: this.flannelAddr }] : [],
    };
  }

  unknowns(): Unknown[] {
    return [...this.missing];
  }

  stats() {
    const s = this.capture?.stats();
    return {
      sent: { ...this.sent },
      received: { ...this.received },
      rejected: { ...this.rejected },
      captureDropped: (s?.dropped ?? 0) + this.captureDroppedBase,
    };
  }

  async stop(): Promise<void> {
    this.capture?.stop();
    this.capture = null;
    for (const s of [this.ctl, this.ans]) s?.close();
    this.ctl = this.ans = null;
  }

  // ------------------------------------------------------------------------------------------

  private packet(path: ProbePath, dst: string, size = 0): ProbePacket {
    const probeId = this.nextId;
    this.nextId = (this.nextId + 1) >>> 0 || 1;
    const seq = this.seq;
    this.seq = (this.seq + 1) >>> 0;
    return {
      type: 'request',
      path,
      src: this.o.node,
      dst,
      probeId,
      seq,
      sentAt: Date.now(),
      size,
      arrived: false,
    };
  }

  private send(
    sock: Socket,
    p: ProbePacket,
    addr: string,
    port: number,
    round: number,
    padTo?: number,
  ): void {
    const buf = encodeProbe(p, this.o.key, { vni: this.o.probeVni, ...(padTo ? { padTo } : {}) });
    this.pending.set(p.probeId, {
      path: p.path,
      dst: p.dst,
      target: addr,
      port,
      size: p.size,
      round,
      at: p.sentAt,
      leftSrc: false,
      answered: false,
      arrived: false,
      replySeen: false,
      leftTs: null,
      replyTs: null,
      socketTs: null,
    });
    this.sent[p.path]++;
    sock.send(buf, port, addr, (err) => {
      if (err) this.o.log.debug({ err, peer: p.dst, path: p.path }, 'probe send failed');
    });
  }

  private reject(reason: string): false {
    this.rejected[reason] = (this.rejected[reason] ?? 0) + 1;
    return false;
  }

  private accept(p: ProbePacket): boolean {
    if (p.dst !== this.o.node) return this.reject('misaddressed');
    // Freshness before the replay window: a far-future send time never enters it, and nothing
    // older than the skew is answered, whatever this process remembers (it may have restarted).
    const now = (this.o.clock ?? Date.now)();
    const skew = this.o.maxSkewMs ?? PROBE_MAX_SKEW_MS;
    if (p.sentAt > now + skew) return this.reject('future');
    if (p.sentAt < now - skew) return this.reject('stale');
    if (!this.replay.accept(p.src, p.seq, p.sentAt)) {
      this.rejected.replay = (this.rejected.replay ?? 0) + 1;
      return false;
    }
    return true;
  }

  private noteArrival(from: string, path: ProbePath): void {
    const k = `${from}\u0000${path}`;
    const a = this.arrivals.get(k) ?? { from, path, count: 0, lastAt: 0 };
    a.count++;
    a.lastAt = Date.now();
    this.arrivals.set(k, a);
    this.received[path]++;
  }

  private onReply(p: ProbePacket, ts: number, viaCapture: boolean): void {
    const pend = this.pending.get(p.probeId);
    if (!pend || pend.dst !== p.src) return;
    pend.answered = true;
    pend.arrived = p.arrived;
    if (viaCapture) {
      pend.replySeen = true;
      pend.replyTs ??= ts;
    } else pend.socketTs ??= ts;
  }

  private decode(payload: Buffer): ProbePacket | null {
    const r = decodeProbe(payload, this.o.key);
    if (r.ok) return r.packet;
    this.rejected[r.reason] = (this.rejected[r.reason] ?? 0) + 1;
    return null;
  }

  /** Control and flannel-overlay probes arrive on the agent's own socket. */
  private onControl(msg: Buffer, addr: string, port: number): void {
    const p = this.decode(msg);
    if (!p) return;
    if (p.type === 'reply') {
      if (this.accept(p)) this.onReply(p, Date.now(), false);
      return;
    }
    if (!this.accept(p)) return;
    this.noteArrival(p.src, p.path);
    const reply = encodeProbe(
      { ...p, type: 'reply', src: this.o.node, dst: p.src, seq: this.nextSeq(), arrived: true },
      this.o.key,
      {
        vni: this.o.probeVni,
      },
    );
    this.ctl?.send(reply, port, addr);
  }

  private nextSeq(): number {
    const s = this.seq;
    this.seq = (this.seq + 1) >>> 0;
    return s;
  }

  /**
   * The pending probe a captured frame belongs to, read from its header alone: our request
   * (its dst is the probed peer) or a reply to one (its src is), else null.
   */
  private peekPending(payload: Buffer, type: 'request' | 'reply'): Pending | null {
    const q = peekProbe(payload);
    if (q?.type !== type) return null;
    const pend = this.pending.get(q.probeId);
    return pend && pend.dst === (type === 'request' ? q.dst : q.src) ? pend : null;
  }

  /** Everything libpcap shows on the underlay NIC. */
  private onFrame(frame: Buffer, ts: number): void {
    const f = parseFrame(frame);
    if (!f) return;
    if (f.fragNeeded) {
      this.fragNeeded.set(f.fragNeeded.origDst, f.fragNeeded.mtu);
      return;
    }
    if (!f.udp) return;
    const outbound = f.src === this.o.underlayAddr;
    const inbound = f.dst === this.o.underlayAddr;
    const isControl = f.udp.dport === this.o.probePort || f.udp.sport === this.o.probePort;
    if (outbound) {
      // Our own request leaving: its header is enough (no HMAC check for what we sent).
      const pend = this.peekPending(f.udp.payload, 'request');
      if (pend) {
        pend.leftSrc = true;
        pend.leftTs ??= ts;
      }
      return;
    }
    if (!inbound) return;
    if (isControl) {
      // The socket receives and verifies it; the capture only testifies that the reply reached
      // the NIC (the filter passes only replies here).
      const pend = this.peekPending(f.udp.payload, 'reply');
      if (pend) {
        pend.replySeen = true;
        pend.replyTs ??= ts;
      }
      return;
    }
    const p = this.decode(f.udp.payload);
    if (!p) return;
    // A fragmented probe did not cross the path whole (the sender's kernel split it after
    // learning a smaller path MTU): for PMTU it did not pass, so it is not answered.
    if (f.fragmented) return;
    if (!this.accept(p)) return;
    if (p.type === 'reply') {
      this.onReply(p, ts, true);
      return;
    }
    // A VXLAN-port request for us: the kernel VTEP drops it, we answer it the same way.
    this.noteArrival(p.src, p.path);
    const reply = encodeProbe(
      { ...p, type: 'reply', src: this.o.node, dst: p.src, seq: this.nextSeq(), arrived: true },
      this.o.key,
      { vni: this.o.probeVni },
    );
    this.ans?.send(reply, f.udp.dport, f.src);
  }

  // ------------------------------------------------------------------------------------------

  async runRound(
    round: number,
    slot = round,
  ): Promise<{ results: ProbeResult[]; arrivals: ArrivalReport[] }> {
    const self: PeerRef = { name: this.o.node, group: this.o.labels[this.o.groupLabel] ?? '' };
    const targets = selectTargets(self, this.peerRefs, slot, {
      ...DEFAULT_PROBESET,
      fullMeshMax: this.o.fullMeshMax,
    });
    const results = await this.probe(targets, round, false);
    const arrivals = [...this.arrivals.values()];
    this.arrivals = new Map();
    return { results, arrivals };
  }

  async trace(dst: string): Promise<ProbeResult[]> {
    if (!this.peers.has(dst)) throw new Error(`unknown peer ${dst}`);
    return this.probe([dst], -1, true);
  }

  private async probe(targets: string[], round: number, forcePmtu: boolean): Promise<ProbeResult[]> {
    const tx = await this.bind(this.o.underlayAddr, 0); // a new source port per round (ECMP spread)
    const ids: number[] = [];
    const track = (p: ProbePacket) => {
      ids.push(p.probeId);
      return p;
    };
    // Each VXLAN port a peer uses gets a full-size probe of the MTU that overlay carries.
    const required = (peer: NodePresence, port: number) => this.requiredFor(peer, port);
    const tcp: Array<Promise<ProbeResult>> = [];
    const mainPmtu = new Set<number>();
    const canCapture = this.capture !== null;
    // Only ICMP frag-needed seen during this round counts for this round's verdicts.
    for (const name of targets) {
      const addr = this.peers.get(name)?.underlay[0];
      if (addr) this.fragNeeded.delete(addr);
    }
    // Sent in chunks of SEND_CHUNK peers, a short gap between chunks: the replies of a chunk
    // come back together and are read in a few wake-ups instead of one per packet (measured:
    // the agent's CPU with 64 peers fell by a sixth against one peer per millisecond). RTTs
    // do not suffer: captured probes are timed by the kernel's capture stamps at both ends;
    // socket-timed ones (overlay) go first in their chunk.
    const live = targets.flatMap((name) => {
      const peer = this.peers.get(name);
      const addr = peer?.underlay[0];
      return peer && addr ? [{ name, peer, addr }] : [];
    });
    const chunks = Math.ceil(live.length / SEND_CHUNK);
    const gap = Math.min(20, Math.floor(this.o.roundTimeoutMs / 10 / Math.max(1, chunks)));
    for (let c = 0; c < live.length; c += SEND_CHUNK) {
      if (c && gap) await sleep(gap);
      const chunk = live.slice(c, c + SEND_CHUNK);
      for (const { name, peer } of chunk) {
        const fl = peer.overlayEndpoints.find((e) => e.style === 'flannel');
        if (this.ctl && fl && this.flannelAddr && peer.probePort)
          this.send(this.ctl, track(this.packet('overlay', name)), fl.address, peer.probePort, round);
      }
      for (const { name, peer, addr } of chunk) {
        if (this.ctl && peer.probePort)
          this.send(this.ctl, track(this.packet('control', name)), addr, peer.probePort, round);
        if (this.swarm) for (const port of SWARM_TCP) tcp.push(this.tcpProbe(name, addr, port, round));
      }
      if (!canCapture) continue;
      for (const { name, peer, addr } of chunk) {
        // A full-size probe to every VXLAN port the peer uses, of the size its overlay needs; a
        // small VXLAN-port probe to a port is sent only if that port's full-size one fails (below).
        for (const port of vxlanPortsOf(peer)) {
          const size = required(peer, port);
          const p = track(this.packet('pmtu', name, size));
          mainPmtu.add(p.probeId);
          this.send(tx, p, addr, port, round, size - 28);
        }
      }
    }
    const docker = this.dockerProbe(targets, round);
    await sleep(this.o.roundTimeoutMs);

    // PMTU search for the peers whose full-size probe failed (cached for 10 rounds).
    const pmtuIds = new Map<string, number>(); // `${peer}\0${port}` -> main PMTU probe id
    for (const id of mainPmtu) {
      const p = this.pending.get(id);
      if (p) pmtuIds.set(`${p.dst}\u0000${p.port}`, id);
    }
    // A full-size DF probe answered on a VXLAN port proves that port open on this path (same
    // 5-tuple as a small probe would use), so it stands for the small VXLAN-port probe. Where it
    // was not answered, the small probe tells "port filtered" from "too big": sent now, it is
    // judged with the search below (same round, same wait).
    const standsFor = new Map<number, number>(); // pmtu probe id -> its port (vxlan verdict)
    let followUps = 0;
    for (const id of pmtuIds.values()) {
      const p = this.pending.get(id)!;
      if (p.answered) {
        standsFor.set(id, p.port);
        continue;
      }
      this.send(tx, track(this.packet('vxlan', p.dst)), p.target, p.port, round);
      followUps++;
    }
    // Search per peer and port (each overlay has its own required size).
    const search = new Map<string, number[]>();
    for (const [key, id] of pmtuIds) {
      const p = this.pending.get(id)!;
      const cached = this.pmtuCache.get(key);
      if (p.answered && !this.fragNeeded.has(p.target)) {
        this.pmtuCache.delete(key);
        continue;
      }
      if (!forcePmtu && cached && round - cached.round < 10 && round >= cached.round) continue;
      search.set(key, []);
    }
    const mainOf = (key: string) => this.pending.get(pmtuIds.get(key)!)!;
    const ladder = async (sizesFor: (key: string) => number[], alsoWait = false) => {
      for (const key of search.keys()) {
        const main = mainOf(key);
        for (const size of sizesFor(key)) {
          if (size - 28 < minProbeLength(this.o.node, main.dst)) continue;
          const p = track(this.packet('pmtu', main.dst, size));
          search.get(key)!.push(p.probeId);
          this.send(tx, p, main.target, main.port, round, size - 28);
        }
      }
      if (search.size || alsoWait) await sleep(this.o.roundTimeoutMs);
    };
    const passed = (key: string) =>
      search
        .get(key)!
        .map((id) => this.pending.get(id)!)
        .filter((p) => p.answered)
        .map((p) => p.size);
    const coarse = (key: string) => {
      const out: number[] = [];
      for (let s = 1280; s < mainOf(key).size; s += 16) out.push(s);
      return out;
    };
    await ladder(coarse, followUps > 0);
    const lo = new Map<string, number>();
    for (const key of search.keys()) lo.set(key, Math.max(0, ...passed(key)));
    await ladder((key) => {
      const base = lo.get(key)!;
      if (!base) return [];
      const out: number[] = [];
      for (let s = base + 2; s < Math.min(mainOf(key).size, base + 16); s += 2) out.push(s);
      return out;
    });
    for (const key of search.keys()) {
      const best = Math.max(0, ...passed(key));
      this.pmtuCache.set(key, { round, largest: best || null });
    }

    // One read of the route cache per round (not one `ip route get` per peer), and only when
    // some full-size probe failed: one that was answered crossed whole, so no smaller learned
    // PMTU was in force for it.
    const anyFailed = [...pmtuIds.values()].some((id) => !this.pending.get(id)?.answered);
    const learned = anyFailed ? await this.learnedPmtus() : new Map<string, number>();
    tx.close();

    const results: ProbeResult[] = [];
    for (const id of ids) {
      const p = this.pending.get(id);
      if (!p) continue;
      this.pending.delete(id);
      if (p.path === 'pmtu' && !mainPmtu.has(id)) continue; // search probes are folded into one result per port
      const icmpMtu = this.fragNeeded.get(p.target) ?? null;
      const captured = p.path === 'vxlan' || p.path === 'pmtu' || p.path === 'control';
      const r: ProbeResult = {
        path: p.path,
        src: this.o.node,
        dst: p.dst,
        target: p.target,
        port: p.port,
        round,
        at: p.at,
        sent: true,
        leftSrc: canCapture && captured ? p.leftSrc : null,
        arrivedDst: p.answered ? p.arrived : null,
        answered: p.answered,
        replySeen: canCapture && captured ? p.replySeen : null,
        rttSeconds: p.answered ? rttOf(p) : null,
        icmp: icmpMtu && (p.path === 'pmtu' || p.path === 'vxlan') ? [`frag-needed mtu=${icmpMtu}`] : [],
      };
      if (standsFor.has(id)) {
        results.push({
          ...r,
          path: 'vxlan',
          icmp: [],
          note: `full-size probe (${p.size} B) answered on this port: it stands for the small one`,
        });
      }
      if (p.path === 'pmtu') {
        const lp = learned.get(p.target) ?? null;
        const need = p.size;
        const fits = p.answered && (lp === null || lp >= need) && !(icmpMtu && icmpMtu < need);
        r.answered = fits;
        r.pmtu = {
          required: need,
          largestPassing: fits ? need : (this.pmtuCache.get(`${p.dst}\u0000${p.port}`)?.largest ?? null),
          fragNeededMtu: icmpMtu,
          learnedPmtu: lp,
        };
      }
      results.push(r);
    }
    results.push(...(await Promise.all(tcp)), ...(await docker));
    // Anything still pending from this call is dropped: the map never grows across rounds.
    for (const id of ids) this.pending.delete(id);
    return results;
  }

  private requiredFor(peer: NodePresence, port: number): number {
    return requiredSize(peer, port, this.portMtu, this.overlayMtu);
  }

  /** Path MTUs the kernel learned (route cache exceptions), by destination address. */
  private async learnedPmtus(): Promise<Map<string, number>> {
    const r = await this.o.runner('ip', ['-j', 'route', 'show', 'cache'], { timeoutMs: 2000 });
    return r.code === 0 ? parseRouteCacheMtus(r.stdout) : new Map();
  }

  private tcpProbe(peer: string, addr: string, port: number, round: number): Promise<ProbeResult> {
    const at = Date.now();
    const base = {
      path: 'control' as const,
      src: this.o.node,
      dst: peer,
      target: addr,
      port,
      round,
      at,
      sent: true,
      leftSrc: null,
      arrivedDst: null,
      replySeen: null,
      icmp: [],
    };
    this.sent.control++;
    return new Promise((resolve) => {
      const sock = tcpConnect({ host: addr, port, localAddress: this.o.underlayAddr });
      const done = (answered: boolean, note: string) => {
        clearTimeout(timer);
        sock.destroy();
        resolve({ ...base, answered, rttSeconds: answered ? (Date.now() - at) / 1000 : null, note });
      };
      const timer = setTimeout(() => done(false, `tcp ${port} timed out (filtered)`), this.o.roundTimeoutMs);
      sock.once('connect', () => done(true, `tcp ${port} open`));
      sock.once('error', (err: NodeJS.ErrnoException) =>
        done(
          err.code === 'ECONNREFUSED',
          err.code === 'ECONNREFUSED' ? `tcp ${port} refused (reachable)` : `tcp ${port} ${err.code}`,
        ),
      );
    });
  }

  /** One fping per round from a local container to the remote containers of the targets. */
  private async dockerProbe(targets: string[], round: number): Promise<ProbeResult[]> {
    if (!this.dockerSource || this.dockerTargets.length === 0) return [];
    const byUnderlay = new Map<string, string>();
    for (const p of this.peers.values()) for (const a of p.underlay) byUnderlay.set(a, p.node);
    const want = new Set(targets);
    const list = this.dockerTargets
      .map((t) => ({ ip: t.ip, peer: byUnderlay.get(t.peer) }))
      .filter((t): t is { ip: string; peer: string } => !!t.peer && want.has(t.peer));
    if (list.length === 0) return [];
    const at = Date.now();
    const ms = Math.max(100, this.o.roundTimeoutMs - 100);
    const r = await this.o.runner(
      'nsenter',
      [`--net=${this.dockerSource}`, 'fping', '-c1', `-t${ms}`, '-q', ...list.map((t) => t.ip)],
      { timeoutMs: ms + 2000 },
    );
    if (r.failure === 'not-found') {
      if (!this.missing.some((u) => u.what === 'fping'))
        this.missing.push({ what: 'fping', reason: 'nsenter/fping not installed: Docker overlay probe off' });
      return [];
    }
    const rtt = parseFping(r.stderr);
    this.sent.overlay += list.length;
    return list.map((t) => {
      const v = rtt.get(t.ip);
      return {
        path: 'overlay' as const,
        src: this.o.node,
        dst: t.peer,
        target: t.ip,
        port: null,
        round,
        at,
        sent: true,
        leftSrc: null,
        arrivedDst: null,
        answered: v !== undefined && v !== null,
        replySeen: null,
        rttSeconds: v ?? null,
        icmp: [],
        note: 'icmp echo container to container (docker overlay)',
      };
    });
  }
}

/**
 * Round-trip time in seconds: between the kernel's capture stamps of the request leaving and
 * the reply arriving when both were captured (no event-loop delay in it), else from the send
 * call to the first sighting of the reply.
 */
function rttOf(p: Pending): number | null {
  if (p.leftTs !== null && p.replyTs !== null) return Math.max(0, p.replyTs - p.leftTs) / 1000;
  const seen = p.replyTs ?? p.socketTs;
  return seen === null ? null : Math.max(0, seen - p.at) / 1000;
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

/** `10.0.1.13 : xmt/rcv/%loss = 1/1/0%, min/avg/max = 0.05/0.05/0.05` -> rtt seconds (null: lost). */
export function parseFping(text: string): Map<string, number | null> {
  const out = new Map<string, number | null>();
  for (const line of text.split('\n')) {
    const m =
      /^(\S+)\s*:\s*xmt\/rcv\/%loss = (\d+)\/(\d+)\/\d+%(?:, min\/avg\/max = [\d.]+\/([\d.]+)\/)?/.exec(
        line.trim(),
      );
    if (!m) continue;
    out.set(m[1]!, Number(m[3]) > 0 ? Number(m[4] ?? 0) / 1000 : null);
  }
  return out;
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
