import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Outbox, type Publisher } from '../../../agent/publish/outbox.js';
import type { MessageKind } from '../../../shared/subjects.js';

/** Fake JetStream: stores by id (de-dup like Nats-Msg-Id), can be "down" or fail one ack. */
class FakePublisher implements Publisher {
  up = true;
  stored: Array<{ kind: MessageKind; id: string; text: string }> = [];
  attempts: string[] = [];
  /** Store the message but lose the ack (the client sees an error) for these ids. */
  loseAck = new Set<string>();
  connected(): boolean {
    return this.up;
  }
  async publish(kind: MessageKind, id: string, data: Uint8Array): Promise<void> {
    this.attempts.push(id);
    if (!this.up) throw new Error('disconnected');
    if (!this.stored.some((m) => m.id === id))
      this.stored.push({ kind, id, text: new TextDecoder().decode(data) });
    if (this.loseAck.delete(id)) throw new Error('ack timeout');
  }
}

const msg = (kind: MessageKind, id: string, size = 10) => ({
  kind,
  id,
  data: new TextEncoder().encode(id.padEnd(size, '.')),
});

test('while disconnected: latest snapshot/findings replace, probes queue in order', async () => {
  const p = new FakePublisher();
  p.up = false;
  const o = new Outbox(p, 1000);
  o.put(msg('snapshot', 's1'));
  o.put(msg('probes', 'p1'));
  o.put(msg('findings', 'f1'));
  o.put(msg('snapshot', 's2'));
  o.put(msg('probes', 'p2'));
  o.put(msg('findings', 'f2'));
  assert.equal(await o.flush(), 0);
  assert.deepEqual(o.stats().depth, 4);
  assert.equal(o.stats().bytes, 40);
  p.up = true;
  assert.equal(await o.flush(), 4);
  assert.deepEqual(
    p.stored.map((m) => m.id),
    ['s2', 'f2', 'p1', 'p2'],
  );
  assert.equal(o.stats().depth, 0);
  assert.equal(o.stats().bytes, 0);
});

test('probe window is bounded in bytes: oldest dropped and counted', async () => {
  const p = new FakePublisher();
  p.up = false;
  const o = new Outbox(p, 100);
  for (let i = 0; i < 25; i++) o.put(msg('probes', `p${i}`, 10));
  const s = o.stats();
  assert.equal(s.bytes, 100);
  assert.equal(s.depth, 10);
  assert.equal(s.dropped, 15);
  p.up = true;
  await o.flush();
  assert.deepEqual(
    p.stored.map((m) => m.id),
    Array.from({ length: 10 }, (_, i) => `p${i + 15}`),
  );
});

test('a lost ack is retried with the same id: stored once, in order', async () => {
  const p = new FakePublisher();
  const o = new Outbox(p, 1000);
  p.loseAck.add('p2');
  for (const id of ['p1', 'p2', 'p3']) o.put(msg('probes', id));
  assert.equal(await o.flush(), 1); // p1 ok, p2 "failed"
  assert.equal(o.stats().failures, 1);
  assert.equal(await o.flush(), 2);
  assert.deepEqual(p.attempts, ['p1', 'p2', 'p2', 'p3']);
  assert.deepEqual(
    p.stored.map((m) => m.id),
    ['p1', 'p2', 'p3'],
  );
});

test('disconnect in the middle of a flush keeps the rest for later', async () => {
  const p = new FakePublisher();
  const o = new Outbox(p, 1000);
  for (const id of ['a', 'b', 'c', 'd']) o.put(msg('probes', id));
  const orig = p.publish.bind(p);
  p.publish = async (k, id, d) => {
    await orig(k, id, d);
    if (id === 'b') p.up = false;
  };
  assert.equal(await o.flush(), 2);
  assert.equal(o.stats().depth, 2);
  o.put(msg('snapshot', 's'));
  p.up = true;
  await o.flush();
  assert.deepEqual(
    p.stored.map((m) => m.id),
    ['a', 'b', 's', 'c', 'd'],
  );
  assert.equal(new Set(p.stored.map((m) => m.id)).size, p.stored.length);
});

test('a snapshot replaced during its own publish is not lost', async () => {
  const p = new FakePublisher();
  const o = new Outbox(p, 1000);
  o.put(msg('snapshot', 's1'));
  const orig = p.publish.bind(p);
  p.publish = async (k, id, d) => {
    if (id === 's1') o.put(msg('snapshot', 's2'));
    await orig(k, id, d);
  };
  await o.flush();
  await o.flush();
  assert.deepEqual(
    p.stored.map((m) => m.id),
    ['s1', 's2'],
  );
  assert.equal(o.stats().depth, 0);
});

test('concurrent flushes share one pass (no duplicate sends)', async () => {
  const p = new FakePublisher();
  const o = new Outbox(p, 1000);
  for (const id of ['x', 'y', 'z']) o.put(msg('probes', id));
  const [a, b] = await Promise.all([o.flush(), o.flush()]);
  assert.equal(a, 3);
  assert.equal(b, 3);
  assert.deepEqual(p.attempts, ['x', 'y', 'z']);
});
