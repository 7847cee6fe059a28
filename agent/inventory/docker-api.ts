/**
 * The Docker Engine API as an optional extra: when the socket is there, ask it what the
 * filesystem cannot tell — this node's Swarm state and the overlay networks' names and subnets
 * (so `1-<id>` namespaces get their network names). Everything else is read without it.
 * Two GETs over the unix socket, each with a timeout and a response cap; never throws.
 */
import { request } from 'node:http';
import type { DockerApiFacts } from '../../shared/schema.js';

export const DEFAULT_DOCKER_SOCKET = '/var/run/docker.sock';
const MAX_BYTES = 4 * 1024 * 1024;

function get(socketPath: string, path: string, timeoutMs: number): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path, method: 'GET', headers: { host: 'docker' } }, (res) => {
      const chunks: Buffer[] = [];
      let n = 0;
      res.on('data', (c: Buffer) => {
        n += c.length;
        if (n > MAX_BYTES) req.destroy(new Error(`GET ${path}: answer over ${MAX_BYTES} bytes`));
        else chunks.push(c);
      });
      res.on('end', () => {
        if (res.statusCode !== 200) return reject(new Error(`GET ${path}: HTTP ${res.statusCode}`));
        try {
          resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
        } catch {
          reject(new Error(`GET ${path}: not JSON`));
        }
      });
      res.on('error', reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`GET ${path}: no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

/** Pure: the fields vxdoctor uses from `GET /info` and `GET /networks`. */
export function parseDockerApi(info: unknown, networks: unknown): DockerApiFacts {
  const swarm = (info as { Swarm?: { LocalNodeState?: unknown; NodeID?: unknown } } | null)?.Swarm;
  const str = (v: unknown) => (typeof v === 'string' && v !== '' ? v : null);
  const list = Array.isArray(networks) ? (networks as Array<Record<string, unknown>>) : [];
  return {
    swarmState: str(swarm?.LocalNodeState),
    swarmNodeId: str(swarm?.NodeID),
    overlays: list
      .filter((n) => n && n.Driver === 'overlay' && typeof n.Id === 'string' && typeof n.Name === 'string')
      .map((n) => {
        const cfg = (n.IPAM as { Config?: Array<{ Subnet?: unknown }> } | undefined)?.Config ?? [];
        return {
          id: n.Id as string,
          name: n.Name as string,
          /** Docker names the overlay's namespace `1-` + the first 10 characters of the id. */
          netns: `1-${(n.Id as string).slice(0, 10)}`,
          subnets: cfg.map((c) => c?.Subnet).filter((s): s is string => typeof s === 'string'),
        };
      })
      .sort((a, b) => a.name.localeCompare(b.name)),
  };
}

export async function readDockerApi(
  socketPath: string,
  timeoutMs: number,
): Promise<{ facts: DockerApiFacts } | { unavailable: string }> {
  try {
    const [info, networks] = await Promise.all([
      get(socketPath, '/info', timeoutMs),
      get(socketPath, '/networks', timeoutMs),
    ]);
    return { facts: parseDockerApi(info, networks) };
  } catch (err) {
    return {
      unavailable: `Docker API at ${socketPath}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    };
  }
}
