/**
 * The evaluate loop: every `evaluateEveryMs` (2 s) the state is pruned and ticked, diagnosed into
 * root causes, their `since` remembered and, from the second evaluation after the rebuild on,
 * recorded in the outage history; every segment step the per-segment loss and RTT are sampled.
 * Nothing is evaluated before the state was rebuilt from the stream (no premature clears).
 */
import type { Lifecycle } from '../shared/lifecycle.js';
import type { RootCause } from '../shared/schema.js';
import type { Logger } from '../shared/logging.js';
import type { Diagnoser } from './diagnosis/index.js';
import { type SegmentRing, segmentSamples } from './history/segments.js';
import type { HistoryStore } from './history/store.js';
import type { Partitioning } from './partition/index.js';
import type { RootCauseMemory } from './rootcause-memory.js';
import { type ClusterState, type DiagnosisInput, lastRtt } from './state/index.js';

export interface EvaluateLoopOptions {
  state: ClusterState;
  diagnoser: Diagnoser;
  memory: RootCauseMemory;
  history: HistoryStore;
  segments: SegmentRing;
  groupLabel: string;
  clock: () => number;
  log: Logger;
  /** `--partition I/N`: this instance's share merged with the other instances' digests. */
  partitioning?: Partitioning | null;
  /** The ingest is behind the stream (its lag is over two evaluation intervals). */
  behind?: () => boolean;
}

/**
 * The pause after an evaluation that took `took` ms: the rest of the interval, but at least as
 * long as the evaluation (at most half the core), and three times as long while the ingest is
 * behind (a quarter): past a lag of `staleMs` every pair reads unknown and nothing pair-based can
 * be diagnosed, so catching up comes before evaluating more often.
 */
export function evaluatePause(everyMs: number, took: number, behind: boolean): number {
  return Math.max(everyMs - took, behind ? 3 * took : took);
}

/** Gives the event loop back: pending I/O (messages, HTTP requests) runs first. */
const nextTurn = (): Promise<void> => new Promise<void>((r) => setImmediate(r));

export class EvaluateLoop {
  /** Evaluation starts once the state was rebuilt from the stream (`begin`). */
  rebuilt = false;
  /** Evaluations since the rebuild: metrics and history wait for two (two-round root causes). */
  evaluations = 0;
  private lastPairStatuses: ReturnType<ClusterState['pairStatuses']> = [];

  constructor(private readonly o: EvaluateLoopOptions) {}

  /** Starts both timers on `life`. */
  private life: Lifecycle | null = null;
  private wasBehind = false;

  start(life: Lifecycle, everyMs: number): void {
    this.life = life;
    // At most half the time (a quarter while the ingest is behind): `evaluatePause`. Below that
    // the cadence is `everyMs`.
    life.every(
      'evaluate',
      everyMs,
      (started) => {
        const behind = this.o.behind?.() ?? false;
        if (behind !== this.wasBehind) {
          this.wasBehind = behind;
          this.o.log.info({ behind }, behind ? 'ingest behind: evaluating less often' : 'ingest caught up');
        }
        // Its own time, not the steps' pauses (where ingest and reads ran).
        const took = this.busyMs ?? Date.now() - started;
        return evaluatePause(everyMs, took, behind);
      },
      async () => {
        await this.evaluateYielding();
      },
    );
    life.every('segments', this.o.segments.stepMs, this.o.segments.stepMs, async () => {
      await this.sampleSegments();
    });
  }

  /** The state is rebuilt: evaluate now and from then on. */
  begin(): void {
    this.rebuilt = true;
    this.evaluate();
  }

  evaluate(): void {
    if (!this.rebuilt) return;
    this.diagnose(this.prepare());
  }

