/**
 * Holds requests back from a component that is not ready (still loading its state) or no longer running
 * (shutting down): they get 503 with Retry-After (RFC 3261 §21.5.4), which clients retry, instead of
 * reaching a half-built core.
 */
import { createResponse } from '../sip/index.js';
import { newTag, type ServerTransaction } from '../transaction/index.js';

/** Seconds a client is told to wait before retrying (start-up loads the store; a restart takes seconds). */
const RETRY_AFTER_S = '2';

export class StartupGate<T> {
  #target: T | undefined;
  #closed = false;

  /** Lets requests through to `target`. */
  open(target: T): void {
    if (!this.#closed) this.#target = target;
  }

  /** From now on every request is refused; used at shutdown. */
  close(): void {
    this.#closed = true;
    this.#target = undefined;
  }

  run(tx: ServerTransaction, fn: (target: T) => void | Promise<void>): void | Promise<void> {
    const target = this.#target;
    if (target !== undefined) return fn(target);
    tx.respond(
      createResponse(tx.request, tx.core, 503, {
        toTag: newTag(),
        reason: this.#closed ? 'Shutting Down' : 'Starting Up',
        headers: [['Retry-After', RETRY_AFTER_S]],
      }),
    );
  }
}
