/**
 * TypeScript handle on the Swarm lab (`swarm.sh`): a real Docker Swarm of four nodes in two
 * racks, each node its own namespaces and dockerd. `SwarmLab.up()` builds it and removes it again
 * on `down()` or, if a test forgets or crashes, on process exit / SIGINT / SIGTERM.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { type CommandRunner, execRunner, type RunOptions, type RunResult } from '../../shared/exec.js';

export const SWARM_SH = fileURLToPath(new URL('./swarm.sh', import.meta.url));

export interface SwarmNode {
  name: string;
  rack: string;
  role: 'manager' | 'worker';
  underlay: string;
  /** Node network namespace, `ID-<name>`. */
  netns: string;
}

export const SWARM_FAULTS = [
  'tor-drop-vxlan',
  'control-ports-blocked',
  'missing-gwbridge',
  'host-fw-vxlan',
  'mtu-blackhole',
  'mtu-fragneeded',
  'dockerd-stopped',
] as const;
export type SwarmFault = (typeof SWARM_FAULTS)[number];

function failed(what: string, r: RunResult): Error {
  return new Error(
    `swarm lab ${what} failed (${r.failure ?? `exit ${r.code}`}): ${r.stderr.trim() || r.stdout.trim()}`,
  );
}

export class SwarmLab {
  nodes: SwarmNode[] = [];
  /** Seconds `up` took. */
  upSeconds = 0;
  private isDown = false;
  private readonly onExit: () => void;
  private readonly onSignal: (sig: NodeJS.Signals) => void;

  private constructor(
    readonly id: string,
    private readonly run: CommandRunner,
  ) {
    this.onExit = () => {
      if (!this.isDown)
        spawnSync('bash', [SWARM_SH, '--id', this.id, 'down'], { stdio: 'ignore', timeout: 60_000 });
    };
    this.onSignal = (sig) => {
      this.onExit();
      process.exit(sig === 'SIGINT' ? 130 : 143);
    };
  }

  static async up(opts: { id: string; runner?: CommandRunner }): Promise<SwarmLab> {
    if (!/^[a-z]{3,4}$/.test(opts.id))
      throw new Error(`lab id must be 3-4 lowercase letters, got '${opts.id}'`);
    const lab = new SwarmLab(opts.id, opts.runner ?? execRunner);
    process.on('exit', lab.onExit);
    process.on('SIGINT', lab.onSignal);
    process.on('SIGTERM', lab.onSignal);
    const t0 = Date.now();
    try {
      await lab.sh('up', [], 240_000);
      lab.nodes = await lab.listNodes();
    } catch (err) {
      await lab.down().catch(() => undefined);
      throw err;
    }
    lab.upSeconds = (Date.now() - t0) / 1000;
    return lab;
  }

  private async listNodes(): Promise<SwarmNode[]> {
    const r = await this.run('bash', [SWARM_SH, '--id', this.id, 'nodes'], { timeoutMs: 10_000 });
    if (r.code !== 0) throw failed('nodes', r);
    return r.stdout
      .trim()
      .split('\n')
      .map((l) => {
        const [name = '', rack = '', role = '', underlay = ''] = l.split(' ');
        return { name, rack, role: role as SwarmNode['role'], underlay, netns: `${this.id}-${name}` };
      });
  }

  node(name: string): SwarmNode {
    const n = this.nodes.find((x) => x.name === name);
    if (!n) throw new Error(`no swarm lab node '${name}'`);
    return n;
  }

  /** The node a fault is injected on (swarm.sh's default target), or null for a rack fault. */
  faultNode(fault: SwarmFault): string | null {
    switch (fault) {
      case 'missing-gwbridge':
        return this.nodes.find((n) => n.role === 'worker')?.name ?? null;
      case 'host-fw-vxlan':
        return this.nodes[1]?.name ?? null;
      case 'mtu-blackhole':
      case 'mtu-fragneeded':
        return this.nodes[2]?.name ?? null;
      case 'dockerd-stopped':
        return this.nodes[3]?.name ?? null;
      default:
        return null;
    }
  }

  async fault(name: SwarmFault): Promise<void> {
    await this.sh('fault', [name], 60_000);
  }

  async clear(): Promise<void> {
    await this.sh('clear', [], 90_000);
  }

  /** Agents in every node reach 127.0.0.1:`natsPort` (root ns) at 127.0.0.1:`nodePort`. */
  async relay(natsPort: number, nodePort: number): Promise<void> {
    await this.sh('relay', [String(natsPort), String(nodePort)], 30_000);
  }

  /** Loads the image tarball on every node, creates the docs' secrets, `docker stack deploy`. */
  async stack(imageTar: string): Promise<void> {
    await this.sh('stack', [imageTar], 300_000);
  }

  /** `docker stack rm vxdoctor`, until its containers are gone on every node. */
  async stackRm(): Promise<void> {
    await this.sh('stack-rm', [], 120_000);
  }

  /** `docker ARGS` against node `name`'s own daemon. */
  docker(name: string, args: string[], opts?: RunOptions): Promise<RunResult> {
    return this.run('bash', [SWARM_SH, '--id', this.id, 'docker', name, ...args], {
      timeoutMs: 60_000,
      ...opts,
    });
  }

  /** PID of node `name`'s dockerd, or null when it is not running. */
  async dockerdPid(name: string): Promise<number | null> {
    const r = await this.run('bash', [SWARM_SH, '--id', this.id, 'pid', name], { timeoutMs: 10_000 });
    const pid = Number(r.stdout.trim());
    return r.code === 0 && pid > 0 ? pid : null;
  }

  /**
   * argv that runs a command inside node `name` as a process on that host would: its network,
   * mount (own /var/run/docker) and UTS (hostname) namespaces, which outlive dockerd restarts.
   */
  async nodeExec(name: string, argv: string[]): Promise<string[]> {
    const r = await this.run('bash', [SWARM_SH, '--id', this.id, 'holder', name], { timeoutMs: 10_000 });
    const pid = Number(r.stdout.trim());
    if (r.code !== 0 || !(pid > 0)) throw new Error(`swarm lab node ${name} has no namespaces`);
    return ['nsenter', '-t', String(pid), '-n', '-m', '-u', '--', ...argv];
  }

  /** Idempotent: every daemon, container, mount, cgroup and namespace of this lab goes. */
  async down(): Promise<void> {
    const r = await this.run('bash', [SWARM_SH, '--id', this.id, 'down'], { timeoutMs: 120_000 });
    this.isDown = true;
    process.off('exit', this.onExit);
    process.off('SIGINT', this.onSignal);
    process.off('SIGTERM', this.onSignal);
    if (r.code !== 0) throw failed('down', r);
  }

  private async sh(cmd: string, args: string[], timeoutMs: number): Promise<void> {
    const r = await this.run('bash', [SWARM_SH, '--id', this.id, cmd, ...args], { timeoutMs });
    if (r.code !== 0) throw failed(`${cmd} ${args.join(' ')}`.trim(), r);
  }
}
