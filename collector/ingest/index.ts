/**
 * Validation at the edge: every byte that reaches the collector from NATS passes through
 * `validateMessage` first. A rejected message gets a bounded reason (the
 * `vxdoctor_ingest_rejected_total{reason}` label); the caller counts and acks it. Pure: no I/O.
 */
import { ROOT_CAUSE_KINDS, SCHEMA_VERSION, type VxdoctorMessage } from '../../shared/schema.js';
import { PresenceRejects } from '../../shared/presence.js';
import { expandProbes } from '../../shared/probes-wire.js';
import { type MessageKind, parseSubject } from '../../shared/subjects.js';
import {
  type Checked,
  checkFindingsMessage,
  checkProbesMessage,
  checkSnapshotMessage,
  checkSummaryMessage,
  jsonDepth,
  MAX_JSON_DEPTH,
} from '../../shared/validation.js';

export const REJECT_REASONS = [
  'malformed-json',
  'schema',
  'unknown-version',
  'bad-subject',
  'node-mismatch',
  'too-large',
  // Added reasons (never rename the ones above):
  'too-deep',
  'clock-skew',
] as const;
export type RejectReason = (typeof REJECT_REASONS)[number];

/** Default size cap for one message (a large node's snapshot is a few hundred KiB). */
export const DEFAULT_MAX_BYTES = 4 * 1024 * 1024;
/**
 * Largest tolerated lead of a message's (or a probe result's) time over the collector's clock.
 * Beyond it the message is rejected (`clock-skew`): a far-future time would otherwise pin a
 * node's findings or a pair's samples (newest wins, the window never drops them).
 */
export const DEFAULT_MAX_SKEW_MS = 120_000;

export type IngestResult =
  | { ok: true; kind: MessageKind; msg: VxdoctorMessage }
  | { ok: false; reason: RejectReason; detail: string };

const CHECKERS: Record<MessageKind, Checked<VxdoctorMessage>> = {
  snapshot: checkSnapshotMessage as Checked<VxdoctorMessage>,
  summary: checkSummaryMessage as Checked<VxdoctorMessage>,
  findings: checkFindingsMessage as Checked<VxdoctorMessage>,
  probes: checkProbesMessage as Checked<VxdoctorMessage>,
};
const KNOWN_KINDS: readonly string[] = ROOT_CAUSE_KINDS;
const isObj = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

export interface ValidateOptions {
  maxBytes?: number;
  /** Receiver's clock (epoch ms); with it, times more than `maxSkewMs` ahead are rejected. */
  now?: number;
  maxSkewMs?: number;
}

/**
 * Validates one NATS message. Order matters for the reason reported: subject, size, depth,
 * JSON, version, shape (shared/validation.ts schemas), clock skew, node.
 */
