/**
 * TypeScript handle on the lab (test/lab/README.md): `Lab.up()` builds an instance with `lab.sh`, and
 * removes it again on `down()` or, if a test forgets or crashes, on process exit / SIGINT / SIGTERM.
 */
import { spawnSync } from 'node:child_process';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type CommandRunner, execRunner, type RunOptions, type RunResult } from '../../shared/exec.js';

export const LAB_SH = fileURLToPath(new URL('./lab.sh', import.meta.url));

export interface LabNode {
  name: string;
  rack: 'A' | 'B';
  /** Node namespace, `ID-<name>`. */
  netns: string;
  underlayIf: 'eth0';
  underlay: string;
  /** The agent's `--netns-dir` directories (bind mounts of the node's overlay/container/pod namespaces). */
  netnsDirs: string[];
  /** Arguments for the agent of this node (without --node / --nats). */
  agentArgs: string[];
  /** Docker overlay address of the node's container (namespace `ID-<name>-c1`). */
  containerIp: string;
  /** Flannel pod address (namespace `ID-<name>-p1`). */
  podIp: string;
}

export interface FaultSpec {
  name: string;
  incident: number | null;
  description: string;
  scope: { nodes: string[] } | { segment: { label: 'rack'; from: 'A'; to: 'B' } };
}

const RACKS = { label: 'rack', from: 'A', to: 'B' } as const;

/** Every fault `lab.sh fault NAME` knows, in test/lab/README.md order. `incident` is the row in docs/incidents.md. */
export const FAULTS: FaultSpec[] = [
  {
    name: 'tor-drop-vxlan',
    incident: 1,
    description: 'the spine drops UDP 4789 and 8472 between racks A and B; plain underlay traffic passes',
    scope: { segment: RACKS },
  },
  {
    name: 'host-fw-vxlan',
    incident: null,
    description: "n3's own nftables input chain drops UDP 4789 (Docker overlay to/from n3 fails)",
    scope: { nodes: ['n3'] },
  },
  {
    name: 'mtu-blackhole',
    incident: 6,
    description: "n4's switch port has MTU 1454: frames over 1454 bytes to/from n4 are dropped silently",
    scope: { nodes: ['n4'] },
  },
  {
    name: 'mtu-fragneeded',
    incident: 6,
    description:
      'n4 eth0 MTU 1454 and the spine route to n4 has mtu 1454: cross-rack DF senders get ICMP frag-needed (mtu 1454)',
    scope: { nodes: ['n4'] },
  },
  {
    name: 'fdb-nat',
    incident: 7,
    description: "on n1 the flannel FDB entry for n3's VTEP MAC points at the NAT address 10.0.2.15",
    scope: { nodes: ['n1'] },
  },
  {
    name: 'dup-vtep',
    incident: 7,
    description:
      'every node has 10.0.2.15 on nat0; flannel.1 uses local 10.0.2.15 and every FDB entry points at 10.0.2.15',
    scope: { nodes: ['n1', 'n2', 'n3', 'n4'] },
  },
  {
    name: 'missing-gwbridge',
    incident: 4,
    description: 'docker_gwbridge is missing on n2',
    scope: { nodes: ['n2'] },
  },
  {
    name: 'vni-mismatch',
    incident: null,
    description: "n4's Docker VTEP vxlan0 uses VNI 257 instead of 256",
    scope: { nodes: ['n4'] },
  },
  {
    name: 'dstport-mismatch',
    incident: null,
    description: "n4's Docker VTEP vxlan0 uses dstport 4790 instead of 4789",
    scope: { nodes: ['n4'] },
  },
  {
    name: 'neighbor-missing',
    incident: null,
    description:
      "on n1 the vxlan0 neighbor entry for n3's container (10.0.1.13) is missing (its FDB entry stays)",
    scope: { nodes: ['n1'] },
  },
  {
    name: 'control-ports-blocked',
    incident: 2,
    description: 'the spine drops TCP 2377 and TCP+UDP 7946 between racks A and B',
    scope: { segment: RACKS },
  },
  {
    name: 'vtep-down',
    incident: null,
    description: "n2's Docker VTEP vxlan0 is down",
    scope: { nodes: ['n2'] },
  },
  {
    name: 'subnet-overlap',
    incident: 3,
    description: 'n1 has a route 10.0.0.0/16 via 10.200.1.254 that overlaps the overlay subnet 10.0.1.0/24',
    scope: { nodes: ['n1'] },
  },
  {
    name: 'node-isolated',
    incident: null,
    description: "n4's switch port is down: every path to n4 fails (its NATS relay still works)",
    scope: { nodes: ['n4'] },
  },
  {
    name: 'tor-gray-loss',
    incident: null,
    description:
      "rack A's ToR (bridge nft numgen) drops one VXLAN packet in three (UDP 4789/8472, any size, both directions) between racks A and B; same-rack pairs are clean",
    scope: { segment: RACKS },
  },
  {
    name: 'tor-drop-4789',
    incident: 1,
    description:
      'the spine drops UDP 4789 (Docker/Swarm overlay) between racks A and B while flannel on UDP 8472 passes',
    scope: { segment: RACKS },
  },
];

const NODE_NAMES = ['n1', 'n2', 'n3', 'n4'] as const;

