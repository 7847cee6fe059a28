/**
 * TypeScript handle on the routed lab fabric (fabric.sh): `Fabric.up()` builds it, `down()`
 * removes it, also on process exit / SIGINT / SIGTERM if a test forgets or crashes.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { HopWalk } from '../../agent/heartbeat/hops.js';
import { type CommandRunner, execRunner, type RunResult } from '../../shared/exec.js';
import { labId } from './lab.js';

export const FABRIC_SH = fileURLToPath(new URL('./fabric.sh', import.meta.url));
const WALK_TS = fileURLToPath(new URL('./fabric-walk.ts', import.meta.url));

export const FABRIC_FAULTS = ['spine-drop-vxlan', 'tor-uplink-vxlan', 'spine-mtu'] as const;
export type FabricFault = (typeof FABRIC_FAULTS)[number];

export interface FabricHost {
  /** Node name `h<rack><i>`, namespace `ID-h<rack><i>`. */
  name: string;
  rack: number;
  netns: string;
  underlay: string;
  overlay: string;
}

/** Addresses of the routers (fabric.sh's plan): ToR k and spine s. */
export const torHostSide = (k: number) => `10.64.${k}.1`;
export const torUplink = (k: number, s: number) => `10.66.${k}.${4 * s + 1}`;
export const spineDown = (k: number, s: number) => `10.66.${k}.${4 * s + 2}`;

export class Fabric {
  readonly hosts: FabricHost[];
  private readonly onExit = () => {
    if (!this.isDown)
      spawnSync('bash', [FABRIC_SH, '--id', this.id, 'down'], { stdio: 'ignore', timeout: 30_000 });
  };
  private readonly onSignal = (sig: NodeJS.Signals) => {
    this.onExit();
    process.exit(sig === 'SIGINT' ? 130 : 143);
  };
  private isDown = false;

  private constructor(
    readonly id: string,
    readonly racks: number,
    readonly perRack: number,
    readonly l2: boolean,
    private readonly run: CommandRunner,
  ) {
    this.hosts = [];
    for (let k = 1; k <= racks; k++)
      for (let i = 1; i <= perRack; i++)
        this.hosts.push({
          name: `h${k}${i}`,
          rack: k,
          netns: `${id}-h${k}${i}`,
          underlay: `10.64.${k}.${10 + i}`,
          overlay: `10.77.${k}.${i}`,
        });
  }

  /** Builds fabric `labId(base)` ('fab' + VXLAB_TAG) with `racks` racks of `perRack` hosts. */
  static async up(
    o: { base?: string; racks?: number; perRack?: number; l2?: boolean; runner?: CommandRunner } = {},
  ): Promise<Fabric> {
    const f = new Fabric(
      labId(o.base ?? 'fab'),
      o.racks ?? 3,
      o.perRack ?? 1,
      o.l2 ?? false,
      o.runner ?? execRunner,
    );
    process.on('exit', f.onExit);
    process.on('SIGINT', f.onSignal);
    process.on('SIGTERM', f.onSignal);
    try {
      await f.sh(['up', String(f.racks), String(f.perRack), ...(f.l2 ? ['--l2'] : [])], 60_000);
    } catch (err) {
      await f.down();
      throw err;
    }
    return f;
  }

  host(name: string): FabricHost {
    const h = this.hosts.find((x) => x.name === name);
    if (!h) throw new Error(`no fabric host '${name}'`);
    return h;
  }

  fault(name: FabricFault): Promise<void> {
    return this.sh(['fault', name], 20_000);
  }

  clear(): Promise<void> {
    return this.sh(['clear'], 20_000);
  }

  /** Walks from `src` to `dst` with the agent's HopWalker, once per (sport, port): see fabric-walk.ts. */
  async walk(
    src: FabricHost,
    dst: FabricHost,
    o: { size: number; ports: number[]; sports: number[] },
  ): Promise<Array<{ sport: number; port: number; walk: HopWalk }>> {
    const r = await this.run(
      'ip',
      [
        'netns',
        'exec',
        src.netns,
        process.execPath,
        '--import',
        'tsx',
        WALK_TS,
        src.underlay,
        dst.underlay,
        String(o.size),
        o.ports.join(','),
        o.sports.join(','),
      ],
      { timeoutMs: 120_000 },
    );
    if (r.code !== 0) throw failed('walk', r);
    return r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { sport: number; port: number; walk: HopWalk });
  }

  /** Agents in the hosts reach the nats-server on 127.0.0.1:`natsPort` at nats://127.0.0.1:4222. */
  relay(natsPort: number): Promise<void> {
    return this.sh(['relay', String(natsPort)], 30_000);
  }

  /** Runs `argv` inside host `name`'s namespace. */
  exec(name: string, argv: string[]): Promise<RunResult> {
    return this.run('ip', ['netns', 'exec', this.host(name).netns, ...argv], { timeoutMs: 10_000 });
  }

  async down(): Promise<void> {
    const r = await this.run('bash', [FABRIC_SH, '--id', this.id, 'down'], { timeoutMs: 30_000 });
    this.isDown = true;
    process.off('exit', this.onExit);
    process.off('SIGINT', this.onSignal);
    process.off('SIGTERM', this.onSignal);
    if (r.code !== 0) throw failed('down', r);
  }

  private async sh(args: string[], timeoutMs: number): Promise<void> {
    const r = await this.run('bash', [FABRIC_SH, '--id', this.id, ...args], { timeoutMs });
    if (r.code !== 0) throw failed(args.join(' '), r);
  }
}

function failed(what: string, r: RunResult): Error {
  return new Error(
    `fabric ${what} failed (${r.failure ?? `exit ${r.code}`}): ${r.stderr.trim() || r.stdout.trim()}`,
  );
}
