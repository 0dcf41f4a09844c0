import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { SqliteStore } from '../../../src/store/index.js';
import { publication } from '../../contract/store.contract.js';
import { binding, user } from '../../contract/accounts.contract.js';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('schema migration 3 (users, bindings)', () => {
  test('a version 2 database gains empty users and bindings tables and keeps its rows', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'presenced-accounts-'));
    dirs.push(dir);
    const path = join(dir, 'p.db');
    const first = await SqliteStore.open(path);
    await first.write([{ kind: 'put-publication', record: publication() }]);
    await first.close();
    const raw = new Database(path);
    raw.exec('DROP TABLE users; DROP TABLE bindings');
    raw.prepare('UPDATE schema_version SET version = 2').run();
    raw.close();

    const store = await SqliteStore.open(path);
    try {
      assert.equal(store.info().migratedFrom, 2);
      const s = await store.load();
      assert.deepEqual(s.publications, [publication()]);
      assert.deepEqual([s.users, s.bindings], [[], []]);
      await store.write([{ kind: 'put-user', record: user() }, { kind: 'put-binding', record: binding() }]);
      const again = await store.load();
      assert.deepEqual([again.users, again.bindings], [[user()], [binding()]]);
    } finally {
      await store.close();
    }
  });

  test('a row damaged by hand fails the load with its table and key', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'presenced-accounts-'));
    dirs.push(dir);
    const path = join(dir, 'p.db');
    const first = await SqliteStore.open(path);
    await first.write([{ kind: 'put-binding', record: binding() }]);
    await first.close();
    const raw = new Database(path);
    raw.prepare("UPDATE bindings SET path = 'not json'").run();
    raw.close();
    const store = await SqliteStore.open(path);
    try {
      await assert.rejects(store.load(), (err: Error & { code?: string }) => {
        assert.equal(err.code, 'STORE_ERR_LOAD_FAILED');
        assert.match(err.message, /bindings row/);
        return true;
      });
    } finally {
      await store.close();
    }
  });
});
