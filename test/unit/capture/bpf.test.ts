/**
 * The capture filter, compiled and run by the real libpcap (tcpdump -r over a pcap file made
 * here): of what the node sends, only probe requests; everything addressed to it; never
 * ordinary overlay traffic or other UDP.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { probeFilter } from '../../../agent/capture/bpf.js';
import { encodeProbe, type ProbePacket } from '../../../agent/heartbeat/codec.js';

const SELF = '10.200.1.11';
const PEER = '10.200.2.13';
const VNI = 16777000;
const KEY = Buffer.from('k'.repeat(32));
const dir = mkdtempSync(join(tmpdir(), 'vxd-bpf-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const ip = (a: string) => Buffer.from(a.split('.').map(Number));
function frame(src: string, dst: string, proto: number, l4: Buffer): Buffer {
  const eth = Buffer.from('020000000002020000000001' + '0800', 'hex');
  const h = Buffer.alloc(20);
  h[0] = 0x45;
  h.writeUInt16BE(20 + l4.length, 2);
  h.writeUInt16BE(0x4000, 6);
  h[8] = 64;
  h[9] = proto;
  ip(src).copy(h, 12);
  ip(dst).copy(h, 16);
  return Buffer.concat([eth, h, l4]);
}
function udp(src: string, dst: string, sport: number, dport: number, payload: Buffer): Buffer {
  const u = Buffer.alloc(8);
  u.writeUInt16BE(sport, 0);
  u.writeUInt16BE(dport, 2);
  u.writeUInt16BE(8 + payload.length, 4);
  return frame(src, dst, 17, Buffer.concat([u, payload]));
}
const probe = (type: ProbePacket['type'], vni = VNI) =>
  encodeProbe(
    { type, path: 'vxlan', src: 'n1', dst: 'n3', probeId: 1, seq: 1, sentAt: 1, size: 0, arrived: false },
    KEY,
    { vni },
  );
function fragNeeded(): Buffer {
  const inner = udp(SELF, PEER, 40000, 4789, Buffer.alloc(8)).subarray(14, 14 + 28);
  const icmp = Buffer.concat([Buffer.from([3, 4, 0, 0, 0, 0, 0x05, 0xae]), inner]);
  return frame('10.200.1.254', SELF, 1, icmp);
}

/** name -> [frame, should the filter keep it] */
const CASES: Array<[string, Buffer, boolean]> = [
  ['our vxlan-port request leaving', udp(SELF, PEER, 40000, 4789, probe('request')), true],
  ['our vxlan-port reply leaving (we answer a peer)', udp(SELF, PEER, 40000, 4789, probe('reply')), false],
  ["a peer's request arriving", udp(PEER, SELF, 40000, 4789, probe('request')), true],
  ["a peer's reply arriving", udp(PEER, SELF, 40000, 8472, probe('reply')), true],
  ['ordinary overlay traffic (VNI 256) arriving', udp(PEER, SELF, 40000, 4789, probe('request', 256)), false],
  ['our control request leaving', udp(SELF, PEER, 40001, 7999, probe('request')), true],
  ['our control reply leaving', udp(SELF, PEER, 7999, 40001, probe('reply')), false],
  [
    "a peer's control request arriving (the socket has it)",
    udp(PEER, SELF, 40001, 7999, probe('request')),
    false,
  ],
  ["a peer's control reply arriving", udp(PEER, SELF, 7999, 40001, probe('reply')), true],
  ['ICMP frag-needed', fragNeeded(), true],
  ['DNS', udp(SELF, '10.200.1.254', 40002, 53, Buffer.alloc(30)), false],
];

function pcapFile(frames: Buffer[]): string {
  const g = Buffer.alloc(24);
  g.writeUInt32LE(0xa1b2c3d4, 0);
  g.writeUInt16LE(2, 4);
  g.writeUInt16LE(4, 6);
  g.writeUInt32LE(65535, 16);
  g.writeUInt32LE(1, 20); // Ethernet
  const recs = frames.map((f, i) => {
    const h = Buffer.alloc(16);
    h.writeUInt32LE(1_700_000_000 + i, 0);
    h.writeUInt32LE(f.length, 8);
    h.writeUInt32LE(f.length, 12);
    return Buffer.concat([h, f]);
  });
  const file = join(dir, `t${Date.now()}.pcap`);
  writeFileSync(file, Buffer.concat([g, ...recs]));
  return file;
}

/** Indexes of the frames libpcap keeps (tcpdump prints the record's timestamp second). */
function kept(filter: string, frames: Buffer[]): number[] {
  const r = spawnSync('tcpdump', ['-r', pcapFile(frames), '-nn', '-tt', filter], { encoding: 'utf8' });
  assert.equal(r.status, 0, `tcpdump: ${r.stderr}`);
  return r.stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => Number(l.split('.')[0]) - 1_700_000_000);
}

describe('probe capture filter (real libpcap)', () => {
  it('with our address: keeps our requests and what is addressed to us, nothing else', () => {
    const filter = probeFilter({ vxlanPorts: [4789, 8472], probeVni: VNI, controlPort: 7999, self: SELF });
    const got = kept(
      filter,
      CASES.map(([, f]) => f),
    );
    for (const [i, [name, , want]] of CASES.entries()) assert.equal(got.includes(i), want, name);
  });

  it('without an address: every probe on the watched ports (and never other VNIs or UDP)', () => {
    const filter = probeFilter({ vxlanPorts: [4789, 8472], probeVni: VNI, controlPort: 7999 });
    const got = kept(
      filter,
      CASES.map(([, f]) => f),
    );
    const want = CASES.map(([name], i) => [i, !/VNI 256|DNS/.test(name)] as const);
    for (const [i, w] of want) assert.equal(got.includes(i), w, CASES[i]![0]);
  });

  it('refuses anything but numbers and a dotted-quad address', () => {
    assert.throws(() =>
      probeFilter({ vxlanPorts: [4789], probeVni: VNI, controlPort: 7999, self: '1.2.3.4 or 1=1' }),
    );
    assert.throws(() =>
      probeFilter({ vxlanPorts: [4789], probeVni: VNI, controlPort: 7999, self: '256.1.1.1' }),
    );
    assert.throws(() => probeFilter({ vxlanPorts: [1.5], probeVni: VNI, controlPort: 7999 }));
  });
});
