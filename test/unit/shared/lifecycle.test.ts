/** The lifecycle helper: one stop signal, serial loops, sleeps woken by stop, stop awaits all. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Lifecycle } from '../../../shared/lifecycle.js';

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('every: serial, the next iteration only after the previous one ended; a throwing iteration is reported and the loop goes on', async () => {
  const errors: string[] = [];
  const lc = new Lifecycle({ onError: (err, name) => errors.push(`${name}: ${(err as Error).message}`) });
  let running = 0;
  let maxRunning = 0;
  let n = 0;
  lc.every('work', 0, 5, async () => {
    running++;
    maxRunning = Math.max(maxRunning, running);
    n++;
    await tick(15); // longer than the 5 ms period: must not overlap
    running--;
    if (n === 2) throw new Error('boom');
  });
  const deadline = Date.now() + 5000;
  while (n < 4 && Date.now() < deadline) await tick(10);
  await lc.stop();
  assert.ok(n >= 4, `iterations went on after the failure (${n})`);
  assert.equal(maxRunning, 1, 'never two iterations at once');
  assert.deepEqual(errors, ['work: boom']);
  const after = n;
  await tick(50);
  assert.equal(n, after, 'no iteration after stop()');
});

test('stop: aborts the signal, wakes sleepers at once, and resolves only after every task has returned', async () => {
  const lc = new Lifecycle();
  const order: string[] = [];
  lc.spawn('sleeper', async () => {
    const slept = await lc.sleep(60_000);
    order.push(`woke ${slept}`);
    await tick(20); // cleanup after the signal still belongs to the task
    order.push('cleaned');
  });
  lc.spawn('watcher', async (signal) => {
    await new Promise<void>((r) => signal.addEventListener('abort', () => r(), { once: true }));
    order.push('aborted');
  });
  let doneSeen = false;
  void lc.done.then(() => {
    doneSeen = true;
  });
  await tick(10);
  assert.equal(lc.stopping, false);
  const t0 = Date.now();
  const s1 = lc.stop();
  assert.equal(lc.signal.aborted, true);
  assert.equal(lc.stop(), s1, 'stop twice: the same promise');
  await s1;
  assert.ok(Date.now() - t0 < 10_000, 'the 60 s sleep did not hold stop()');
  assert.deepEqual(order.sort(), ['aborted', 'cleaned', 'woke false']);
  await tick(0);
  assert.equal(doneSeen, true);
  assert.equal(await lc.sleep(1), false, 'sleep after stop: false at once');
  let ran = false;
  lc.spawn('late', async () => {
    ran = true;
  });
  lc.every('late-loop', 0, 1, async () => {
    ran = true;
  });
  await tick(20);
  assert.equal(ran, false, 'nothing starts after stop');
});

test('untilStopped: the value when it comes first; {stopped} at once when stop comes first', async () => {
  const lc = new Lifecycle();
  assert.deepEqual(await lc.untilStopped(Promise.resolve(7)), { stopped: false, value: 7 });
  await assert.rejects(lc.untilStopped(Promise.reject(new Error('refused'))), /refused/);
  const never = new Promise<number>(() => undefined);
  const r = lc.untilStopped(never);
  const stopped = lc.stop();
  assert.deepEqual(await r, { stopped: true });
  await stopped;
  assert.deepEqual(await lc.untilStopped(Promise.resolve(1)), { stopped: true });
});
