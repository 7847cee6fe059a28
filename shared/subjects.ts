/**
 * NATS subject and bucket names (stable contract, DESIGN.md), mapped to payload types.
 */
import type { FindingsMessage, NodePresence, ProbesMessage, SnapshotMessage } from './schema.js';

export const STREAM_NAME = 'VXDOCTOR';
export const SUBJECT_PREFIX = 'vxdoctor.v1';
export const STREAM_SUBJECTS = [`${SUBJECT_PREFIX}.>`];
export const KV_NODES = 'vxdoctor_nodes';

/** Message kinds published per node, and the payload each carries. */
export interface SubjectPayloads {
  snapshot: SnapshotMessage;
  findings: FindingsMessage;
  probes: ProbesMessage;
}
export type MessageKind = keyof SubjectPayloads;
export const MESSAGE_KINDS: readonly MessageKind[] = ['snapshot', 'findings', 'probes'];

/** Node names become subject tokens: only [A-Za-z0-9_-] are allowed (validated at start-up). */
export const NODE_NAME_RE = /^[A-Za-z0-9_-]{1,63}$/;

export function subjectFor(node: string, kind: MessageKind): string {
  return `${SUBJECT_PREFIX}.${node}.${kind}`;
}

/** Parses `vxdoctor.v1.<node>.<kind>`; null when the subject is not ours. */
export function parseSubject(subject: string): { node: string; kind: MessageKind } | null {
  const parts = subject.split('.');
  if (parts.length !== 4 || `${parts[0]}.${parts[1]}` !== SUBJECT_PREFIX) return null;
  const node = parts[2] ?? '';
  const kind = parts[3] as MessageKind;
  if (!NODE_NAME_RE.test(node) || !MESSAGE_KINDS.includes(kind)) return null;
  return { node, kind };
}

/**
 * Request/reply subject an agent answers on-demand traces on (collector -> agent). Deliberately
 * outside `vxdoctor.v1.>`, so the stream neither stores trace requests nor acks them.
 */
export const TRACE_PREFIX = 'vxdoctor.trace.v1';
export function traceSubject(node: string): string {
  return `${TRACE_PREFIX}.${node}`;
}

export type { NodePresence };
