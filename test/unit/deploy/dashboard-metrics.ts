/**
 * Metric names the Grafana dashboard's queries use, and the check of those names against a
 * Prometheus exposition. Shared by the unit test (test/unit/deploy/dashboard.test.ts) and the
 * lab test (test/e2e/pipeline.test.ts, against the live collector and agents' /metrics).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const DASHBOARD_FILE = 'deploy/grafana/vxdoctor.json';

export interface Panel {
  type: string;
  title: string;
  datasource?: { uid: string };
  targets?: { expr: string }[];
  panels?: Panel[];
}

export interface Dashboard {
  uid: string;
  tags: string[];
  templating: { list: { name: string; type: string; query: unknown }[] };
  panels: Panel[];
}

/** `root` is the repository root (default: the working directory). */
export function loadDashboard(root = '.'): Dashboard {
  return JSON.parse(readFileSync(join(root, DASHBOARD_FILE), 'utf8')) as Dashboard;
}

/** Every non-row panel, including those nested in collapsed rows. */
export function dashboardPanels(d: Dashboard): Panel[] {
  return d.panels.flatMap((p) => [p, ...(p.panels ?? [])]).filter((p) => p.type !== 'row');
}

/** `vxdoctor_*` names in a PromQL expression (or any text), in order, with repeats. */
export function metricsIn(expr: string): string[] {
  return [...expr.matchAll(/\b(vxdoctor_[a-z0-9_]+)/g)].map((m) => m[1] as string);
}

/** Sorted distinct metric names used by the panel queries and the template variables. */
export function dashboardMetrics(d: Dashboard): string[] {
  const exprs = dashboardPanels(d).flatMap((p) => (p.targets ?? []).map((t) => t.expr));
  const vars = d.templating.list.map((v) => JSON.stringify(v.query ?? ''));
  return [...new Set([...exprs, ...vars].flatMap(metricsIn))].sort();
}

/**
 * Series names a text exposition (`/metrics`) declares or has samples of: `# TYPE` names (so a
 * labelled counter with no sample yet counts) and sample names (histogram `_bucket` etc.).
 */
export function exposedNames(exposition: string): Set<string> {
  const out = new Set<string>();
  for (const line of exposition.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)/.exec(line);
    if (type?.[1]) {
      out.add(type[1]);
      if (type[2] === 'histogram') for (const s of ['_bucket', '_sum', '_count']) out.add(`${type[1]}${s}`);
      continue;
    }
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]/.exec(line);
    if (sample?.[1]) out.add(sample[1]);
  }
  return out;
}

/** Names in `used` that none of the expositions has. */
export function missingFrom(used: string[], expositions: string[]): string[] {
  const have = new Set(expositions.flatMap((e) => [...exposedNames(e)]));
  return used.filter((n) => !have.has(n));
}
