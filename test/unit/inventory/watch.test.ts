import assert from 'node:assert/strict';
import { test } from 'node:test';
import { debounce, nsidOf, relevantChange, watchNetlink } from '../../../agent/inventory/watch.js';
import { createLogger } from '../../../shared/logging.js';

// Lines as `ip -o monitor all-nsid link address route neigh` (iproute2 6.1) printed them here.
const LINES: Array<[string, boolean, string]> = [
  ['[nsid 0]Deleted 192.0.2.1 dev ifb0 lladdr 02:00:00:00:00:01 NOARP PERMANENT ', true, 'FDB entry removed'],
  ['[nsid 0]10.1.1.1 dev vx lladdr 02:00:00:00:00:01 PERMANENT ', true, 'permanent neighbor'],
  [
    '[nsid 0]2: vx: <BROADCAST,MULTICAST> mtu 1500 qdisc noqueue state DOWN group default \\    link/ether 36:bd:5c:ec:71:7c brd ff:ff:ff:ff:ff:ff',
    true,
    'link down',
  ],
  ['[nsid current]192.0.2.1 dev eth0 lladdr 02:fc:00:00:00:05 STALE ', false, 'ARP cache churn'],
  ['[nsid current]10.200.1.12 dev eth0 lladdr 02:00:0a:c8:01:0c REACHABLE ', false, 'ARP cache churn'],
  ['[nsid 3]10.1.1.1 dev ifb0 FAILED ', false, 'resolution failed (kernel state)'],
  [
    '[nsid 3]Deleted 10.1.1.1 dev ifb0 FAILED ',
    true,
    'a PERMANENT neighbor deleted (as the kernel reports it)',
  ],
  ['[nsid current]Deleted 10.200.1.12 dev eth0 lladdr 02:00:0a:c8:01:0c STALE ', false, 'ARP cache GC'],
  [
    '[nsid current]10.200.2.14 via 10.200.1.254 dev eth0 cache expires 597sec mtu 1454 ',
    false,
    'route cache',
  ],
  ['[nsid current]10.244.3.0/24 via 10.244.3.0 dev flannel.1 onlink ', true, 'route added'],
  ['[nsid 2]Deleted 10.244.3.0/24 via 10.244.3.0 dev flannel.1 onlink ', true, 'route removed'],
  ['[nsid current]Deleted 0.0.0.0 dev lo lladdr 00:00:00:00:00:00 NOARP ', false, 'loopback NOARP GC'],
  ['', false, 'empty'],
];

test('relevantChange: programmed state counts, kernel churn does not', () => {
  for (const [line, want, why] of LINES) assert.equal(relevantChange(line), want, `${why}: ${line}`);
  assert.equal(nsidOf('[nsid 7]x'), '7');
  assert.equal(nsidOf('[nsid current]x'), 'current');
});

test('debounce: a burst costs one call; quiet time and cap hold; pokes during a run give one more', async () => {
  let calls = 0;
  let release: () => void = () => {};
  const d = debounce(
    async () => {
      calls++;
      if (calls === 2) await new Promise<void>((r) => (release = r));
    },
    40,
    120,
  );
  for (let i = 0; i < 5; i++) d.poke();
  await new Promise((r) => setTimeout(r, 80));
  assert.equal(calls, 1, 'five pokes in a burst: one call');
  // Pokes every 20 ms never leave 40 ms of quiet: the cap (120 ms) fires anyway.
  const t0 = Date.now();
  while (calls < 2 && Date.now() - t0 < 1000) {
    d.poke();
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.equal(calls, 2);
  assert.ok(Date.now() - t0 < 400, `cap held (${Date.now() - t0} ms)`);
  d.poke(); // while the second call runs
  d.poke();
  release();
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(calls, 3, 'pokes during a run: exactly one more call');
  d.stop();
  d.poke();
  await new Promise((r) => setTimeout(r, 80));
  assert.equal(calls, 3, 'stopped: no more calls');
});

test('watchNetlink: one process; relevant lines reach onChange; stop ends it', async () => {
  const seen: string[] = [];
  const script = LINES.map(([l]) => l.replaceAll("'", '')).join('\n');
  const w = watchNetlink({
    onChange: (nsid, line) => seen.push(`${nsid}|${line.slice(0, 12)}`),
    log: createLogger({ level: 'silent', name: 't' }),
    command: 'sh',
    args: ['-c', `printf '%s\\n' '${script.replaceAll('\n', "' '")}'; sleep 30`],
  });
  await new Promise((r) => setTimeout(r, 300));
  const pid = w.pid();
  assert.ok(pid, 'listener running');
  assert.equal(seen.length, LINES.filter(([, want]) => want).length, seen.join('\n'));
  w.stop();
  await new Promise((r) => setTimeout(r, 100));
  assert.throws(() => process.kill(pid as number, 0), 'listener gone after stop');
});
