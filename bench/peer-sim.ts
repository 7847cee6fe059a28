/**
 * N simulated peers for the agent footprint benchmark (bench/probe.ts), run inside the peers'
 * namespace. Each peer i owns underlay address BASE.i and a flannel-style overlay endpoint
 * 10.244.i.0 (MAC 0e:f1:00:00:01:<i>), keeps its NodePresence in KV `vxdoctor_nodes`, and does
 * what a real agent does towards the agent under test, every round:
 *  - answers its VXLAN-port, PMTU and control probes with signed replies (same codec);
 *  - answers its overlay probes *through the overlay*: the agent's kernel VTEP encapsulates them
 *    to BASE.i:8472, where this process decapsulates, and the reply goes back VXLAN-encapsulated
 *    (VNI 1) so the agent's kernel VTEP delivers it to the agent's socket;
 *  - sends it one probe of every kind (pmtu full size, control, overlay; the small vxlan one only
 *    when the full-size one is not answered, as the agent does), which the agent
 *    sees with libpcap or on its socket and answers.
 * It is a load generator, not vxdoctor: there is no VTEP of its own, so one process can stand
 * in for many peers. Presence is refreshed every third of its TTL, as the agent does.
 * On SIGTERM it prints its counters as one JSON line and exits.
 *
 * Usage (JSON in argv[2]): {key, nats, agent: {node, underlay, overlay, mac}, peers, base,
 *   intervalMs, probeVni, probePort, ttlMs}
 */
import { createSocket, type Socket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { Kvm } from '@nats-io/kv';
import { connect } from '@nats-io/transport-node';
import { decodeProbe, encodeProbe, type ProbePacket } from '../agent/heartbeat/codec.js';
import { SCHEMA_VERSION, type NodePresence, type ProbePath } from '../shared/schema.js';
import { KV_NODES, nodeToken } from '../shared/subjects.js';

interface SimOptions {
  key: string;
  nats: string;
  agent: { node: string; underlay: string; overlay: string; mac: string };
  peers: number;
  base: string;
  intervalMs: number;
  probeVni: number;
  probePort: number;
  ttlMs: number;
}

const FLANNEL_PORT = 8472;
const FLANNEL_VNI = 1;
const o = JSON.parse(process.argv[2] ?? '{}') as SimOptions;
const key = readFileSync(o.key);
const hex = (i: number) => i.toString(16).padStart(2, '0');
const macBytes = (m: string) => Buffer.from(m.replaceAll(':', ''), 'hex');
const ipBytes = (a: string) => Buffer.from(a.split('.').map(Number));

interface Peer {
  i: number;
  node: string;
  underlay: string;
  overlay: string;
  mac: string;
  seq: number;
  probeId: number;
  /** Id of this round's full-size probe until the agent answers it. */
  pmtuPending: number | null;
  vx: Socket;
  ctl: Socket;
}

const counts = {
  requestsFromAgent: { vxlan: 0, control: 0, pmtu: 0, overlay: 0 } as Record<ProbePath, number>,
  repliesFromAgent: { vxlan: 0, control: 0, pmtu: 0, overlay: 0 } as Record<ProbePath, number>,
  requestsToAgent: { vxlan: 0, control: 0, pmtu: 0, overlay: 0 } as Record<ProbePath, number>,
  rejected: 0,
};

function checksum(b: Buffer): number {
  let s = 0;
  for (let i = 0; i < b.length; i += 2) s += (b[i]! << 8) | (b[i + 1] ?? 0);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

/** VXLAN (VNI 1) + Ethernet + IPv4 (DF) + UDP around `payload`: what a flannel VTEP sends. */
function encapsulate(p: Peer, sport: number, dport: number, payload: Buffer): Buffer {
  const vx = Buffer.alloc(8);
  vx[0] = 0x08;
  vx.writeUIntBE(FLANNEL_VNI, 4, 3);
  const eth = Buffer.concat([macBytes(o.agent.mac), macBytes(p.mac), Buffer.from([0x08, 0x00])]);
  const ip = Buffer.alloc(20);
  ip[0] = 0x45;
  ip.writeUInt16BE(20 + 8 + payload.length, 2);
  ip.writeUInt16BE(0x4000, 6);
  ip[8] = 64;
  ip[9] = 17;
  ipBytes(p.overlay).copy(ip, 12);
  ipBytes(o.agent.overlay).copy(ip, 16);
  ip.writeUInt16BE(checksum(ip), 10);
  const udp = Buffer.alloc(8);
  udp.writeUInt16BE(sport, 0);
  udp.writeUInt16BE(dport, 2);
  udp.writeUInt16BE(8 + payload.length, 4); // checksum 0: none (IPv4)
  return Buffer.concat([vx, eth, ip, udp, payload]);
}

/** The inner UDP datagram of a VNI-1 VXLAN packet, or null. */
function decapsulate(b: Buffer): { sport: number; payload: Buffer } | null {
  if (b.length < 8 + 14 + 20 + 8 || b.readUIntBE(4, 3) !== FLANNEL_VNI) return null;
  if (b.readUInt16BE(20) !== 0x0800 || b[22 + 9] !== 17) return null;
  const udp = 22 + (b[22]! & 0x0f) * 4;
  return { sport: b.readUInt16BE(udp), payload: b.subarray(udp + 8) };
}

function packet(p: Peer, path: ProbePath, size = 0): ProbePacket {
  p.probeId = (p.probeId + 1) >>> 0 || 1;
  p.seq = (p.seq + 1) >>> 0;
  return {
    type: 'request',
    path,
    src: p.node,
    dst: o.agent.node,
    probeId: p.probeId,
    seq: p.seq,
    sentAt: Date.now(),
    size,
    arrived: false,
  };
}

function reply(p: Peer, req: ProbePacket): Buffer {
  p.seq = (p.seq + 1) >>> 0;
  return encodeProbe({ ...req, type: 'reply', src: p.node, dst: req.src, seq: p.seq, arrived: true }, key, {
    vni: o.probeVni,
  });
}

function decode(b: Buffer): ProbePacket | null {
  const r = decodeProbe(b, key);
  if (r.ok && r.packet.dst !== o.agent.node && r.packet.src === o.agent.node) return r.packet;
  if (!r.ok && r.reason !== 'not-probe') counts.rejected++;
  return null;
}

function onVxlanPort(p: Peer, msg: Buffer, addr: string, port: number): void {
  const inner = decapsulate(msg);
  if (inner) {
    const q = decode(inner.payload);
    if (!q) return;
    if (q.type === 'reply') counts.repliesFromAgent[q.path]++;
    else {
      counts.requestsFromAgent.overlay++;
      p.vx.send(encapsulate(p, o.probePort, inner.sport, reply(p, q)), FLANNEL_PORT, o.agent.underlay);
    }
    return;
  }
  answer(p, p.vx, msg, addr, port);
}

/** A plain (not encapsulated) probe on `sock`: count a reply, answer a request where it came from. */
function answer(p: Peer, sock: Socket, msg: Buffer, addr: string, port: number): void {
  const q = decode(msg);
  if (!q) return;
  if (q.type === 'reply') {
    counts.repliesFromAgent[q.path]++;
    if (q.probeId === p.pmtuPending) p.pmtuPending = null;
  } else {
    counts.requestsFromAgent[q.path]++;
    sock.send(reply(p, q), port, addr);
  }
}

/** Sends one request of `path` from peer `p` to the agent; returns its probe id. */
function send(p: Peer, path: ProbePath, sock: Socket, port: number, padTo?: number): number {
  counts.requestsToAgent[path]++;
  const size = padTo ? padTo + 28 : 0;
  const q = packet(p, path, size);
  sock.send(encodeProbe(q, key, { vni: o.probeVni, ...(padTo ? { padTo } : {}) }), port, o.agent.underlay);
  return q.probeId;
}

function bind(addr: string, port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = createSocket('udp4');
    s.once('error', reject);
    s.bind(port, addr, () => resolve(s));
  });
}

