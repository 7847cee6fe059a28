import { readFileSync } from 'node:fs';

/** Package version, read once from package.json next to the build. */
export const VERSION: string = (() => {
  for (const rel of ['../../package.json', '../package.json']) {
    try {
      return JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')).version as string;
    } catch {
      // try the next candidate (source tree vs dist/)
    }
  }
  return '0.0.0';
})();
