/**
 * HTTP side of the history: `GET /api/v1/history` (outages), `GET /api/v1/history/segments`
 * (segment loss/RTT over time), the charting library the page uses (uPlot, served from
 * node_modules: the page loads nothing from elsewhere) and the favicon.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import { type HistoryFilter, type Outage, parseWhen } from './events.js';
import { downsample, type SegmentRing, type SegmentSeries } from './segments.js';

export interface HistorySource {
  /** Outages matching the filter (newest first). */
  query(f: HistoryFilter, now: number): Outage[];
  /** False until the stored events were read: the answer may then miss older outages. */
  ready(): boolean;
  segments?: SegmentRing;
  groupLabel?: string;
  clock?: () => number;
}

/** `GET /api/v1/history` body. */
export interface HistoryResponse {
  generatedAt: string;
  since: string;
  until: string;
  /** False while the collector is still reading the stored history. */
  complete: boolean;
  outages: Outage[];
}

/** `GET /api/v1/history/segments` body. */
export interface SegmentHistoryResponse {
  generatedAt: string;
  path: 'vxlan';
  groupLabel: string;
  since: string;
  until: string;
  segments: SegmentSeries[];
}

const NAME_RE = /^[A-Za-z0-9_.:, -]{1,253}$/;
const KIND_RE = /^[a-z0-9-]{1,64}$/;

function uplotDir(): string | null {
  try {
    const req = createRequire(import.meta.url);
    const dir = join(dirname(req.resolve('uplot/package.json')), 'dist');
    return existsSync(dir) ? dir : null;
  } catch {
    return null;
  }
}

function faviconSvg(): Buffer {
  const here = fileURLToPath(new URL('./favicon.svg', import.meta.url));
  const src = fileURLToPath(new URL('../../../collector/history/favicon.svg', import.meta.url));
  return readFileSync(existsSync(here) ? here : src);
}

type Q = Record<string, string | undefined>;

function window(q: Q, now: number, defSinceMs: number): { since: number; until: number } | string {
  const since = q.since === undefined ? now - defSinceMs : parseWhen(q.since, now);
  if (since === null) return 'since: an RFC 3339 time or a duration ago (e.g. 24h, 7d)';
  const until = q.until === undefined ? now : parseWhen(q.until, now);
  if (until === null) return 'until: an RFC 3339 time or a duration ago (e.g. 1h)';
  if (until < since) return 'until is before since';
  return { since, until };
}

export const historyPlugin =
  (h: HistorySource | undefined): FastifyPluginAsync =>
  async (app: FastifyInstance) => {
    const clock = h?.clock ?? Date.now;
    app.get<{ Querystring: Q }>('/api/v1/history', async (req, reply) => {
      if (!h) return reply.code(503).send({ error: 'history unavailable (no NATS connection)' });
      const now = clock();
      const w = window(req.query, now, 24 * 3600_000);
      if (typeof w === 'string') return reply.code(400).send({ error: w });
      const { kind, node, segment } = req.query;
      if (kind !== undefined && !KIND_RE.test(kind))
        return reply.code(400).send({ error: 'kind: a root-cause kind, e.g. underlay-vxlan-filtered' });
      for (const [k, v] of [
        ['node', node],
        ['segment', segment],
      ] as const) {
        if (v !== undefined && !NAME_RE.test(v)) return reply.code(400).send({ error: `bad ${k}` });
      }
      const body: HistoryResponse = {
        generatedAt: new Date(now).toISOString(),
        since: new Date(w.since).toISOString(),
        until: new Date(w.until).toISOString(),
        complete: h.ready(),
        outages: h.query(
          {
            ...w,
            ...(kind !== undefined ? { kind } : {}),
            ...(node !== undefined ? { node } : {}),
            ...(segment !== undefined ? { segment } : {}),
          },
          now,
        ),
      };
      return body;
    });
    app.get<{ Querystring: Q }>('/api/v1/history/segments', async (req, reply) => {
      const ring = h?.segments;
      if (!ring) return reply.code(503).send({ error: 'segment history unavailable' });
      const now = clock();
      const w = window(req.query, now, 3600_000);
      if (typeof w === 'string') return reply.code(400).send({ error: w });
      const { from, to } = req.query;
      if ((from === undefined) !== (to === undefined))
        return reply.code(400).send({ error: 'from and to go together' });
      const points = req.query.points === undefined ? 0 : Number(req.query.points);
      if (!Number.isInteger(points) || points < 0 || points > 10_000)
        return reply.code(400).send({ error: 'points: an integer 0..10000 (0: every sample)' });
      const list = from !== undefined && to !== undefined ? [{ from, to }] : ring.segments();
      const body: SegmentHistoryResponse = {
        generatedAt: new Date(now).toISOString(),
        path: 'vxlan',
        groupLabel: h?.groupLabel ?? 'rack',
        since: new Date(w.since).toISOString(),
        until: new Date(w.until).toISOString(),
        segments: list
          .map((s) => ring.series(s.from, s.to, w.since, w.until))
          .filter((s): s is SegmentSeries => s !== null)
          .map((s) => downsample(s, points)),
      };
      return body;
    });

    // The page's charting library and icon, from this process only.
    const headers = { 'cache-control': 'public, max-age=3600', 'x-content-type-options': 'nosniff' };
    const dir = uplotDir();
    const assets: Array<[string, string, string]> = [
      ['/vendor/uplot/uPlot.esm.js', 'uPlot.esm.js', 'text/javascript; charset=utf-8'],
      ['/vendor/uplot/uPlot.min.css', 'uPlot.min.css', 'text/css; charset=utf-8'],
    ];
    for (const [route, file, type] of assets) {
      const body = dir && existsSync(join(dir, file)) ? readFileSync(join(dir, file)) : null;
      app.get(route, async (_req, reply) => {
        if (!body) return reply.code(404).send({ error: 'uplot is not installed (npm install)' });
        return reply.headers(headers).type(type).send(body);
      });
    }
    const icon = faviconSvg();
    for (const route of ['/favicon.ico', '/favicon.svg'])
      app.get(route, async (_req, reply) => reply.headers(headers).type('image/svg+xml').send(icon));
  };
