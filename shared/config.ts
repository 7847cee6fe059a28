/**
 * Flag parsing shared by every `vxdoctor` subcommand. Each flag also reads from
 * `VXDOCTOR_<FLAG>` (upper case, `-` -> `_`); the command line wins over the environment.
 * Lists from the environment are comma-separated. Bad input throws ConfigError naming the
 * flag (or variable) and the value, so `main` can print it and exit 2.
 */
import { readFileSync, statSync } from 'node:fs';

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export type FlagType = 'string' | 'bool' | 'list' | 'duration' | 'int';

export interface FlagSpec {
  name: string;
  type: FlagType;
  help: string;
  /** Default value (durations in ms). Omit for required-less optional flags. */
  default?: string | boolean | string[] | number;
  required?: boolean;
  /** Placeholder in help output, e.g. URL. */
  metavar?: string;
  /** One-letter alias, e.g. `o` for `-o json`. */
  short?: string;
}

export interface CommandSpec {
  name: string;
  usage: string;
  summary: string;
  flags: FlagSpec[];
  /** Number of positional arguments accepted (exact). */
  positionals?: string[];
}

export type FlagValues = Record<string, string | boolean | string[] | number | undefined>;

export function envName(flag: string): string {
  return `VXDOCTOR_${flag.replace(/-/g, '_').toUpperCase()}`;
}

/** Parses `5s`, `500ms`, `2m`, `1h` or a bare number of seconds into milliseconds. */
export function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!m) throw new ConfigError(`not a duration: "${text}" (use e.g. 500ms, 5s, 2m)`);
  const n = Number(m[1]);
  const unit = m[2] ?? 's';
  const factor = unit === 'ms' ? 1 : unit === 's' ? 1000 : unit === 'm' ? 60_000 : 3_600_000;
  return Math.round(n * factor);
}

function convert(spec: FlagSpec, raw: string, source: string): string | boolean | number {
  try {
    switch (spec.type) {
      case 'string':
      case 'list':
        return raw;
      case 'bool': {
        const v = raw.toLowerCase();
        if (['1', 'true', 'yes', 'on', ''].includes(v)) return true;
        if (['0', 'false', 'no', 'off'].includes(v)) return false;
        throw new ConfigError(`not a boolean: "${raw}"`);
      }
      case 'duration':
        return parseDuration(raw);
      case 'int': {
        if (!/^-?\d+$/.test(raw.trim())) throw new ConfigError(`not an integer: "${raw}"`);
        return Number(raw);
      }
    }
  } catch (err) {
    throw new ConfigError(`${source}: ${(err as Error).message}`);
  }
}

export interface Parsed {
  values: FlagValues;
  positionals: string[];
  help: boolean;
}

export function parseCommand(
  spec: CommandSpec,
  argv: string[],
  env: Record<string, string | undefined> = process.env,
): Parsed {
  const byName = new Map(spec.flags.map((f) => [f.name, f]));
  const values: FlagValues = {};
  const positionals: string[] = [];
  let help = false;
  for (const f of spec.flags) {
    const fromEnv = env[envName(f.name)];
    if (fromEnv !== undefined && fromEnv !== '') {
      values[f.name] =
        f.type === 'list'
          ? fromEnv
              .split(',')
              .map((s) => s.trim())
              .filter(Boolean)
          : convert(f, fromEnv, envName(f.name));
    }
  }
  const seenLists = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--help' || arg === '-h') {
      help = true;
      continue;
    }
    const short = /^-([A-Za-z])(.*)$/.exec(arg);
    const aliased = short ? spec.flags.find((f) => f.short === short[1]) : undefined;
    if (short && !aliased) throw new ConfigError(`unknown flag ${arg} (see --help)`);
    if (!arg.startsWith('--') && !aliased) {
      positionals.push(arg);
      continue;
    }
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    let name = aliased ? aliased.name : arg.slice(2);
    if (aliased && short?.[2]) name = `${aliased.name}=${short[2]}`;
    let inline: string | undefined;
    const eq = name.indexOf('=');
    if (eq >= 0) {
      inline = name.slice(eq + 1);
      name = name.slice(0, eq);
    }
    let spec1 = byName.get(name);
    if (!spec1 && name.startsWith('no-')) {
      const pos = byName.get(name.slice(3));
      if (pos?.type === 'bool') {
        values[pos.name] = false;
        continue;
      }
    }
    if (!spec1) throw new ConfigError(`unknown flag --${name} (see --help)`);
    if (spec1.type === 'bool') {
      values[name] = inline === undefined ? true : convert(spec1, inline, `--${name}`);
      continue;
    }
    const raw = inline ?? argv[++i];
    if (raw === undefined) throw new ConfigError(`--${name} needs a value`);
    if (spec1.type === 'list') {
      if (!seenLists.has(name)) {
        values[name] = [];
        seenLists.add(name);
      }
      (values[name] as string[]).push(raw);
    } else {
      values[name] = convert(spec1, raw, `--${name}`);
    }
    spec1 = undefined;
  }
  for (const f of spec.flags) {
    if (values[f.name] === undefined && f.default !== undefined) {
      values[f.name] =
        f.type === 'duration' && typeof f.default === 'string' ? parseDuration(f.default) : f.default;
    }
    if (!help && f.required && values[f.name] === undefined) {
      throw new ConfigError(`--${f.name} is required (or set ${envName(f.name)})`);
    }
  }
  const want = spec.positionals?.length ?? 0;
  if (!help && positionals.length !== want) {
    throw new ConfigError(
      want === 0
        ? `unexpected argument "${positionals[0]}"`
        : `expected ${want} argument(s): ${spec.positionals?.join(' ')}`,
    );
  }
  return { values, positionals, help };
}

