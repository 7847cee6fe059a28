/**
 * Shared e2e harness: a real nats-server (JetStream, tmp store dir, random port, stopped by PID),
 * the lab with its NATS relay, one real agent process per lab node (stderr/stdout logged into
 * test-output/), and helpers to read `vxdoctor.v1.>` with an ordered JetStream consumer.
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import {
  createWriteStream,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DeliverPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { parse as parseYaml } from 'yaml';
import type { TraceReply, VxdoctorMessage } from '../../shared/schema.js';
import { plainBody } from '../../shared/probes-wire.js';
import { parseSubject, STREAM_NAME, traceSubject } from '../../shared/subjects.js';
import { Lab } from '../lab/lab.js';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const OUTPUT = join(ROOT, 'test-output');

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/**
 * A test CA and a server certificate it signed for localhost and 127.0.0.1 (server and client
 * use), under DIR/tls: ca.key, ca.crt, tls.key, tls.crt — as the deploy files mount them.
 */
export function writeTestTls(dir: string, caName: string): void {
  mkdirSync(join(dir, 'tls'), { recursive: true });
  const openssl = (args: string[]) =>
    execFileSync('openssl', args, { cwd: dir, stdio: 'pipe', timeout: 30_000 });
  openssl(
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', `/CN=${caName}`].concat([
      '-keyout',
      'tls/ca.key',
      '-out',
      'tls/ca.crt',
    ]),
  );
  openssl(
    ['req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=vxdoctor-nats'].concat([
      '-keyout',
      'tls/tls.key',
      '-out',
      'tls/tls.csr',
    ]),
  );
  writeFileSync(
    join(dir, 'tls', 'ext.cnf'),
    'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n',
  );
  openssl(
    ['x509', '-req', '-in', 'tls/tls.csr', '-CA', 'tls/ca.crt', '-CAkey', 'tls/ca.key'].concat([
      '-CAcreateserial',
      '-days',
      '1',
      '-extfile',
      'tls/ext.cnf',
      '-out',
      'tls/tls.crt',
    ]),
  );
}

/** Alert name per root-cause kind, read from the shipped rules (one source of truth). */
export function alertsByKind(): Map<string, string> {
  const doc = parseYaml(readFileSync(join(ROOT, 'deploy/prometheus/vxdoctor-rules.yml'), 'utf8')) as {
    groups: Array<{ rules: Array<{ alert?: string; expr: string }> }>;
  };
  const out = new Map<string, string>();
  for (const g of doc.groups)
    for (const r of g.rules) {
      const m = /kind="([a-z-]+)"/.exec(r.expr);
      if (r.alert && m?.[1]) out.set(m[1], r.alert);
    }
  return out;
}

/** Polls `fn` until it returns a truthy value or the deadline passes (then throws with `what`). */
export async function waitFor<T>(
  what: string,
  fn: () => T | Promise<T>,
  timeoutMs: number,
  everyMs = 250,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > end)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${last}` : ''}`);
    await sleep(everyMs);
  }
}

function waitExit(p: ChildProcess, ms: number): Promise<boolean> {
  if (p.exitCode !== null || p.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), ms);
    p.once('exit', () => {
      clearTimeout(t);
      resolve(true);
    });
  });
}

/** A real nats-server with JetStream; restartable on the same port and store dir. */
export class NatsServer {
  proc: ChildProcess | null = null;
  readonly storeDir: string;
  private constructor(
    readonly port: number,
    private readonly logName: string,
  ) {
    this.storeDir = mkdtempSync(join(tmpdir(), 'vxd-nats-'));
  }
  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }
  static async start(logName = 'nats-server'): Promise<NatsServer> {
    const s = new NatsServer(await freePort(), logName);
    await s.restart();
    return s;
  }
  async restart(): Promise<void> {
    mkdirSync(OUTPUT, { recursive: true });
    const log = createWriteStream(join(OUTPUT, `${this.logName}.log`), { flags: 'a' });
    const p = spawn(
      'nats-server',
      ['-js', '-sd', this.storeDir, '-a', '127.0.0.1', '-p', String(this.port)],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    p.stdout?.pipe(log);
    p.stderr?.pipe(log);
    this.proc = p;
    await waitFor(
      'nats-server to accept connections',
      async () => {
        if (p.exitCode !== null) throw new Error(`nats-server exited ${p.exitCode}`);
        const nc = await connect({ servers: this.url, timeout: 500, reconnect: false });
        await nc.close();
        return true;
      },
      10_000,
      100,
    );
  }
  /** SIGTERM by PID; SIGKILL if it does not exit. */
  async stop(): Promise<void> {
    const p = this.proc;
    if (!p?.pid) return;
    this.proc = null;
    try {
      process.kill(p.pid, 'SIGTERM');
    } catch {
      return;
    }
    if (!(await waitExit(p, 5000))) {
      try {
        process.kill(p.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
      await waitExit(p, 2000);
    }
  }
  async destroy(): Promise<void> {
    await this.stop();
    rmSync(this.storeDir, { recursive: true, force: true });
  }
}

/** Compiles to dist/ (bin/vxdoctor.js runs the compiled CLI); others' type errors do not stop the emit. */
export function buildDist(): void {
  spawnSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: ROOT, stdio: 'ignore', timeout: 180_000 });
  if (!existsSync(join(ROOT, 'dist', 'agent', 'main.js')))
    throw new Error('build produced no dist/agent/main.js');
}

