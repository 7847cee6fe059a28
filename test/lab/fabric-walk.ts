/**
 * Runs hop walks from inside a lab host namespace (Node cannot setns(): the lab starts this with
 * `ip netns exec`), with the agent's real HopWalker, libpcap capture and probe codec, and prints
 * one JSON line per walk: {sport, port, walk}.
 *
 *   node --import tsx test/lab/fabric-walk.ts SRC DST SIZE PORT[,PORT] SPORT[,SPORT]...
 */
import { pcapCaptureFactory } from '../../agent/capture/index.js';
import { encodeProbe } from '../../agent/heartbeat/codec.js';
import { HopWalker } from '../../agent/heartbeat/walker.js';

const [src, dst, sizeArg, portsArg, sportsArg] = process.argv.slice(2);
if (!src || !dst || !sizeArg || !portsArg || !sportsArg) {
  console.error('usage: fabric-walk.ts SRC DST SIZE PORTS SPORTS');
  process.exit(2);
}
const size = Number(sizeArg);
const key = Buffer.alloc(32, 7);
const walker = new HopWalker({ capture: pcapCaptureFactory, iface: 'eth0', self: src });
const why = await walker.start();
if (why) {
  console.error(why);
  process.exit(3);
}
let id = 1;
for (const sport of sportsArg.split(',').map(Number)) {
  for (const port of portsArg.split(',').map(Number)) {
    const walk = await walker.walk({
      src,
      sport,
      dst,
      dport: port,
      maxTtl: 6,
      waitMs: 200,
      payload: () =>
        encodeProbe(
          {
            type: 'request',
            path: 'vxlan',
            src: 'walker',
            dst: 'peer',
            probeId: id++,
            seq: id,
            sentAt: Date.now(),
            size,
            arrived: false,
          },
          key,
          { vni: 16777000, padTo: size - 28 },
        ),
    });
    console.log(JSON.stringify({ sport, port, walk }));
  }
}
walker.stop();
process.exit(0);
