import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { checkLayers, formatViolations, type LayerRule } from '../../scripts/check-layers.js';

/** The checkout root, whether this runs from test/ (tsx) or dist/test/ (tsc). */
function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) || !existsSync(join(dir, 'src'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error('repository root not found');
    dir = parent;
  }
  return dir;
}

describe('layering (architecture.md §6-7)', () => {
  test('src/ has no dependency pointing the wrong way', () => {
    const violations = checkLayers(join(repoRoot(), 'src'));
    assert.equal(violations.length, 0, `\n${formatViolations(violations)}`);
  });
});

describe('the layer checker', () => {
  const src = join(mkdtempSync(join(tmpdir(), 'presenced-layers-')), 'src');
  const files: Record<string, string> = {
    'sip/parse.ts': [
      "import { flow } from '../transport/flow.js';", // upward
      "import type { Logger } from '../observability/index.js';", // logging in sip
      "import { createSocket } from 'node:dgram';",
      '// setTimeout(() => 1) in a comment is fine, and so is "Date.now()" in a string',
      "export const s = 'Date.now()';",
      'export const t = Date.now();',
      'setTimeout(() => undefined, 1);',
      'export const fixed = new Date(0);',
    ].join('\n'),
    'transport/flow.ts': "export * from '../sip/parse.js';\nexport const flow = 1;\n",
    'core/notifier.ts': [
      "import type { Store } from '../store/store.js';",
      "import { SqliteStore } from '../store/sqlite/index.js';", // adapter outside server/
      "import Database from 'better-sqlite3';", // driver outside adapter
      "const server = await import('../server/index.js');", // nothing imports server/
    ].join('\n'),
    'packages/presence/index.ts': [
      "import { safeXml } from '../shared/safe-xml.js';",
      "import { dialog } from '../dialog/index.js';", // package -> package
      "export type Main = import('../../cli/main.js').Main;", // cli
    ].join('\n'),
    'packages/shared/safe-xml.ts': 'export const safeXml = 1;\n',
    'packages/dialog/index.ts': "import { parse } from '../../sip/parse.js';\nexport const dialog = 1;\n",
    'store/store.ts': 'export interface Store { x: number }\n',
    'store/sqlite/index.ts': "import Database from 'better-sqlite3';\nimport type { Store } from '../store.js';\n",
    'server/index.ts': "import { SqliteStore } from '../store/sqlite/index.js';\n",
    'cli/main.ts': "const m = await import('../server/index.js');\n",
  };
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(dirname(join(src, name)), { recursive: true });
    writeFileSync(join(src, name), text);
  }
  const found = checkLayers(src).map((v) => `${v.file}:${v.line} ${v.rule}`);

  const expect = (file: string, line: number, rule: LayerRule): void => {
    assert.ok(found.includes(`${file}:${line} ${rule}`), `expected ${file}:${line} ${rule} in\n${found.join('\n')}`);
  };

  test('finds upward imports', () => expect('sip/parse.ts', 1, 'upward-import'));
  test('keeps src/sip pure: no logger, sockets, timers or clock', () => {
    expect('sip/parse.ts', 2, 'impure-sip');
    expect('sip/parse.ts', 3, 'impure-sip');
    expect('sip/parse.ts', 6, 'impure-sip');
    expect('sip/parse.ts', 7, 'impure-sip');
  });
  test('finds store adapters imported outside store/ and server/', () => expect('core/notifier.ts', 2, 'store-adapter-import'));
  test('finds SQL drivers outside store/<adapter>/', () => expect('core/notifier.ts', 3, 'sql-driver-outside-adapter'));
  test('finds imports of server/ and cli/', () => {
    expect('core/notifier.ts', 4, 'imports-server-or-cli');
    expect('packages/presence/index.ts', 3, 'imports-server-or-cli');
  });
  test('finds packages importing other packages', () => expect('packages/presence/index.ts', 2, 'package-imports-package'));
  test('reports nothing else (comments, strings, allowed imports)', () => {
    assert.equal(found.length, 10, found.join('\n'));
  });
});
