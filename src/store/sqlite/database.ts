/**
 * Opening a connection: options, pragmas and (for the connection that owns it) the schema migration. Shared by the
 * main-thread store, the storage worker and the worker store's read connection, so all use identical settings.
 */
import Database from 'better-sqlite3';
import { StoreError, wrapStoreError } from '../errors.js';
import { migrate } from './schema.js';

export type Durability = 'normal' | 'full';

export interface SqliteStoreOptions {
  /**
   * 'normal' (default): a resolved write survives the process being killed. 'full': it also survives power loss
   * and OS crashes, at the price of one fsync per group commit.
   */
  readonly durability?: Durability;
  /**
   * 'worker' (default for openStore): SQL and fsync run on a worker thread; the event loop only validates and
   * posts each turn's writes (about 1-2 us per mutation instead of 10-30). 'main': everything on the calling thread.
   */
  readonly thread?: 'worker' | 'main';
  /** How long a commit waits for a lock held by another connection (an operator's sqlite3 shell). Default 2000. */
  readonly busyTimeoutMs?: number;
  /** A group is committed as soon as it holds this many mutations, without waiting for the turn to end. Default 2000. */
  readonly maxBatchMutations?: number;
  /** SQLite page cache of the writing connection, in KiB. Default 32768 (32 MiB). */
  readonly cacheSizeKiB?: number;
  /**
   * Worker store only: once this many mutations wait for their commit (the disk is slower than the traffic), further
   * writes are refused at once with STORE_ERR_OVERLOADED instead of queuing without bound. Default 100000.
   */
  readonly maxPendingMutations?: number;
}

/** Options with defaults applied and checked; plain data, so it can be handed to the worker. */
export interface ResolvedOptions {
  readonly durability: Durability;
  readonly busyTimeoutMs: number;
  readonly maxBatchMutations: number;
  readonly cacheSizeKiB: number;
  readonly maxPendingMutations: number;
}

function intOption(value: number | undefined, fallback: number, min: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < min) {
    throw new StoreError('STORE_ERR_OPEN_FAILED', `SQLite option ${name} must be an integer >= ${min}, got ${value}`);
  }
  return value;
}

export function resolveOptions(options: SqliteStoreOptions): ResolvedOptions {
  const durability = options.durability ?? 'normal';
  if (durability !== 'normal' && durability !== 'full') {
    throw new StoreError('STORE_ERR_OPEN_FAILED', `SQLite durability must be 'normal' or 'full', got ${String(durability)}`);
  }
  return {
    durability,
    busyTimeoutMs: intOption(options.busyTimeoutMs, 2000, 0, 'busyTimeoutMs'),
    maxBatchMutations: intOption(options.maxBatchMutations, 2000, 1, 'maxBatchMutations'),
    cacheSizeKiB: intOption(options.cacheSizeKiB, 32768, 0, 'cacheSizeKiB'),
    maxPendingMutations: intOption(options.maxPendingMutations, 100_000, 1, 'maxPendingMutations'),
  };
}

export interface OpenedDatabase {
  readonly db: Database.Database;
  readonly journalMode: string;
  /** Schema version found before migrating (0: created now); undefined when `migrate` was false. */
  readonly migratedFrom: number | undefined;
}

/**
 * Opens `path` in WAL mode with the durability asked for. `role` 'reader' is the worker store's start-up reader: it
 * only loads, so it gets a small cache and query_only.
 */
export function openDatabase(path: string, opts: ResolvedOptions, role: 'writer' | 'reader', doMigrate: boolean): OpenedDatabase {
  let db: Database.Database;
  try {
    db = new Database(path);
  } catch (err) {
    throw wrapStoreError('STORE_ERR_OPEN_FAILED', `cannot open SQLite database ${path}`, err);
  }
  try {
    // A file that is not a database only fails at its first read: here, inside the open error handling.
    const journalMode = String(db.pragma('journal_mode = WAL', { simple: true }));
    if (journalMode !== 'wal') {
      throw new Error(`journal_mode is ${journalMode}, WAL is required (is the file on a network file system?)`);
    }
    // WAL + NORMAL: a commit is durable against process death once its frames are written to the -wal file;
    // FULL adds an fsync of the WAL per commit, for power loss and OS crashes (https://sqlite.org/pragma.html#pragma_synchronous).
    db.pragma(`synchronous = ${opts.durability === 'full' ? 'FULL' : 'NORMAL'}`);
    db.pragma(`busy_timeout = ${opts.busyTimeoutMs}`);
    db.pragma(`cache_size = -${role === 'writer' ? opts.cacheSizeKiB : 2048}`);
    // After a checkpoint the -wal file is cut back to this size instead of keeping its high-water mark.
    db.pragma('journal_size_limit = 67108864');
    db.pragma('temp_store = MEMORY');
    const migratedFrom = doMigrate ? migrate(db) : undefined;
    if (role === 'reader') db.pragma('query_only = 1');
    return { db, journalMode, migratedFrom };
  } catch (err) {
    db.close();
    throw err instanceof StoreError ? err : wrapStoreError('STORE_ERR_OPEN_FAILED', `cannot use SQLite database ${path}`, err);
  }
}
