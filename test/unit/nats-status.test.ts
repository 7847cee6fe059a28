/** NATS status events: periodic ones at debug, state changes at info (real pino, captured). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pino } from 'pino';
import { logNatsStatus } from '../../shared/nats-status.js';

test('ping/reconnecting/update at debug; lost, reconnected, closed at info; error at warn', () => {
  const lines: { level: number; msg: string; status: string }[] = [];
  const log = pino({ level: 'info' }, { write: (s: string) => lines.push(JSON.parse(s)) });
  for (const type of [
    'ping',
    'reconnecting',
    'update',
    'staleConnection',
    'disconnect',
    'reconnect',
    'close',
    'error',
  ])
    logNatsStatus(log, { type });
  assert.deepEqual(
    lines.map((l) => [l.status, l.level, l.msg]),
    [
      ['disconnect', 30, 'NATS connection lost'],
      ['reconnect', 30, 'NATS reconnected'],
      ['close', 30, 'NATS connection closed'],
      ['error', 40, 'NATS error'],
    ],
  );
  const debug: unknown[] = [];
  logNatsStatus(pino({ level: 'debug' }, { write: (s: string) => debug.push(JSON.parse(s)) }), {
    type: 'ping',
  });
  assert.equal((debug[0] as { level: number }).level, 20);
});