function presence(p: Peer): NodePresence {
  return {
    schemaVersion: SCHEMA_VERSION,
    node: p.node,
    labels: { rack: p.i % 2 ? 'A' : 'B' },
    version: 'peer-sim',
    at: Date.now(),
    underlay: [p.underlay],
    probePort: o.probePort,
    vteps: [
      {
        style: 'flannel',
        vni: FLANNEL_VNI,
        port: FLANNEL_PORT,
        mac: p.mac,
        local: p.underlay,
        dev: 'flannel.1',
      },
    ],
    overlayEndpoints: [{ style: 'flannel', vni: FLANNEL_VNI, address: p.overlay }],
  };
}

async function main(): Promise<void> {
  const peers: Peer[] = [];
  for (let i = 1; i <= o.peers; i++) {
    const underlay = `${o.base}.${i}`;
    const p = {
      i,
      node: `peer${String(i).padStart(2, '0')}`,
      underlay,
      overlay: `10.244.${i}.0`,
      mac: `0e:f1:00:00:01:${hex(i)}`,
      seq: 0,
      probeId: 0,
      pmtuPending: null,
      vx: await bind(underlay, FLANNEL_PORT),
      ctl: await bind(underlay, o.probePort),
    };
    p.vx.on('message', (m, r) => onVxlanPort(p, m, r.address, r.port));
    p.ctl.on('message', (m, r) => answer(p, p.ctl, m, r.address, r.port));
    peers.push(p);
  }
  const nc = await connect({ servers: o.nats, maxReconnectAttempts: -1 });
  const kvm = new Kvm(nc);
  const kv = await kvm.create(KV_NODES, { ttl: o.ttlMs, history: 1 });
  // Like the agent: presence refreshed every third of its TTL.
  let presenceAt = 0;
  const round = async () => {
    const refresh = Date.now() - presenceAt >= o.ttlMs / 3;
    if (refresh) presenceAt = Date.now();
    for (const p of peers) {
      if (refresh) await kv.put(nodeToken(p.node), JSON.stringify(presence(p)));
      // As the agent does: the full-size probe stands for the small VXLAN-port probe on its port;
      // the small one follows only if the full-size one is not answered.
      p.pmtuPending = send(p, 'pmtu', p.vx, FLANNEL_PORT, 1500 - 28);
      send(p, 'control', p.ctl, o.probePort);
      counts.requestsToAgent.overlay++;
      const ov = encodeProbe(packet(p, 'overlay'), key, { vni: o.probeVni });
      p.vx.send(encapsulate(p, o.probePort, o.probePort, ov), FLANNEL_PORT, o.agent.underlay);
      await new Promise((r) => setTimeout(r, Math.floor(o.intervalMs / 4 / o.peers)));
    }
  };
  const followUp = () => {
    for (const p of peers) if (p.pmtuPending !== null) send(p, 'vxlan', p.vx, FLANNEL_PORT);
  };
  await round();
  setTimeout(followUp, 1000);
  const timer = setInterval(
    () =>
      void round()
        .then(() => setTimeout(followUp, 1000))
        .catch(() => undefined),
    o.intervalMs,
  );
  process.stdout.write('ready\n');
  process.once('SIGTERM', () => {
    clearInterval(timer);
    process.stdout.write(`${JSON.stringify(counts)}\n`);
    for (const p of peers) {
      p.vx.close();
      p.ctl.close();
    }
    void nc.close().finally(() => process.exit(0));
  });
}

main().catch((err) => {
  process.stderr.write(`peer-sim: ${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
