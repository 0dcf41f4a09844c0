/**
 * PresenceStore on SQLite with everything on the calling thread: simple and deterministic, but the SQL, the WAL
 * writes and the checkpoints then block the event loop (10-30 us per mutation, docs/storage.md). The server uses
 * SqliteWorkerStore; this one is the reference implementation, also what the worker runs inside.
 *
 * The database runs in WAL mode: a transaction is committed once its pages are appended to the -wal file, which
 * the OS keeps even if the process is killed (kill -9); `durability: 'full'` also fsyncs the WAL at every commit.
 */
import type Database from 'better-sqlite3';
import { StoreError, wrapStoreError } from '../errors.js';
import type { PresenceStore, StoreMutation, StoreSnapshot, StoreStats } from '../store.js';
import { checkMutations } from '../validate.js';
import { BatchCommitter } from './batch-committer.js';
import { type Durability, openDatabase, resolveOptions, type SqliteStoreOptions } from './database.js';
import { GroupQueue, settle } from './group-queue.js';
import { SCHEMA_VERSION } from './schema.js';
import { Statements } from './statements.js';

export interface SqliteStoreInfo {
  readonly path: string;
  readonly thread: 'worker' | 'main';
  readonly durability: Durability;
  /** PRAGMA synchronous of the writing connection as read back from SQLite: 'NORMAL' or 'FULL'. */
  readonly synchronous: string;
  readonly journalMode: string;
  readonly sqliteVersion: string;
  readonly schemaVersion: number;
  /** Schema version found at open (0: the database was created). */
  readonly migratedFrom: number;
  /** Writes the database rejected since open (malformed writes are refused before and not counted). */
  readonly failedWrites: number;
}

const SYNCHRONOUS = ['OFF', 'NORMAL', 'FULL', 'EXTRA'];
export const synchronousName = (level: number): string => SYNCHRONOUS[level] ?? String(level);

export function sqliteVersion(db: Database.Database): string {
  return String(db.prepare('SELECT sqlite_version()').pluck().get());
}

/** Checkpoint at close: folds the WAL into the database file, so the file is complete on its own (backups). */
export function checkpointAndClose(db: Database.Database, path: string): void {
  try {
    db.pragma('wal_checkpoint(TRUNCATE)');
  } catch {
    // Not a loss: the WAL stays next to the database and is replayed at the next open.
  }
  try {
    db.close();
  } catch (err) {
    throw wrapStoreError('STORE_ERR_CLOSE_FAILED', `closing ${path}`, err);
  }
}

/** Reads the whole state in one read transaction, so the tables come from the same snapshot. */
export function loadSnapshot(db: Database.Database, stmts: Statements, path: string): StoreSnapshot {
  try {
    db.exec('BEGIN');
    try {
      return stmts.loadAll();
    } finally {
      db.exec('COMMIT');
    }
  } catch (err) {
    throw wrapStoreError('STORE_ERR_LOAD_FAILED', `reading ${path}`, err);
  }
}

export class SqliteStore implements PresenceStore {
  readonly #db: Database.Database;
  readonly #stmts: Statements;
  readonly #committer: BatchCommitter;
  readonly #queue: GroupQueue;
  readonly #path: string;
  readonly #durability: Durability;
  readonly #journalMode: string;
  readonly #migratedFrom: number;
  readonly #sqliteVersion: string;
  readonly #synchronous: string;
  #closed = false;

  private constructor(path: string, options: SqliteStoreOptions) {
    const opts = resolveOptions(options);
    const opened = openDatabase(path, opts, 'writer', true);
    this.#path = path;
    this.#db = opened.db;
    this.#durability = opts.durability;
    this.#journalMode = opened.journalMode;
    this.#migratedFrom = opened.migratedFrom ?? 0;
    this.#sqliteVersion = sqliteVersion(this.#db);
    this.#synchronous = synchronousName(Number(this.#db.pragma('synchronous', { simple: true })));
    this.#stmts = new Statements(this.#db);
    this.#committer = new BatchCommitter(this.#db, this.#stmts);
    this.#queue = new GroupQueue(opts.maxBatchMutations, (group) => settle(group, this.#committer.commit(group.calls)));
  }

  /** Opens (creating if needed) and migrates the database at `path`. The parent directory must exist. */
  static open(path: string, options: SqliteStoreOptions = {}): SqliteStore {
    return new SqliteStore(path, options);
  }

  load(): Promise<StoreSnapshot> {
    if (this.#closed) return Promise.reject(new StoreError('STORE_ERR_CLOSED', 'load() after close()'));
    // Writes already issued are part of the state the caller expects to read.
    this.#queue.flush();
    try {
      return Promise.resolve(loadSnapshot(this.#db, this.#stmts, this.#path));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  write(mutations: readonly StoreMutation[]): Promise<void> {
    if (this.#closed) return Promise.reject(new StoreError('STORE_ERR_CLOSED', 'write() after close()'));
    const invalid = checkMutations(mutations);
    if (invalid !== undefined) return Promise.reject(invalid);
    return this.#queue.enqueue(mutations);
  }

  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    this.#queue.flush();
    try {
      checkpointAndClose(this.#db, this.#path);
    } catch (err) {
      return Promise.reject(err);
    }
    return Promise.resolve();
  }

  stats(): StoreStats {
    const c = this.#committer;
    return { commits: c.commits, mutations: c.mutations, lastCommitMs: c.lastCommitMs, pendingMutations: this.#queue.queuedMutations };
  }

  /** What was opened and how, for the start-up log line and for tests. */
  info(): SqliteStoreInfo {
    return {
      path: this.#path,
      thread: 'main',
      durability: this.#durability,
      synchronous: this.#synchronous,
      journalMode: this.#journalMode,
      sqliteVersion: this.#sqliteVersion,
      schemaVersion: SCHEMA_VERSION,
      migratedFrom: this.#migratedFrom,
      failedWrites: this.#committer.failedCalls,
    };
  }
}