  /**
   * As `evaluate`, giving the event loop back while the pairs are listed (every 100,000 pairs)
   * and before the rules run: scrapes, API reads and ingest wait for a step, not the whole
   * evaluation (at 5,000 nodes the listing alone is ≈ 1.3 s).
   */
  async evaluateYielding(): Promise<void> {
    this.busyMs = null;
    if (!this.rebuilt) return;
    const t0 = performance.now();
    this.pruneAndTickSafely();
    const t1 = performance.now();
    const input = await this.prepareInSteps();
    await nextTurn();
    if (this.life?.stopping) return;
    // The diagnosis in steps too, its own time counted without the pauses.
    const t2 = performance.now();
    let paused = 0;
    const pause = async () => {
      const a = performance.now();
      await nextTurn();
      paused += performance.now() - a;
    };
    await this.diagnoseInSteps(input, pause);
    this.busyMs = t1 - t0 + this.o.state.lastBuildMs + (performance.now() - t2 - paused);
  }

  /** The last stepped evaluation's own time (ms): pruning, listing and rules, not its pauses. */
  busyMs: number | null = null;

  private prepare(): DiagnosisInput | null {
    const { state, log } = this.o;
    try {
      this.pruneAndTick();
      const input = state.diagnosisInput();
      this.lastPairStatuses = input.pairs;
      return input;
    } catch (err) {
      log.error({ err }, 'evaluation failed');
      return null;
    }
  }

  private async prepareInSteps(): Promise<DiagnosisInput | null> {
    const { state, log } = this.o;
    try {
      const input = await state.diagnosisInputInSteps(nextTurn);
      this.lastPairStatuses = input.pairs;
      return input;
    } catch (err) {
      log.error({ err }, 'evaluation failed');
      return null;
    }
  }

  private pruneAndTickSafely(): void {
    try {
      this.pruneAndTick();
    } catch (err) {
      this.o.log.error({ err }, 'evaluation failed');
    }
  }

  private pruneAndTick(): void {
    const { state, log } = this.o;
    const gone = state.prune();
    if (gone.length) log.info({ nodes: gone.slice(0, 20), count: gone.length }, 'nodes forgotten');
    state.tick();
  }

  private diagnose(input: DiagnosisInput | null): void {
    if (!input) return;
    try {
      this.conclude(input, this.o.diagnoser.evaluate(input));
    } catch (err) {
      this.o.log.error({ err }, 'evaluation failed');
    }
  }

  private async diagnoseInSteps(input: DiagnosisInput | null, pause: () => Promise<void>): Promise<void> {
    if (!input) return;
    try {
      const local = await this.o.diagnoser.evaluateInSteps(input, pause);
      if (this.life?.stopping) return;
      this.conclude(input, local);
    } catch (err) {
      this.o.log.error({ err }, 'evaluation failed');
    }
  }

  /** What follows a diagnosis: the partitions merged, `since` remembered, the history recorded. */
  private conclude(input: DiagnosisInput, local: RootCause[]): void {
    // Partitioned: this instance's share merged with the others' digests (one cluster view).
    const rcs = this.o.partitioning ? this.o.partitioning.afterEvaluate(input, local) : local;
    this.o.memory.remember(rcs);
    this.evaluations++;
    // As /metrics: from the second evaluation after the rebuild (two-round root causes are
    // back), so a restart neither clears nor re-raises outages in the history.
    if (this.evaluations >= 2) this.o.history.record(rcs);
  }

  sampleSegments(): void {
    if (!this.rebuilt) return;
    const { state, groupLabel: label } = this.o;
    try {
      // RTTs from the pair statuses the last evaluation built anyway (at 500 nodes building
      // them again costs seconds of CPU); loss from the state's group aggregation.
      const rtts = [];
      for (const p of this.lastPairStatuses)
        if (p.path === 'vxlan') rtts.push({ src: p.src, dst: p.dst, rttSeconds: lastRtt(p) });
      this.o.segments.sample(
        this.o.clock(),
        segmentSamples(state.groupPairs('vxlan', label), rtts, (n) => state.groupOf(n, label)),
      );
    } catch (err) {
      this.o.log.error({ err }, 'segment sampling failed');
    }
  }
}
