/**
 * Bounds on what HTTP clients can make the collector (and its agents) do: traces run a few at a
 * time, at most one per agent at once, with short queues; beyond them a request is refused at
 * once (HTTP 429) instead of piling probes onto an agent's heartbeats. Host checks against DNS
 * rebinding for a collector on loopback. Pure bookkeeping, no timers.
 */
import { isIP } from 'node:net';

export class TraceBusyError extends Error {
  override name = 'TraceBusyError';
}

export interface TraceLimits {
  /** Traces running at once, cluster-wide. */
  global: number;
  /** Traces running at once that involve one agent (as SRC or DST). */
  perAgent: number;
  /** Traces waiting, cluster-wide and per agent; beyond them: TraceBusyError. */
  queued: number;
  queuedPerAgent: number;
}

export const DEFAULT_TRACE_LIMITS: TraceLimits = { global: 4, perAgent: 1, queued: 16, queuedPerAgent: 2 };

interface Waiter {
  keys: string[];
  start: () => void;
}

export class TraceLimiter {
  private active = 0;
  private readonly perKey = new Map<string, number>();
  private readonly waiting: Waiter[] = [];
  /** Refused so far (exported as a metric). */
  refused = 0;

  constructor(private readonly limits: TraceLimits = DEFAULT_TRACE_LIMITS) {}

  private canStart(keys: string[]): boolean {
    return (
      this.active < this.limits.global && keys.every((k) => (this.perKey.get(k) ?? 0) < this.limits.perAgent)
    );
  }
  private acquire(keys: string[]): void {
    this.active++;
    for (const k of keys) this.perKey.set(k, (this.perKey.get(k) ?? 0) + 1);
  }
  private release(keys: string[]): void {
    this.active--;
    for (const k of keys) {
      const n = (this.perKey.get(k) ?? 1) - 1;
      if (n > 0) this.perKey.set(k, n);
      else this.perKey.delete(k);
    }
    for (let i = 0; i < this.waiting.length; ) {
      const w = this.waiting[i] as Waiter;
      if (this.canStart(w.keys)) {
        this.waiting.splice(i, 1);
        this.acquire(w.keys);
        w.start();
      } else i++;
    }
  }

  get running(): number {
    return this.active;
  }
  get queued(): number {
    return this.waiting.length;
  }

  /** Runs `fn` when a slot for every one of `keys` is free; refuses when the queues are full. */
  async run<T>(keys: string[], fn: () => Promise<T>): Promise<T> {
    if (this.canStart(keys)) this.acquire(keys);
    else {
      const queuedFor = (k: string) => this.waiting.filter((w) => w.keys.includes(k)).length;
      if (
        this.waiting.length >= this.limits.queued ||
        keys.some((k) => queuedFor(k) >= this.limits.queuedPerAgent)
      ) {
        this.refused++;
        throw new TraceBusyError(
          `too many traces in flight (${this.active} running, ${this.waiting.length} queued); try again shortly`,
        );
      }
      await new Promise<void>((start) => this.waiting.push({ keys, start }));
    }
    try {
      return await fn();
    } finally {
      this.release(keys);
    }
  }
}

/** True for loopback listen addresses (127.0.0.0/8, ::1, localhost). */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h);
}

/**
 * Host header check (DNS rebinding): with `allowed` null any host passes; otherwise the name
 * (without port) must be an IP literal, `localhost`, or in the list.
 */
export function hostAllowed(hostHeader: string | undefined, allowed: readonly string[] | null): boolean {
  if (allowed === null) return true;
  if (!hostHeader) return false;
  const m = /^(?:\[([^\]]+)\]|([^:]+))(?::\d{1,5})?$/.exec(hostHeader);
  const name = (m?.[1] ?? m?.[2] ?? '').toLowerCase();
  if (!name) return false;
  return isIP(name) !== 0 || name === 'localhost' || allowed.includes(name);
}
