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
 *
 * This file holds the sockets, the capture and the peer set, and routes what arrives. The
 * parts: round.ts (the sending loop of a round), pmtu.ts and fold.ts (the PMTU plan and verdict,
 * folding probes into results: pure), responder.ts (the answering side), side-probes.ts (TCP
 * and fping).
 */
import { createSocket, type Socket } from 'node:dgram';
import { isIPv4 } from 'node:net';
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
import { encodeProbe, minProbeLength, type ProbePacket, peekProbe } from './codec.js';
import { type Pending, pendingOf } from './fold.js';
import { OUTER_HEADERS, type PmtuMemo, parseRouteCacheMtus } from './pmtu.js';
import { DEFAULT_PROBESET, type PeerRef, selectTargets } from './probeset.js';
import { Responder } from './responder.js';
import { type LocalView, type RoundPort, runProbeRound } from './round.js';
import { type DockerPlan, dockerPlan, dockerProbe, tcpProbe } from './side-probes.js';
import { compareWalks } from './hops.js';
import { HopWalker } from './walker.js';
import { hopsEvidence, MAX_WALKS_PER_ROUND, pickWalks, readHostNames, walkSize } from './walks.js';

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
  /** Hop walks of failing paths per round (default MAX_WALKS_PER_ROUND; 0 = off, traces still walk). */
  walksPerRound?: number;
  /** Hosts file for the walked routers' reverse names (default /etc/hosts). */
  hostsFile?: string;
}

/** How long a walk waits for ICMP after its last TTL (ms, at most the round timeout). */
const WALK_WAIT_MS = 400;
/** Walk TTLs 1..WALK_MAX_TTL. */
const WALK_MAX_TTL = 8;

const zero = (): Record<ProbePath, number> => ({ vxlan: 0, control: 0, pmtu: 0, overlay: 0 });

export class Prober {
  private readonly o: ProberOptions;
  private readonly peers = new Map<string, NodePresence>();
  private peerRefs: PeerRef[] = [];
  private readonly responder: Responder;
  private readonly pending = new Map<number, Pending>();
  private readonly fragNeeded = new Map<string, number>();
  /** The router that sent the latest frag-needed per target address, and its MTU. */
  private readonly fragFrom = new Map<string, { from: string; mtu: number }>();
  private readonly walker: HopWalker;
  private walksDone = 0;
  private readonly pmtuCache = new Map<string, PmtuMemo>();
  private ctl: Socket | null = null;
  private ans: Socket | null = null;
  private capture: PacketCapture | null = null;
  private capturePorts = '';
  private readonly missing: Unknown[] = [];
  private nextId = 1;
  private seq = 1;
  private local: LocalView = { overlayMtu: 1450, portMtu: new Map(), swarm: false, flannelAddr: null };
  private docker: DockerPlan = { source: null, targets: [] };
  private readonly sent = zero();
  private captureDroppedBase = 0;

  constructor(o: ProberOptions) {
    this.o = o;
    // Fed from the prober's own capture (its filter passes time-exceeded to us): no second handle.
    this.walker = new HopWalker({ self: o.underlayAddr });
    this.responder = new Responder({
      node: o.node,
      key: o.key,
      probeVni: o.probeVni,
      ...(o.maxSkewMs !== undefined ? { maxSkewMs: o.maxSkewMs } : {}),
      ...(o.clock ? { clock: o.clock } : {}),
      nextSeq: () => this.nextSeq(),
    });
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
    // What each overlay carries (see VtepSummary.overlayMtu), per VXLAN port and at the least.
    const carried = s.vteps.map((v) => v.overlayMtu ?? v.mtu);
    const portMtu = new Map<number, number>();
    for (const v of s.vteps) {
      const m = v.overlayMtu ?? v.mtu;
      portMtu.set(v.port, Math.min(m, portMtu.get(v.port) ?? m));
    }
    const host = s.namespaces.find((n) => n.id === 'host');
    const flannel = s.vteps.find((v) => v.style === 'flannel' && v.netns === 'host');
    this.local = {
      overlayMtu: Math.min(1450, ...carried) || 1450,
      portMtu,
      swarm: s.docker.swarm,
      flannelAddr: host?.links.find((l) => l.name === flannel?.dev)?.addresses[0]?.split('/')[0] ?? null,
    };
    this.docker = dockerPlan(s);
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
    const addr = this.local.flannelAddr;
    return {
      probePort: this.o.probePort,
      overlayEndpoints: addr ? [{ style: 'flannel', vni: 1, address: addr }] : [],
    };
  }

