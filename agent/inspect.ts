/** `vxdoctor inspect`: one-shot local inventory + checks. Exit 0 healthy, 1 critical, 3 warnings only. */
import { hostname } from 'node:os';
import {
  type CommandSpec,
  ConfigError,
  PROC_ROOT_FLAG,
  type Parsed,
  parseLabels,
  procRootOf,
} from '../shared/config.js';
import { execRunner } from '../shared/exec.js';
import { silentLogger } from '../shared/logging.js';
import type { NodeSnapshot } from '../shared/schema.js';
import { runChecks } from './checks/index.js';
import { collectSnapshot, DEFAULT_NETNS_DIRS } from './inventory/index.js';
import { exitCodeFor, renderReport } from './report.js';

export const command: CommandSpec = {
  name: 'inspect',
  usage:
    'vxdoctor inspect [--json] [--netns-dir DIR]... [--no-proc-netns] [--proc-root DIR] [--underlay-if IF]',
  summary:
    'Inventories this node (namespaces, bridges, VTEPs, FDB, neighbors, MTUs, offloads, sysctls, firewall) and runs the checks. Exit 0 healthy, 1 critical finding, 3 warnings only.',
  flags: [
    { name: 'json', type: 'bool', help: 'Print {snapshot, findings, checkRuns} as JSON.' },
    { name: 'node', type: 'string', metavar: 'NAME', help: 'Node name (default: hostname).' },
    {
      name: 'netns-dir',
      type: 'list',
      metavar: 'DIR',
      default: [...DEFAULT_NETNS_DIRS],
      help: 'Directory of namespace files.',
    },
    {
      name: 'proc-netns',
      type: 'bool',
      default: true,
      help: 'Also find namespaces through <proc-root>/*/ns/net (--no-proc-netns to skip).',
    },
    PROC_ROOT_FLAG,
    { name: 'underlay-if', type: 'string', metavar: 'IF', help: 'Underlay interface (default: detected).' },
    { name: 'label', type: 'list', metavar: 'K=V', help: 'Node label, e.g. rack=A.' },
  ],
};

/** This node's snapshot as `inspect` takes it from its flags (also agent/inventory/dump.ts). */
export async function inspectSnapshot(p: Parsed): Promise<NodeSnapshot> {
  const v = p.values;
  const labels = parseLabels(v.label as string[] | undefined);
  const node = (v.node as string | undefined) ?? hostname();
  if (!node) throw new ConfigError('--node is empty');
  return collectSnapshot(
    {
      node,
      labels,
      netnsDirs: v['netns-dir'] as string[],
      procNetns: v['proc-netns'] as boolean,
      procRoot: procRootOf(v['proc-root']),
      ...(v['underlay-if'] ? { underlayIf: v['underlay-if'] as string } : {}),
    },
    { runner: execRunner, log: silentLogger() },
  );
}

export async function run(p: Parsed): Promise<number> {
  const v = p.values;
  const snapshot = await inspectSnapshot(p);
  const { findings, checkRuns } = runChecks(snapshot);
  process.stdout.write(
    v.json
      ? `${JSON.stringify({ snapshot, findings, checkRuns }, null, 2)}\n`
      : renderReport(snapshot, findings, checkRuns),
  );
  return exitCodeFor(findings);
}
