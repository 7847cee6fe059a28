/**
 * The `vxdoctor` executable: dispatches to a subcommand module. Each module exports
 * `command: CommandSpec` and `run(parsed): Promise<number>` (the exit code). Modules are
 * imported lazily so `vxdoctor inspect` does not load fastify or NATS.
 */
import { ConfigError, type CommandSpec, formatHelp, type Parsed, parseCommand } from '../shared/config.js';

export interface SubcommandModule {
  command: CommandSpec;
  run(parsed: Parsed): Promise<number>;
}

const SUBCOMMANDS: Record<string, () => Promise<SubcommandModule>> = {
  agent: () => import('../agent/main.js'),
  collector: () => import('../collector/main.js'),
  inspect: () => import('../agent/inspect.js'),
  history: () => import('./history.js'),
  status: () => import('./status.js'),
  trace: () => import('./trace.js'),
};

const TOP_HELP = `vxdoctor — finds, localizes and explains container overlay (VXLAN) network faults

Usage: vxdoctor <command> [flags]

Commands:
  agent      run on every node: inventory, checks, heartbeats, publish to NATS
  collector  correlate all nodes into root causes; HTTP API, web page, /metrics
  inspect    one-shot local inventory + checks (exit 1 critical, 3 warnings only)
  status     cluster summary from the collector
  history    outages the collector recorded: start, end, duration, place, fix
  trace      on-demand hop-by-hop probe between two nodes

Run 'vxdoctor <command> --help' for the flags of a command.`;

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${TOP_HELP}\n`);
    return name ? 0 : 2;
  }
  if (name === '--version' || name === 'version') {
    const { VERSION } = await import('../shared/version.js');
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  const load = SUBCOMMANDS[name];
  if (!load) {
    process.stderr.write(`vxdoctor: unknown command "${name}"\n\n${TOP_HELP}\n`);
    return 2;
  }
  const mod = await load();
  let parsed: Parsed;
  try {
    parsed = parseCommand(mod.command, rest);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`vxdoctor ${name}: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  if (parsed.help) {
    process.stdout.write(`${formatHelp(mod.command)}\n`);
    return 0;
  }
  try {
    return await mod.run(parsed);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`vxdoctor ${name}: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
}
