import type { CommandSpec, Parsed } from '../shared/config.js';

// Placeholder until this subcommand lands; replaced by its owner.
export const command: CommandSpec = {
  name: 'status',
  usage: 'vxdoctor status',
  summary: 'status',
  flags: [],
};
export async function run(_parsed: Parsed): Promise<number> {
  process.stderr.write('vxdoctor status: not available in this build\n');
  return 2;
}