  unknowns(): Unknown[] {
    return [...this.missing];
  }

  stats() {
    const s = this.capture?.stats();
    return {
      sent: { ...this.sent },
      received: { ...this.responder.received },
      rejected: { ...this.responder.rejected },
      captureDropped: (s?.dropped ?? 0) + this.captureDroppedBase,
      walks: this.walksDone,
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
    return {
      type: 'request',
      path,
      src: this.o.node,
      dst,
      probeId,
      seq: this.nextSeq(),
      sentAt: Date.now(),
      size,
      arrived: false,
    };
  }

  private nextSeq(): number {
    const s = this.seq;
    this.seq = (this.seq + 1) >>> 0;
    return s;
  }

  private send(
    sock: Socket,
    path: ProbePath,
    dst: string,
    addr: string,
    port: number,
    round: number,
    size = 0,
  ): Pending {
    const p = this.packet(path, dst, size);
    const padTo = size ? size - OUTER_HEADERS : 0;
    const buf = encodeProbe(p, this.o.key, { vni: this.o.probeVni, ...(padTo ? { padTo } : {}) });
    const pend = pendingOf({ id: p.probeId, path, dst, target: addr, port, size, round, at: p.sentAt });
    this.pending.set(p.probeId, pend);
    this.sent[path]++;
    sock.send(buf, port, addr, (err) => {
      if (err) this.o.log.debug({ err, peer: dst, path }, 'probe send failed');
    });
    return pend;
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

  /** Control and flannel-overlay probes arrive on the agent's own socket. */
  private onControl(msg: Buffer, addr: string, port: number): void {
    const r = this.responder;
    const p = r.decode(msg);
    if (!p || !r.accept(p)) return;
    if (p.type === 'reply') this.onReply(p, Date.now(), false);
    else this.ctl?.send(r.answer(p), port, addr);
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
    if (f.udp === null) this.walker.feed(frame);
    if (f.fragNeeded) {
      this.fragNeeded.set(f.fragNeeded.origDst, f.fragNeeded.mtu);
      this.fragFrom.set(f.fragNeeded.origDst, { from: f.src, mtu: f.fragNeeded.mtu });
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
    const p = this.responder.decode(f.udp.payload);
    if (!p) return;
    // A fragmented probe did not cross the path whole (the sender's kernel split it after
    // learning a smaller path MTU): for PMTU it did not pass, so it is not answered.
    if (f.fragmented) return;
    if (!this.responder.accept(p)) return;
    if (p.type === 'reply') {
      this.onReply(p, ts, true);
      return;
    }
    // A VXLAN-port request for us: the kernel VTEP drops it, we answer it the same way.
    this.ans?.send(this.responder.answer(p), f.udp.dport, f.src);
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
    return { results, arrivals: this.responder.takeArrivals() };
  }

  async trace(dst: string): Promise<ProbeResult[]> {
    if (!this.peers.has(dst)) throw new Error(`unknown peer ${dst}`);
    return this.probe([dst], -1, true);
  }

  private probe(targets: string[], round: number, forcePmtu: boolean): Promise<ProbeResult[]> {
    const port: RoundPort = {
      node: this.o.node,
      roundTimeoutMs: this.o.roundTimeoutMs,
      peers: this.peers,
      local: this.local,
      canCapture: this.capture !== null,
      ctl: this.ctl,
      bindTx: () => this.bind(this.o.underlayAddr, 0),
      send: (sock, path, dst, addr, port, round, size) => this.send(sock, path, dst, addr, port, round, size),
      pending: this.pending,
      fragNeeded: this.fragNeeded,
      pmtuCache: this.pmtuCache,
      learnedPmtus: () => this.learnedPmtus(),
      tcpProbe: (peer, addr, port, round) => this.tcpProbe(peer, addr, port, round),
      dockerProbe: (targets, round) => this.dockerProbe(targets, round),
      walk: (results, tx, trace) => this.runWalks(results, tx, trace),
    };
    return runProbeRound(port, targets, round, forcePmtu);
  }

  /**
   * Hop walks for this round's failing VXLAN-port/PMTU results (all of a trace's): the probe's
   * TTL-scoped copies on its own source port `tx`, next to the same walk on the control port
   * (a fresh source port: the control socket keeps answering peers at full TTL meanwhile).
   */
  private async runWalks(results: ProbeResult[], tx: Socket, trace: boolean): Promise<void> {
    if (this.capture === null) return;
    const max = this.o.walksPerRound ?? MAX_WALKS_PER_ROUND;
    const picks = pickWalks(results, trace ? Number.POSITIVE_INFINITY : max, trace);
    if (picks.length === 0) return;
    const names = await readHostNames(this.o.hostsFile);
    const sport = tx.address().port;
    const waitMs = Math.min(WALK_WAIT_MS, this.o.roundTimeoutMs);
    for (const r of picks) {
      const peer = this.peers.get(r.dst);
      if (!peer || r.port === null) continue;
      const size = walkSize(r, minProbeLength(this.o.node, r.dst) + OUTER_HEADERS);
      const payload = (path: 'vxlan' | 'control') => () => {
        const p = this.packet(path, r.dst, size);
        const padTo = size - OUTER_HEADERS;
        return encodeProbe(p, this.o.key, { vni: this.o.probeVni, padTo });
      };
      const ctlSock = peer.probePort ? await this.bind(this.o.underlayAddr, 0) : null;
      try {
        const [v, c] = await Promise.all([
          this.walker.walk({
            src: this.o.underlayAddr,
            sport,
            dst: r.target,
            dport: r.port,
            payload: payload('vxlan'),
            maxTtl: WALK_MAX_TTL,
            waitMs,
            socket: tx,
          }),
          ctlSock
            ? this.walker.walk({
                src: this.o.underlayAddr,
                sport: ctlSock.address().port,
                dst: r.target,
                dport: peer.probePort,
                payload: payload('control'),
                maxTtl: WALK_MAX_TTL,
                waitMs,
                socket: ctlSock,
              })
            : Promise.resolve(null),
        ]);
        this.walksDone++;
        r.hops = hopsEvidence(compareWalks(v, c, names), v, c, {
          at: Date.now(),
          fragFrom: this.fragNeeded.has(r.target) ? (this.fragFrom.get(r.target) ?? null) : null,
        });
      } catch (err) {
        this.o.log.debug({ err, peer: r.dst }, 'hop walk failed');
      } finally {
        ctlSock?.close();
      }
    }
  }

  /** Path MTUs the kernel learned (route cache exceptions), by destination address. */
  private async learnedPmtus(): Promise<Map<string, number>> {
    const r = await this.o.runner('ip', ['-j', 'route', 'show', 'cache'], { timeoutMs: 2000 });
    return r.code === 0 ? parseRouteCacheMtus(r.stdout) : new Map();
  }

  private tcpProbe(peer: string, addr: string, port: number, round: number): Promise<ProbeResult> {
    this.sent.control++;
    return tcpProbe({
      node: this.o.node,
      peer,
      addr,
      port,
      round,
      localAddress: this.o.underlayAddr,
      timeoutMs: this.o.roundTimeoutMs,
    });
  }

  /** One fping per round from a local container to the remote containers of the targets. */
  private async dockerProbe(targets: string[], round: number): Promise<ProbeResult[]> {
    const r = await dockerProbe({
      node: this.o.node,
      plan: this.docker,
      peers: this.peers.values(),
      targets,
      round,
      roundTimeoutMs: this.o.roundTimeoutMs,
      runner: this.o.runner,
    });
    if (r.missing && !this.missing.some((u) => u.what === 'fping'))
      this.missing.push({ what: 'fping', reason: 'nsenter/fping not installed: Docker overlay probe off' });
    this.sent.overlay += r.sent;
    return r.results;
  }
}
