/**
 * The wire form of `SnapshotReply` (request/reply on `vxdoctor.snapshot.v1.<token>`): gzip'd
 * JSON, because a whole snapshot holds FDB and neighbor tables that grow with the cluster
 * (hundreds of KiB at 1,000 peers) while NATS caps one message at the server's `max_payload`
 * (1 MiB by default). A reply that does not fit even compressed says so in `error`.
 */
import { gunzipSync, gzipSync } from 'node:zlib';
import type { NodeSnapshot, SnapshotReply } from './schema.js';
import { checkSnapshotReply } from './validation.js';

/** Largest reply accepted before decompression (whole snapshot, decompressed: 64 MiB). */
const MAX_INFLATED = 64 * 1024 * 1024;

/** Encodes the agent's answer; falls back to an error reply when over `maxPayload` bytes. */
export function encodeSnapshotReply(reply: SnapshotReply, maxPayload: number): Uint8Array {
  const z = gzipSync(JSON.stringify(reply));
  if (z.byteLength <= maxPayload) return z;
  return gzipSync(
    JSON.stringify({
      node: reply.node,
      error: `snapshot is ${z.byteLength} bytes compressed, over the NATS server's max_payload of ${maxPayload}`,
    } satisfies SnapshotReply),
  );
}

/** Decodes and validates a reply; throws an Error saying what is wrong (or the agent's error). */
export function parseSnapshotReply(node: string, data: Uint8Array): NodeSnapshot {
  let body: unknown;
  try {
    body = JSON.parse(gunzipSync(data, { maxOutputLength: MAX_INFLATED }).toString('utf8'));
  } catch (err) {
    throw new Error(`unreadable snapshot reply from ${node}: ${(err as Error).message}`);
  }
  if (!checkSnapshotReply.check(body))
    throw new Error(`malformed snapshot reply from ${node}: ${checkSnapshotReply.firstError(body)}`);
  if (body.error) throw new Error(`agent ${node}: ${body.error}`);
  if (!body.snapshot) throw new Error(`agent ${node} sent no snapshot`);
  if (body.node !== node || body.snapshot.node !== node)
    throw new Error(`snapshot reply of ${body.snapshot.node} on the subject of ${node}`);
  return body.snapshot;
}
