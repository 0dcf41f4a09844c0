/**
 * The transaction user of presenced: one handler per SIP method, and the answers RFC 3261 requires for
 * methods we do not serve. Request validation (mandatory headers, Max-Forwards, retransmissions, ACK,
 * CANCEL without a transaction) happens below, in the transaction layer; presence logic happens above,
 * in the core. This file only dispatches.
 */
import { createResponse, type RequestCore, type ResponseCore, type SipRequest, type SipResponse } from '../sip/index.js';
import type { InboundContext } from '../transport/index.js';
import { newTag, type ServerTransaction, type TransactionUser } from '../transaction/index.js';
import type { Logger } from '../observability/index.js';

/** Handles one new request; answers through tx.respond. May be async: a rejection is answered 500. */
export type MethodHandler = (tx: ServerTransaction) => void | Promise<void>;

/** The stateful proxy as the router sees it (src/proxy StatefulProxy, wired by server.ts). */
export interface ProxyRoute {
  /** Methods it forwards, for Allow (RFC 3261 §20.5). */
  readonly methods: readonly string[];
  /** True for a request to forward rather than answer (checked before the handlers). */
  isProxied(request: SipRequest, core: RequestCore): boolean;
  handle: MethodHandler;
  /** ACKs for 2xx (their own transactions, RFC 3261 §17.1.1.3). */
  onAck(request: SipRequest, core: RequestCore, inbound: InboundContext): void;
  /** Responses matching no client transaction, forwarded statelessly (§16.7). */
  onStrayResponse?(response: SipResponse, core: ResponseCore): void;
}

/**
 * Authentication in front of the handlers (src/auth AuthGate, RFC 3261 §22): answers the request itself (401,
 * 403, 400) and returns undefined, or returns the transaction to hand on, with `identity` when authenticated.
 */
export interface RequestGate {
  check(tx: ServerTransaction): ServerTransaction | undefined;
}

export interface MethodRouterOptions {
  /** Handlers by upper-case method name (PUBLISH, SUBSCRIBE, later REGISTER ...). */
  handlers: ReadonlyMap<string, MethodHandler>;
  /** Event packages served, for Allow-Events (RFC 6665 §8.2.2). Read per request: packages may be added. */
  allowEvents: () => readonly string[];
  /** Body media types accepted, for Accept (RFC 3261 §20.1). */
  acceptedTypes: () => readonly string[];
  /** Option tags we support (RFC 3261 §20.37). */
  supported: readonly string[];
  logger: Logger;
  /** Calls between registered users (RFC 3261 §16): when set, its methods go to it instead of 405. */
  proxy?: ProxyRoute;
  /** Checked before every handler (REGISTER, PUBLISH, SUBSCRIBE ...); the gate decides which methods it guards. */
  auth?: RequestGate;
}

/**
 * Methods of RFC 3261 and its extensions that a presence server recognises but does not serve: they get
 * 405 with Allow (§8.2.1). Anything else is unknown to us and gets 501 (§21.5.2).
 */
const KNOWN_UNSUPPORTED = new Set(['INVITE', 'REGISTER', 'BYE', 'INFO', 'MESSAGE', 'REFER', 'UPDATE', 'PRACK']);

/** RFC 3261 §20.5: every method understood, ACK and CANCEL included, is listed in Allow. */
const BUILT_IN_ALLOWED = ['OPTIONS', 'NOTIFY', 'ACK', 'CANCEL'];

export class MethodRouter implements TransactionUser {
  readonly #handlers: ReadonlyMap<string, MethodHandler>;
  readonly #allowEvents: () => readonly string[];
  readonly #acceptedTypes: () => readonly string[];
  readonly #supported: readonly string[];
  readonly #log: Logger;
  readonly #allow: string;
  readonly #proxy: ProxyRoute | undefined;
  /** Present only with a proxy: without one the transaction layer absorbs ACKs for 2xx (none of ours exist). */
  readonly onAck?: (request: SipRequest, core: RequestCore, inbound: InboundContext) => void;
  /** Present only with a proxy: responses matching no client transaction, forwarded statelessly (§16.7). */
  readonly onStrayResponse?: (response: SipResponse, core: ResponseCore) => void;

