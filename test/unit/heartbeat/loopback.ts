/** Real Probers on loopback addresses (127.0.0.x), for the prober tests; stopped by `stopAll`. */
import { createSocket } from 'node:dgram';
import { encodeProbe } from '../../../agent/heartbeat/codec.js';
import { Prober, type ProberOptions } from '../../../agent/heartbeat/prober.js';
import { execRunner } from '../../../shared/exec.js';
import { silentLogger } from '../../../shared/logging.js';
import { SCHEMA_VERSION, type NodePresence } from '../../../shared/schema.js';

export const PROBE_VNI = 16777000;

export class LoopbackProbers {
  private readonly all: Prober[] = [];
  private readonly addrs = new Set<string>();
  constructor(private readonly key: Buffer) {}

  /** A Prober for `node` on `addr`, its control socket on `port`, capturing on lo (or not). */
  make(node: string, addr: string, port: number, capture: ProberOptions['capture']): Prober {
    const p = new Prober({
      node,
      labels: { rack: 'A' },
      key: this.key,
      probeVni: PROBE_VNI,
      probePort: port,
      underlayIf: 'lo',
      underlayAddr: addr,
      groupLabel: 'rack',
      fullMeshMax: 64,
      roundTimeoutMs: 300,
      capture,
      runner: execRunner,
      log: silentLogger(),
    });
    this.all.push(p);
    this.addrs.add(addr);
    return p;
  }

  /**
   * Stops every Prober. node-pcap releases a stopped handle only on its next matching frame, so
   * one request goes to each address on 8472 afterwards (else the test process never exits).
   */
  async stopAll(): Promise<void> {
    for (const p of this.all) await p.stop();
    const probe = {
      type: 'request',
      path: 'vxlan',
      src: 'x',
      dst: 'y',
      probeId: 1,
      seq: 1,
      sentAt: 0,
      size: 0,
    };
    const b = encodeProbe({ ...probe, arrived: false } as Parameters<typeof encodeProbe>[0], this.key, {
      vni: PROBE_VNI,
    });
    const s = createSocket('udp4');
    for (const dst of this.addrs) await new Promise<void>((res) => s.send(b, 8472, dst, () => res()));
    s.close();
  }
}

/** The presence a loopback peer would publish: one flannel-style VTEP on port 8472. */
export const loopbackPresence = (node: string, addr: string, port: number): NodePresence => ({
  schemaVersion: SCHEMA_VERSION,
  node,
  labels: { rack: 'A' },
  version: 'test',
  at: Date.now(),
  underlay: [addr],
  probePort: port,
  vteps: [{ style: 'flannel', vni: 1, port: 8472, mac: '0e:f1:00:00:00:02', local: addr, dev: 'flannel.1' }],
  overlayEndpoints: [],
});
