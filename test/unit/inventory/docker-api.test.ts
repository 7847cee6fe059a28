/**
 * The Docker Engine API extra, against a stand-in engine on a unix socket (the I/O port):
 * facts when it answers, an `unknown` with the reason when it fails or hangs, nothing at all
 * when there is no socket.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { parseDockerApi, readDockerApi } from '../../../agent/inventory/docker-api.js';
import { collectSnapshot } from '../../../agent/inventory/index.js';
import { silentLogger } from '../../../shared/logging.js';
import { fakeRunner, makeWorld } from './fake.js';

const dir = mkdtempSync(join(tmpdir(), 'vxd-docker-'));
const servers: Server[] = [];
after(() => {
  for (const s of servers) s.close();
  rmSync(dir, { recursive: true, force: true });
});

// Shapes of Docker 24's answers, trimmed to what is read (plus a bridge network to ignore).
const INFO = { ID: 'X', Swarm: { NodeID: 'n1xyz', LocalNodeState: 'active', ControlAvailable: false } };
const NETWORKS = [
  {
    Name: 'bridge',
    Id: 'aaaaaaaaaaaaaaaa',
    Driver: 'bridge',
    IPAM: { Config: [{ Subnet: '172.17.0.0/16' }] },
  },
  { Name: 'web', Id: 'abcdef0123456789ff', Driver: 'overlay', IPAM: { Config: [{ Subnet: '10.0.1.0/24' }] } },
  {
    Name: 'ingress',
    Id: '0011223344556677',
    Driver: 'overlay',
    IPAM: { Config: [{ Subnet: '10.0.0.0/24' }] },
  },
];

function engine(
  name: string,
  handler: (path: string) => { status: number; body: string } | null,
): Promise<string> {
  const path = join(dir, `${name}.sock`);
  const srv = createServer((req, res) => {
    const r = handler(req.url ?? '');
    if (!r) return; // hang
    res.writeHead(r.status, { 'content-type': 'application/json' }).end(r.body);
  });
  servers.push(srv);
  return new Promise((resolve) => srv.listen(path, () => resolve(path)));
}
const ok = (p: string) => ({ status: 200, body: JSON.stringify(p === '/info' ? INFO : NETWORKS) });

test('parseDockerApi: swarm state, overlay networks with their namespace names; junk gives empty facts', () => {
  assert.deepEqual(parseDockerApi(INFO, NETWORKS), {
    swarmState: 'active',
    swarmNodeId: 'n1xyz',
    overlays: [
      { id: '0011223344556677', name: 'ingress', netns: '1-0011223344', subnets: ['10.0.0.0/24'] },
      { id: 'abcdef0123456789ff', name: 'web', netns: '1-abcdef0123', subnets: ['10.0.1.0/24'] },
    ],
  });
  assert.deepEqual(parseDockerApi(null, { not: 'a list' }), {
    swarmState: null,
    swarmNodeId: null,
    overlays: [],
  });
  assert.deepEqual(parseDockerApi({ Swarm: 5 }, [null, 3, { Driver: 'overlay' }]).overlays, []);
});

test('readDockerApi: an error answer, a hang and a missing socket each give a reason', async () => {
  const err = await engine('err', (p) => (p === '/info' ? { status: 500, body: '{}' } : ok(p)));
  assert.deepEqual(await readDockerApi(err, 500), {
    unavailable: `Docker API at ${err}: GET /info: HTTP 500`,
  });
  const hang = await engine('hang', () => null);
  const h = await readDockerApi(hang, 200);
  assert.match('unavailable' in h ? h.unavailable : '', /no answer within 200 ms/);
  const none = await readDockerApi(join(dir, 'none.sock'), 200);
  assert.match('unavailable' in none ? none.unavailable : '', /ENOENT/);
});

test('inventory: API facts when the socket answers; an unknown when it fails; nothing without a socket', async () => {
  const w = makeWorld();
  try {
    const base = {
      node: 'n1',
      labels: {},
      netnsDirs: w.netnsDirs,
      procNetns: false,
      underlayIf: 'eth0',
      procRoot: w.procRoot,
      ipNetnsDirs: [w.ipNetnsDir],
      timeoutMs: 500,
    };
    const snap = (dockerSocket: string | null) =>
      collectSnapshot({ ...base, dockerSocket }, { runner: fakeRunner().runner, log: silentLogger() });

    const good = await snap(await engine('good', ok));
    assert.equal(good.docker.api?.swarmState, 'active');
    assert.deepEqual(
      good.docker.api?.overlays.map((o) => o.netns),
      ['1-0011223344', '1-abcdef0123'],
    );
    assert.ok(good.docker.api?.overlays.some((o) => good.docker.overlayNamespaces.includes(o.netns)));
    assert.equal(good.unknowns.length, 0);

    const bad = await snap(await engine('bad', () => ({ status: 200, body: 'not json' })));
    assert.equal(bad.docker.api, undefined);
    assert.deepEqual(
      bad.unknowns.map((u) => u.what),
      ['docker-api'],
    );
    assert.match(bad.unknowns[0]!.reason, /not JSON/);

    const none = await snap(join(dir, 'absent.sock'));
    assert.equal(none.docker.api, undefined);
    assert.deepEqual(none.unknowns, []);
  } finally {
    rmSync(w.root, { recursive: true, force: true });
  }
});
