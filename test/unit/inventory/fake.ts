/**
 * A fake CommandRunner replaying real command output captured from the fixture topology
 * (test/fixtures/inventory/topology.sh + capture.sh), and a fake /proc + netns dirs on disk.
 */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import type { CommandRunner, RunOptions, RunResult } from '../../../shared/exec.js';

export const fx = (f: string) =>
  readFileSync(new URL(`../../fixtures/inventory/lab-node/${f}`, import.meta.url), 'utf8');

/** Namespace file basename -> fixture prefix, as the lab node's agent sees them. */
export const NS_FIXTURES: Record<string, string> = {
  '1-abcdef0123': 'overlay',
  '0123456789ab': 'container',
  ingress_sbox: 'ingress',
  'cni-0f1e2d3c': 'pod',
};

export interface FakeWorld {
  root: string;
  procRoot: string;
  netnsDirs: string[];
  ipNetnsDir: string;
}

/** Temp dirs: `<root>/proc/self/{status,ns/net}`, netns files, an empty `ip -n` dir. */
export function makeWorld(status = fx('root-status.txt')): FakeWorld {
  const root = mkdtempSync(join(tmpdir(), 'vxi-inv-'));
  const procRoot = join(root, 'proc');
  mkdirSync(join(procRoot, 'self/ns'), { recursive: true });
  mkdirSync(join(procRoot, 'sys/net/ipv4/conf/eth0'), { recursive: true });
  mkdirSync(join(procRoot, 'sys/net/bridge'), { recursive: true });
  writeFileSync(join(procRoot, 'self/status'), status);
  writeFileSync(join(procRoot, 'self/ns/net'), '');
  writeFileSync(join(procRoot, 'sys/net/ipv4/ip_forward'), '1\n');
  writeFileSync(join(procRoot, 'sys/net/ipv4/conf/eth0/rp_filter'), '2\n');
  writeFileSync(join(procRoot, 'sys/net/bridge/bridge-nf-call-iptables'), '1\n');
  const dockerDir = join(root, 'docker-netns');
  const cniDir = join(root, 'netns');
  mkdirSync(dockerDir);
  mkdirSync(cniDir);
  for (const n of ['1-abcdef0123', '0123456789ab', 'ingress_sbox']) writeFileSync(join(dockerDir, n), '');
  writeFileSync(join(cniDir, 'cni-0f1e2d3c'), '');
  const ipNetnsDir = join(root, 'ipnetns');
  mkdirSync(ipNetnsDir);
  return { root, procRoot, netnsDirs: [cniDir, dockerDir], ipNetnsDir };
}

const ok = (stdout: string, stderr = ''): RunResult => ({
  code: 0,
  stdout,
  stderr,
  failure: null,
  durationMs: 1,
});
export const fail = (stderr: string, code = 1): RunResult => ({
  code,
  stdout: '',
  stderr,
  failure: null,
  durationMs: 1,
});
export const notFound: RunResult = {
  code: null,
  stdout: '',
  stderr: '',
  failure: 'not-found',
  durationMs: 0,
};

export interface Call {
  cmd: string;
  args: string[];
  opts?: RunOptions;
}

/**
 * Replays the fixtures. `override(call)` may return a result (or undefined to fall through),
 * e.g. to simulate a missing tool or a namespace deleted mid-read.
 */
export function fakeRunner(override?: (c: Call) => RunResult | Promise<RunResult> | undefined): {
  runner: CommandRunner;
  calls: Call[];
} {
  const calls: Call[] = [];
  const runner: CommandRunner = async (cmd, args, opts) => {
    const call = { cmd, args, opts };
    calls.push(call);
    const o = await override?.(call);
    if (o) return o;
    let ns = 'host';
    let rest = args;
    let tool = cmd;
    if (cmd === 'nsenter') {
      ns = NS_FIXTURES[basename((args[0] ?? '').replace('--net=', ''))] ?? 'missing';
      tool = args[1] ?? '';
      rest = args.slice(2);
    }
    if (ns === 'missing') return fail(`nsenter: cannot open ${args[0]}: No such file or directory`);
    if (tool === 'ip' && rest.includes('-b')) return ok(fx(`${ns}.batch`));
    if (tool === 'bridge') return ns === 'host' || ns === 'overlay' ? ok(fx(`${ns}.fdb.json`)) : ok('[]\n');
    if (tool === 'sysctl') return ok(fx('sysctl.txt'));
    if (tool === 'ethtool') return ok(fx(rest[0] === '-i' ? 'ethtool-i.eth0.txt' : 'ethtool-k.eth0.txt'));
    if (tool === 'nft') return ok(fx('nft-ruleset.json'));
    if (tool === 'iptables') return ok(fx('iptables-V.txt'));
    if (tool === 'iptables-save') return ok(fx('iptables-save-nft.txt'));
    if (tool === 'iptables-legacy-save') return ok(fx('iptables-legacy-save.txt'));
    return fail(`unexpected command ${cmd} ${args.join(' ')}`, 127);
  };
  return { runner, calls };
}
