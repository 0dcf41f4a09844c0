/**
 * Commits a group of writes (the writes of many callers) in ONE SQLite transaction, synchronously. Used by the
 * main-thread store and by the storage worker alike.
 *
 * set-notify-cseq, issued once per NOTIFY, is coalesced: one UPDATE per subscription per group, with the highest
 * CSeq, applied after the group's other mutations (it only touches its own row, so the delay is invisible).
 *
 * Failure: if the group transaction fails, it is rolled back and redone once with one SAVEPOINT per caller, still
 * in a single transaction: a caller whose mutations fail is rolled back to its savepoint and rejected, the others
 * are committed. Only if that second transaction cannot commit (disk full, I/O error) does every caller of the group
 * fail. Malformed mutations never get this far (validated before queuing).
 */
import { performance } from 'node:perf_hooks';
import type Database from 'better-sqlite3';
import { type StoreError, wrapStoreError } from '../errors.js';
import type { StoreMutation } from '../store.js';
import type { Statements } from './statements.js';

type Stmt = Database.Statement<unknown[]>;

/** undefined: every call committed. Otherwise one entry per call: its error, or undefined if it committed. */
export type GroupOutcome = (StoreError | undefined)[] | undefined;

export class BatchCommitter {
  readonly #db: Database.Database;
  readonly #stmts: Statements;
  readonly #begin: Stmt;
  readonly #commit: Stmt;
  readonly #rollback: Stmt;
  readonly #savepoint: Stmt;
  readonly #release: Stmt;
  readonly #rollbackToSavepoint: Stmt;
  /** Highest set-notify-cseq per subscription id in the group being committed; emptied after every group. */
  readonly #cseq = new Map<string, number>();
  /** Highest body version carried by those set-notify-cseq (versions grow with the CSeq they were sent with). */
  readonly #cseqVersion = new Map<string, number>();
  readonly #applyCseq = (localSeq: number, id: string): void =>
    this.#stmts.setNotifyCseq(id, localSeq, this.#cseqVersion.get(id));

  commits = 0;
  mutations = 0;
  lastCommitMs = 0;
  /** Calls the database rejected (malformed writes are refused before and not counted). */
  failedCalls = 0;

  constructor(db: Database.Database, stmts: Statements) {
    this.#db = db;
    this.#stmts = stmts;
    // IMMEDIATE takes the write lock at BEGIN, so a concurrent reader (an operator's sqlite3 shell) cannot make
    // the commit fail half-way with SQLITE_BUSY on lock upgrade; busy_timeout governs the wait instead.
    this.#begin = db.prepare('BEGIN IMMEDIATE');
    this.#commit = db.prepare('COMMIT');
    this.#rollback = db.prepare('ROLLBACK');
    this.#savepoint = db.prepare('SAVEPOINT caller');
    this.#release = db.prepare('RELEASE caller');
    this.#rollbackToSavepoint = db.prepare('ROLLBACK TO caller');
  }

  commit(calls: readonly (readonly StoreMutation[])[]): GroupOutcome {
    const started = performance.now();
    let outcome: GroupOutcome;
    try {
      const count = this.#commitGroup(calls);
      this.commits++;
      this.mutations += count;
    } catch (err) {
      outcome = this.#commitIsolated(calls, err);
    }
    this.lastCommitMs = performance.now() - started;
    return outcome;
  }

  #commitGroup(calls: readonly (readonly StoreMutation[])[]): number {
    const cseq = this.#cseq;
    let count = 0;
    try {
      this.#begin.run();
      for (let i = 0; i < calls.length; i++) {
        const mutations = calls[i]!;
        count += mutations.length;
        for (let j = 0; j < mutations.length; j++) {
          const m = mutations[j]!;
          if (m.kind === 'set-notify-cseq') {
            const seen = cseq.get(m.id);
            if (seen === undefined || m.localSeq > seen) cseq.set(m.id, m.localSeq);
            if (m.version !== undefined) {
              const v = this.#cseqVersion.get(m.id);
              if (v === undefined || m.version > v) this.#cseqVersion.set(m.id, m.version);
            }
            continue;
          }
          // A put or delete of the subscription supersedes the CSeqs queued for it before (in-order semantics).
          if (cseq.size !== 0) {
            const id = m.kind === 'put-subscription' ? m.record.id : m.kind === 'delete-subscription' ? m.id : undefined;
            if (id !== undefined) {
              cseq.delete(id);
              this.#cseqVersion.delete(id);
            }
          }
          this.#stmts.apply(m);
        }
      }
      if (cseq.size !== 0) cseq.forEach(this.#applyCseq);
      this.#commit.run();
    } catch (err) {
      this.#rollbackQuietly();
      throw err;
    } finally {
      cseq.clear();
      this.#cseqVersion.clear();
    }
    return count;
  }

  /** The retry after a failed group: one savepoint per caller, so one caller's failure is its own. */
  #commitIsolated(calls: readonly (readonly StoreMutation[])[], groupFailure: unknown): (StoreError | undefined)[] {
    const n = calls.length;
    const errors = new Array<StoreError | undefined>(n).fill(undefined);
    let committed = 0;
    try {
      this.#begin.run();
      for (let i = 0; i < n; i++) {
        const mutations = calls[i]!;
        this.#savepoint.run();
        try {
          for (let j = 0; j < mutations.length; j++) this.#stmts.apply(mutations[j]!);
          this.#release.run();
          committed += mutations.length;
        } catch (err) {
          // Some errors (SQLITE_FULL, SQLITE_IOERR) roll back the whole transaction: nothing left to isolate.
          if (!this.#db.inTransaction) throw err;
          this.#rollbackToSavepoint.run();
          this.#release.run();
          errors[i] = wrapStoreError('STORE_ERR_COMMIT_FAILED', 'the write was rolled back', err);
        }
      }
      this.#commit.run();
    } catch (err) {
      this.#rollbackQuietly();
      const error = wrapStoreError('STORE_ERR_COMMIT_FAILED', 'the group commit failed', err ?? groupFailure);
      this.failedCalls += n;
      return errors.map((e) => e ?? error);
    }
    this.commits++;
    this.mutations += committed;
    for (const e of errors) if (e !== undefined) this.failedCalls++;
    return errors;
  }

  /** Ends a failed transaction; the error that made it fail is the one worth reporting, not the rollback's. */
  #rollbackQuietly(): void {
    try {
      if (this.#db.inTransaction) this.#rollback.run();
    } catch {
      // The connection is unusable if even ROLLBACK fails; the next BEGIN reports it to the next callers.
    }
  }
}