  constructor(options: MethodRouterOptions) {
    const auth = options.auth;
    this.#handlers =
      auth === undefined
        ? options.handlers
        : new Map(
            [...options.handlers].map(([method, handler]): [string, MethodHandler] => [
              method,
              (tx) => {
                const passed = auth.check(tx);
                return passed === undefined ? undefined : handler(passed);
              },
            ]),
          );
    this.#allowEvents = options.allowEvents;
    this.#acceptedTypes = options.acceptedTypes;
    this.#supported = options.supported;
    this.#log = options.logger;
    const methods = ['OPTIONS', ...[...options.handlers.keys()].filter((m) => m !== 'OPTIONS')];
    for (const m of BUILT_IN_ALLOWED) if (!methods.includes(m)) methods.push(m);
    const proxy = options.proxy;
    this.#proxy = proxy;
    if (proxy !== undefined) {
      for (const m of proxy.methods) if (!methods.includes(m)) methods.push(m);
      this.onAck = (request, core, inbound) => proxy.onAck(request, core, inbound);
      const stray = proxy.onStrayResponse;
      if (stray !== undefined) this.onStrayResponse = (response, core) => stray.call(proxy, response, core);
    }
    this.#allow = methods.join(', ');
  }

  /** Requests the proxy forwards skip the UAS-only checks below (TransactionUser.isProxied). */
  isProxied(request: SipRequest, core: RequestCore): boolean {
    return this.#proxy !== undefined && this.#proxy.isProxied(request, core);
  }

  /** The Allow header value: methods we answer as a UAS. */
  get allow(): string {
    return this.#allow;
  }

  onRequest(tx: ServerTransaction): void {
    const method = tx.request.method;
    if (this.#proxy !== undefined && this.#proxy.isProxied(tx.request, tx.core)) {
      this.#run(this.#proxy.handle, tx);
      return;
    }
    const handler = this.#handlers.get(method);
    if (handler !== undefined) {
      this.#run(handler, tx);
      return;
    }
    switch (method) {
      case 'OPTIONS':
        this.#options(tx);
        return;
      case 'NOTIFY':
        // Without a NOTIFY handler (the outbound subscriptions of server/outbound-wiring.ts) we hold no
        // subscription as a subscriber, so no NOTIFY can match a dialog of ours (RFC 6665 §4.1.3, RFC 3261 §12.2.2).
        this.#reply(tx, 481, { reason: 'Subscription Does Not Exist' });
        return;
      case 'ACK':
        // An ACK reaching the TU belongs to no INVITE of ours; it never gets a response (RFC 3261 §17.2.3).
        return;
      case 'CANCEL':
        // The transaction layer matches CANCEL; one reaching us matched nothing (RFC 3261 §9.2).
        this.#reply(tx, 481);
        return;
      default:
        if (KNOWN_UNSUPPORTED.has(method)) {
          this.#reply(tx, 405, { headers: [['Allow', this.#allow]] });
        } else {
          this.#reply(tx, 501, { headers: [['Allow', this.#allow]] });
        }
    }
  }

  #run(handler: MethodHandler, tx: ServerTransaction): void {
    const fail = (err: unknown): void => {
      this.#log.error({ err, method: tx.request.method, callId: tx.core.callId }, 'request handler failed');
      // A final response already sent makes this a no-op (ServerTransaction.respond contract).
      this.#reply(tx, 500, { headers: [['Retry-After', '1']] });
    };
    try {
      const result = handler(tx);
      if (result !== undefined) result.catch(fail);
    } catch (err) {
      fail(err);
    }
  }

  /** RFC 3261 §11.2: capabilities in Allow, Accept, Accept-Encoding, Accept-Language, Supported; RFC 6665 §4.4.4: Allow-Events. */
  #options(tx: ServerTransaction): void {
    const headers: Array<[string, string]> = [
      ['Allow', this.#allow],
      ['Allow-Events', this.#allowEvents().join(', ')],
      ['Accept', this.#acceptedTypes().join(', ')],
      // No content coding is implemented; identity is always acceptable (RFC 3261 §20.2).
      ['Accept-Encoding', 'identity'],
      ['Accept-Language', 'en'],
    ];
    if (this.#supported.length > 0) headers.push(['Supported', this.#supported.join(', ')]);
    else headers.push(['Supported', '']);
    this.#reply(tx, 200, { headers });
  }

  #reply(tx: ServerTransaction, status: number, opts: { reason?: string; headers?: Array<[string, string]> } = {}): void {
    // The Server header is added by the transaction layer to every response that lacks one (RFC 3261 §20.35).
    const headers: Array<[string, string]> = opts.headers ?? [];
    const response: SipResponse = createResponse(tx.request, tx.core, status, {
      // RFC 3261 §8.2.6.2: a UAS adds a To-tag to every response but 100 when the request had none.
      toTag: newTag(),
      headers,
      ...(opts.reason !== undefined ? { reason: opts.reason } : {}),
    });
    tx.respond(response);
  }
}
