/**
 * Inventory + checks, one at a time (the periodic loop, the change signal and netlink change
 * events all ask): the snapshot's summary (counts and digests, not the tables) and the findings
 * (node checks plus the cross-node checks of this node's tables against its peers' identities)
 * are put in the outbox when they changed or the republish interval is due. What heartbeats could not look at becomes an `unknown` finding.
 */
import type { Logger } from '../../shared/logging.js';
import {
  type CheckRun,
  type Finding,
  type NodeSnapshot,
  type Unknown,
  type VxdoctorMessage,
} from '../../shared/schema.js';
import { snapshotDigest } from '../../shared/summary.js';
import { findingsMessage, summaryMessage } from '../publish/messages.js';
import type { CheckRunner, SnapshotSource } from './ports.js';

/** Stable content key: what changed between snapshots, ignoring times. */
export function snapshotKey(s: NodeSnapshot): string {
  return JSON.stringify({ ...s, takenAt: '', durationMs: 0 });
}
export function findingsKey(f: Finding[]): string {
  return JSON.stringify(
    [...f].sort((a, b) => `${a.check}/${a.subject}`.localeCompare(`${b.check}/${b.subject}`)),
  );
}

/** The `unknown` finding for something the heartbeats could not look at. */
export function heartbeatUnknown(node: string, u: Unknown): Finding {
  return {
    check: 'heartbeat-capture',
    status: 'unknown',
    severity: 'warning',
    kind: null,
    incident: null,
    node,
    subject: u.what,
    summary: `${u.what}: ${u.reason}`,
    evidence: [u.reason],
    remediation: '',
  };
}

export class NodeInventory {
  snapshot: NodeSnapshot | null = null;
  /** What is published: the node checks' results and the cross-node checks'. */
  findings: Finding[] = [];
  checkRuns: CheckRun[] = [];
  private nodeFindings: Finding[] = [];
  private nodeCheckRuns: CheckRun[] = [];
  private lastSnapKey = '';
  private lastFindKey = '';
  private lastPublishAt = 0;
  private running: Promise<void> | null = null;

  constructor(
    private readonly o: {
      node: string;
      collect: SnapshotSource;
      checks: CheckRunner;
      republishMs: number;
      /** What the heartbeats cannot look at now. */
      unknowns: () => Unknown[];
      /** A new snapshot was taken (the prober learns its local view from it). */
      onSnapshot: (s: NodeSnapshot) => void;
      /** The cross-node checks of this snapshot against the peers known now. */
      cross: (self: NodeSnapshot) => { findings: Finding[]; checkRuns: CheckRun[] };
      put: (m: VxdoctorMessage) => void;
      flush: () => Promise<unknown>;
      log: Logger;
    },
  ) {}

  /** One inventory, after any running one has ended. */
  async run(): Promise<void> {
    while (this.running) await this.running.catch(() => undefined);
    const p = this.once();
    this.running = p;
    try {
      await p;
    } finally {
      this.running = null;
    }
  }

  private async once(): Promise<void> {
    const o = this.o;
    const t0 = performance.now();
    const s = await o.collect();
    const r = o.checks(s);
    const extra = o.unknowns().map((u) => heartbeatUnknown(o.node, u));
    this.snapshot = s;
    this.nodeFindings = [...r.findings, ...extra];
    this.nodeCheckRuns = r.checkRuns;
    o.onSnapshot(s);
    const sk = snapshotDigest(s);
    const due = Date.now() - this.lastPublishAt >= o.republishMs;
    if (sk !== this.lastSnapKey || due) {
      o.put(summaryMessage({ node: o.node }, s));
      this.lastPublishAt = Date.now();
    }
    this.lastSnapKey = sk;
    this.publishFindings(due);
    o.log.debug(
      { durationMs: Math.round(performance.now() - t0), findings: this.findings.length },
      'inventory',
    );
    void o.flush();
  }

  /**
   * Re-runs the cross-node checks (peers changed, or an `unknown` waits to age into a verdict)
   * and puts the findings message when its content changed (or `due`).
   */
  publishFindings(due = false): void {
    if (!this.snapshot) return;
    const cross = this.o.cross(this.snapshot);
    this.findings = [...this.nodeFindings, ...cross.findings];
    this.checkRuns = [...this.nodeCheckRuns, ...cross.checkRuns];
    const fk = findingsKey(this.findings);
    if (fk !== this.lastFindKey || due)
      this.o.put(findingsMessage({ node: this.o.node }, this.findings, this.checkRuns));
    this.lastFindKey = fk;
  }
}
