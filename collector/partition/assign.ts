/**
 * Which collector instance owns a node when several share the work (`--partition I/N`,
 * docs/scale-out.md). The owner is FNV-1a (32 bit) of the node's subject token modulo N: the
 * hash NATS's own deterministic subject mapping `{{partition(N,1)}}` computes over that token,
 * so the assignment stays the same if the split moves into the server (stream subject
 * transforms, NATS >= 2.10). Pure: no state, the same answer on every instance.
 */
import { ConfigError } from '../../shared/config.js';
import { nodeToken } from '../../shared/subjects.js';

export interface Partition {
  /** This instance's share, 0 <= index < count. */
  index: number;
  /** Instances sharing the work (>= 2; one instance is the default, unpartitioned mode). */
  count: number;
}

/** At most this many partitions: beyond, one instance per few hundred nodes is no longer the point. */
export const MAX_PARTITIONS = 64;

/** FNV-1a 32-bit of a string's UTF-8 bytes (node tokens are ASCII). */
export function fnv1a32(s: string): number {
  let h = 0x811c9dc5;
  for (const b of Buffer.from(s, 'utf8')) {
    h ^= b;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** The partition (0..count-1) a subject token belongs to. */
export function partitionOfToken(token: string, count: number): number {
  return fnv1a32(token) % count;
}

/** The partition a node belongs to (throws on a string that is no node name). */
export function partitionOf(node: string, count: number): number {
  return partitionOfToken(nodeToken(node), count);
}

/** `--partition I/N`: instance I (0-based) of N. */
export function parsePartition(text: string): Partition {
  const m = /^(\d{1,3})\/(\d{1,3})$/.exec(text.trim());
  if (!m)
    throw new ConfigError(`--partition: want I/N (instance I of N, 0-based), got "${text.slice(0, 40)}"`);
  const index = Number(m[1]);
  const count = Number(m[2]);
  if (count < 2 || count > MAX_PARTITIONS)
    throw new ConfigError(
      `--partition: N must be 2..${MAX_PARTITIONS} (one collector needs no --partition), got ${count}`,
    );
  if (index >= count) throw new ConfigError(`--partition: I must be below N (0..${count - 1}), got ${index}`);
  return { index, count };
}

/**
 * Whether this instance handles a message on `subject` (`vxdoctor.v1.<token>.<kind>`): subjects
 * that are not per-node (or malformed) are handled everywhere, so ingest still counts and
 * rejects them the same way on every instance.
 */
export function ownsSubject(subject: string, p: Partition): boolean {
  const first = subject.indexOf('.');
  const second = first < 0 ? -1 : subject.indexOf('.', first + 1);
  const third = second < 0 ? -1 : subject.indexOf('.', second + 1);
  if (third < 0) return true;
  return partitionOfToken(subject.slice(second + 1, third), p.count) === p.index;
}
