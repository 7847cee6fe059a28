/**
 * The evaluate loop: every `evaluateEveryMs` (2 s) the state is pruned and ticked, diagnosed into
 * root causes, their `since` remembered and, from the second evaluation after the rebuild on,
 * recorded in the outage history; every segment step the per-segment loss and RTT are sampled.
 * Nothing is evaluated before the state was rebuilt from the stream (no premature clears).
 */
import type { Lifecycle } from '../shared/lifecycle.js';
import type { Logger } from '../shared/logging.js';
import type { Diagnoser } from './diagnosis/index.js';
import { type SegmentRing, segmentSamples } from './history/segments.js';
import type { HistoryStore } from './history/store.js';
import type { Partitioning } from './partition/index.js';
import type { RootCauseMemory } from './rootcause-memory.js';
import type { ClusterState, DiagnosisInput } from './state/index.js';

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
}

export class EvaluateLoop {
  /** Evaluation starts once the state was rebuilt from the stream (`begin`). */
  rebuilt = false;
  /** Evaluations since the rebuild: metrics and history wait for two (two-round root causes). */
  evaluations = 0;
  private lastPairStatuses: ReturnType<ClusterState['pairStatuses']> = [];

  constructor(private readonly o: EvaluateLoopOptions) {}

  /** Starts both timers on `life`. */
  private life: Lifecycle | null = null;

  start(life: Lifecycle, everyMs: number): void {
    this.life = life;
    // At most half the time: an evaluation that took longer than half the interval is followed
    // by a pause as long as itself, so ingest (which must keep up with the stream) always gets
    // the other half of the core. Below that the cadence is `everyMs`.
    life.every(
      'evaluate',
      everyMs,
      (started) => {
        const took = Date.now() - started;
        return Math.max(everyMs - took, took);
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
   * As `evaluate`, giving the event loop back between listing the pairs and running the rules
   * (each is ≈ 0.3 s at 1,000 nodes): scrapes, API reads and ingest wait for one phase, not both.
   */
  async evaluateYielding(): Promise<void> {
    if (!this.rebuilt) return;
    const input = this.prepare();
    await new Promise<void>((r) => setImmediate(r));
    if (this.life?.stopping) return;
    this.diagnose(input);
  }

  private prepare(): DiagnosisInput | null {
    const { state, log } = this.o;
    try {
      const gone = state.prune();
      if (gone.length) log.info({ nodes: gone.slice(0, 20), count: gone.length }, 'nodes forgotten');
      state.tick();
      const input = state.diagnosisInput();
      this.lastPairStatuses = input.pairs;
      return input;
    } catch (err) {
      log.error({ err }, 'evaluation failed');
      return null;
    }
  }

  private diagnose(input: DiagnosisInput | null): void {
    if (!input) return;
    const { diagnoser, log } = this.o;
    try {
      const local = diagnoser.evaluate(input);
      // Partitioned: this instance's share merged with the others' digests (one cluster view).
      const rcs = this.o.partitioning ? this.o.partitioning.afterEvaluate(input, local) : local;
      this.o.memory.remember(rcs);
      this.evaluations++;
      // As /metrics: from the second evaluation after the rebuild (two-round root causes are
      // back), so a restart neither clears nor re-raises outages in the history.
      if (this.evaluations >= 2) this.o.history.record(rcs);
    } catch (err) {
      log.error({ err }, 'evaluation failed');
    }
  }

  sampleSegments(): void {
    if (!this.rebuilt) return;
    const { state, groupLabel: label } = this.o;
    try {
      // RTTs from the pair statuses the last evaluation built anyway (at 500 nodes building
      // them again costs seconds of CPU); loss from the state's group aggregation.
      const rtts = [];
      for (const p of this.lastPairStatuses)
        if (p.path === 'vxlan') rtts.push({ src: p.src, dst: p.dst, rttSeconds: p.last.rttSeconds });
      this.o.segments.sample(
        this.o.clock(),
        segmentSamples(state.groupPairs('vxlan', label), rtts, (n) => state.groupOf(n, label)),
      );
    } catch (err) {
      this.o.log.error({ err }, 'segment sampling failed');
    }
  }
}
