/** shared/lifecycle.ts: one stop() ends timers, hooks and tasks, in that order, and only once. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Lifecycle } from '../../shared/lifecycle.js';

describe('Lifecycle', () => {
  it('runs `every` until stop, then never again', async () => {
    const life = new Lifecycle();
    let n = 0;
    life.every(10, () => {
      n++;
    });
    await new Promise((r) => setTimeout(r, 120));
    assert.ok(n >= 2, `ran ${n} times in 120 ms at 10 ms`);
    await life.stop();
    const at = n;
    await new Promise((r) => setTimeout(r, 60));
    assert.equal(n, at, 'no tick after stop()');
  });

  it('stop(): abort, then the hooks in order, then the tasks awaited', async () => {
    const seen: string[] = [];
    const life = new Lifecycle();
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    life.spawn('worker', async (signal) => {
      while (!signal.aborted) await life.sleep(10_000); // ends early on stop
      seen.push('worker saw abort');
      await gate;
      seen.push('worker done');
    });
    life.onStop(() => {
      seen.push(`hook 1 (aborted ${life.stopped})`);
    });
    life.onStop(async () => {
      seen.push('hook 2');
      release();
    });
    const t0 = Date.now();
    await life.stop();
    assert.ok(Date.now() - t0 < 2000, 'sleep(10 s) ended at stop');
    assert.deepEqual(
      seen.filter((x) => x.startsWith('hook')),
      ['hook 1 (aborted true)', 'hook 2'],
      'hooks in order, after the abort',
    );
    assert.ok(seen.includes('worker saw abort'));
    assert.equal(seen.at(-1), 'worker done', 'stop() waited for the task, which the last hook released');
    assert.deepEqual(life.running(), []);
  });

  it('gives up on a stuck task after graceMs; stop() twice is one stop', async () => {
    const errors: string[] = [];
    let hooks = 0;
    const life = new Lifecycle({ graceMs: 100, onError: (name) => errors.push(name) });
    life.spawn('stuck', () => new Promise<void>(() => undefined));
    life.spawn('fails', async () => {
      throw new Error('boom');
    });
    life.every(
      5,
      () => {
        throw new Error('tick');
      },
      'ticker',
    );
    life.onStop(() => {
      hooks++;
    });
    await new Promise((r) => setTimeout(r, 40));
    const t0 = Date.now();
    await Promise.all([life.stop(), life.stop()]);
    const took = Date.now() - t0;
    assert.ok(took >= 90 && took < 2000, `waited ${took} ms for a stuck task (grace 100 ms)`);
    assert.equal(hooks, 1);
    assert.deepEqual(life.running(), ['stuck']);
    assert.ok(errors.includes('fails') && errors.includes('ticker'), errors.join());
    assert.equal(await life.sleep(5000), undefined, 'sleep after stop returns at once');
  });
});
