/**
 * The command-runner port. Every external command goes through a `CommandRunner`: argument
 * arrays only (never a shell string), a timeout, an output cap, and the whole process group
 * killed on timeout. Unit tests pass a fake runner; production uses `execRunner`.
 */
import { spawn } from 'node:child_process';

export interface RunOptions {
  /** Kill the process group after this long (default 5 s). */
  timeoutMs?: number;
  /** Cap on stdout+stderr bytes kept (default 32 MiB); beyond it the process is killed. */
  maxBytes?: number;
  /** Written to stdin, then stdin is closed. */
  input?: string;
  env?: Record<string, string>;
}

export interface RunResult {
  /** Exit code, or null when killed or not started. */
  code: number | null;
  stdout: string;
  stderr: string;
  /** Why it did not run to completion: `not-found` (ENOENT), `timeout`, `output-cap`, `spawn: ...`. */
  failure: string | null;
  durationMs: number;
}

export type CommandRunner = (cmd: string, args: string[], opts?: RunOptions) => Promise<RunResult>;

export const execRunner: CommandRunner = (cmd, args, opts = {}) => {
  const timeoutMs = opts.timeoutMs ?? 5000;
  const maxBytes = opts.maxBytes ?? 32 * 1024 * 1024;
  const started = performance.now();
  return new Promise((resolve) => {
    let child: ReturnType<typeof spawn>;
    try {
      child = spawn(cmd, args, {
        detached: true, // own process group, so a timeout kills grandchildren too
        stdio: ['pipe', 'pipe', 'pipe'],
        env: opts.env ? { ...process.env, ...opts.env } : process.env,
      });
    } catch (err) {
      resolve({
        code: null,
        stdout: '',
        stderr: '',
        failure: `spawn: ${(err as Error).message}`,
        durationMs: 0,
      });
      return;
    }
    const out: Buffer[] = [];
    const errb: Buffer[] = [];
    let bytes = 0;
    let failure: string | null = null;
    const kill = (why: string) => {
      failure ??= why;
      try {
        if (child.pid) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    };
    const timer = setTimeout(() => kill('timeout'), timeoutMs);
    const onData = (sink: Buffer[]) => (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes > maxBytes) kill('output-cap');
      else sink.push(chunk);
    };
    child.stdout?.on('data', onData(out));
    child.stderr?.on('data', onData(errb));
    child.stdin?.on('error', () => {}); // EPIPE when the command exits before reading
    child.on('error', (err: NodeJS.ErrnoException) => {
      failure ??= err.code === 'ENOENT' ? 'not-found' : `spawn: ${err.message}`;
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({
        code: failure ? null : code,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(errb).toString('utf8'),
        failure,
        durationMs: performance.now() - started,
      });
    });
    if (opts.input !== undefined) child.stdin?.end(opts.input);
    else child.stdin?.end();
  });
};

/** One-line description of a failed run for `unknown` reasons. */
export function describeFailure(cmd: string, r: RunResult): string {
  if (r.failure === 'not-found') return `${cmd} not installed`;
  if (r.failure) return `${cmd}: ${r.failure}`;
  const msg = r.stderr.trim().split('\n')[0] ?? '';
  if (/Operation not permitted|Permission denied/i.test(msg)) return `${cmd}: permission denied (not root?)`;
  return `${cmd} exited ${r.code}${msg ? `: ${msg}` : ''}`;
}
