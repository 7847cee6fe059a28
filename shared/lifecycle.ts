/**
 * One stop signal for a process part and everything it runs (like node-problem-detector's
 * `tomb`): loops and background tasks are started through it, `stop()` aborts the signal,
 * wakes every sleeper and waits for all of them to end. No `stopping` flags, no timer sets.
 *
 *   const lc = new Lifecycle({ onError: (err, name) => log.warn({ err, loop: name }, 'failed') });
 *   lc.every('inventory', 30_000, 30_000, inventory);   // serial: next one after this one
 *   lc.spawn('nats', async (signal) => { while (!signal.aborted) { ... await lc.sleep(1000); } });
 *   await lc.stop();                                    // aborted, every task has returned
 *
 * A task must return soon after the signal aborts: `sleep` and `untilStopped` end at once on
 * stop, so awaiting those (and checking `signal.aborted` after other awaits) is enough.
 */

export interface LifecycleOptions {
  /** A task or loop iteration threw (the loop goes on; a task ends). Default: ignored. */
  onError?: (err: unknown, name: string) => void;
}

export class Lifecycle {
  /** Aborted when `stop()` is called. */
  readonly signal: AbortSignal;
  /** Resolves once `stop()` has finished: the signal aborted and every task ended. */
  readonly done: Promise<void>;
  private readonly ac = new AbortController();
  private readonly tasks = new Set<Promise<void>>();
  private readonly onError: (err: unknown, name: string) => void;
  private stopped: Promise<void> | null = null;
  private resolveDone!: () => void;

  constructor(o: LifecycleOptions = {}) {
    this.signal = this.ac.signal;
    this.onError = o.onError ?? (() => undefined);
    this.done = new Promise((r) => {
      this.resolveDone = r;
    });
  }

  /** True once `stop()` was called. */
  get stopping(): boolean {
    return this.signal.aborted;
  }

  /** Runs `fn` in the background until it returns; `stop()` waits for it. */
  spawn(name: string, fn: (signal: AbortSignal) => Promise<void>): void {
    if (this.stopping) return;
    const t = (async () => {
      try {
        await fn(this.signal);
      } catch (err) {
        this.onError(err, name);
      }
    })();
    this.tasks.add(t);
    void t.finally(() => this.tasks.delete(t));
  }

  /**
   * A serial loop: `fn` first after `firstMs`, then again `next` ms after each iteration ends
   * (or `next(started)` ms, `started` the epoch ms the iteration began; at least 10 ms). An
   * iteration that throws is reported to `onError` and the loop goes on.
   */
  every(
    name: string,
    firstMs: number,
    next: number | ((started: number) => number),
    fn: () => Promise<void>,
  ): void {
    this.spawn(name, async () => {
      let wait = firstMs;
      while (await this.sleep(wait)) {
        const started = Date.now();
        try {
          await fn();
        } catch (err) {
          this.onError(err, name);
        }
        if (this.stopping) return;
        wait = Math.max(10, typeof next === 'number' ? next : next(started));
      }
    });
  }

  /** Waits `ms`; true when the time passed, false (at once) when stopped. */
  sleep(ms: number): Promise<boolean> {
    if (this.stopping) return Promise.resolve(false);
    return new Promise((resolve) => {
      const onAbort = () => {
        clearTimeout(t);
        resolve(false);
      };
      const t = setTimeout(() => {
        this.signal.removeEventListener('abort', onAbort);
        resolve(true);
      }, ms);
      this.signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  /**
   * `p`'s outcome, or `{ stopped: true }` at once when stopped first (p is then left to settle
   * on its own: a caller that owns its result, e.g. a connection, must release it).
   */
  untilStopped<T>(p: Promise<T>): Promise<{ stopped: false; value: T } | { stopped: true }> {
    if (this.stopping) return Promise.resolve({ stopped: true });
    return new Promise((resolve, reject) => {
      const onAbort = () => resolve({ stopped: true });
      this.signal.addEventListener('abort', onAbort, { once: true });
      p.then(
        (value) => {
          this.signal.removeEventListener('abort', onAbort);
          resolve({ stopped: false, value });
        },
        (err) => {
          this.signal.removeEventListener('abort', onAbort);
          reject(err);
        },
      );
    });
  }

  /** Aborts the signal and waits until every task has ended (the same promise when called again). */
  stop(): Promise<void> {
    if (!this.stopped) {
      this.ac.abort();
      this.stopped = (async () => {
        while (this.tasks.size) await Promise.all([...this.tasks]);
        this.resolveDone();
      })();
    }
    return this.stopped;
  }
}
