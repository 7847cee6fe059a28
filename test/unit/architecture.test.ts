/**
 * Import direction: contracts down, parts out. `shared/` imports nothing above it, `agent/` and
 * `collector/` do not import each other, and only `cli/` (the executable) sits on top of both.
 * Every .ts file of the tree is parsed for its static imports, re-exports and literal dynamic
 * imports; a violation names the file, the line and the import.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = normalize(join(dirname(fileURLToPath(import.meta.url)), '..', '..'));
const PARTS = ['shared', 'agent', 'collector', 'cli'] as const;
type Part = (typeof PARTS)[number];

/** Which parts each part may not import. */
const FORBIDDEN: Record<Part, Part[]> = {
  shared: ['agent', 'collector', 'cli'],
  agent: ['collector', 'cli'],
  collector: ['agent', 'cli'],
  cli: [],
};

export interface ImportRef {
  line: number;
  spec: string;
}

/** The module specifiers a TypeScript source imports (static, `export from`, literal `import()`). */
export function importsOf(source: string): ImportRef[] {
  const out: ImportRef[] = [];
  // Comments out (an example in a doc comment is not an import); line breaks kept for numbering.
  const code = source
    .replace(/\/\*[\s\S]*?\*\//g, (c) => c.replace(/[^\n]/g, ' '))
    .replace(/(^|[^:'"`\\])\/\/[^\n]*/g, (c, pre: string) => pre + ' '.repeat(c.length - pre.length));
  const patterns = [
    /\bimport\s+(?:type\s+)?[\w*{}\s,$]+?\s+from\s*['"]([^'"]+)['"]/g,
    /\bimport\s*['"]([^'"]+)['"]/g,
    /\bexport\s+(?:type\s+)?(?:\*(?:\s+as\s+\w+)?|\{[^}]*\})\s*from\s*['"]([^'"]+)['"]/g,
    /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
  ];
  for (const re of patterns)
    for (const m of code.matchAll(re)) {
      const line = code.slice(0, m.index).split('\n').length;
      out.push({ line, spec: m[1] as string });
    }
  return out.sort((a, b) => a.line - b.line);
}

/** The top-level part a repository-relative path lies in, or null (test/, bench/, node_modules). */
export function partOf(path: string): Part | null {
  const top = path.split(/[\\/]/)[0];
  return (PARTS as readonly string[]).includes(top as string) ? (top as Part) : null;
}

/** Import-direction violations of one file (path relative to the repository root). */
export function violations(path: string, source: string): string[] {
  const from = partOf(path);
  if (!from) return [];
  const bad: string[] = [];
  for (const { line, spec } of importsOf(source)) {
    if (!spec.startsWith('.')) continue;
    const target = partOf(normalize(join(dirname(path), spec)));
    if (target && FORBIDDEN[from].includes(target))
      bad.push(`${path}:${line} imports ${spec} (${from}/ must not import ${target}/)`);
  }
  return bad;
}

function tsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.name === 'node_modules' || e.name === 'dist' || e.name.startsWith('.')) continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...tsFiles(p));
    else if (/\.(ts|mts)$/.test(e.name) && !e.name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

describe('import direction', () => {
  it('finds the imports of a source, whatever their form', () => {
    const src = [
      "import { a } from '../agent/main.js';",
      "import type { B } from '../collector/state/index.js';",
      "export { c } from '../cli/main.js';",
      "const m = await import('../agent/inspect.js');",
      "// import { x } from '../agent/commented.js';",
      "/* import { y } from '../agent/block.js'; */",
      "import {\n  d,\n  e,\n} from './config.js';",
      "import 'node:fs';",
    ].join('\n');
    assert.deepEqual(
      importsOf(src).map((r) => `${r.line} ${r.spec}`),
      [
        '1 ../agent/main.js',
        '2 ../collector/state/index.js',
        '3 ../cli/main.js',
        '4 ../agent/inspect.js',
        '7 ./config.js',
        '11 node:fs',
      ],
    );
  });

  it('names each forbidden arrow with its file and line', () => {
    assert.deepEqual(violations('shared/x.ts', "import { a } from '../agent/main.js';"), [
      'shared/x.ts:1 imports ../agent/main.js (shared/ must not import agent/)',
    ]);
    assert.equal(
      violations('shared/crosschecks/y.ts', "import { S } from '../../collector/state/index.js';").length,
      1,
    );
    assert.equal(
      violations('collector/ingest/z.ts', "\nimport { P } from '../../agent/publish/presence.js';")[0],
      'collector/ingest/z.ts:2 imports ../../agent/publish/presence.js (collector/ must not import agent/)',
    );
    assert.equal(violations('agent/q.ts', "export * from '../collector/app.js';").length, 1);
    assert.equal(violations('agent/q.ts', "await import('../cli/main.js');").length, 1);
    // Allowed: down into shared/, within a part, the CLI on top, tests anywhere.
    assert.deepEqual(
      violations(
        'agent/q.ts',
        "import { C } from '../shared/config.js';\nimport { o } from './publish/outbox.js';",
      ),
      [],
    );
    assert.deepEqual(
      violations('cli/main.ts', "import('../agent/main.js'); import('../collector/main.js');"),
      [],
    );
    assert.deepEqual(violations('test/unit/t.ts', "import { x } from '../../agent/main.js';"), []);
  });

  it('holds for every .ts file in the tree', () => {
    const files = PARTS.flatMap((p) => tsFiles(join(ROOT, p)));
    assert.ok(files.length > 50, `found only ${files.length} source files under ${ROOT}`);
    const bad = files.flatMap((f) => violations(relative(ROOT, f), readFileSync(f, 'utf8')));
    assert.deepEqual(bad, []);
  });
});
