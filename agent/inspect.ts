import type { CommandSpec, Parsed } from '../shared/config.js';

// Placeholder until this subcommand lands; replaced by its owner.
export const command: CommandSpec = {
  name: 'inspect',
  usage: 'vxdoctor inspect',
  summary: 'inspect',
  flags: [],
};
export async function run(_parsed: Parsed): Promise<number> {
  process.stderr.write('vxdoctor inspect: not available in this build\n');
  return 2;
}
