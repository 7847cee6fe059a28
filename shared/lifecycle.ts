/**
 * A long-running part's lifecycle, like node-problem-detector's `tomb`: its timers (`every`), its
 * background tasks (`spawn`) and what must happen when it stops (`onStop`), ended together by one
 * `stop()`. Tasks watch `signal` (or `stopped`) and sleep with `sleep`, which ends early on stop.
 * No global state: each part (or wiring file) owns one.
 */

export interface LifecycleOptions {
  /** A task that rejects or a timer callback that throws (default: ignored). */
  onError?: (name: string, err: unknown) => void;
  /** How long stop() waits for the tasks to end (default 3 s): a task stuck on I/O is left. */
  graceMs?: number;
}

export class Lifecycle {
  private readonly ac = new AbortController();
  readonly signal: AbortSignal = this.ac.signal;
  private readonly timers = new Set<ReturnType<typeof setInterval>>();
  private readonly tasks = new Map<string, Promise<void>>();
  private readonly hooks: Array<() => unknown> = [];
  private stopping: Promise<void> | null = null;

  constructor(private readonly o: LifecycleOptions = {}) {}

  /** True once stop() was called. */
  get stopped(): boolean {
    return this.signal.aborted;
  }

  /** Calls `fn` every `ms` until stop() (the timer does not keep the process alive). */
  every(ms: number, fn: () => unknown, name = 'timer'): void {
    if (this.stopped) return;
    const t = setInterval(() => {
      if (this.stopped) return;
      try {
        const r = fn();
        if (r instanceof Promise) r.catch((err) => this.o.onError?.(name, err));
      } catch (err) {
        this.o.onError?.(name, err);
      }
    }, ms);
    t.unref();
    this.timers.add(t);
  }

  /** Runs `fn` in the background; stop() waits for it (up to graceMs). */
  spawn(name: string, fn: (signal: AbortSignal) => Promise<void>): Promise<void> {
    const p = (async () => fn(this.signal))().catch((err) => {
      if (!this.stopped) this.o.onError?.(name, err);
    });
    let key = name;
    for (let i = 2; this.tasks.has(key); i++) key = `${name}#${i}`;
    this.tasks.set(key, p);
    void p.finally(() => this.tasks.delete(key));
    return p;
  }

  /** Runs at stop(), in the order registered, before the tasks are waited for. */
  onStop(fn: () => unknown): void {
    this.hooks.push(fn);
  }

  /** Resolves after `ms`, or at once when stopping. */
  sleep(ms: number): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(t);
        this.signal.removeEventListener('abort', done);
        resolve();
      };
      const t = setTimeout(done, ms);
      this.signal.addEventListener('abort', done, { once: true });
    });
  }

  /** Names of the tasks still running (for a log line when stop() gave up waiting). */
  running(): string[] {
    return [...this.tasks.keys()];
  }

  /** Aborts, clears the timers, runs the stop hooks, then waits for the tasks (up to graceMs). */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.ac.abort();
      for (const t of this.timers) clearInterval(t);
      this.timers.clear();
      for (const h of this.hooks) {
        try {
          await h();
        } catch (err) {
          this.o.onError?.('stop', err);
        }
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        Promise.allSettled([...this.tasks.values()]),
        new Promise((r) => {
          timer = setTimeout(r, this.o.graceMs ?? 3000);
        }),
      ]);
      clearTimeout(timer);
    })();
    return this.stopping;
  }
}
