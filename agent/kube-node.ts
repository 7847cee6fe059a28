/**
 * Topology labels from the agent's own Kubernetes Node (e.g. `topology.kubernetes.io/zone`), so
 * one DaemonSet serves every rack/zone. One GET of `/api/v1/nodes/<name>` with the pod's service
 * account token; RBAC grants `get` on nodes and nothing else (deploy/kubernetes/agent.yaml).
 */
import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { ConfigError } from '../shared/config.js';

export const SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/** `--label-from-node rack=topology.kubernetes.io/rack` -> { rack: 'topology.kubernetes.io/rack' }. */
export function parseLabelFromNode(list: string[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of list ?? []) {
    const eq = item.indexOf('=');
    const name = item.slice(0, eq);
    const key = item.slice(eq + 1);
    if (
      eq <= 0 ||
      !/^[A-Za-z0-9_.-]{1,63}$/.test(name) ||
      !/^([a-z0-9.-]{1,253}\/)?[A-Za-z0-9_.-]{1,63}$/.test(key)
    )
      throw new ConfigError(
        `--label-from-node wants LABEL=NODE_LABEL_KEY (e.g. rack=topology.kubernetes.io/zone), got "${item}"`,
      );
    out[name] = key;
  }
  return out;
}

/** The vxdoctor labels the Node's labels give (pure): mapped keys present on the Node; the rest missing. */
export function labelsFromNode(
  nodeLabels: Record<string, string>,
  mapping: Record<string, string>,
): { labels: Record<string, string>; missing: string[] } {
  const labels: Record<string, string> = {};
  const missing: string[] = [];
  for (const [name, key] of Object.entries(mapping)) {
    const v = nodeLabels[key];
    if (typeof v === 'string' && v !== '') labels[name] = v;
    else missing.push(key);
  }
  return { labels, missing };
}

export interface KubeApi {
  /** `https://HOST:PORT` (in a pod: from KUBERNETES_SERVICE_HOST/PORT). */
  url: string;
  token: string;
  /** CA bundle for https (the service account's ca.crt). */
  ca?: Buffer;
}

/** The in-cluster API from the environment and the service account files; a ConfigError if absent. */
export function inClusterApi(
  env: NodeJS.ProcessEnv,
  o: { url?: string; tokenFile?: string; caFile?: string },
): KubeApi {
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT ?? '443';
  const url = o.url ?? (host ? `https://${host.includes(':') ? `[${host}]` : host}:${port}` : undefined);
  if (!url) throw new ConfigError('--label-from-node: no --kube-api and no KUBERNETES_SERVICE_HOST');
  const tokenFile = o.tokenFile ?? `${SA_DIR}/token`;
  let token: string;
  try {
    token = readFileSync(tokenFile, 'utf8').trim();
  } catch (err) {
    throw new ConfigError(`--kube-token-file: cannot read ${tokenFile} (${(err as Error).message})`);
  }
  const caFile = o.caFile ?? (url.startsWith('https:') ? `${SA_DIR}/ca.crt` : undefined);
  let ca: Buffer | undefined;
  if (caFile) {
    try {
      ca = readFileSync(caFile);
    } catch (err) {
      throw new ConfigError(`--kube-ca-file: cannot read ${caFile} (${(err as Error).message})`);
    }
  }
  return { url, token, ...(ca ? { ca } : {}) };
}

/** GET /api/v1/nodes/<node> -> metadata.labels. Rejects with the status and the API's message. */
export function fetchNodeLabels(
  api: KubeApi,
  node: string,
  timeoutMs = 5000,
): Promise<Record<string, string>> {
  const u = new URL(`/api/v1/nodes/${encodeURIComponent(node)}`, api.url);
  const req = u.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const r = req(
      u,
      {
        method: 'GET',
        headers: { authorization: `Bearer ${api.token}`, accept: 'application/json' },
        timeout: timeoutMs,
        ...(api.ca ? { ca: api.ca } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > 4 * 1024 * 1024) r.destroy(new Error('node object over 4 MiB'));
          else chunks.push(c);
        });
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          if (res.statusCode !== 200) {
            let msg = text.slice(0, 200);
            try {
              msg = (JSON.parse(text) as { message?: string }).message ?? msg;
            } catch {
              /* not JSON */
            }
            reject(new Error(`GET ${u.pathname}: HTTP ${res.statusCode}: ${msg}`));
            return;
          }
          try {
            const o = JSON.parse(text) as { metadata?: { labels?: Record<string, unknown> } };
            const labels: Record<string, string> = {};
            for (const [k, v] of Object.entries(o.metadata?.labels ?? {}))
              if (typeof v === 'string') labels[k] = v;
            resolve(labels);
          } catch (err) {
            reject(new Error(`GET ${u.pathname}: not JSON (${(err as Error).message})`));
          }
        });
        res.on('error', reject);
      },
    );
    r.on('timeout', () => r.destroy(new Error(`GET ${u.pathname}: no answer within ${timeoutMs} ms`)));
    r.on('error', reject);
    r.end();
  });
}
