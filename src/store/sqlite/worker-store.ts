/**
 * PresenceStore on SQLite whose writes run on a worker thread (sqlite-worker.ts). On the event loop a write costs
 * its validation, a place in the turn's group and a share of one postMessage per turn; the SQL, WAL writes,
 * checkpoints and fsyncs happen on the worker. Each caller's promise resolves when the worker reports the COMMIT
 * of its group, so the durability rule is the same as SqliteStore's (docs/storage.md).
 *
 * The schema is migrated here, on a read connection opened first (so open errors surface from open()), and that
 * connection also serves load(): handing 200k records over from the worker would cost more than reading them here.
 */
import { Worker } from 'node:worker_threads';
import type Database from 'better-sqlite3';
import { StoreError, wrapStoreError } from '../errors.js';
import type { PresenceStore, StoreMutation, StoreSnapshot, StoreStats } from '../store.js';
import { checkMutations } from '../validate.js';
import { type Durability, openDatabase, resolveOptions, type SqliteStoreOptions } from './database.js';
import { type Group, GroupQueue } from './group-queue.js';
import { SCHEMA_VERSION } from './schema.js';
import { loadSnapshot, type SqliteStoreInfo, sqliteVersion, synchronousName } from './sqlite-store.js';
import { Statements } from './statements.js';
import type { FromWorker, ToWorker, WireError, WorkerInit, WorkerStats } from './worker-protocol.js';

const fromWire = (e: WireError): StoreError => new StoreError(e.code, e.message);

function spawnWorker(init: WorkerInit): Worker {
  const here = import.meta.url;
  if (!here.endsWith('.ts')) return new Worker(new URL('./sqlite-worker.js', here), { workerData: init });
  // Running from TypeScript sources (tests, `tsx`): a worker does not inherit tsx's loader, so the entry registers
  // it before importing the .ts module. The built package (dist/, .js) takes the branch above.
  const entry = new URL('./sqlite-worker.ts', here).href;
  const tsx = import.meta.resolve('tsx/esm/api');
  const code = `import(${JSON.stringify(tsx)}).then((t) => { t.register(); return import(${JSON.stringify(entry)}); })`;
  return new Worker(code, { eval: true, workerData: init });
}

export class SqliteWorkerStore implements PresenceStore {
  readonly #path: string;
  readonly #durability: Durability;
  readonly #reader: Database.Database;
  readonly #readerStmts: Statements;
  readonly #journalMode: string;
  readonly #migratedFrom: number;
  readonly #sqliteVersion: string;
  readonly #synchronous: string;
  readonly #worker: Worker;
  readonly #queue: GroupQueue;
  readonly #inflight = new Map<number, Group>();
  readonly #maxPending: number;
  #inflightMutations = 0;
  #seq = 0;
  #stats: WorkerStats = { commits: 0, mutations: 0, lastCommitMs: 0, failedCalls: 0 };
  /** Set when the worker died: every write from then on fails with it. */
  #broken: StoreError | undefined;
  #closed = false;
  #onClosed: ((error: WireError | null) => void) | undefined;