export function validateMessage(subject: string, data: Uint8Array, opts: ValidateOptions = {}): IngestResult {
  const parsedSubject = parseSubject(subject);
  if (!parsedSubject) return { ok: false, reason: 'bad-subject', detail: subject.slice(0, 200) };
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_BYTES;
  if (data.byteLength > maxBytes) {
    return { ok: false, reason: 'too-large', detail: `${data.byteLength} > ${maxBytes} bytes` };
  }
  const depth = jsonDepth(data);
  if (depth > MAX_JSON_DEPTH) {
    return { ok: false, reason: 'too-deep', detail: `nesting deeper than ${MAX_JSON_DEPTH}` };
  }
  let body: unknown;
  try {
    body = JSON.parse(Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8'));
  } catch (err) {
    return { ok: false, reason: 'malformed-json', detail: (err as Error).message };
  }
  if (!isObj(body)) return { ok: false, reason: 'schema', detail: 'not a JSON object' };
  if (body.schemaVersion !== SCHEMA_VERSION) {
    return {
      ok: false,
      reason: 'unknown-version',
      detail: `schemaVersion ${JSON.stringify(body.schemaVersion)?.slice(0, 40)}`,
    };
  }
  const { node, kind } = parsedSubject;
  if (body.type !== kind) {
    return {
      ok: false,
      reason: 'schema',
      detail: `type ${JSON.stringify(body.type)?.slice(0, 40)} on a ${kind} subject`,
    };
  }
  // The compact probes form (shared/probes-wire.ts) is expanded first: then the same schema
  // checks both forms.
  if (kind === 'probes' && body.encoding !== undefined) {
    const x = expandProbes(body);
    if (!x.ok) return { ok: false, reason: 'schema', detail: x.detail };
    body = x.msg as unknown as Record<string, unknown>;
  }
  const checker = CHECKERS[kind];
  if (!checker.check(body)) return { ok: false, reason: 'schema', detail: checker.firstError(body) };
  const msg = body;
  if (msg.type === 'findings') {
    // A kind this collector does not know (newer agent) maps to no root cause.
    for (const f of msg.findings) if (f.kind !== null && !KNOWN_KINDS.includes(f.kind)) f.kind = null;
  }
  if (opts.now !== undefined) {
    const limit = opts.now + (opts.maxSkewMs ?? DEFAULT_MAX_SKEW_MS);
    let ahead = msg.at > limit;
    if (msg.type === 'probes')
      ahead ||= msg.results.some((r) => r.at > limit) || msg.arrivals.some((a) => a.lastAt > limit);
    if (ahead) {
      return {
        ok: false,
        reason: 'clock-skew',
        detail: `time more than ${opts.maxSkewMs ?? DEFAULT_MAX_SKEW_MS} ms ahead of the collector`,
      };
    }
  }
  // The body must speak for the node of its subject, and only for it.
  if (msg.node !== node) {
    return { ok: false, reason: 'node-mismatch', detail: `body node ${msg.node} on subject of ${node}` };
  }
  if (msg.type === 'probes' && msg.results.some((r) => r.src !== node)) {
    return { ok: false, reason: 'node-mismatch', detail: `probe result src is not ${node}` };
  }
  if (msg.type === 'findings' && msg.findings.some((f) => f.node !== node)) {
    return { ok: false, reason: 'node-mismatch', detail: `finding for another node than ${node}` };
  }
  if (msg.type === 'snapshot' && msg.snapshot.node !== node) {
    return { ok: false, reason: 'node-mismatch', detail: `snapshot of ${msg.snapshot.node}` };
  }
  if (msg.type === 'summary' && msg.summary.node !== node) {
    return { ok: false, reason: 'node-mismatch', detail: `summary of ${msg.summary.node}` };
  }
  return { ok: true, kind, msg };
}

/** Plain counters of what ingest saw (read by the metrics collect()). */
export class IngestCounters {
  readonly messages: Record<MessageKind, number> = { snapshot: 0, summary: 0, findings: 0, probes: 0 };
  readonly rejected: Record<RejectReason, number> = Object.fromEntries(
    REJECT_REASONS.map((r) => [r, 0]),
  ) as Record<RejectReason, number>;
  /** Messages dropped as already applied (redelivery, duplicate id). */
  duplicates = 0;
  /** Presence records refused, by reason. */
  readonly presenceRejects = new PresenceRejects();

  /**
   * Where the durable consumer is: the age (s) of the message being applied while more are
   * pending (0 when caught up), the messages pending, and the stream messages the consumer never
   * got (a gap in stream sequence: the stream's limits discarded them before they were read).
   */
  lagSeconds = 0;
  pending = 0;
  lostUnread = 0;
  private lastSeq = 0;

  /** One message from the durable: stream sequence, messages still pending, stored at (ms). */
  delivered(streamSeq: number, pending: number, storedAtMs: number, now: number): void {
    // The durable reads every subject in order; a jump forward is what the stream discarded.
    // (Redeliveries go back in sequence and count nothing.)
    if (this.lastSeq > 0 && streamSeq > this.lastSeq + 1) this.lostUnread += streamSeq - this.lastSeq - 1;
    if (streamSeq > this.lastSeq) this.lastSeq = streamSeq;
    this.pending = pending;
    this.lagSeconds = pending > 0 ? Math.max(0, (now - storedAtMs) / 1000) : 0;
  }

  count(r: IngestResult): void {
    if (r.ok) this.messages[r.kind]++;
    else this.rejected[r.reason]++;
  }
}