export function formatHelp(spec: CommandSpec): string {
  const lines = [`Usage: ${spec.usage}`, '', spec.summary, '', 'Flags:'];
  for (const f of spec.flags) {
    const meta = f.type === 'bool' ? '' : ` ${f.metavar ?? f.type.toUpperCase()}`;
    const def =
      f.default === undefined || f.default === false
        ? ''
        : ` (default ${Array.isArray(f.default) ? f.default.join(',') : String(f.default)})`;
    const rep = f.type === 'list' ? ' (repeatable)' : '';
    lines.push(`  ${f.short ? `-${f.short}, ` : ''}--${f.name}${meta}`);
    lines.push(`      ${f.help}${rep}${def} [env ${envName(f.name)}]`);
  }
  lines.push('  --help', '      Show this help.');
  return lines.join('\n');
}

/** Parses `k=v` label flags into a record. */
export function parseLabels(list: string[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of list ?? []) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw new ConfigError(`--label wants key=value, got "${item}"`);
    out[item.slice(0, eq)] = item.slice(eq + 1);
  }
  return out;
}

/** NATS TLS and credential flags, the same on every command that talks to NATS. */
export const NATS_FLAGS: FlagSpec[] = [
  { name: 'nats-ca', type: 'string', metavar: 'FILE', help: 'CA bundle for NATS TLS.' },
  { name: 'nats-cert', type: 'string', metavar: 'FILE', help: 'Client certificate for NATS TLS.' },
  { name: 'nats-key', type: 'string', metavar: 'FILE', help: 'Client key for NATS TLS.' },
  { name: 'nats-user', type: 'string', help: 'NATS user.' },
  { name: 'nats-password', type: 'string', help: 'NATS password.' },
  {
    name: 'nats-password-file',
    type: 'string',
    metavar: 'FILE',
    help: 'File holding the NATS password (e.g. a Docker secret); excludes --nats-password.',
  },
  { name: 'nats-nkey-seed-file', type: 'string', metavar: 'FILE', help: 'NATS nkey user seed file.' },
  { name: 'nats-creds-file', type: 'string', metavar: 'FILE', help: 'NATS credentials (.creds) file.' },
];

/**
 * The NATS password from `--nats-password` or `--nats-password-file` (its content without the
 * trailing newline), or undefined. Both at once, an unreadable or an empty file are errors.
 */
export function natsPassword(
  values: FlagValues,
  readFile: (path: string) => string = (f) => readFileSync(f, 'utf8'),
): string | undefined {
  const direct = values['nats-password'];
  const file = values['nats-password-file'];
  const hasDirect = typeof direct === 'string' && direct !== '';
  if (typeof file !== 'string' || file === '') return hasDirect ? (direct as string) : undefined;
  if (hasDirect) throw new ConfigError('--nats-password and --nats-password-file: give one, not both');
  let text: string;
  try {
    text = readFile(file);
  } catch (err) {
    throw new ConfigError(`--nats-password-file: cannot read ${file}: ${(err as Error).message}`);
  }
  const pw = text.replace(/\r?\n$/, '');
  if (pw === '') throw new ConfigError(`--nats-password-file: ${file} is empty`);
  return pw;
}