export interface AgentProc {
  node: string;
  proc: ChildProcess;
  pid: number;
  logFile: string;
}

export interface LabAgents {
  lab: Lab;
  nats: NatsServer;
  agents: AgentProc[];
  keyFile: string;
  stopAgents(): Promise<number[]>;
  restartAgent(node: string): Promise<AgentProc>;
  teardown(): Promise<void>;
}

/**
 * Lab `id` + nats-server + relay + one agent per node (inside `ID-<node>`).
 * `extraArgs` is appended to every agent's command line.
 */
export async function startLabAgents(opts: {
  id: string;
  name: string;
  extraArgs?: string[];
}): Promise<LabAgents> {
  buildDist();
  mkdirSync(OUTPUT, { recursive: true });
  const nats = await NatsServer.start(`${opts.name}-nats-server`);
  let lab: Lab | null = null;
  const keyDir = mkdtempSync(join(tmpdir(), 'vxd-key-'));
  const keyFile = join(keyDir, 'probe.key');
  writeFileSync(keyFile, `${'k'.repeat(16)}${Date.now().toString(16)}\n`, { mode: 0o600 });
  const agents: AgentProc[] = [];
  const stopAgents = async (): Promise<number[]> => {
    const codes: number[] = [];
    for (const a of agents.splice(0)) {
      try {
        process.kill(a.pid, 'SIGTERM');
      } catch {
        /* already gone */
      }
      if (!(await waitExit(a.proc, 10_000))) {
        try {
          process.kill(a.pid, 'SIGKILL');
        } catch {
          /* gone */
        }
        await waitExit(a.proc, 2000);
        codes.push(-1);
      } else codes.push(a.proc.exitCode ?? -1);
    }
    return codes;
  };
  const teardown = async () => {
    await stopAgents();
    await lab?.down().catch(() => undefined);
    await nats.destroy();
    rmSync(keyDir, { recursive: true, force: true });
  };
  const spawnAgent = (n: Lab['nodes'][number], flags: 'w' | 'a' = 'w'): AgentProc => {
    const logFile = join(OUTPUT, `${opts.name}-agent-${n.name}.log`);
    const log = createWriteStream(logFile, { flags });
    const argv = [
      'netns',
      'exec',
      n.netns,
      process.execPath,
      join(ROOT, 'bin', 'vxdoctor.js'),
      'agent',
      '--node',
      n.name,
      '--nats',
      'nats://127.0.0.1:4222',
      ...n.agentArgs,
      '--probe-key-file',
      keyFile,
      '--interval',
      '2s',
      '--inventory-interval',
      '10s',
      ...(opts.extraArgs ?? []),
    ];
    // `ip netns exec` execs node in place, so the child's PID is the agent's PID.
    const proc = spawn('ip', argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    proc.stdout?.pipe(log);
    proc.stderr?.pipe(log);
    if (!proc.pid) throw new Error(`agent ${n.name} did not start`);
    return { node: n.name, proc, pid: proc.pid, logFile };
  };
  try {
    lab = await Lab.up({ id: opts.id });
    await lab.relay(nats.port);
    for (const n of lab.nodes) agents.push(spawnAgent(n));
  } catch (err) {
    await teardown();
    throw err;
  }
  /** SIGTERM one node's agent and start it again (its log continues in the same file). */
  const restartAgent = async (node: string): Promise<AgentProc> => {
    const i = agents.findIndex((a) => a.node === node);
    const n = lab?.nodes.find((x) => x.name === node);
    if (i < 0 || !n) throw new Error(`no agent on ${node}`);
    const old = agents[i]!;
    process.kill(old.pid, 'SIGTERM');
    if (!(await waitExit(old.proc, 10_000))) process.kill(old.pid, 'SIGKILL');
    agents[i] = spawnAgent(n, 'a');
    return agents[i]!;
  };
  return { lab: lab as Lab, nats, agents, keyFile, stopAgents, restartAgent, teardown };
}

export interface Received {
  subject: string;
  seq: number;
  msgId: string | null;
  /** The body as read (a compact probes message expanded to its plain form). */
  msg: VxdoctorMessage;
  /** Its size on the wire (what an agent's outbox bound counts). */
  bytes: number;
}

/** Reads everything in the stream with an ordered consumer, from the start, into `out`. */
export class StreamReader {
  readonly out: Received[] = [];
  private stopped = false;
  private current: { stop(): void } | null = null;
  private constructor(private readonly nc: NatsConnection) {
    // After a server restart, start a fresh consumer after the last sequence seen rather than
    // waiting for the old one to notice missed heartbeats.
    void (async () => {
      for await (const s of nc.status()) if (s.type === 'reconnect') this.current?.stop();
    })();
  }

  static async open(url: string): Promise<StreamReader> {
    const nc = await connect({ servers: url, maxReconnectAttempts: -1, reconnectTimeWait: 500 });
    const r = new StreamReader(nc);
    void r.run();
    return r;
  }

  private async run(): Promise<void> {
    const dec = new TextDecoder();
    while (!this.stopped) {
      try {
        await waitFor(
          'stream VXDOCTOR',
          async () => (await jetstreamManager(this.nc)).streams.info(STREAM_NAME),
          60_000,
        );
        const js = jetstream(this.nc);
        // Ordered consumer, resuming after the last sequence seen (survives a server restart).
        const last = this.out.at(-1)?.seq ?? 0;
        const c = await js.consumers.get(
          STREAM_NAME,
          last ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: last + 1 } : {},
        );
        const it = await c.consume();
        this.current = it;
        for await (const m of it) {
          if (this.stopped) break;
          // Only `vxdoctor.v1.<node>.<kind>` subjects are messages.
          if (!parseSubject(m.subject)) continue;
          this.out.push({
            subject: m.subject,
            seq: m.seq,
            msgId: m.headers?.get('Nats-Msg-Id') ?? null,
            msg: plainBody(JSON.parse(dec.decode(m.data)) as VxdoctorMessage),
            bytes: m.data.length,
          });
        }
      } catch {
        if (!this.stopped) await sleep(500);
      }
    }
  }

  of<T extends VxdoctorMessage['type']>(
    type: T,
    node?: string,
  ): Array<Extract<VxdoctorMessage, { type: T }>> {
    return this.out
      .map((r) => r.msg)
      .filter(
        (m): m is Extract<VxdoctorMessage, { type: T }> => m.type === type && (!node || m.node === node),
      );
  }

  get nats(): NatsConnection {
    return this.nc;
  }

  async close(): Promise<void> {
    this.stopped = true;
    await this.nc.close().catch(() => undefined);
  }
}

/** RSS (bytes) and CPU seconds (user+system) of a process, from /proc. */
export function procUsage(pid: number): { rssBytes: number; cpuSeconds: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN);
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is state (field 3): utime = field 14, stime = field 15.
  const ticks = Number(fields[11]) + Number(fields[12]);
  const hz = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;
  return { rssBytes: rssKb * 1024, cpuSeconds: ticks / hz };
}

/**
 * Sends a trace request like the collector does. The stream captures `vxdoctor.v1.>`, so
 * JetStream also answers the request (a pub ack); the agent's TraceReply is the one with `src`.
 */
export async function traceRequest(
  nc: NatsConnection,
  src: string,
  dst: string,
  timeoutMs = 15_000,
): Promise<TraceReply> {
  const it = await nc.requestMany(traceSubject(src), JSON.stringify({ src, dst }), {
    strategy: 'timer',
    maxWait: timeoutMs,
  });
  for await (const m of it) {
    try {
      const r = m.json<TraceReply>();
      if (r && typeof r === 'object' && r.src === src && Array.isArray(r.results)) return r;
    } catch {
      /* not JSON */
    }
  }
  throw new Error(`no trace reply from ${src} within ${timeoutMs} ms`);
}
