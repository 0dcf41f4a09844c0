/**
 * The storage factory used by server/: turns the configured `db` URL into a PresenceStore.
 *
 *   sqlite:PATH          SQLite file (relative PATH: from the working directory; sqlite:///abs/path also works).
 *                        The parent directory is created if missing. Writes run on a worker thread unless
 *                        `thread: 'main'` is asked for.
 *   memory:              In process memory only: NOT durable, everything is lost at exit (tests, demos).
 *   postgres://...       Reserved: PostgreSQL storage is a later version; refused with a clear message.
 */
import { mkdir } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { StoreError } from './errors.js';
import { MemoryStore } from './memory/index.js';
import { SqliteStore, SqliteWorkerStore, type SqliteStoreOptions } from './sqlite/index.js';
import type { PresenceStore } from './store.js';

export type OpenStoreOptions = SqliteStoreOptions;

/** The file path of a sqlite: URL, or undefined when the URL is not one. */
export function sqlitePath(url: string): string | undefined {
  if (!url.startsWith('sqlite:')) return undefined;
  let path = url.slice('sqlite:'.length);
  // sqlite:///var/lib/x.db is the URL form (empty authority) of sqlite:/var/lib/x.db.
  if (path.startsWith('//')) path = path.slice(2);
  return path;
}

export async function openStore(url: string, opts: OpenStoreOptions = {}): Promise<PresenceStore> {
  if (typeof url !== 'string') throw new StoreError('STORE_ERR_INVALID_URL', 'the storage URL must be a string');
  if (url === 'memory:') return new MemoryStore();
  if (/^postgres(ql)?:/i.test(url)) {
    throw new StoreError(
      'STORE_ERR_UNSUPPORTED_BACKEND',
      'PostgreSQL storage is not available in this version; use sqlite:PATH',
    );
  }
  const path = sqlitePath(url);
  if (path === undefined || path === '' || path.includes('\0')) {
    throw new StoreError(
      'STORE_ERR_INVALID_URL',
      `storage URL ${JSON.stringify(url.slice(0, 200))} is not sqlite:PATH, memory: or postgres://...`,
    );
  }
  if (path === ':memory:' || path.startsWith('file:')) {
    // An in-memory SQLite database cannot run in WAL mode, and SQLite URI filenames would bypass our path handling.
    throw new StoreError('STORE_ERR_INVALID_URL', `sqlite:${path} is not supported; use memory: or sqlite:PATH`);
  }
  const file = resolve(path);
  try {
    await mkdir(dirname(file), { recursive: true, mode: 0o750 });
  } catch (err) {
    throw new StoreError('STORE_ERR_OPEN_FAILED', `cannot create the directory of ${file}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  return opts.thread === 'main' ? SqliteStore.open(file, opts) : SqliteWorkerStore.open(file, opts);
}
