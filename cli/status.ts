/**
 * `vxdoctor status [--collector URL] [--output json]`: a `cilium status`-like cluster summary
 * from the collector's API. Exit 0 healthy, 1 a critical root cause, 3 warnings only,
 * 2 usage error or collector unreachable.
 */
import { type CommandSpec, ConfigError, type Parsed } from '../shared/config.js';
import {
  type DiagnosisResponse,
  type NodeView,
  PROBE_PATHS,
  type PairsResponse,
  type ProbePath,
  type RootCause,
} from '../shared/schema.js';
import { occurrences, ordinal } from '../collector/history/events.js';
import type { HistoryResponse } from '../collector/history/routes.js';
import { clientFlags, type Io, outputFormat, STDIO } from './flags.js';
import { durationText } from './history.js';

export const command: CommandSpec = {
  name: 'status',
  usage: 'vxdoctor status [--collector URL] [--output json|-o json]',
  summary: 'Cluster summary from the collector: nodes, root causes with place and fix, pair health per path.',
  flags: [...clientFlags('10s', 'HTTP timeout per request')],
};

/** Maps `-o X` / `-oX` to `--output X` (shared/config.ts parses only long flags). */
export interface PathHealth {
  path: ProbePath;
  pairs: number;
  ok: number;
  failing: number;
  unprobed: number;
  /** Probes sent and passing over the window, all pairs of the path. */
  sent: number;
  answered: number;
  groups: NonNullable<PairsResponse['groups']>;
}

export interface StatusReport {
  collector: string;
  generatedAt: string;
  /** From /readyz: NATS connected, consumer attached, stream replayed. */
  ready: boolean;
  natsConnected: boolean;
  nodes: NodeView[];
  rootCauses: RootCause[];
  paths: PathHealth[];
  /**
   * Per active root-cause id: how many times it started in the last 7 days (this time
   * included), from /api/v1/history; absent when the collector has no history.
   */
  thisWeek?: Record<string, number>;
  /** The window every loss figure is over (seconds), when the collector says. */
  windowSeconds?: number;
  /** Partitioned collectors (`--partition`): which instances answered (docs/scale-out.md). */
  partitions?: DiagnosisResponse['partitions'];
  exitCode: 0 | 1 | 3;
}

export function exitCodeFor(rcs: RootCause[]): 0 | 1 | 3 {
  if (rcs.some((r) => r.severity === 'critical')) return 1;
  if (rcs.some((r) => r.severity === 'warning')) return 3;
  return 0;
}

export function pathHealth(path: ProbePath, pairs: PairsResponse, groups: PairsResponse): PathHealth {
  return {
    path,
    pairs: pairs.pairs.length,
    ok: pairs.pairs.filter((p) => p.loss === 0).length,
    failing: pairs.pairs.filter((p) => p.loss !== null && p.loss > 0).length,
    unprobed: pairs.pairs.filter((p) => p.loss === null).length,
    sent: pairs.pairs.reduce((a, p) => a + p.sent, 0),
    answered: pairs.pairs.reduce((a, p) => a + p.answered, 0),
    groups: groups.groups ?? [],
  };
}

function place(r: RootCause): string {
  if (r.segment) return `${r.segment.label} ${r.segment.from} <-> ${r.segment.to}`;
  return r.nodes.join(', ') || 'cluster';
}

const pct = (x: number) => `${Math.round(x * 100)}%`;
const span = (s: number) => (s >= 60 && s % 60 === 0 ? `${s / 60} min` : `${s} s`);

/** "for 5m12s" between `since` and `now` (ISO times). */
function agoText(now: string, since: string): string {
  const s = Math.max(0, Math.round((Date.parse(now) - Date.parse(since)) / 1000));
  return `for ${durationText(s)}`;
}

