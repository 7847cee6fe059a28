/**
 * The web page: static files (plain ES modules + CSS, no build step) served from
 * `collector/ui/static`. Only files present at registration are served (no path traversal).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

export async function uiPlugin(app: FastifyInstance): Promise<void> {
  // From source (tsx) the files sit beside this module; from the build (dist/collector/ui/)
  // they stay in the source tree, which tsc does not copy.
  const beside = fileURLToPath(new URL('./static/', import.meta.url));
  const dir = existsSync(beside)
    ? beside
    : fileURLToPath(new URL('../../../collector/ui/static/', import.meta.url));
  const files = new Map<string, { body: Buffer; type: string }>();
  for (const f of readdirSync(dir)) {
    const type = TYPES[extname(f)];
    if (type) files.set(f, { body: readFileSync(join(dir, f)), type });
  }
  const headers = {
    'cache-control': 'no-cache',
    'content-security-policy':
      "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'",
    'x-content-type-options': 'nosniff',
  };
  const send = (name: string) => files.get(name);
  app.get('/', async (_req, reply) => {
    const f = send('index.html');
    if (!f) return reply.code(404).send({ error: 'web page not built' });
    return reply.headers(headers).type(f.type).send(f.body);
  });
  app.get<{ Params: { file: string } }>('/ui/:file', async (req, reply) => {
    const f = send(req.params.file);
    if (!f) return reply.code(404).send({ error: 'not found' });
    return reply.headers(headers).type(f.type).send(f.body);
  });
}
