import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import {
  parseEthtoolDriver,
  parseEthtoolFeatures,
  ifaceNames,
  parseOsRelease,
  parsePrivileged,
  parseListeningTcp,
  parseSysctl,
} from '../../../agent/inventory/parse-host.js';

const fx = (f: string) =>
  readFileSync(new URL(`../../fixtures/inventory/lab-node/${f}`, import.meta.url), 'utf8');

test('ethtool -i: driver', () => {
  assert.equal(parseEthtoolDriver(fx('ethtool-i.eth0.txt')), 'veth');
  assert.equal(parseEthtoolDriver('driver: virtio_net\nversion: 1.0.0\n'), 'virtio_net');
  assert.equal(parseEthtoolDriver(''), null);
});

test('ethtool -k: kept offloads with [fixed]', () => {
  const f = parseEthtoolFeatures(fx('ethtool-k.eth0.txt'));
  assert.equal(f['tx-checksumming'], 'on');
  assert.equal(f['generic-segmentation-offload'], 'on');
  assert.equal(f['large-receive-offload'], 'off [fixed]');
  assert.equal(f['tx-udp_tnl-segmentation'], 'on');
  assert.equal(f['tx-udp_tnl-csum-segmentation'], 'on');
  assert.equal(f['highdma'], undefined, 'not an overlay-relevant feature');
  assert.equal(parseEthtoolFeatures('\tudp-fragmentation-offload: on\n')['udp-fragmentation-offload'], 'on');
});

test('sysctl -e output', () => {
  const s = parseSysctl(fx('sysctl.txt'));
  assert.equal(s['net.bridge.bridge-nf-call-iptables'], '1');
  assert.equal(s['net.ipv4.conf.eth0.rp_filter'], '0');
  assert.equal(s['net.ipv4.conf.nosuch.rp_filter'], undefined);
  assert.equal(Object.keys(s).length, 6);
});

test('privileged: root, CAP_NET_ADMIN only, nobody', () => {
  assert.equal(parsePrivileged(fx('root-status.txt')), true);
  assert.equal(parsePrivileged(fx('notroot-status.txt')), false);
  assert.equal(parsePrivileged('Uid:\t1000\t1000\t1000\t1000\nCapEff:\t0000000000001000\n'), true);
  assert.equal(parsePrivileged('Uid:\t1000\t1000\t1000\t1000\nCapEff:\t0000000000000800\n'), false);
});

test('os-release', () => {
  assert.equal(
    parseOsRelease('NAME="Debian"\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n'),
    'Debian GNU/Linux 12 (bookworm)',
  );
  assert.equal(parseOsRelease('NAME="CentOS Linux"\nVERSION="7 (Core)"\n'), 'CentOS Linux 7 (Core)');
  assert.equal(parseOsRelease(''), null);
});

test('/proc/net/dev: interface names (the agent change signal)', () => {
  const dev = [
    'Inter-|   Receive                                                |  Transmit',
    ' face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed',
    '    lo:    1200      12    0    0    0     0          0         0     1200      12    0    0    0     0       0          0',
    '  eth0: 9876543   12345    0    0    0     0          0         0  1234567    2345    0    0    0     0       0          0',
    'flannel.1:       0       0    0    0    0     0          0         0        0       0    0    0    0     0       0          0',
    'veth1a2b3c4:     0       0    0    0    0     0          0         0        0       0    0    0    0     0       0          0',
    '',
  ].join('\n');
  assert.deepEqual(ifaceNames(dev), ['lo', 'eth0', 'flannel.1', 'veth1a2b3c4']);
  assert.deepEqual(ifaceNames(''), []);
  assert.deepEqual(ifaceNames('garbage\nmore garbage\nno colon here\n'), []);
  // The real file of this process parses too, and holds loopback.
  assert.ok(ifaceNames(readFileSync('/proc/self/net/dev', 'utf8')).includes('lo'));
});

test('parseListeningTcp: LISTEN rows only, IPv4 and IPv6; a real listener is found in /proc/self/net/tcp', async () => {
  const text = [
    '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
    '   0: 00000000:0949 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 72813 1 0 100 0 0 10 0',
    '   1: 0B01C80A:0949 0C01C80A:C350 01 00000000:00000000 00:00000000 00000000     0        0 72814 1 0 20 4 30 10 -1',
    '   2: 0B01C80A:D431 0C01C80A:1F0A 01 00000000:00000000 00:00000000 00000000     0        0 72815 1 0 20 4 30 10 -1',
  ].join('\n');
  assert.deepEqual(parseListeningTcp(text), [2377], 'established connections (either end) do not count');
  const six =
    '   0: 00000000000000000000000000000000:1F0A 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0 100 0 0 10 0';
  assert.deepEqual(parseListeningTcp(six), [7946]);
  assert.deepEqual(parseListeningTcp('garbage\n'), []);
  const { createServer } = await import('node:net');
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as { port: number }).port;
  try {
    assert.ok(parseListeningTcp(readFileSync('/proc/self/net/tcp', 'utf8')).includes(port));
  } finally {
    srv.close();
  }
});
