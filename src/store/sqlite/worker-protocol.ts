/** Messages between SqliteWorkerStore (event loop) and the storage worker. Plain data only (structured clone). */
import type { StoreErrorCode } from '../errors.js';
import type { StoreMutation } from '../store.js';
import type { ResolvedOptions } from './database.js';

export interface WorkerInit {
  readonly path: string;
  readonly options: ResolvedOptions;
}

export type ToWorker =
  /** One group: call i is calls[i]; answered by one 'done' with the same seq, after COMMIT. */
  | { readonly type: 'write'; readonly seq: number; readonly calls: readonly (readonly StoreMutation[])[] }
  /** Commit what is queued, checkpoint, close the database; answered by 'closed'. */
  | { readonly type: 'close' };

export interface WorkerStats {
  readonly commits: number;
  readonly mutations: number;
  readonly lastCommitMs: number;
  readonly failedCalls: number;
}

export interface WireError {
  readonly code: StoreErrorCode;
  readonly message: string;
}

export type FromWorker =
  /** synchronous: the PRAGMA synchronous value of the writing connection, as read back (1 NORMAL, 2 FULL). */
  | { readonly type: 'ready'; readonly synchronous: number }
  | { readonly type: 'open-failed'; readonly error: WireError }
  /** failures: [call index, error] for each call that was rolled back; null when every call committed. */
  | { readonly type: 'done'; readonly seq: number; readonly failures: [number, WireError][] | null; readonly stats: WorkerStats }
  | { readonly type: 'closed'; readonly error: WireError | null };