/**
 * JetStream flags, the same on the agent and the collector (whichever starts first creates the
 * stream and the KV buckets, so both must ask for the same replication).
 */
export const JETSTREAM_FLAGS: FlagSpec[] = [
  {
    name: 'js-replicas',
    type: 'int',
    default: 1,
    metavar: 'N',
    help: 'Replicas of the VXDOCTOR stream and the KV buckets when this process creates them (1..5; the JetStream cluster size, e.g. 3). Existing ones are not changed.',
  },
];

/** The validated `--js-replicas` value (JetStream allows 1..5). */
export function jsReplicas(values: FlagValues): number {
  const n = values['js-replicas'] ?? 1;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 5)
    throw new ConfigError(`--js-replicas: ${String(n)} is outside 1..5`);
  return n;
}

/** Where the host's /proc is (the agent in a container reads it at /host/proc). */
export const PROC_ROOT_FLAG: FlagSpec = {
  name: 'proc-root',
  type: 'string',
  default: '/proc',
  metavar: 'DIR',
  help: "The host's /proc (namespace discovery, host sysctls); in a container mount it and point here, e.g. /host/proc.",
};

/** `--proc-root`: an absolute directory (existence is not checked: the inventory reports it). */
export function procRootOf(value: unknown): string {
  const dir = typeof value === 'string' && value !== '' ? value : '/proc';
  if (!dir.startsWith('/')) throw new ConfigError(`--proc-root: "${dir}" is not an absolute path`);
  return dir.length > 1 ? dir.replace(/\/+$/, '') : dir;
}

/** `--nats`: every entry a NATS URL (nats://, tls://, ws://, wss://) or HOST:PORT, else ConfigError. */
export function natsServerList(list: string[], flag = 'nats'): string[] {
  const servers = list
    .flatMap((s) => s.split(','))
    .map((s) => s.trim())
    .filter(Boolean);
  if (servers.length === 0) throw new ConfigError(`--${flag}: no server given`);
  for (const s of servers)
    if (!/^(nats|tls|wss?):\/\/[^\s/]+/.test(s) && !/^[^\s/:]+:\d+$/.test(s))
      throw new ConfigError(`--${flag}: not a NATS URL: "${s}"`);
  return servers;
}

/**
 * `--listen` (agent and collector): `HOST:PORT`, `[IPV6]:PORT`, or `:PORT` for every IPv4
 * address (0.0.0.0). An IPv6 address goes in brackets (`::1:80` is ambiguous); port 0..65535.
 */
export function parseListen(text: string, flag = 'listen'): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(text.trim());
  const port = Number(m?.[3]);
  if (!m || port > 65535) {
    const hint = /^[^[]*:.*:\d+$/.test(text) ? ' (an IPv6 address goes in brackets: [::1]:9700)' : '';
    throw new ConfigError(`--${flag}: want HOST:PORT, got "${text}"${hint}`);
  }
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port };
}

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
/** `--log-level`: one of LOG_LEVELS, else ConfigError. */
export function logLevel(v: unknown): string {
  const s = String(v);
  if (!(LOG_LEVELS as readonly string[]).includes(s))
    throw new ConfigError(`--log-level: "${s}" is not one of ${LOG_LEVELS.join(', ')}`);
  return s;
}

/**
 * Reads a secret file named by `--flag`: unreadable, not a regular file, empty, or readable by
 * group or others (chmod 600) => ConfigError naming the flag. Returns the bytes, surrounding
 * ASCII white space (a trailing newline from `echo`) dropped.
 */
export function readSecretFile(flag: string, path: string): Buffer {
  let st: ReturnType<typeof statSync>;
  let raw: Buffer;
  try {
    st = statSync(path);
    if (!st.isFile()) throw new ConfigError(`--${flag}: ${path} is not a regular file`);
    raw = readFileSync(path);
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError(`--${flag}: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? err}`);
  }
  if (st.mode & 0o077)
    throw new ConfigError(
      `--${flag}: ${path} is group- or world-readable (mode ${(st.mode & 0o777).toString(8)}; chmod 600 ${path})`,
    );
  const space = (b: number | undefined) => b === 0x20 || b === 0x09 || b === 0x0a || b === 0x0d;
  let a = 0;
  let z = raw.length;
  while (a < z && space(raw[a])) a++;
  while (z > a && space(raw[z - 1])) z--;
  if (z === a) throw new ConfigError(`--${flag}: ${path} is empty`);
  return raw.subarray(a, z);
}