  private constructor(
    path: string,
    durability: Durability,
    reader: Database.Database,
    journalMode: string,
    migratedFrom: number,
    worker: Worker,
    synchronous: number,
    maxBatch: number,
    maxPending: number,
  ) {
    this.#maxPending = maxPending;
    this.#path = path;
    this.#synchronous = synchronousName(synchronous);
    this.#durability = durability;
    this.#reader = reader;
    this.#readerStmts = new Statements(reader);
    this.#journalMode = journalMode;
    this.#migratedFrom = migratedFrom;
    this.#sqliteVersion = sqliteVersion(reader);
    this.#worker = worker;
    this.#queue = new GroupQueue(maxBatch, (group) => this.#post(group));
    worker.on('message', (m: FromWorker) => this.#onMessage(m));
    worker.on('error', (err) => this.#fail(`the storage worker failed: ${err.message}`));
    worker.on('exit', (code) => {
      if (!this.#closed) this.#fail(`the storage worker exited (code ${code})`);
    });
  }

  /** Opens (creating if needed) and migrates the database at `path`, then starts the worker. */
  static async open(path: string, options: SqliteStoreOptions = {}): Promise<SqliteWorkerStore> {
    const opts = resolveOptions(options);
    const opened = openDatabase(path, opts, 'reader', true);
    let worker: Worker;
    let synchronous = -1;
    try {
      worker = spawnWorker({ path, options: opts });
      await new Promise<void>((resolve, reject) => {
        const onMessage = (m: FromWorker): void => {
          if (m.type === 'ready') {
            synchronous = m.synchronous;
            done();
          } else if (m.type === 'open-failed') done(fromWire(m.error));
        };
        const onError = (err: Error): void => done(new StoreError('STORE_ERR_OPEN_FAILED', `the storage worker failed to start: ${err.message}`, { cause: err }));
        const onExit = (code: number): void => done(new StoreError('STORE_ERR_OPEN_FAILED', `the storage worker exited at start (code ${code})`));
        const done = (err?: StoreError): void => {
          worker.off('message', onMessage).off('error', onError).off('exit', onExit);
          if (err === undefined) resolve();
          else {
            void worker.terminate();
            reject(err);
          }
        };
        worker.on('message', onMessage).on('error', onError).on('exit', onExit);
      });
    } catch (err) {
      opened.db.close();
      throw err instanceof StoreError ? err : wrapStoreError('STORE_ERR_OPEN_FAILED', 'cannot start the storage worker', err);
    }
    return new SqliteWorkerStore(
      path, opts.durability, opened.db, opened.journalMode, opened.migratedFrom ?? 0, worker, synchronous,
      opts.maxBatchMutations, opts.maxPendingMutations,
    );
  }

  async load(): Promise<StoreSnapshot> {
    if (this.#closed) throw new StoreError('STORE_ERR_CLOSED', 'load() after close()');
    // Barrier: the worker handles groups in order, so once this empty write is done every earlier one is committed.
    const barrier = this.#queue.enqueue([]);
    this.#queue.flush();
    await barrier;
    if (this.#closed) throw new StoreError('STORE_ERR_CLOSED', 'load() after close()');
    return loadSnapshot(this.#reader, this.#readerStmts, this.#path);
  }

  write(mutations: readonly StoreMutation[]): Promise<void> {
    if (this.#closed) return Promise.reject(new StoreError('STORE_ERR_CLOSED', 'write() after close()'));
    if (this.#broken !== undefined) return Promise.reject(this.#broken);
    const invalid = checkMutations(mutations);
    if (invalid !== undefined) return Promise.reject(invalid);
    // Backpressure: the caller learns now (and can answer 503/500) instead of memory growing while the disk stalls.
    if (this.#queue.queuedMutations + this.#inflightMutations + mutations.length > this.#maxPending) {
      return Promise.reject(
        new StoreError('STORE_ERR_OVERLOADED', `${this.#queue.queuedMutations + this.#inflightMutations} mutations are waiting for the database`),
      );
    }
    return this.#queue.enqueue(mutations);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#queue.flush();
    this.#closed = true;
    // The reader goes first, so that the worker's connection is the last one and leaves no -wal file behind.
    this.#reader.close();
    if (this.#broken !== undefined) {
      await this.#worker.terminate();
      return;
    }
    const error = await new Promise<WireError | null>((resolve) => {
      this.#onClosed = resolve;
      this.#worker.postMessage({ type: 'close' } satisfies ToWorker);
    });
    await this.#worker.terminate();
    if (error !== null) throw fromWire(error);
  }

  stats(): StoreStats {
    const s = this.#stats;
    return {
      commits: s.commits,
      mutations: s.mutations,
      lastCommitMs: s.lastCommitMs,
      pendingMutations: this.#queue.queuedMutations + this.#inflightMutations,
    };
  }

  info(): SqliteStoreInfo {
    return {
      path: this.#path,
      thread: 'worker',
      durability: this.#durability,
      synchronous: this.#synchronous,
      journalMode: this.#journalMode,
      sqliteVersion: this.#sqliteVersion,
      schemaVersion: SCHEMA_VERSION,
      migratedFrom: this.#migratedFrom,
      failedWrites: this.#stats.failedCalls,
    };
  }

  #post(group: Group): void {
    if (this.#broken !== undefined) {
      for (const reject of group.rejects) reject(this.#broken);
      return;
    }
    const seq = ++this.#seq;
    try {
      this.#worker.postMessage({ type: 'write', seq, calls: group.calls } satisfies ToWorker);
    } catch (err) {
      // A record that cannot be cloned (a function or symbol hidden in an extra property): find the culprits one
      // call at a time, so that the other callers of the group are not failed with them.
      if (group.calls.length > 1) {
        for (let i = 0; i < group.calls.length; i++) {
          this.#post({ calls: [group.calls[i]!], resolves: [group.resolves[i]!], rejects: [group.rejects[i]!], mutations: group.calls[i]!.length });
        }
      } else {
        const message = err instanceof Error ? err.message : String(err);
        group.rejects[0]!(new StoreError('STORE_ERR_INVALID_MUTATION', `a record is not plain data: ${message}`, { cause: err }));
      }
      return;
    }
    this.#inflight.set(seq, group);
    this.#inflightMutations += group.mutations;
  }

  #onMessage(m: FromWorker): void {
    if (m.type === 'done') {
      this.#stats = m.stats;
      const group = this.#inflight.get(m.seq);
      if (group === undefined) return;
      this.#inflight.delete(m.seq);
      this.#inflightMutations -= group.mutations;
      if (m.failures === null) {
        for (const resolve of group.resolves) resolve();
        return;
      }
      const failed = new Map(m.failures);
      for (let i = 0; i < group.calls.length; i++) {
        const err = failed.get(i);
        if (err === undefined) group.resolves[i]!();
        else group.rejects[i]!(fromWire(err));
      }
    } else if (m.type === 'closed') {
      this.#onClosed?.(m.error);
    }
  }

  /** The worker is gone: what it had not acknowledged may or may not be committed, so it is reported as failed. */
  #fail(reason: string): void {
    if (this.#broken !== undefined) return;
    this.#broken = new StoreError('STORE_ERR_COMMIT_FAILED', reason);
    for (const group of this.#inflight.values()) for (const reject of group.rejects) reject(this.#broken);
    this.#inflight.clear();
    this.#inflightMutations = 0;
    this.#onClosed?.({ code: 'STORE_ERR_CLOSE_FAILED', message: reason });
  }
}
