/**
 * Validation at the edge: every byte that reaches the collector from NATS passes through
 * `validateMessage` first. A rejected message gets a bounded reason (the
 * `vxdoctor_ingest_rejected_total{reason}` label); the caller counts and acks it. Pure: no I/O.
 */
import {
  type ArrivalReport,
  type CheckRun,
  type Finding,
  PROBE_PATHS,
  type ProbePath,
  type ProbeResult,
  ROOT_CAUSE_KINDS,
  SCHEMA_VERSION,
  type VxdoctorMessage,
} from '../../shared/schema.js';
import { type MessageKind, NODE_NAME_RE, parseSubject } from '../../shared/subjects.js';

export const REJECT_REASONS = [
  'malformed-json',
  'schema',
  'unknown-version',
  'bad-subject',
  'node-mismatch',
  'too-large',
] as const;
export type RejectReason = (typeof REJECT_REASONS)[number];

/** Default size cap for one message (a large node's snapshot is a few hundred KiB). */
export const DEFAULT_MAX_BYTES = 4 * 1024 * 1024;
/** Caps on array lengths inside a message (bounded memory per message). */
const MAX_ITEMS = 20_000;

export type IngestResult =
  | { ok: true; kind: MessageKind; msg: VxdoctorMessage }
  | { ok: false; reason: RejectReason; detail: string };

class Invalid extends Error {}

function fail(detail: string): never {
  throw new Invalid(detail);
}
function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
function str(o: Record<string, unknown>, k: string, where: string): string {
  const v = o[k];
  if (typeof v !== 'string') fail(`${where}.${k}: expected string`);
  return v;
}
function num(o: Record<string, unknown>, k: string, where: string): number {
  const v = o[k];
  if (typeof v !== 'number' || !Number.isFinite(v)) fail(`${where}.${k}: expected number`);
  return v;
}
function bool(o: Record<string, unknown>, k: string, where: string): boolean {
  const v = o[k];
  if (typeof v !== 'boolean') fail(`${where}.${k}: expected boolean`);
  return v;
}
function seen(o: Record<string, unknown>, k: string, where: string): boolean | null {
  const v = o[k];
  if (v === undefined || v === null) return null;
  if (typeof v !== 'boolean') fail(`${where}.${k}: expected boolean or null`);
  return v;
}
function numOrNull(o: Record<string, unknown>, k: string, where: string): number | null {
  const v = o[k];
  if (v === undefined || v === null) return null;
  if (typeof v !== 'number' || !Number.isFinite(v)) fail(`${where}.${k}: expected number or null`);
  return v;
}
function arr(o: Record<string, unknown>, k: string, where: string): unknown[] {
  const v = o[k];
  if (!Array.isArray(v)) fail(`${where}.${k}: expected array`);
  if (v.length > MAX_ITEMS) fail(`${where}.${k}: more than ${MAX_ITEMS} items`);
  return v;
}
function strArr(o: Record<string, unknown>, k: string, where: string): string[] {
  const a = arr(o, k, where);
  for (const x of a) if (typeof x !== 'string') fail(`${where}.${k}: expected strings`);
  return a as string[];
}
function path(o: Record<string, unknown>, k: string, where: string): ProbePath {
  const v = o[k];
  if (!PROBE_PATHS.includes(v as ProbePath)) fail(`${where}.${k}: unknown probe path`);
  return v as ProbePath;
}
function nodeName(o: Record<string, unknown>, k: string, where: string): string {
  const v = str(o, k, where);
  if (!NODE_NAME_RE.test(v)) fail(`${where}.${k}: not a node name`);
  return v;
}

function probeResult(v: unknown, where: string): ProbeResult {
  if (!isObj(v)) fail(`${where}: expected object`);
  const r: ProbeResult = {
    path: path(v, 'path', where),
    src: nodeName(v, 'src', where),
    dst: nodeName(v, 'dst', where),
    target: str(v, 'target', where),
    port: numOrNull(v, 'port', where),
    round: num(v, 'round', where),
    at: num(v, 'at', where),
    sent: bool(v, 'sent', where),
    leftSrc: seen(v, 'leftSrc', where),
    arrivedDst: seen(v, 'arrivedDst', where),
    answered: bool(v, 'answered', where),
    replySeen: seen(v, 'replySeen', where),
    rttSeconds: numOrNull(v, 'rttSeconds', where),
    icmp: v.icmp === undefined ? [] : strArr(v, 'icmp', where),
  };
  if (v.pmtu !== undefined && v.pmtu !== null) {
    const p = v.pmtu;
    if (!isObj(p)) fail(`${where}.pmtu: expected object`);
    r.pmtu = {
      required: num(p, 'required', `${where}.pmtu`),
      largestPassing: numOrNull(p, 'largestPassing', `${where}.pmtu`),
      fragNeededMtu: numOrNull(p, 'fragNeededMtu', `${where}.pmtu`),
      learnedPmtu: numOrNull(p, 'learnedPmtu', `${where}.pmtu`),
    };
  }
  if (typeof v.note === 'string') r.note = v.note.slice(0, 500);
  return r;
}

function arrival(v: unknown, where: string): ArrivalReport {
  if (!isObj(v)) fail(`${where}: expected object`);
  return {
    from: nodeName(v, 'from', where),
    path: path(v, 'path', where),
    count: num(v, 'count', where),
    lastAt: num(v, 'lastAt', where),
  };
}

const SEVERITIES = ['critical', 'warning', 'info'];
const CHECK_ID_RE = /^[A-Za-z0-9_.-]{1,64}$/;

