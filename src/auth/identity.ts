/** Attaching an authenticated identity to a server transaction without touching the transaction object. */
import type { ServerTransaction } from '../transaction/index.js';

/**
 * A view of `tx` that carries `identity`: every member delegates to the transaction itself (whose state lives
 * in private fields, so a prototype-based copy would not do).
 */
export function withIdentity(tx: ServerTransaction, identity: string): ServerTransaction {
  return {
    get request() {
      return tx.request;
    },
    get core() {
      return tx.core;
    },
    get inbound() {
      return tx.inbound;
    },
    get terminated() {
      return tx.terminated;
    },
    identity,
    respond: (response) => tx.respond(response),
    ...(tx.setCancelHandler !== undefined ? { setCancelHandler: (h: () => void) => tx.setCancelHandler!(h) } : {}),
  };
}
