/**
 * How NATS client status events are logged, the same in agent and collector: state changes
 * (lost, reconnected, closed, server entering lame-duck mode) at info, errors at warn, the
 * periodic and transitional ones (ping, reconnecting, cluster update, stale) at debug — at info
 * the 10 s pings were most of a collector's log.
 */
import type { Logger } from 'pino';

const MESSAGES: Record<string, { level: 'info' | 'warn'; msg: string }> = {
  disconnect: { level: 'info', msg: 'NATS connection lost' },
  reconnect: { level: 'info', msg: 'NATS reconnected' },
  close: { level: 'info', msg: 'NATS connection closed' },
  ldm: { level: 'info', msg: 'NATS server entering lame-duck mode' },
  error: { level: 'warn', msg: 'NATS error' },
};

export function logNatsStatus(log: Logger, s: { type: string; server?: unknown; error?: unknown }): void {
  const m = MESSAGES[s.type];
  const ctx: Record<string, unknown> = { status: s.type };
  if (s.server !== undefined) ctx.server = s.server;
  if (s.error !== undefined) ctx.err = s.error;
  log[m?.level ?? 'debug'](ctx, m?.msg ?? 'NATS status');
}
