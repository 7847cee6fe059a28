/**
 * `vxdoctor history [--since 24h] [--until T] [--kind K] [--node N] [--segment A[,B]] [-o json]`:
 * the outages the collector recorded (collector/history), newest first, with start, end,
 * duration, place and fix. Exit 0 (history printed), 2 usage error or collector unreachable.
 */
import { type Outage, parseWhen } from '../collector/history/events.js';
import type { HistoryResponse } from '../collector/history/routes.js';
import { type CommandSpec, ConfigError, type Parsed } from '../shared/config.js';
import { clientFlags, type Io, outputFormat, STDIO } from './flags.js';

export const command: CommandSpec = {
  name: 'history',
  usage:
    'vxdoctor history [--since 24h] [--until TIME] [--kind KIND] [--node NAME] [--segment A[,B]] [-o json]',
  summary: 'Outages the collector recorded: when each root cause started and ended, where, and the fix.',
  flags: [
    ...clientFlags('10s'),
    {
      name: 'since',
      type: 'string',
      default: '24h',
      metavar: 'WHEN',
      help: 'window start: a duration ago (30m, 24h, 7d) or an RFC 3339 time',
    },
    { name: 'until', type: 'string', metavar: 'WHEN', help: 'window end (default now)' },
    { name: 'kind', type: 'string', metavar: 'KIND', help: 'only this root-cause kind' },
    { name: 'node', type: 'string', metavar: 'NAME', help: 'only outages involving this node' },
    {
      name: 'segment',
      type: 'string',
      metavar: 'A[,B]',
      help: 'only segment outages touching group A (or between A and B)',
    },
  ],
};

/** `1h02m`, `5m07s`, `42s`. */
export function durationText(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  const two = (n: number) => String(n).padStart(2, '0');
  if (d) return `${d}d${two(h)}h${two(m)}m`;
  if (h) return `${h}h${two(m)}m`;
  if (m) return `${m}m${two(r)}s`;
  return `${r}s`;
}

const when = (iso: string) => `${iso.replace('T', ' ').slice(0, 19)}Z`;

export function formatHistory(h: HistoryResponse): string {
  const open = h.outages.filter((o) => o.open).length;
  const lines: string[] = [
    `Outages ${when(h.since)} .. ${when(h.until)}: ${h.outages.length}${open ? ` (${open} open)` : ''}${h.complete ? '' : ' — collector still reading its history, list may be incomplete'}`,
  ];
  if (!h.outages.length) return `${lines.join('\n')}\n`;
  const row = (c: string[]) =>
    `${(c[0] ?? '').padEnd(21)} ${(c[1] ?? '').padEnd(21)} ${(c[2] ?? '').padStart(9)}  ${(c[3] ?? '').padEnd(8)}  ${(c[4] ?? '').padEnd(26)} ${c[5] ?? ''}`.trimEnd();
  lines.push(row(['START', 'END', 'DURATION', 'SEVERITY', 'KIND', 'PLACE']));
  for (const o of h.outages as Outage[]) {
    lines.push(
      row([
        when(o.start),
        o.end ? when(o.end) : 'open',
        durationText(o.durationSeconds),
        o.severity,
        o.kind,
        o.place,
      ]),
    );
    lines.push(`    ${o.summary}`);
    if (o.remediation) lines.push(`    fix: ${o.remediation.split('\n').join('\n         ')}`);
  }
  return `${lines.join('\n')}\n`;
}

export async function fetchHistory(
  base: string,
  params: Record<string, string | undefined>,
  timeoutMs: number,
): Promise<HistoryResponse> {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined) q.set(k, v);
  const url = `${base.replace(/\/+$/, '')}/api/v1/history?${q}`;
  const r = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  if (!r.ok) {
    const body = (await r.json().catch(() => ({}))) as { error?: string };
    throw new Error(`HTTP ${r.status}${body.error ? `: ${body.error}` : ''}`);
  }
  return (await r.json()) as HistoryResponse;
}

export async function run(parsed: Parsed, io: Io = STDIO): Promise<number> {
  const v = parsed.values;
  const output = outputFormat(v.output);
  const str = (k: string) => (typeof v[k] === 'string' ? (v[k] as string) : undefined);
  for (const k of ['since', 'until']) {
    const t = str(k);
    if (t !== undefined && parseWhen(t, Date.now()) === null)
      throw new ConfigError(`--${k}: a duration ago (30m, 24h, 7d) or an RFC 3339 time, got "${t}"`);
  }
  let h: HistoryResponse;
  try {
    h = await fetchHistory(
      v.collector as string,
      {
        since: str('since'),
        until: str('until'),
        kind: str('kind'),
        node: str('node'),
        segment: str('segment'),
      },
      v.timeout as number,
    );
  } catch (err) {
    io.err(`vxdoctor history: cannot read the history at ${v.collector}: ${(err as Error).message}\n`);
    return 2;
  }
  io.out(output === 'json' ? `${JSON.stringify(h, null, 2)}\n` : formatHistory(h));
  return 0;
}
