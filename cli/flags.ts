import { ConfigError, type FlagSpec } from '../shared/config.js';

/**
 * The flags every client command of the collector's HTTP API takes (`status`, `trace`,
 * `history`): `--collector URL`, `-o/--output text|json`, `--timeout`.
 */
export function clientFlags(timeout: string, timeoutHelp = 'HTTP timeout'): FlagSpec[] {
  return [
    {
      name: 'collector',
      type: 'string',
      default: 'http://127.0.0.1:9700',
      metavar: 'URL',
      help: 'collector base URL',
    },
    {
      name: 'output',
      short: 'o',
      type: 'string',
      default: 'text',
      metavar: 'FORMAT',
      help: 'text or json (-o json)',
    },
    { name: 'timeout', type: 'duration', default: timeout, metavar: 'DURATION', help: timeoutHelp },
  ];
}

/** `-o/--output`: text or json, else ConfigError. */
export function outputFormat(value: unknown): 'text' | 'json' {
  if (value !== 'text' && value !== 'json')
    throw new ConfigError(`--output: text or json, got "${String(value)}"`);
  return value;
}

/** Where a client command writes (tests pass their own). */
export interface Io {
  out: (s: string) => void;
  err: (s: string) => void;
}
export const STDIO: Io = { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s) };
