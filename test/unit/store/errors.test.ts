import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { STORE_ERROR_CODES, StoreError } from '../../../src/store/index.js';

// Like fastify's errors test: a code that operators can meet must be documented, and the docs must not list
// codes that no longer exist.
// From test/unit/store/ (tsx) or dist/test/unit/store/ (built) up to the repository root.
const root = new URL(import.meta.url.includes('/dist/test/') ? '../../../../' : '../../../', import.meta.url);
const docs = readFileSync(fileURLToPath(new URL('docs/storage.md', root)), 'utf8');

test('every StoreError code is documented in docs/storage.md', () => {
  for (const code of STORE_ERROR_CODES) assert.ok(docs.includes(`\`${code}\``), `${code} is missing from docs/storage.md`);
});

test('docs/storage.md lists no code that does not exist', () => {
  const documented = new Set(docs.match(/STORE_ERR_[A-Z_]+/g) ?? []);
  for (const code of documented) assert.ok((STORE_ERROR_CODES as readonly string[]).includes(code), `${code} is documented but not defined`);
});

test('StoreError carries its code, name and cause', () => {
  const cause = new Error('disk I/O error');
  const err = new StoreError('STORE_ERR_COMMIT_FAILED', 'the group commit failed', { cause });
  assert.ok(err instanceof Error);
  assert.equal(err.name, 'StoreError');
  assert.equal(err.code, 'STORE_ERR_COMMIT_FAILED');
  assert.equal(err.cause, cause);
});