/** The four lab nodes of instance `id` (pure: no lab needed). */
export function labNodes(id: string): LabNode[] {
  return NODE_NAMES.map((name, i) => {
    const x = i + 1;
    const rack = x <= 2 ? 'A' : 'B';
    const netnsDirs = [`/run/${id}/${name}/netns`, `/run/${id}/${name}/docker-netns`];
    return {
      name,
      rack,
      netns: `${id}-${name}`,
      underlayIf: 'eth0',
      underlay: `10.200.${rack === 'A' ? 1 : 2}.1${x}`,
      netnsDirs,
      agentArgs: [
        ...netnsDirs.flatMap((d) => ['--netns-dir', d]),
        '--no-proc-netns',
        '--underlay-if',
        'eth0',
        '--label',
        `rack=${rack}`,
      ],
      containerIp: `10.0.1.1${x}`,
      podIp: `10.244.${x}.2`,
    };
  });
}

/**
 * The lab id a test asks for, with `$VXLAB_TAG` (one lowercase letter) appended to a 3-letter
 * id, so that several checkouts on one machine can run the same tests at once without sharing
 * namespaces ('vxd' -> 'vxda').
 */
export function labId(base: string): string {
  const tag = process.env.VXLAB_TAG ?? '';
  if (tag === '' || base.length !== 3) return base;
  if (!/^[a-z]$/.test(tag)) throw new Error(`VXLAB_TAG must be one lowercase letter, got '${tag}'`);
  return base + tag;
}

function checkId(id: string): string {
  if (!/^[a-z]{3,4}$/.test(id)) throw new Error(`lab id must be 3-4 lowercase letters, got '${id}'`);
  return id;
}

function failed(what: string, r: RunResult): Error {
  return new Error(
    `lab ${what} failed (${r.failure ?? `exit ${r.code}`}): ${r.stderr.trim() || r.stdout.trim()}`,
  );
}

export class Lab {
  readonly id: string;
  readonly nodes: LabNode[];
  private readonly run: CommandRunner;
  private readonly onExit: () => void;
  private readonly onSignal: (sig: NodeJS.Signals) => void;
  private isDown = false;

  private constructor(id: string, run: CommandRunner) {
    this.id = id;
    this.nodes = labNodes(id);
    this.run = run;
    // Synchronous: an 'exit' handler cannot wait for a promise.
    this.onExit = () => {
      if (!this.isDown)
        spawnSync('bash', [LAB_SH, '--id', this.id, 'down'], { stdio: 'ignore', timeout: 30_000 });
    };
    this.onSignal = (sig) => {
      this.onExit();
      process.exit(sig === 'SIGINT' ? 130 : 143);
    };
  }

  /** Builds (after removing any previous instance with the same id) the lab `opts.id ?? VXLAB_ID ?? 'vxl'`. */
  static async up(opts: { id?: string; runner?: CommandRunner } = {}): Promise<Lab> {
    const lab = new Lab(checkId(labId(opts.id ?? process.env.VXLAB_ID ?? 'vxl')), opts.runner ?? execRunner);
    process.on('exit', lab.onExit);
    process.on('SIGINT', lab.onSignal);
    process.on('SIGTERM', lab.onSignal);
    try {
      await lab.sh('up', [], 60_000);
    } catch (err) {
      await lab.down();
      throw err;
    }
    return lab;
  }

  /** The node `name` (n1..n4); throws for an unknown name. */
  node(name: string): LabNode {
    const n = this.nodes.find((x) => x.name === name);
    if (!n) throw new Error(`no lab node '${name}'`);
    return n;
  }

  /** Full namespace name of a lab namespace suffix: `ns('n1-c1')` -> `ID-n1-c1`. */
  ns(suffix: string): string {
    return `${this.id}-${suffix}`;
  }

  async fault(name: string): Promise<void> {
    if (!FAULTS.some((f) => f.name === name)) throw new Error(`unknown lab fault '${name}'`);
    await this.sh('fault', [name], 20_000);
  }

  /** Undoes every active fault and flushes route caches (learned PMTUs) and neighbor caches. */
  async clear(): Promise<void> {
    await this.sh('clear', [], 20_000);
  }

  /** Agents in every node reach the nats-server on 127.0.0.1:`natsPort` (root ns) at nats://127.0.0.1:4222. */
  async relay(natsPort: number): Promise<void> {
    await this.sh('relay', [String(natsPort)], 30_000);
  }

  /** Runs `argv` inside namespace `ID-<node>` (node may also be e.g. `n1-c1`, `spine`, `torB`). */
  exec(node: string, argv: string[], opts?: RunOptions): Promise<RunResult> {
    return this.run('ip', ['netns', 'exec', this.ns(node), ...argv], opts);
  }

  /** Idempotent. Removes namespaces ID-*, bind mounts under /run/ID, relay processes, /run/ID. */
  async down(): Promise<void> {
    const r = await this.run('bash', [LAB_SH, '--id', this.id, 'down'], { timeoutMs: 30_000 });
    this.isDown = true;
    process.off('exit', this.onExit);
    process.off('SIGINT', this.onSignal);
    process.off('SIGTERM', this.onSignal);
    if (r.code !== 0) throw failed('down', r);
  }

  private async sh(cmd: string, args: string[], timeoutMs: number): Promise<void> {
    const r = await this.run('bash', [LAB_SH, '--id', this.id, cmd, ...args], { timeoutMs });
    if (r.code !== 0) throw failed(`${cmd} ${args.join(' ')}`.trim(), r);
  }
}

/**
 * The root rule (README, Development): true when root. Not root: skips the test with a clear message, unless
 * CI=true, where lab tests must run, so it throws.
 */
export function requireRoot(t: TestContext): boolean {
  if (labAllowed()) return true;
  t.skip('needs root (network namespaces): run as root, e.g. sudo npm test');
  return false;
}

/** The same rule without a test context (suite hooks): true when root, throws under CI=true. */
export function labAllowed(): boolean {
  if (process.getuid?.() === 0) return true;
  if (process.env.CI === 'true')
    throw new Error('lab tests need root (network namespaces) and CI=true: run as root');
  return false;
}