function finding(v: unknown, where: string): Finding {
  if (!isObj(v)) fail(`${where}: expected object`);
  const status = str(v, 'status', where);
  if (status !== 'problem' && status !== 'unknown') fail(`${where}.status: problem|unknown`);
  const severity = str(v, 'severity', where);
  if (!SEVERITIES.includes(severity)) fail(`${where}.severity: critical|warning|info`);
  const kind = v.kind;
  if (kind !== null && kind !== undefined && typeof kind !== 'string') fail(`${where}.kind: string or null`);
  const incident = numOrNull(v, 'incident', where);
  const check = str(v, 'check', where);
  // Check ids become a metric label: keep them to a bounded, label-safe vocabulary.
  if (!CHECK_ID_RE.test(check)) fail(`${where}.check: not a check id`);
  return {
    check,
    status,
    severity: severity as Finding['severity'],
    // A kind this collector does not know (newer agent) maps to no root cause.
    kind: (ROOT_CAUSE_KINDS as readonly string[]).includes(kind as string) ? (kind as Finding['kind']) : null,
    incident,
    node: nodeName(v, 'node', where),
    subject: str(v, 'subject', where),
    summary: str(v, 'summary', where),
    evidence: strArr(v, 'evidence', where),
    remediation: typeof v.remediation === 'string' ? v.remediation : '',
  };
}

function checkRun(v: unknown, where: string): CheckRun {
  if (!isObj(v)) fail(`${where}: expected object`);
  const r: CheckRun = {
    check: str(v, 'check', where),
    ok: bool(v, 'ok', where),
    durationSeconds: num(v, 'durationSeconds', where),
  };
  if (typeof v.error === 'string') r.error = v.error;
  return r;
}

function snapshotShape(v: unknown, where: string): void {
  if (!isObj(v)) fail(`${where}: expected object`);
  nodeName(v, 'node', where);
  if (!isObj(v.labels)) fail(`${where}.labels: expected object`);
  for (const x of Object.values(v.labels)) if (typeof x !== 'string') fail(`${where}.labels: strings`);
  str(v, 'takenAt', where);
  if (!isObj(v.host)) fail(`${where}.host: expected object`);
  str(v.host, 'kernel', `${where}.host`);
  arr(v, 'namespaces', where);
  arr(v, 'chains', where);
  const vteps = arr(v, 'vteps', where);
  vteps.forEach((t, i) => {
    const w = `${where}.vteps[${i}]`;
    if (!isObj(t)) fail(`${w}: expected object`);
    str(t, 'dev', w);
    num(t, 'vni', w);
    num(t, 'port', w);
  });
  if (!isObj(v.docker)) fail(`${where}.docker: expected object`);
  arr(v, 'unknowns', where);
  if (v.schemaVersion !== SCHEMA_VERSION) fail(`${where}.schemaVersion: expected ${SCHEMA_VERSION}`);
}

/**
 * Validates one NATS message. Order matters for the reason reported: subject, size, JSON,
 * version, shape, node.
 */
export function validateMessage(
  subject: string,
  data: Uint8Array,
  opts: { maxBytes?: number } = {},
): IngestResult {
  const parsedSubject = parseSubject(subject);
  if (!parsedSubject) return { ok: false, reason: 'bad-subject', detail: subject.slice(0, 200) };
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_BYTES;
  if (data.byteLength > maxBytes) {
    return { ok: false, reason: 'too-large', detail: `${data.byteLength} > ${maxBytes} bytes` };
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
  let msg: VxdoctorMessage;
  try {
    if (body.type !== kind) fail(`type ${JSON.stringify(body.type)?.slice(0, 40)} on a ${kind} subject`);
    const base = {
      schemaVersion: SCHEMA_VERSION,
      node: nodeName(body, 'node', 'message'),
      at: num(body, 'at', 'message'),
      id: str(body, 'id', 'message'),
    };
    if (base.id.length === 0 || base.id.length > 200) fail('message.id: 1..200 characters');
    if (kind === 'probes') {
      msg = {
        ...base,
        type: 'probes',
        round: num(body, 'round', 'message'),
        results: arr(body, 'results', 'message').map((r, i) => probeResult(r, `results[${i}]`)),
        arrivals: arr(body, 'arrivals', 'message').map((r, i) => arrival(r, `arrivals[${i}]`)),
      };
    } else if (kind === 'findings') {
      msg = {
        ...base,
        type: 'findings',
        findings: arr(body, 'findings', 'message').map((f, i) => finding(f, `findings[${i}]`)),
        checkRuns: (body.checkRuns === undefined ? [] : arr(body, 'checkRuns', 'message')).map((c, i) =>
          checkRun(c, `checkRuns[${i}]`),
        ),
      };
    } else {
      snapshotShape(body.snapshot, 'snapshot');
      msg = { ...base, type: 'snapshot', snapshot: body.snapshot as never };
    }
  } catch (err) {
    if (err instanceof Invalid) return { ok: false, reason: 'schema', detail: err.message };
    throw err;
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
  return { ok: true, kind, msg };
}

/** Plain counters of what ingest saw (read by the metrics collect()). */
export class IngestCounters {
  readonly messages: Record<MessageKind, number> = { snapshot: 0, findings: 0, probes: 0 };
  readonly rejected: Record<RejectReason, number> = Object.fromEntries(
    REJECT_REASONS.map((r) => [r, 0]),
  ) as Record<RejectReason, number>;
  /** Messages dropped as already applied (redelivery, duplicate id). */
  duplicates = 0;

  count(r: IngestResult): void {
    if (r.ok) this.messages[r.kind]++;
    else this.rejected[r.reason]++;
  }
}
