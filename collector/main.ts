import type { CommandSpec, Parsed } from '../shared/config.js';

// Placeholder until this subcommand lands; replaced by its owner.
export const command: CommandSpec = { name: 'main', usage: 'vxdoctor main', summary: 'main', flags: [] };
export async function run(_parsed: Parsed): Promise<number> {
  process.stderr.write('vxdoctor main: not available in this build\n');
  return 2;
}
