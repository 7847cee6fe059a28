/**
 * Presence records as every reader checks them: a node's `NodePresence` in KV bucket
 * `vxdoctor_nodes` (key = node name), written by its agent, read by the peers' agents and by
 * the collector. A refused record is counted by reason.
 */
import type { NodePresence } from './schema.js';
import { nodeFromToken } from './subjects.js';
import { checkPresence, jsonDepth, MAX_JSON_DEPTH } from './validation.js';

const utf8 = new TextDecoder();

/** Why a presence record was refused (the `reason` label of the presence-rejected counters). */
export const PRESENCE_REJECT_REASONS = [
  'too-large',
  'too-deep',
  'malformed-json',
  'schema',
  'key-mismatch',
] as const;
export type PresenceRejectReason = (typeof PRESENCE_REJECT_REASONS)[number];
/** Largest presence record accepted (a record is well under 64 KiB even with 256 VTEPs). */
export const MAX_PRESENCE_BYTES = 64 * 1024;

export type PresenceParse =
  | { ok: true; presence: NodePresence }
  | { ok: false; reason: PresenceRejectReason; detail: string };

/**
 * Validates one KV presence record against the shared schema (shared/validation.ts): every
 * field a peer acts on (ports, addresses, VTEPs) is bounded and typed, so a poisoned record is
 * refused here and never reaches the prober or the collector's state. Never throws.
 */
export function checkPresenceRecord(key: string, value: Uint8Array): PresenceParse {
  if (value.byteLength > MAX_PRESENCE_BYTES)
    return { ok: false, reason: 'too-large', detail: `${value.byteLength} bytes` };
  if (jsonDepth(value) > MAX_JSON_DEPTH) return { ok: false, reason: 'too-deep', detail: 'nesting' };
  let v: unknown;
  try {
    v = JSON.parse(utf8.decode(value));
  } catch (err) {
    return { ok: false, reason: 'malformed-json', detail: (err as Error).message };
  }
  if (!checkPresence.check(v)) return { ok: false, reason: 'schema', detail: checkPresence.firstError(v) };
  if (v.node !== nodeFromToken(key))
    return { ok: false, reason: 'key-mismatch', detail: `record of ${v.node} under ${key}` };
  return { ok: true, presence: v };
}

export function parsePresence(key: string, value: Uint8Array): NodePresence | null {
  const r = checkPresenceRecord(key, value);
  return r.ok ? r.presence : null;
}

/** Counts refused presence records by reason (read by the metrics collect()). */
export class PresenceRejects {
  readonly counts: Record<PresenceRejectReason, number> = Object.fromEntries(
    PRESENCE_REJECT_REASONS.map((r) => [r, 0]),
  ) as Record<PresenceRejectReason, number>;
  /** Last reason per key, so a record refused again every refresh is logged once. */
  private readonly last = new Map<string, string>();
  /** Returns true when this key's rejection is new (worth a warning). */
  note(key: string, reason: PresenceRejectReason, detail: string): boolean {
    this.counts[reason]++;
    const k = `${reason}:${detail}`;
    if (this.last.get(key) === k) return false;
    if (this.last.size >= 1000) this.last.clear();
    this.last.set(key, k);
    return true;
  }
  accepted(key: string): void {
    this.last.delete(key);
  }
}
