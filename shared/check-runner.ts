/**
 * Runs checks with failure isolation: a check that throws is logged and reported as a failed
 * CheckRun with its error; the others go on. Shared by node checks and cross-node checks.
 */
import type { Logger } from './logging.js';
import type { CheckRun, Finding } from './schema.js';

export function runIsolated<C extends { id: string }>(
  checks: C[],
  run: (check: C, options: Record<string, unknown>) => Finding[],
  o: { options?: Record<string, Record<string, unknown>>; log?: Logger } = {},
): { findings: Finding[]; checkRuns: CheckRun[] } {
  const findings: Finding[] = [];
  const checkRuns: CheckRun[] = [];
  for (const c of checks) {
    const t0 = performance.now();
    try {
      findings.push(...run(c, o.options?.[c.id] ?? {}));
      checkRuns.push({ check: c.id, ok: true, durationSeconds: (performance.now() - t0) / 1000 });
    } catch (err) {
      o.log?.error({ err, check: c.id }, 'check failed');
      checkRuns.push({
        check: c.id,
        ok: false,
        durationSeconds: (performance.now() - t0) / 1000,
        error: (err as Error).message,
      });
    }
  }
  return { findings, checkRuns };
}
