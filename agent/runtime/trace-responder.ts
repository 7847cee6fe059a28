/**
 * The agent's side of an on-demand trace (`vxdoctor.trace.v1.<node>`, request/reply): checks
 * the request, runs one trace at a time (each probes every path) with a short queue, and
 * answers with the results and their verdict lines; a burst beyond the queue is told `busy`.
 */
import { verdictLine } from '../../shared/fate.js';
import type { TraceReply, TraceRequest } from '../../shared/schema.js';
import { checkTraceRequest } from '../../shared/validation.js';
import type { ProbeEngine } from './ports.js';

/** Trace requests running or waiting on one agent; beyond, the request is answered `busy`. */
export const MAX_TRACES_QUEUED = 3;

export class TraceResponder {
  private running = 0;
  private waiting = 0;
  private tail: Promise<void> = Promise.resolve();

  constructor(
    private readonly o: {
      node: string;
      /** The running prober, null while heartbeats are off. */
      prober: () => ProbeEngine | null;
      /** Whether `dst` is a current peer. */
      knows: (dst: string) => boolean;
    },
  ) {}

  /** The reply to one request's bytes (never throws: every failure is the reply's `error`). */
  async answer(data: Uint8Array): Promise<TraceReply> {
    let req: TraceRequest | null = null;
    try {
      const v: unknown = JSON.parse(new TextDecoder().decode(data));
      req = checkTraceRequest.check(v) ? v : null;
    } catch {
      /* answered below */
    }
    const reply: TraceReply = { src: this.o.node, dst: req?.dst ?? '', results: [], verdict: [] };
    const prober = this.o.prober();
    if (!req) reply.error = 'malformed trace request';
    else if (this.running + this.waiting >= MAX_TRACES_QUEUED)
      reply.error = 'busy: too many traces on this node; try again shortly';
    else if (!prober) reply.error = 'heartbeats unavailable on this node';
    else if (!this.o.knows(req.dst)) reply.error = `unknown peer ${req.dst}`;
    else {
      // One trace at a time on this node: a burst waits in a short queue instead of flooding
      // the sockets the heartbeats use.
      const dst = req.dst;
      this.waiting++;
      const run = this.tail.then(async () => {
        this.waiting--;
        this.running++;
        try {
          reply.results = await prober.trace(dst);
          reply.verdict = reply.results.map(verdictLine);
        } catch (e) {
          reply.error = (e as Error).message;
        } finally {
          this.running--;
        }
      });
      this.tail = run;
      await run;
    }
    return reply;
  }
}
