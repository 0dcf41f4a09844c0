import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import {
  openStore,
  SCHEMA_VERSION,
  SqliteStore,
  SqliteWorkerStore,
  StoreError,
  type PresenceStore,
  type SqliteStoreOptions,
} from '../../../src/store/index.js';
import { canonical, publication, storeContractTests, subscription } from '../../contract/store.contract.js';
import { accountContractTests } from '../../contract/accounts.contract.js';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tempDb(): string {
  const dir = mkdtempSync(join(tmpdir(), 'presenced-store-test-'));
  dirs.push(dir);
  return join(dir, 'presenced.db');
}

type Thread = 'main' | 'worker';
type AnySqliteStore = SqliteStore | SqliteWorkerStore;

async function open(thread: Thread, path: string, opts: SqliteStoreOptions = {}): Promise<AnySqliteStore> {
  return thread === 'main' ? SqliteStore.open(path, opts) : SqliteWorkerStore.open(path, opts);
}

async function rejectsWith(promise: Promise<unknown>, code: string, message?: RegExp): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof StoreError, `expected a StoreError, got ${String(err)}`);
    assert.equal(err.code, code);
    if (message !== undefined) assert.match(err.message, message);
    return true;
  });
}

for (const thread of ['main', 'worker'] as const) {
  const name = thread === 'main' ? 'SqliteStore (main thread)' : 'SqliteWorkerStore';
  for (const suite of [storeContractTests, accountContractTests]) suite(name, async () => {
    const path = tempDb();
    const opened: PresenceStore[] = [await open(thread, path)];
    return {
      store: opened[0]!,
      reopen: async () => {
        const s = await open(thread, path);
        opened.push(s);
        return s;
      },
      cleanup: async () => {
        for (const s of opened) await s.close();
      },
    };
  });

  describe(`${name}: group commit`, () => {
    test('N writes issued in one turn are committed in ONE transaction', async () => {
      const store = await open(thread, tempDb());
      try {
        const before = store.stats().commits;
        const writes: Promise<void>[] = [];
        for (let i = 0; i < 300; i++) writes.push(store.write([{ kind: 'put-publication', record: publication({ etag: `e${i}` }) }]));
        assert.equal(store.stats().pendingMutations, 300, 'queued until the turn ends');
        await Promise.all(writes);
        assert.equal(store.stats().commits - before, 1);
        assert.equal((await store.load()).publications.length, 300);
      } finally {
        await store.close();
      }
    });

    test('writes of consecutive turns are separate commits', async () => {
      const store = await open(thread, tempDb());
      try {
        const before = store.stats().commits;
        for (let i = 0; i < 3; i++) await store.write([{ kind: 'put-publication', record: publication({ etag: `e${i}` }) }]);
        assert.equal(store.stats().commits - before, 3);
      } finally {
        await store.close();
      }
    });

    test('a group is committed early once it holds maxBatchMutations', async () => {
      const store = await open(thread, tempDb(), { maxBatchMutations: 10 });
      try {
        const before = store.stats().commits;
        const writes: Promise<void>[] = [];
        for (let i = 0; i < 25; i++) writes.push(store.write([{ kind: 'put-publication', record: publication({ etag: `e${i}` }) }]));
        // 10 and 10 left the queue at once; 5 wait for the end of the turn.
        assert.equal(store.stats().pendingMutations, thread === 'main' ? 5 : 25);
        await Promise.all(writes);
        const commits = store.stats().commits - before;
        // The worker may drain the three groups in one transaction; on the main thread they are three.
        if (thread === 'main') assert.equal(commits, 3);
        else assert.ok(commits >= 1 && commits <= 3, `commits ${commits}`);
        assert.equal((await store.load()).publications.length, 25);
      } finally {
        await store.close();
      }
    });

    test('beyond maxPendingMutations a write is refused at once with STORE_ERR_OVERLOADED (worker)', { skip: thread === 'main' ? 'the main-thread store never has more than one group pending' : false }, async () => {
      const store = await open(thread, tempDb(), { maxPendingMutations: 5 });
      try {
        const writes: Promise<void>[] = [];
        for (let i = 0; i < 5; i++) writes.push(store.write([{ kind: 'put-publication', record: publication({ etag: `e${i}` }) }]));
        await rejectsWith(store.write([{ kind: 'put-publication', record: publication({ etag: 'one-too-many' }) }]), 'STORE_ERR_OVERLOADED');
        await Promise.all(writes);
        // Once the backlog is committed, writes are accepted again.
        await store.write([{ kind: 'put-publication', record: publication({ etag: 'later' }) }]);
        assert.deepEqual(canonical(await store.load()).publications.map((p) => p.etag), ['e0', 'e1', 'e2', 'e3', 'e4', 'later']);
      } finally {
        await store.close();
      }
    });

    test('a write the database refuses fails alone: the rest of its group commits, in one transaction', async () => {
      const path = tempDb();
      await (await open(thread, path)).close();
      const raw = new Database(path);
      raw.exec(`CREATE TRIGGER refuse BEFORE INSERT ON presentity WHEN NEW.body = 'refuse'
                BEGIN SELECT RAISE(ABORT, 'refused by the test trigger'); END`);
      raw.close();
      const store = await open(thread, path);
      try {
        const before = store.stats().commits;
        const results = await Promise.allSettled([
          store.write([{ kind: 'put-publication', record: publication({ etag: 'good-1' }) }]),
          store.write([{ kind: 'put-publication', record: publication({ etag: 'bad', body: 'refuse' }) }]),
          // Atomic per write: its first mutation is rolled back with the refused second one.
          store.write([
            { kind: 'put-publication', record: publication({ etag: 'half' }) },
            { kind: 'put-publication', record: publication({ etag: 'bad-2', body: 'refuse' }) },
          ]),
          store.write([{ kind: 'put-publication', record: publication({ etag: 'good-2' }) }]),
        ]);
        assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'rejected', 'rejected', 'fulfilled']);
        for (const r of results) {
          if (r.status === 'rejected') {
            assert.ok(r.reason instanceof StoreError);
            assert.equal(r.reason.code, 'STORE_ERR_COMMIT_FAILED');
            assert.match(r.reason.message, /refused by the test trigger/);
          }
        }
        assert.equal(store.stats().commits - before, 1);
        assert.equal(store.info().failedWrites, 2);
        assert.deepEqual(canonical(await store.load()).publications.map((p) => p.etag), ['good-1', 'good-2']);
        // The store is still usable after a refused write.
        await store.write([{ kind: 'put-publication', record: publication({ etag: 'after' }) }]);
        assert.equal((await store.load()).publications.length, 3);
      } finally {
        await store.close();
      }
    });
  });

  describe(`${name}: database file`, () => {
    test('runs in WAL mode with synchronous NORMAL by default and FULL with durability full', async () => {
      const a = await open(thread, tempDb());
      const b = await open(thread, tempDb(), { durability: 'full' });
      try {
        assert.equal(a.info().journalMode, 'wal');
        assert.equal(a.info().synchronous, 'NORMAL');
        assert.equal(b.info().synchronous, 'FULL');
        assert.equal(b.info().durability, 'full');
        assert.equal(a.info().thread, thread);
      } finally {
        await a.close();
        await b.close();
      }
    });

    test('creates the schema at version SCHEMA_VERSION once; reopening does not migrate again', async () => {
      const path = tempDb();
      const first = await open(thread, path);
      assert.equal(first.info().migratedFrom, 0);
      await first.close();
      const second = await open(thread, path);
      assert.equal(second.info().migratedFrom, SCHEMA_VERSION);
      await second.close();
      const raw = new Database(path, { readonly: true });
      try {
        const tables = raw.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").pluck().all();
        assert.deepEqual(tables, ['active_watchers', 'bindings', 'documents', 'notify_cseq', 'presentity', 'schema_version', 'users', 'watchers']);
        assert.deepEqual(raw.prepare('SELECT version FROM schema_version').pluck().all(), [SCHEMA_VERSION]);
      } finally {
        raw.close();
      }
    });

    test('migrates a version 1 database to version 2 keeping its rows (event_params, notify_cseq.version, documents)', async () => {
      const path = tempDb();
      const v1 = await open(thread, path);
      const sub = subscription('old', { version: 3 });
      await v1.write([{ kind: 'put-subscription', record: sub }, { kind: 'put-publication', record: publication() }]);
      await v1.close();
      // Take the file back to the version 1 layout.
      const raw = new Database(path);
      raw.exec('DROP TABLE users; DROP TABLE bindings; DROP TABLE documents; ALTER TABLE active_watchers DROP COLUMN event_params; ALTER TABLE notify_cseq DROP COLUMN version');
      raw.prepare('UPDATE schema_version SET version = 1').run();
      raw.close();
      const v2 = await open(thread, path);
      try {
        assert.equal(v2.info().migratedFrom, 1);
        const snap = canonical(await v2.load());
        assert.deepEqual(snap.subscriptions, [sub]);
        assert.deepEqual(snap.publications, [publication()]);
        assert.deepEqual(snap.documents, []);
        await v2.write([{ kind: 'set-notify-cseq', id: 'old', localSeq: 9, version: 4 }]);
        const [r] = (await v2.load()).subscriptions;
        assert.deepEqual([r?.dialog.localSeq, r?.version], [9, 4]);
      } finally {
        await v2.close();
      }
    });

    test('refuses a database written by a newer version (STORE_ERR_SCHEMA_TOO_NEW)', async () => {
      const path = tempDb();
      await (await open(thread, path)).close();
      const raw = new Database(path);
      raw.prepare('UPDATE schema_version SET version = ?').run(SCHEMA_VERSION + 1);
      raw.close();
      await rejectsWith(open(thread, path), 'STORE_ERR_SCHEMA_TOO_NEW', /upgrade presenced/);
    });

    test('refuses a file that is not a database (STORE_ERR_OPEN_FAILED)', async () => {
      const path = tempDb();
      writeFileSync(path, 'this is not a SQLite database, just some text long enough to have a header'.repeat(10));
      await rejectsWith(open(thread, path), 'STORE_ERR_OPEN_FAILED', /not a database/);
    });

    test('close checkpoints the WAL into the database file', async () => {
      const path = tempDb();
      const store = await open(thread, path);
      await store.write([{ kind: 'put-publication', record: publication() }]);
      assert.ok(statSync(`${path}-wal`).size > 0, 'the commit went to the WAL');
      await store.close();
      assert.ok(!existsSync(`${path}-wal`) || statSync(`${path}-wal`).size === 0);
      const raw = new Database(path, { readonly: true });
      try {
        assert.equal(raw.prepare('SELECT count(*) FROM presentity').pluck().get(), 1);
      } finally {
        raw.close();
      }
    });

    test('a row that no longer makes a valid record fails load with STORE_ERR_LOAD_FAILED naming it', async () => {
      const path = tempDb();
      const store = await open(thread, path);
      await store.write([{ kind: 'put-subscription', record: subscription('damaged') }]);
      await store.close();
      const raw = new Database(path);
      raw.prepare("UPDATE active_watchers SET route_set = '[not json' WHERE id = 'damaged'").run();
      raw.close();
      const again = await open(thread, path);
      try {
        await rejectsWith(again.load(), 'STORE_ERR_LOAD_FAILED', /active_watchers row "damaged"/);
      } finally {
        await again.close();
      }
    });

    test('rejects bad options with STORE_ERR_OPEN_FAILED', async () => {
      await rejectsWith(open(thread, tempDb(), { durability: 'paranoid' as 'full' }), 'STORE_ERR_OPEN_FAILED', /durability/);
      await rejectsWith(open(thread, tempDb(), { maxBatchMutations: 0 }), 'STORE_ERR_OPEN_FAILED', /maxBatchMutations/);
    });
  });

  describe(`${name}: kill -9`, () => {
    test('a write whose promise resolved survives SIGKILL of the process', { timeout: 60_000 }, async () => {
      const path = tempDb();
      const here = fileURLToPath(import.meta.url);
      const ts = here.endsWith('.ts');
      const fixture = join(here, '..', 'fixtures', ts ? 'kill-writer.ts' : 'kill-writer.js');
      const child = spawn(process.execPath, [...(ts ? ['--import', 'tsx'] : []), fixture, path, thread], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
      try {
        await new Promise<void>((resolve, reject) => {
          let out = '';
          child.stdout.on('data', (d: Buffer) => {
            out += d.toString();
            if (out.includes('ok\n')) resolve();
          });
          child.on('exit', (code) => reject(new Error(`writer exited (${code}) before "ok": ${stderr}`)));
        });
        child.kill('SIGKILL');
        assert.equal(await exited, 'SIGKILL');
      } finally {
        child.kill('SIGKILL');
      }
      // The database was never closed: the rows are in the WAL only, and SQLite recovers them at open.
      assert.ok(statSync(`${path}-wal`).size > 0);
      const store = SqliteStore.open(path);
      try {
        const snap = canonical(await store.load());
        assert.equal(snap.publications.length, 200);
        assert.equal(snap.publications.find((p) => p.etag === 'e199')?.body, '<b n="199"/>');
        assert.equal(snap.subscriptions.length, 50);
        assert.equal(snap.subscriptions.find((s) => s.id === 's7')?.dialog.localSeq, 1234);
      } finally {
        await store.close();
      }
    });
  });
}

