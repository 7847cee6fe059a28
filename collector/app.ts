/**
 * The collector's HTTP application (fastify), separate from `listen` so tests use
 * `app.inject()`. Route groups are encapsulated plugins: probes (/healthz, /readyz), metrics,
 * the JSON API (/api/v1/*), server-sent events, and the web page (collector/ui).
 */
import Fastify, { type FastifyInstance, type FastifyPluginAsync } from 'fastify';
import type { Registry } from 'prom-client';
import type { Logger } from '../shared/logging.js';
import {
  type DiagnosisResponse,
  type NodeSnapshot,
  type FindingsResponse,
  PROBE_PATHS,
  type PairsResponse,
  type ProbePath,
  type StateEvent,
  type TraceReply,
  type TraceRequest,
} from '../shared/schema.js';
import { timingSafeEqual } from 'node:crypto';
import { checkTraceRequest } from '../shared/validation.js';
import { Diagnoser } from './diagnosis/index.js';
import { type HistorySource, historyPlugin } from './history/routes.js';
import { hostAllowed, TraceBusyError, TraceLimiter } from './limits.js';
import { type ClusterState, stripTracking } from './state/index.js';
import { uiPlugin } from './ui/index.js';

/** Thrown by a trace function when the agent did not answer in time (HTTP 504). */
export class TraceTimeoutError extends Error {
  override name = 'TraceTimeoutError';
}

export interface AppOptions {
  state: ClusterState;
  registry: Registry;
  log: Logger;
  trace?: (r: TraceRequest) => Promise<TraceReply>;
  /** The whole snapshot of a node from its agent (NATS request/reply); absent: summary only. */
  fetchSnapshot?: (node: string) => Promise<NodeSnapshot>;
  natsConnected: () => boolean;
  /** Current diagnosis (main evaluates every 2 s); default: evaluate state on demand. */
  diagnosis?: () => DiagnosisResponse;
  /** Ready = NATS connected and the consumer attached; default natsConnected. */
  ready?: () => boolean;
  /**
   * False while a (re)started collector is still rebuilding its state: /metrics answers 503
   * then, so Prometheus sees a failed scrape (rules hold the last value) instead of zeros that
   * would resolve every active alert. Default: always true.
   */
  metricsReady?: () => boolean;
  /** Server-sent events heartbeat period (ms), default 5000; change polling 1000. */
  eventsIntervalMs?: number;
  eventsPollMs?: number;
  /** Outage history and segment samples (collector/history); absent: /api/v1/history answers 503. */
  history?: HistorySource;
  /**
   * Bearer token (`--api-token-file`): when set, POST /api/v1/trace needs
   * `Authorization: Bearer <token>`, and so does every /api/v1 request with `tokenForReads`.
   */
  apiToken?: string | null;
  tokenForReads?: boolean;
  /**
   * Listening beyond loopback: POST /api/v1/trace is refused (403) unless `apiToken` is set
   * (anyone who reaches the port could otherwise make agents probe on demand).
   */
  exposed?: boolean;
  /** Host names the page and API answer to besides IP literals and localhost; null = any. */
  allowedHosts?: string[] | null;
  /** Trace concurrency and queues (429 beyond). */
  traceLimiter?: TraceLimiter;
  /** Node's request timeout: a request whose headers and body are not in within it is cut (ms). */
  requestTimeoutMs?: number;
}

