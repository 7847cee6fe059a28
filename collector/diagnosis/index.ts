/**
 * Diagnosis: pure correlation of the evidence model (collector/state) into root causes
 * (the vocabulary of docs/contracts.md). The rules are separate files (./rules, ordered in ./rules/index.ts),
 * the shared machinery is ./engine.ts, per-kind knowledge is ./kinds.ts.
 */
import type { RootCause } from '../../shared/schema.js';
import type { DiagnosisInput } from '../state/index.js';
import { emptyMemory, evaluate, evaluateInSteps } from './engine.js';
import { RULES } from './rules/index.js';

export { type DiagnosisMemory, emptyMemory, rootCauseId, SWARM_PORTS } from './engine.js';
export { DEFAULT_REMEDIATION, KINDS } from './kinds.js';
export { RULES } from './rules/index.js';

/** Holds diagnosis memory between evaluations (the only mutable part, owned by its caller). */
export class Diagnoser {
  private memory = emptyMemory();
  private last: RootCause[] = [];
  private lastAt = 0;

  /**
   * Seeds `since` of root causes that were active before a restart (persisted by the caller),
   * so a root cause that is still active keeps its original `since`. Seeds that are not
   * confirmed by the next evaluation are dropped.
   */
  seed(entries: Array<{ id: string; since: string }>): void {
    for (const e of entries) this.memory.seen.set(e.id, { consecutive: 1, since: e.since });
  }

  evaluate(input: DiagnosisInput): RootCause[] {
    const r = evaluate(RULES, input, this.memory);
    this.memory = r.memory;
    this.last = r.rootCauses;
    this.lastAt = input.now;
    return r.rootCauses;
  }

  /**
   * As `evaluate`, in steps (`evaluateInSteps`). The memory it started from is replaced by its
   * result when it ends; callers run one evaluation at a time (the evaluate loop).
   */
  async evaluateInSteps(input: DiagnosisInput, pause: () => Promise<void>): Promise<RootCause[]> {
    const r = await evaluateInSteps(RULES, input, this.memory, pause);
    this.memory = r.memory;
    this.last = r.rootCauses;
    this.lastAt = input.now;
    return r.rootCauses;
  }

  current(): { generatedAt: string; rootCauses: RootCause[] } {
    return { generatedAt: new Date(this.lastAt).toISOString(), rootCauses: this.last };
  }
}