export function formatStatus(s: StatusReport): string {
  const up = s.nodes.filter((n) => n.state === 'up');
  const expired = s.nodes.filter((n) => n.state === 'expired');
  const bySev = (sev: string) => s.rootCauses.filter((r) => r.severity === sev).length;
  const lines: string[] = [];
  lines.push(`Collector:    ${s.collector} (diagnosis at ${s.generatedAt})`);
  lines.push(
    `NATS:         ${s.natsConnected ? 'connected' : 'DISCONNECTED'}${s.ready ? '' : ' (collector not ready: state may be incomplete)'}`,
  );
  lines.push(
    `Nodes:        ${up.length}/${s.nodes.length} up${expired.length ? `, ${expired.length} expired (${expired.map((n) => n.name).join(', ')})` : ''}`,
  );
  const p = s.partitions;
  if (p)
    lines.push(
      p.missing.length
        ? `Collectors:   ${p.present.length}/${p.count} partitions answer; MISSING ${p.missing.map((i) => `${i}/${p.count}`).join(', ')}: ${p.unjudgedNodes} nodes judged by nobody (${p.unjudgedSample.join(', ')}${p.unjudgedNodes > p.unjudgedSample.length ? ', ...' : ''})`
        : `Collectors:   ${p.count}/${p.count} partitions answer`,
    );
  if (!s.rootCauses.length) lines.push('Root causes:  none');
  else {
    lines.push(
      `Root causes:  ${bySev('critical')} critical, ${bySev('warning')} warning, ${bySev('info')} info`,
    );
    for (const r of s.rootCauses) {
      const n = s.thisWeek?.[r.id];
      const nth = n ? `; ${n === 1 ? 'first time' : `${ordinal(n)} time`} this week` : '';
      lines.push(
        `  [${r.severity}] ${r.kind} at ${place(r)} (since ${r.since}, ${agoText(s.generatedAt, r.since)}${nth})`,
      );
      lines.push(`      ${r.summary}`);
      if (r.loss)
        lines.push(
          `      loss ${pct(r.loss.ratio)} per crossing (${pct(r.loss.roundTripRatio)} of ${r.loss.probes} round trips, ${r.loss.rounds} rounds)${r.confidence ? `, confidence ${r.confidence}` : ''}`,
        );
      if (r.flows && r.flows.failing > 0 && r.flows.failing < r.flows.total)
        lines.push(
          `      ${r.flows.failing} of ${r.flows.total} flows fail: one of the parallel paths drops VXLAN`,
        );
      if (r.hops) lines.push(`      hop walk ${r.hops.src} -> ${r.hops.dst}: ${r.hops.text}`);
      lines.push(`      fix: ${r.remediation}`);
    }
  }
  lines.push(s.windowSeconds ? `Pairs (last ${span(s.windowSeconds)}):` : 'Pairs:');
  for (const p of s.paths) {
    const bad = p.groups
      .filter((g) => g.loss !== null && g.loss > 0)
      .map(
        (g) =>
          `${g.from}->${g.to} loss ${pct(g.loss as number)}${g.sent !== undefined ? ` of ${g.sent} probes` : ''}`,
      );
    const loss = p.sent ? `, loss ${pct(1 - p.answered / p.sent)} of ${p.sent} probes` : '';
    const state =
      p.pairs === 0
        ? 'not probed'
        : `${p.ok}/${p.pairs} ok${p.failing ? `, ${p.failing} failing` : ''}${loss}`;
    lines.push(
      `  ${p.path.padEnd(8)} ${state}${p.unprobed ? `, ${p.unprobed} not probed` : ''}${bad.length ? `  (${bad.join('; ')})` : ''}`,
    );
  }
  const verdict = s.exitCode === 0 ? 'OK' : s.exitCode === 1 ? 'CRITICAL' : 'WARNING';
  lines.push(`Status:       ${verdict}`);
  return `${lines.join('\n')}\n`;
}

export async function fetchStatus(base: string, timeoutMs: number): Promise<StatusReport> {
  const url = base.replace(/\/+$/, '');
  const get = async <T>(path: string): Promise<T> => {
    const r = await fetch(`${url}${path}`, { signal: AbortSignal.timeout(timeoutMs) });
    if (!r.ok) throw new Error(`${path}: HTTP ${r.status}`);
    return (await r.json()) as T;
  };
  const [nodes, diag, ...pairs] = await Promise.all([
    get<NodeView[]>('/api/v1/nodes'),
    get<DiagnosisResponse>('/api/v1/diagnosis'),
    ...PROBE_PATHS.flatMap((p) => [
      get<PairsResponse>(`/api/v1/pairs?path=${p}`),
      get<PairsResponse>(`/api/v1/pairs?path=${p}&aggregate=group`),
    ]),
  ]);
  const readyz = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(timeoutMs) });
  const r = (await readyz.json().catch(() => ({}))) as { ready?: boolean; natsConnected?: boolean };
  const paths = PROBE_PATHS.map((p, i) =>
    pathHealth(p, pairs[2 * i] as PairsResponse, pairs[2 * i + 1] as PairsResponse),
  );
  // "3rd time this week": a collector without history (older version) just leaves it out.
  let thisWeek: Record<string, number> | undefined;
  if (diag.rootCauses.length) {
    try {
      const h = await get<HistoryResponse>('/api/v1/history?since=7d');
      const now = Date.parse(h.generatedAt);
      thisWeek = {};
      for (const rc of diag.rootCauses)
        thisWeek[rc.id] = Math.max(1, occurrences(h.outages, rc.id, now - 7 * 86400_000, now));
    } catch {
      thisWeek = undefined;
    }
  }
  return {
    collector: url,
    generatedAt: diag.generatedAt,
    ready: r.ready === true,
    natsConnected: r.natsConnected === true,
    nodes,
    rootCauses: diag.rootCauses,
    paths,
    ...(thisWeek ? { thisWeek } : {}),
    ...((pairs[0] as PairsResponse).windowSeconds
      ? { windowSeconds: (pairs[0] as PairsResponse).windowSeconds }
      : {}),
    ...(diag.partitions ? { partitions: diag.partitions } : {}),
    // A missing partition is half a view: never OK.
    exitCode:
      diag.partitions?.missing.length && exitCodeFor(diag.rootCauses) === 0
        ? 3
        : exitCodeFor(diag.rootCauses),
  };
}

export async function run(parsed: Parsed, io: Io = STDIO): Promise<number> {
  const v = parsed.values;
  const output = outputFormat(v.output);
  let s: StatusReport;
  try {
    s = await fetchStatus(v.collector as string, v.timeout as number);
  } catch (err) {
    io.err(`vxdoctor status: cannot read the collector at ${v.collector}: ${(err as Error).message}\n`);
    return 2;
  }
  io.out(output === 'json' ? `${JSON.stringify(s, null, 2)}\n` : formatStatus(s));
  return s.exitCode;
}
