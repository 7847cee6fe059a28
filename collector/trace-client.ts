/**
 * The collector's trace client: `POST /api/v1/trace` asks both agents over NATS request/reply
 * (SRC probes DST, DST probes SRC for the reverse direction). An agent that does not answer
 * (no responders, or no answer in time) is a TraceTimeoutError; a malformed reply is refused.
 * The node detail API fetches an agent's whole snapshot the same way (details on demand).
 */
import type { NatsConnection } from '@nats-io/transport-node';
import { isUnanswered } from '../shared/nats.js';
import type { NodeSnapshot, TraceReply, TraceRequest } from '../shared/schema.js';
import { parseSnapshotReply } from '../shared/snapshot-reply.js';
import { snapshotSubject, traceSubject } from '../shared/subjects.js';
import { checkTraceReply } from '../shared/validation.js';
import { TraceTimeoutError } from './app.js';

/** The connection as the collector's NATS session keeps it. */
export interface NatsLink {
  nc: NatsConnection | null;
  connected: boolean;
}

export function traceClient(link: NatsLink, timeoutMs = 15_000): (req: TraceRequest) => Promise<TraceReply> {
  /** One agent's trace toward one peer. */
  const ask = async (src: string, dst: string): Promise<TraceReply> => {
    const nc = link.nc;
    if (!nc || !link.connected) throw new Error('not connected to NATS');
    let data: Uint8Array;
    try {
      // The trace subject is outside the stream, so only the agent answers.
      data = (await nc.request(traceSubject(src), JSON.stringify({ src, dst }), { timeout: timeoutMs })).data;
    } catch (err) {
      // Nobody subscribed (no responders) or no answer in time: the agent is not there to answer.
      if (isUnanswered(err))
        throw new TraceTimeoutError(`no agent answers on ${traceSubject(src)} (${(err as Error).message})`);
      throw err;
    }
    let body: unknown;
    try {
      body = JSON.parse(new TextDecoder().decode(data));
    } catch {
      body = null;
    }
    if (!checkTraceReply.check(body)) throw new Error(`malformed trace reply from ${src}`);
    return body;
  };
  // Both agents at once: SRC probes DST (the answer), DST probes SRC (the reverse direction).
  return async (req: TraceRequest): Promise<TraceReply> => {
    const [fwd, rev] = await Promise.allSettled([ask(req.src, req.dst), ask(req.dst, req.src)]);
    if (fwd.status === 'rejected') throw fwd.reason;
    const reverse: TraceReply =
      rev.status === 'fulfilled'
        ? { ...rev.value, reverse: undefined }
        : {
            src: req.dst,
            dst: req.src,
            results: [],
            verdict: [],
            error: String((rev.reason as Error).message),
          };
    return { ...fwd.value, reverse };
  };
}

/** The whole snapshot of one node, from its agent (request/reply; details on demand). */
export function snapshotClient(link: NatsLink, timeoutMs = 3000): (node: string) => Promise<NodeSnapshot> {
  return async (node) => {
    const nc = link.nc;
    if (!nc || !link.connected) throw new Error('not connected to NATS');
    let data: Uint8Array;
    try {
      data = (await nc.request(snapshotSubject(node), JSON.stringify({ node }), { timeout: timeoutMs })).data;
    } catch (err) {
      if (isUnanswered(err))
        throw new Error(
          `no agent answers on ${snapshotSubject(node)} within ${timeoutMs} ms (${(err as Error).message})`,
        );
      throw err;
    }
    return parseSnapshotReply(node, data);
  };
}
