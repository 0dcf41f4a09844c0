/** Answering a server transaction from the core: one place that adds the To-tag and never throws. */
import { createResponse } from '../sip/index.js';
import { newTag } from '../transaction/index.js';
import type { ServerTransaction } from '../transaction/index.js';
import type { CoreLogger } from './context.js';

export interface ReplyOptions {
  readonly reason?: string;
  readonly headers?: Array<[string, string]>;
  /** Our To-tag; a fresh one when absent (RFC 3261 §8.2.6.2: every final response carries a To-tag). */
  readonly toTag?: string;
  /** RFC 3261 §12.1.1: a response that establishes a dialog copies the request's Record-Route. */
  readonly copyRecordRoute?: boolean;
}

export function reply(tx: ServerTransaction, status: number, opts: ReplyOptions, logger: CoreLogger): void {
  try {
    const response = createResponse(tx.request, tx.core, status, {
      reason: opts.reason,
      toTag: opts.toTag ?? newTag(),
      headers: opts.headers,
      copyRecordRoute: opts.copyRecordRoute,
    });
    tx.respond(response);
  } catch (err) {
    logger.error({ err, status }, 'could not send a response');
  }
}

/** A reason phrase must be one line of printable text (RFC 3261 §25.1 Reason-Phrase); bound its length too. */
export function safeReason(text: string): string {
  const clean = text.replace(/[^\x20-\x7e]/g, '?');
  return clean.length > 120 ? `${clean.slice(0, 117)}...` : clean;
}

/**
 * The answer to a request whose store write failed: 503 when the store sheds load (RFC 3261 §21.5.4: the
 * client retries after Retry-After, ideally elsewhere), 500 otherwise; both with Retry-After.
 */
export function storeFailureStatus(err: unknown): { status: number; reason: string } {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'STORE_ERR_OVERLOADED'
    ? { status: 503, reason: 'Service Unavailable' }
    : { status: 500, reason: 'Storage unavailable' };
}
