/** Agent HTTP: `/healthz` (200 while the main loop is alive) and `/metrics`. */
import Fastify, { type FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';

export async function buildAgentApp(opts: {
  registry: Registry;
  /** True while the loop ran recently. */
  healthy: () => { ok: boolean; detail: Record<string, unknown> };
}): Promise<FastifyInstance> {
  // Requests whose headers and body are not in within 10 s are cut (Node checks every 1 s).
  const app = Fastify({
    logger: false,
    requestTimeout: 10_000,
    http: { connectionsCheckingInterval: 1000, requestTimeout: 10_000 },
  });
  app.get('/healthz', async (_req, reply) => {
    const h = opts.healthy();
    return reply.code(h.ok ? 200 : 503).send({ ok: h.ok, ...h.detail });
  });
  app.get('/metrics', async (_req, reply) => {
    const body = await opts.registry.metrics();
    return reply.header('content-type', opts.registry.contentType).send(body);
  });
  return app;
}
