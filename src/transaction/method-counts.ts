/**
 * SIP traffic by method and status code, for metrics (presenced_sip_requests_received_total{method} ...).
 * Counted on the hot path as plain object increments and copied only when stats() is read (a scrape).
 *
 * Methods come from the wire, so they are untrusted: any method outside the registered set below counts as
 * "other", which keeps the label space (and memory) bounded whatever a peer sends. Status codes are three
 * digits by construction (RFC 3261 §7.2, checked by the parser), so at most 600 per method.
 */

/** Methods of RFC 3261 and the extensions a presence server or proxy sees (RFC 3262, 3265/6665, 3311, 3428, 3515, 3903, 6086). */
const KNOWN_METHODS: ReadonlySet<string> = new Set([
  'ACK',
  'BYE',
  'CANCEL',
  'INFO',
  'INVITE',
  'MESSAGE',
  'NOTIFY',
  'OPTIONS',
  'PRACK',
  'PUBLISH',
  'REFER',
  'REGISTER',
  'SUBSCRIBE',
  'UPDATE',
]);

/** The metric label of a method: itself when registered, else "other". */
export function methodLabel(method: string): string {
  return KNOWN_METHODS.has(method) ? method : 'other';
}

/** Counts by method; `{INVITE: 3, NOTIFY: 10}`. */
export type CountsByMethod = Readonly<Record<string, number>>;
/** Counts by method then status code; `{SUBSCRIBE: {'200': 4, '489': 1}}`. */
export type CountsByMethodAndCode = Readonly<Record<string, Readonly<Record<string, number>>>>;

export interface MethodCountsSnapshot {
  /** New requests received (retransmissions absorbed by a transaction excluded), by method. */
  readonly requestsReceived: CountsByMethod;
  /** Final responses sent by server transactions (retransmissions excluded), by request method and code. */
  readonly responsesSent: CountsByMethodAndCode;
  /** Requests sent through new client transactions (retransmissions excluded), by method. */
  readonly requestsSent: CountsByMethod;
  /** The first final response received per client transaction, by method and code (local 408/503 excluded). */
  readonly responsesReceived: CountsByMethodAndCode;
}

function bump(into: Record<string, number>, key: string): void {
  into[key] = (into[key] ?? 0) + 1;
}

function bump2(into: Record<string, Record<string, number>>, method: string, code: number): void {
  const byCode = (into[method] ??= {});
  bump(byCode, String(code));
}

function copy2(from: Record<string, Record<string, number>>): Record<string, Record<string, number>> {
  const out: Record<string, Record<string, number>> = {};
  for (const [k, v] of Object.entries(from)) out[k] = { ...v };
  return out;
}

export class MethodCounts {
  readonly #requestsReceived: Record<string, number> = {};
  readonly #responsesSent: Record<string, Record<string, number>> = {};
  readonly #requestsSent: Record<string, number> = {};
  readonly #responsesReceived: Record<string, Record<string, number>> = {};

  requestReceived(method: string): void {
    bump(this.#requestsReceived, methodLabel(method));
  }

  responseSent(method: string, status: number): void {
    bump2(this.#responsesSent, methodLabel(method), status);
  }

  requestSent(method: string): void {
    bump(this.#requestsSent, methodLabel(method));
  }

  responseReceived(method: string, status: number): void {
    bump2(this.#responsesReceived, methodLabel(method), status);
  }

  /** Copies, so a reader can keep them while counting goes on. */
  snapshot(): MethodCountsSnapshot {
    return {
      requestsReceived: { ...this.#requestsReceived },
      responsesSent: copy2(this.#responsesSent),
      requestsSent: { ...this.#requestsSent },
      responsesReceived: copy2(this.#responsesReceived),
    };
  }
}
