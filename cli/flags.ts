import type { FlagSpec } from '../shared/config.js';

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
