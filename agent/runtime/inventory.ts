/**
 * Inventory + checks, one at a time (the periodic loop, the change signal and netlink change
 * events all ask): the snapshot and findings are put in the outbox when they changed or the
 * republish interval is due. What heartbeats could not look at becomes an `unknown` finding.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from '../../shared/logging.js';
import {
  type CheckRun,
  type Finding,
  type NodeSnapshot,
  SCHEMA_VERSION,
  type Unknown,
  type VxdoctorMessage,
} from '../../shared/schema.js';
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

/** The envelope fields of a new message from this node. */
export const envelope = (node: string) => ({
  schemaVersion: SCHEMA_VERSION,
  node,
  at: Date.now(),
  id: randomUUID(),
});

export class NodeInventory {
  snapshot: NodeSnapshot | null = null;
  findings: Finding[] = [];
  checkRuns: CheckRun[] = [];
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
    this.findings = [...r.findings, ...extra];
    this.checkRuns = r.checkRuns;
    o.onSnapshot(s);
    const sk = snapshotKey(s);
    const fk = findingsKey(this.findings);
    const due = Date.now() - this.lastPublishAt >= o.republishMs;
    if (sk !== this.lastSnapKey || due) o.put({ ...envelope(o.node), type: 'snapshot', snapshot: s });
    if (fk !== this.lastFindKey || due)
      o.put({ ...envelope(o.node), type: 'findings', findings: this.findings, checkRuns: this.checkRuns });
    if (sk !== this.lastSnapKey || fk !== this.lastFindKey || due) this.lastPublishAt = Date.now();
    this.lastSnapKey = sk;
    this.lastFindKey = fk;
    o.log.debug(
      { durationMs: Math.round(performance.now() - t0), findings: this.findings.length },
      'inventory',
    );
    void o.flush();
  }
}
