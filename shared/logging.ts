/**
 * pino logging: context object first, message second, errors under `err`.
 */
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(opts: { level?: string; name?: string } = {}): Logger {
  return pino({
    name: opts.name ?? 'vxdoctor',
    level: opts.level ?? process.env.VXDOCTOR_LOG_LEVEL ?? 'info',
    base: undefined,
  });
}

/** A logger that drops everything (unit tests, one-shot commands). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
