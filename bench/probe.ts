/**
 * CPU cost of the heartbeat's per-probe work, in one process: sign + encode a request, verify +
 * decode + replay-check it at the receiver, encode the signed reply, verify + decode the reply.
 * Prints JSON; compare runs by ratio, not absolute time.
 */
import { decodeProbe, encodeProbe, type ProbePacket } from '../agent/heartbeat/codec.js';
import { ReplayWindow } from '../agent/heartbeat/replay.js';

const N = Number(process.env.PROBES ?? 200_000);
const key = Buffer.from('bench-key-0123456789abcdef');
const replay = new ReplayWindow();
const base: ProbePacket = {
  type: 'request',
  path: 'vxlan',
  src: 'node-a',
  dst: 'node-b',
  probeId: 0,
  seq: 0,
  sentAt: 0,
  size: 0,
  arrived: false,
};
let ok = 0;
const t0 = process.cpuUsage();
const w0 = performance.now();
for (let i = 1; i <= N; i++) {
  const req = encodeProbe({ ...base, probeId: i, seq: i, sentAt: Date.now() }, key, { vni: 16777000 });
  const d = decodeProbe(req, key);
  if (!d.ok || !replay.accept(d.packet.src, d.packet.seq)) continue;
  const rep = encodeProbe({ ...d.packet, type: 'reply', src: 'node-b', dst: 'node-a', arrived: true }, key, {
    vni: 16777000,
  });
  if (decodeProbe(rep, key).ok) ok++;
}
const cpu = process.cpuUsage(t0);
const cpuSeconds = (cpu.user + cpu.system) / 1e6;
process.stdout.write(
  `${JSON.stringify({
    benchmark: 'probe',
    probes: N,
    answered: ok,
    cpuSeconds: Number(cpuSeconds.toFixed(3)),
    wallSeconds: Number(((performance.now() - w0) / 1000).toFixed(3)),
    probesPerCoreSecond: Math.round(N / cpuSeconds),
    cpuPer1000ProbesMs: Number(((cpuSeconds / N) * 1e6).toFixed(2)),
  })}\n`,
);