function bearerOk(header: string | undefined, token: string): boolean {
  const m = /^Bearer (.+)$/.exec(header ?? '');
  if (!m) return false;
  const a = Buffer.from(m[1] as string);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

const probes =
  (o: AppOptions): FastifyPluginAsync =>
  async (app) => {
    app.get('/healthz', async () => ({ ok: true }));
    app.get('/readyz', async (_req, reply) => {
      const nats = o.natsConnected();
      const ready = (o.ready ?? o.natsConnected)();
      return reply.code(ready ? 200 : 503).send({ ready, natsConnected: nats });
    });
  };

const metrics =
  (o: AppOptions): FastifyPluginAsync =>
  async (app) => {
    app.get('/metrics', async (_req, reply) => {
      if (o.metricsReady && !o.metricsReady()) {
        return reply.code(503).send('collector is rebuilding its state; metrics withheld\n');
      }
      const text = await o.registry.metrics();
      return reply.header('content-type', o.registry.contentType).send(text);
    });
  };

function isPath(p: unknown): p is ProbePath {
  return PROBE_PATHS.includes(p as ProbePath);
}

const api =
  (o: AppOptions, diagnosis: () => DiagnosisResponse): FastifyPluginAsync =>
  async (app) => {
    const { state } = o;
    const limiter = o.traceLimiter ?? new TraceLimiter();
    if (o.apiToken && o.tokenForReads) {
      app.addHook('onRequest', async (req, reply) => {
        if (!bearerOk(req.headers.authorization, o.apiToken as string))
          return reply
            .code(401)
            .header('www-authenticate', 'Bearer')
            .send({ error: 'bearer token required' });
      });
    }
    app.get('/nodes', async () => state.nodes());
    // The summary from state, plus (unless `?tables=0`) the whole snapshot asked of the agent:
    // when it does not answer, the summary is still served with `snapshotError` saying why.
    app.get<{ Params: { name: string }; Querystring: { tables?: string } }>(
      '/nodes/:name',
      async (req, reply) => {
        const d = state.nodeDetail(req.params.name);
        if (!d) return reply.code(404).send({ error: `unknown node ${req.params.name}` });
        const tables = req.query.tables;
        if (tables !== undefined && !['0', '1', 'true', 'false'].includes(tables))
          return reply.code(400).send({ error: `tables: want 0 or 1, got ${JSON.stringify(tables)}` });
        if (tables === '0' || tables === 'false') return d;
        if (!o.fetchSnapshot) return { ...d, snapshotError: 'no NATS connection: summary only' };
        try {
          return { ...d, snapshot: await o.fetchSnapshot(d.name) };
        } catch (err) {
          return { ...d, snapshotError: (err as Error).message };
        }
      },
    );
    app.get<{
      Querystring: { path?: string; aggregate?: string; group?: string; from?: string; to?: string };
    }>('/pairs', async (req, reply) => {
      const path = req.query.path ?? 'vxlan';
      if (!isPath(path))
        return reply.code(400).send({ error: `path must be one of ${PROBE_PATHS.join(', ')}` });
      const agg = req.query.aggregate;
      if (agg !== undefined && agg !== 'group')
        return reply.code(400).send({ error: 'aggregate must be "group"' });
      const label = req.query.group ?? state.groupLabel;
      if (!/^[A-Za-z0-9_./-]{1,253}$/.test(label)) return reply.code(400).send({ error: 'bad group label' });
      // `from`/`to`: only pairs from nodes of one group to nodes of another (the page's
      // drill-down), so a 500-node page never fetches all N² pairs.
      const { from, to } = req.query;
      if ((from === undefined) !== (to === undefined))
        return reply.code(400).send({ error: 'from and to go together' });
      let pairs = agg === 'group' ? [] : state.pairs(path);
      if (from !== undefined && to !== undefined) {
        const groupOf = new Map(state.nodes().map((n) => [n.name, n.labels[label] ?? '']));
        pairs = pairs.filter((p) => groupOf.get(p.src) === from && groupOf.get(p.dst) === to);
      }
      const body: PairsResponse = {
        generatedAt: new Date(state.clock()).toISOString(),
        path,
        groupLabel: label,
        pairs,
        windowSeconds: Math.round(state.windowMs / 1000),
      };
      if (agg === 'group') body.groups = state.groupPairs(path, label);
      return body;
    });
    app.get(
      '/findings',
      async (): Promise<FindingsResponse> => ({
        generatedAt: new Date(state.clock()).toISOString(),
        findings: state.activeFindings().map(stripTracking),
      }),
    );
    app.get('/diagnosis', async () => diagnosis());
    app.post('/trace', async (req, reply) => {
      if (o.apiToken) {
        if (!bearerOk(req.headers.authorization, o.apiToken))
          return reply
            .code(401)
            .header('www-authenticate', 'Bearer')
            .send({ error: 'bearer token required' });
      } else if (o.exposed) {
        return reply.code(403).send({
          error:
            'trace needs an API token when the collector listens beyond loopback: start it with --api-token-file',
        });
      }
      const b = req.body;
      if (!checkTraceRequest.check(b) || b.src === b.dst) {
        return reply
          .code(400)
          .send({ error: 'body must be {"src": NODE, "dst": NODE} with two different node names' });
      }
      for (const n of [b.src, b.dst]) {
        if (!state.hasNode(n)) return reply.code(404).send({ error: `unknown node ${n}` });
      }
      const trace = o.trace;
      if (!trace) return reply.code(503).send({ error: 'trace unavailable (no NATS connection)' });
      try {
        return await limiter.run([b.src, b.dst], () => trace({ src: b.src, dst: b.dst }));
      } catch (err) {
        if (err instanceof TraceBusyError)
          return reply.code(429).header('retry-after', '2').send({ error: err.message });
        if (err instanceof TraceTimeoutError) {
          return reply.code(504).send({ error: `agent on ${b.src} did not answer: ${err.message}` });
        }
        o.log.warn({ err, src: b.src, dst: b.dst }, 'trace failed');
        return reply.code(502).send({ error: `trace failed: ${(err as Error).message}` });
      }
    });
    // Open event streams end when the app closes (they would otherwise hold the server open).
    const streams = new Set<import('node:http').ServerResponse>();
    app.addHook('preClose', async () => {
      for (const r of streams) r.end();
    });
    app.get('/events', (req, reply) => {
      reply.hijack();
      const raw = reply.raw;
      streams.add(raw);
      raw.writeHead(200, {
        'content-type': 'text/event-stream',
        'cache-control': 'no-cache',
        connection: 'keep-alive',
      });
      let lastKey = '';
      let lastSent = 0;
      const send = (force: boolean): void => {
        const d = diagnosis();
        const ev: StateEvent = {
          generation: state.generation,
          generatedAt: new Date(state.clock()).toISOString(),
          natsConnected: o.natsConnected(),
          nodes: state.nodeNames().length,
          rootCauses: d.rootCauses.length,
        };
        const key = `${ev.generation}|${ev.natsConnected}|${ev.nodes}|${d.rootCauses.map((r) => r.id).join(',')}`;
        const now = Date.now();
        if (!force && key === lastKey && now - lastSent < (o.eventsIntervalMs ?? 5000)) return;
        lastKey = key;
        lastSent = now;
        raw.write(`event: state\ndata: ${JSON.stringify(ev)}\n\n`);
      };
      send(true);
      const timer = setInterval(() => send(false), o.eventsPollMs ?? 1000);
      req.raw.on('close', () => {
        clearInterval(timer);
        streams.delete(raw);
      });
    });
  };

export async function buildApp(opts: AppOptions): Promise<FastifyInstance> {
  // Request logs are info level: keep the HTTP logger at warn so scrapes do not flood the log.
  const app = Fastify({
    loggerInstance: opts.log.child({ component: 'http' }, { level: 'warn' }),
    bodyLimit: 64 * 1024,
    // A request with its headers in and its body never finished is cut (Node checks every 1 s).
    // Given to Node's server itself: set afterwards, with the default 60 s headersTimeout
    // above it, Node never enforces it.
    requestTimeout: opts.requestTimeoutMs ?? 10_000,
    http: { connectionsCheckingInterval: 1000, requestTimeout: opts.requestTimeoutMs ?? 10_000 },
  });
  const allowed = opts.allowedHosts ?? null;
  if (allowed !== null) {
    app.addHook('onRequest', async (req, reply) => {
      if (!hostAllowed(req.headers.host, allowed))
        return reply
          .code(421)
          .send({ error: `host ${String(req.headers.host).slice(0, 100)} not served here` });
    });
  }
  let diagnosis = opts.diagnosis;
  if (!diagnosis) {
    const d = new Diagnoser();
    diagnosis = () => {
      d.evaluate(opts.state.diagnosisInput());
      return d.current();
    };
  }
  await app.register(probes(opts));
  await app.register(metrics(opts));
  await app.register(api(opts, diagnosis), { prefix: '/api/v1' });
  await app.register(uiPlugin);
  await app.register(historyPlugin(opts.history));
  return app as unknown as FastifyInstance;
}
