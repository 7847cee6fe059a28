/**
 * NATS subject and bucket names (stable contract, DESIGN.md), mapped to payload types.
 */
import type {
  FindingsMessage,
  NodePresence,
  ProbesMessage,
  SnapshotMessage,
  SummaryMessage,
} from './schema.js';

export const STREAM_NAME = 'VXDOCTOR';
export const SUBJECT_PREFIX = 'vxdoctor.v1';
export const STREAM_SUBJECTS = [`${SUBJECT_PREFIX}.>`];
/** Presence bucket; key = `nodeToken(node)`. */
export const KV_NODES = 'vxdoctor_nodes';

/** Message kinds published per node, and the payload each carries. */
export interface SubjectPayloads {
  /** Whole inventory: published by agents before the summary existed; still accepted. */
  snapshot: SnapshotMessage;
  /** Compact inventory (what agents publish now). */
  summary: SummaryMessage;
  findings: FindingsMessage;
  probes: ProbesMessage;
}
export type MessageKind = keyof SubjectPayloads;
export const MESSAGE_KINDS: readonly MessageKind[] = ['snapshot', 'summary', 'findings', 'probes'];

/**
 * Node names: every Kubernetes node name (RFC 1123 subdomain: dot-separated labels, up to 253
 * characters) and every Swarm hostname. Labels of [A-Za-z0-9_-], 1..63 characters each, joined
 * by single dots; 253 characters at most. Validated at start-up (`--node`) and at ingest.
 */
export const NODE_NAME_RE = /^(?=.{1,253}$)[A-Za-z0-9_-]{1,63}(?:\.[A-Za-z0-9_-]{1,63})*$/;

export function isNodeName(s: string): boolean {
  return NODE_NAME_RE.test(s);
}

/**
 * A node name as one NATS subject token, KV key and durable-name part (docs/contracts.md): `.`
 * becomes `_` and `_` becomes `=`. A one-to-one character substitution (neither `=` nor `.`
 * occurs in a token, `=` never in a name), so two names never share a token and
 * `nodeFromToken(nodeToken(n)) === n`. `ip-10-0-1-5.ec2.internal` -> `ip-10-0-1-5_ec2_internal`.
 */
export function nodeToken(node: string): string {
  if (!NODE_NAME_RE.test(node)) throw new Error(`not a node name: ${JSON.stringify(node.slice(0, 300))}`);
  let out = '';
  for (const c of node) out += c === '.' ? '_' : c === '_' ? '=' : c;
  return out;
}

/** The node name a token stands for; null when the string is no token of a valid name. */
export function nodeFromToken(token: string): string | null {
  if (token.includes('.')) return null;
  let out = '';
  for (const c of token) out += c === '_' ? '.' : c === '=' ? '_' : c;
  return NODE_NAME_RE.test(out) ? out : null;
}

export function subjectFor(node: string, kind: MessageKind): string {
  return `${SUBJECT_PREFIX}.${nodeToken(node)}.${kind}`;
}

/** Parses `vxdoctor.v1.<token>.<kind>` into the node's name; null when the subject is not ours. */
export function parseSubject(subject: string): { node: string; kind: MessageKind } | null {
  const parts = subject.split('.');
  if (parts.length !== 4 || `${parts[0]}.${parts[1]}` !== SUBJECT_PREFIX) return null;
  const node = nodeFromToken(parts[2] ?? '');
  const kind = parts[3] as MessageKind;
  if (node === null || !MESSAGE_KINDS.includes(kind)) return null;
  return { node, kind };
}

/**
 * Request/reply subject an agent answers on-demand traces on (collector -> agent). Deliberately
 * outside `vxdoctor.v1.>`, so the stream neither stores trace requests nor acks them.
 */
export const TRACE_PREFIX = 'vxdoctor.trace.v1';
export function traceSubject(node: string): string {
  return `${TRACE_PREFIX}.${nodeToken(node)}`;
}

export type { NodePresence };

/**
 * Request/reply subject an agent answers with its whole latest snapshot (collector -> agent,
 * `SnapshotRequest` -> gzip'd `SnapshotReply`): the details the summary leaves out, on demand.
 * Outside `vxdoctor.v1.>` like traces, so the stream never stores them.
 */
export const SNAPSHOT_PREFIX = 'vxdoctor.snapshot.v1';
export function snapshotSubject(node: string): string {
  return `${SNAPSHOT_PREFIX}.${nodeToken(node)}`;
}