describe('openStore', () => {
  test("'sqlite:PATH' creates the missing parent directories and opens a worker store by default", async () => {
    const base = mkdtempSync(join(tmpdir(), 'presenced-store-test-'));
    dirs.push(base);
    const path = join(base, 'a', 'b', 'c', 'presenced.db');
    const store = await openStore(`sqlite:${path}`);
    try {
      assert.ok(store instanceof SqliteWorkerStore);
      await store.write([{ kind: 'put-publication', record: publication() }]);
      assert.ok(existsSync(path));
    } finally {
      await store.close();
    }
  });

  test("'sqlite:///abs/path' is the same file as 'sqlite:/abs/path'; thread 'main' gives a SqliteStore", async () => {
    const path = tempDb();
    const a = await openStore(`sqlite://${path}`, { thread: 'main' });
    assert.ok(a instanceof SqliteStore);
    await a.write([{ kind: 'put-publication', record: publication() }]);
    await a.close();
    const b = await openStore(`sqlite:${path}`, { thread: 'main' });
    assert.equal((await b.load()).publications.length, 1);
    await b.close();
  });

  test('postgres:// is refused with a clear STORE_ERR_UNSUPPORTED_BACKEND', async () => {
    for (const url of ['postgres://presenced@db.example.com/presence', 'postgresql://u@h/d']) {
      await rejectsWith(openStore(url), 'STORE_ERR_UNSUPPORTED_BACKEND', /PostgreSQL storage is not available in this version/);
    }
  });

  test('other URLs are refused with STORE_ERR_INVALID_URL', async () => {
    for (const url of ['', 'sqlite:', 'mysql://h/d', '/var/lib/presenced.db', 'sqlite::memory:', 'sqlite:file:x.db?mode=memory', 'sqlite:a\0b']) {
      await rejectsWith(openStore(url), 'STORE_ERR_INVALID_URL');
    }
  });

  test('a directory that cannot be created is STORE_ERR_OPEN_FAILED', async () => {
    const path = tempDb();
    writeFileSync(path, '');
    await rejectsWith(openStore(`sqlite:${path}/sub/x.db`), 'STORE_ERR_OPEN_FAILED');
  });
});
