/**
 * --label-from-node against a stand-in Kubernetes API on loopback (https with a CA made by
 * openssl, as in a pod): the agent GETs its own Node with its bearer token and maps the labels.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import {
  fetchNodeLabels,
  inClusterApi,
  labelsFromNode,
  parseLabelFromNode,
} from '../../../agent/kube-node.js';
import { ConfigError } from '../../../shared/config.js';

const dir = mkdtempSync(join(tmpdir(), 'vxd-kube-'));
const NODE = 'ip-10-0-1-5.ec2.internal';
const TOKEN = `tok-${process.pid}`;
const seen: { path: string; auth: string | undefined }[] = [];
let server: Server;
let url = '';

before(async () => {
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=kube-apiserver',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
      '-keyout',
      join(dir, 'key.pem'),
      '-out',
      join(dir, 'ca.crt'),
    ],
    { stdio: 'pipe', timeout: 30_000 },
  );
  writeFileSync(join(dir, 'token'), `${TOKEN}\n`);
  server = createServer(
    { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'ca.crt')) },
    (req, res) => {
      seen.push({ path: req.url ?? '', auth: req.headers.authorization });
      res.setHeader('content-type', 'application/json');
      if (req.headers.authorization !== `Bearer ${TOKEN}`) {
        res.statusCode = 401;
        res.end(JSON.stringify({ kind: 'Status', message: 'Unauthorized' }));
        return;
      }
      if (req.url === `/api/v1/nodes/${NODE}`) {
        res.end(
          JSON.stringify({
            kind: 'Node',
            metadata: {
              name: NODE,
              labels: { 'topology.kubernetes.io/zone': 'eu-west-1b', 'example.com/rack': 'r17', n: 1 },
            },
          }),
        );
        return;
      }
      res.statusCode = 404;
      res.end(JSON.stringify({ kind: 'Status', message: `nodes "${req.url?.split('/').pop()}" not found` }));
    },
  );
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `https://127.0.0.1:${(server.address() as { port: number }).port}`;
});
after(() => {
  server?.close();
  rmSync(dir, { recursive: true, force: true });
});

test('reads its own Node over TLS with the service-account token and maps the labels', async () => {
  const api = inClusterApi(
    { KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: url.split(':')[2] },
    { tokenFile: join(dir, 'token'), caFile: join(dir, 'ca.crt') },
  );
  assert.equal(api.url, url);
  const nodeLabels = await fetchNodeLabels(api, NODE);
  assert.deepEqual(seen.at(-1), { path: `/api/v1/nodes/${NODE}`, auth: `Bearer ${TOKEN}` });
  assert.equal(nodeLabels.n, undefined, 'non-string label values dropped');
  assert.deepEqual(
    labelsFromNode(
      nodeLabels,
      parseLabelFromNode(['rack=example.com/rack', 'zone=topology.kubernetes.io/zone']),
    ),
    { labels: { rack: 'r17', zone: 'eu-west-1b' }, missing: [] },
  );
  assert.deepEqual(labelsFromNode(nodeLabels, { rack: 'topology.kubernetes.io/rack' }), {
    labels: {},
    missing: ['topology.kubernetes.io/rack'],
  });
});

test('errors say what the API said; an untrusted server certificate is refused', async () => {
  const api = inClusterApi({}, { url, tokenFile: join(dir, 'token'), caFile: join(dir, 'ca.crt') });
  await assert.rejects(fetchNodeLabels(api, 'other.node'), /HTTP 404: nodes "other.node" not found/);
  await assert.rejects(fetchNodeLabels({ ...api, token: 'wrong' }, NODE), /HTTP 401: Unauthorized/);
  const { ca: _ca, ...noCa } = api;
  await assert.rejects(fetchNodeLabels(noCa, NODE), /self.signed|certificate/i);
});

test('bad flags and a missing environment are configuration errors', () => {
  assert.throws(() => parseLabelFromNode(['rack']), ConfigError);
  assert.throws(() => parseLabelFromNode(['=topology.kubernetes.io/zone']), ConfigError);
  assert.throws(() => parseLabelFromNode(['rack=bad key']), ConfigError);
  assert.throws(() => inClusterApi({}, { tokenFile: join(dir, 'token') }), /KUBERNETES_SERVICE_HOST/);
  assert.throws(() => inClusterApi({}, { url, tokenFile: join(dir, 'nope') }), /--kube-token-file/);
});
