/** The narrow ports the agent runtime is driven through (main.ts wires the real modules). */
import type {
  ArrivalReport,
  CheckRun,
  Finding,
  NodePresence,
  NodeSnapshot,
  ProbePath,
  ProbeResult,
  Unknown,
} from '../../shared/schema.js';

/** The slice of the heartbeat Prober the runtime uses (agent/heartbeat/prober.ts). */
export interface ProbeEngine {
  start(): Promise<void>;
  updateLocal(s: NodeSnapshot): void;
  setPeers(peers: NodePresence[]): { added: string[]; removed: string[] };
  /**
   * `round` counts this agent's rounds (consecutive, in messages); `slot` is the cluster-wide
   * round number (time / interval) every node agrees on, which picks the probe targets.
   */
  runRound(round: number, slot?: number): Promise<{ results: ProbeResult[]; arrivals: ArrivalReport[] }>;
  trace(dst: string): Promise<ProbeResult[]>;
  presenceExtras(): Pick<NodePresence, 'probePort' | 'overlayEndpoints'>;
  unknowns(): Unknown[];
  stats(): {
    sent: Record<ProbePath, number>;
    received: Record<ProbePath, number>;
    rejected: Record<string, number>;
    captureDropped: number;
  };
  stop(): Promise<void>;
}

export type SnapshotSource = () => Promise<NodeSnapshot>;
export type CheckRunner = (s: NodeSnapshot) => { findings: Finding[]; checkRuns: CheckRun[] };
