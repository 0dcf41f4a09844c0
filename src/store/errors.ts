/**
 * The storage layer's one error class. Every failure a store reports (rejected write, failed open, bad URL) is a
 * StoreError with a stable `code`, so callers branch on the code and operators can look it up in docs/storage.md.
 */

/** Every code a StoreError can carry. Stable: new codes may be added, existing ones keep their meaning. */
export const STORE_ERROR_CODES = [
  /** The store was closed; the write or load was not performed. */
  'STORE_ERR_CLOSED',
  /** A mutation is malformed (unknown kind, missing field, wrong type); nothing of its write was applied. */
  'STORE_ERR_INVALID_MUTATION',
  /** Too many writes are waiting for the database (it is slower than the traffic); this one was refused at once. */
  'STORE_ERR_OVERLOADED',
  /** The database refused the transaction (I/O error, disk full, constraint); nothing of the write was applied. */
  'STORE_ERR_COMMIT_FAILED',
  /** Reading the stored state failed, or a stored row could not be turned back into a record. */
  'STORE_ERR_LOAD_FAILED',
  /** The database could not be opened or configured (path, permissions, not a database, locked). */
  'STORE_ERR_OPEN_FAILED',
  /** The database was written by a newer presenced (its schema version is higher than this build knows). */
  'STORE_ERR_SCHEMA_TOO_NEW',
  /** Applying a schema migration failed; the database was left at its previous version. */
  'STORE_ERR_MIGRATION_FAILED',
  /** Closing the database failed; committed writes are safe (they are in the WAL, replayed at next open). */
  'STORE_ERR_CLOSE_FAILED',
  /** The storage URL is not one of the accepted forms (sqlite:PATH, memory:). */
  'STORE_ERR_INVALID_URL',
  /** The URL names a backend this build does not provide (postgres://). */
  'STORE_ERR_UNSUPPORTED_BACKEND',
] as const;

export type StoreErrorCode = (typeof STORE_ERROR_CODES)[number];

export class StoreError extends Error {
  readonly code: StoreErrorCode;

  constructor(code: StoreErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreError';
    this.code = code;
  }
}

/** Wraps a driver error with a code and a message that names what we were doing. */
export function wrapStoreError(code: StoreErrorCode, doing: string, cause: unknown): StoreError {
  if (cause instanceof StoreError) return cause;
  const detail = cause instanceof Error ? cause.message : String(cause);
  const driverCode = (cause as { code?: unknown } | null)?.code;
  const suffix = typeof driverCode === 'string' ? ` (${driverCode})` : '';
  return new StoreError(code, `${doing}: ${detail}${suffix}`, { cause });
}
