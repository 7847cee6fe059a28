/**
 * The agent's own modules are wired by static imports: a module that fails to load fails the
 * agent at start-up with its name, never silently becomes "no node checks" or "no prober".
 * Dynamic import() is left only for optional npm packages (the native `pcap` binding).
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

const root = new URL('../../../agent/', import.meta.url).pathname;
const files = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );

test('agent/: every dynamic import() names an npm package literally; none loads a project path', () => {
  const seen: string[] = [];
  for (const f of files(root)) {
    const text = readFileSync(f, 'utf8');
    for (const m of text.matchAll(/(?<![\w.])import\(\s*([^)]*)\)/g)) {
      const arg = m[1]!.trim();
      const where = `${f.slice(root.length)}: import(${arg})`;
      assert.match(arg, /^'[^'./][^']*'$/, `${where}: not a literal npm package name`);
      seen.push(where);
    }
  }
  assert.deepEqual(seen, ["capture/index.ts: import('pcap')"]);
});

test('agent/main.ts imports checks, prober and capture statically', async () => {
  const text = readFileSync(join(root, 'main.ts'), 'utf8');
  for (const spec of ['./checks/index.js', './heartbeat/prober.js', './capture/index.js'])
    assert.match(text, new RegExp(`^import [^;]+ from '${spec.replace(/[.]/g, '\\.')}';$`, 'm'), spec);
  assert.doesNotMatch(text, /_MODULE\b/);
  // And it loads: each of them resolved and ran (a broken one throws here, naming its file).
  const m = await import('../../../agent/main.js');
  assert.equal(m.command.name, 'agent');
});
