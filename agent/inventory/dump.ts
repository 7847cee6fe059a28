/**
 * Debug/test entry point: prints one NodeSnapshot as JSON.
 * `node --import tsx agent/inventory/dump.ts [--node N] [--netns-dir D]... [--underlay-if IF] [--no-proc-netns]`
 * (run it under `ip netns exec NS` to inventory a lab node as its agent would).
 */
import { execRunner } from '../../shared/exec.js';
import { silentLogger } from '../../shared/logging.js';
import { collectSnapshot, DEFAULT_NETNS_DIRS, type InventoryOptions } from './index.js';

const argv = process.argv.slice(2);
const opts: InventoryOptions = { node: 'local', labels: {}, netnsDirs: [], procNetns: true };
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  const v = argv[i + 1];
  if (a === '--node' && v) opts.node = argv[++i] ?? opts.node;
  else if (a === '--netns-dir' && v) opts.netnsDirs.push(argv[++i] ?? '');
  else if (a === '--underlay-if' && v) opts.underlayIf = argv[++i];
  else if (a === '--no-proc-netns') opts.procNetns = false;
  else {
    process.stderr.write(`unknown argument ${a}\n`);
    process.exit(2);
  }
}
if (opts.netnsDirs.length === 0) opts.netnsDirs = [...DEFAULT_NETNS_DIRS];
const snap = await collectSnapshot(opts, { runner: execRunner, log: silentLogger() });
process.stdout.write(`${JSON.stringify(snap)}\n`);
