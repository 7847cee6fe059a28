/**
 * Debug/test entry point: prints this node's NodeSnapshot as one line of JSON, taken exactly as
 * `vxdoctor inspect --json` takes it (same flags, same code: agent/inspect.ts) but without the
 * checks and without a build: `node --import tsx agent/inventory/dump.ts [inspect flags]`
 * (run it under `ip netns exec NS` to inventory a lab node as its agent would).
 */
import { ConfigError, parseCommand } from '../../shared/config.js';
import { command, inspectSnapshot } from '../inspect.js';

try {
  const snap = await inspectSnapshot(parseCommand(command, process.argv.slice(2)));
  process.stdout.write(`${JSON.stringify(snap)}\n`);
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  process.stderr.write(`dump: ${err.message}\n`);
  process.exitCode = 2;
}
