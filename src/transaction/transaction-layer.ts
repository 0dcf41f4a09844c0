/**
 * The transaction layer (RFC 3261 §17): matches requests and responses to transactions, absorbs
 * retransmissions, answers malformed requests statelessly, performs the UAS checks that belong below
 * the TU (Max-Forwards §16.3, merged requests §8.2.2.2, Require §8.2.2.3), handles ACK and CANCEL
 * (§9.2), and runs client transactions for requests we originate (NOTIFY) or forward as a proxy
 * (INVITE client transactions with CANCEL, RFC 3261 §17.1.1 and §9.1).
 */
import {
  createRequest,
  createResponse,
  formatVia,
  parseMessage,
  parseVia,
  serializeMessage,
  SipParseError,
  validateRequest,
  validateResponse,
  type RequestCore,
  type SipMessage,
  type SipRequest,
  type SipResponse,
} from '../sip/index.js';
import type { Logger } from '../observability/index.js';
import { normalizeAddress, stampVia, type Destination, type InboundContext, type SentBy } from '../transport/index.js';
import { systemClock, type Clock } from './clock.js';
import { TransactionCounters, type TransactionTransport, type TxContext } from './context.js';
import { newBranch, newTag } from './ids.js';
import { InviteClientTransaction } from './invite-client-transaction.js';
import { InviteServerTransaction } from './invite-server-transaction.js';
import { clientKey, hasMagicCookie, mergeKey, sentByKey, serverKey, tagOf } from './keys.js';
import { NonInviteClientTransaction, type FallbackRoute } from './non-invite-client-transaction.js';
import { NonInviteServerTransaction } from './non-invite-server-transaction.js';
import { CompletedServerRecord } from './completed-server-record.js';
import { responseRoute, sendBytes, type ServerEntry, type ServerTransactionKeys } from './server-transaction.js';
import { buildStatelessReply, requestLineMethod, scanHead } from './stateless.js';
import { TimerQueue } from './timer-queue.js';
import { MethodCounts, type MethodCountsSnapshot } from './method-counts.js';
import type {
  ClientTransactionOutcome,
  ForwardOptions,
  InviteClientEvents,
  InviteClientHandle,
  RequestSender,
  TransactionUser,
} from './transaction-user.js';

export interface TransactionLayerOptions {
  readonly logger: Logger;
  /** Value of the Server header added to responses that lack one ('' adds none). */
  readonly serverHeader: string;
  /** Option tags we support; a Require naming any other is answered 420 (§8.2.2.3). */
  readonly supported: readonly string[];
  readonly clock?: Clock;
  /** RFC 3261 §17.1.1.1 timer base values. */
  readonly t1Ms?: number;
  readonly t2Ms?: number;
  readonly t4Ms?: number;
  /** A request the TU has not answered after this long gets a 500. Default 32 s (64*T1). */
  readonly unansweredTimeoutMs?: number;
  /**
   * Bounds on live transactions (server: not yet answered, or INVITE); beyond them requests get a stateless
   * 503 and sendRequest a local 503.
   */
  readonly maxServerTransactions?: number;
  /**
   * Completed non-INVITE server transactions kept for Timer J (32 s on UDP, ~0.9 KB each): beyond this many the
   * oldest is dropped early rather than new requests refused. Default 200,000 (6,000 requests/s sustained).
   */
  readonly maxCompletedTransactions?: number;
  readonly maxClientTransactions?: number;
  /**
   * RFC 3261 §18.1.1: a UDP-bound request larger than this goes over TCP (falling back to UDP if the
   * connection fails). Default 1300 bytes; 0 disables.
   */
  readonly udpMtu?: number;
  /** Answer Max-Forwards: 0 with 483 for methods other than OPTIONS. Default true. */
  readonly rejectMaxForwardsZero?: boolean;
  /**
   * Answer a request without Max-Forwards with 400 naming it (RFC 3261 §8.1.1 makes it mandatory). Default
   * true; false accepts RFC 2543 peers, as RFC 4475 §3.4.1 allows for elements that want backwards compatibility.
   */
  readonly requireMaxForwards?: boolean;
}

export interface TransactionStats extends MethodCountsSnapshot {
  /** Server transactions in the matching table, completed ones (Timer J) included. */
  readonly serverTransactions: number;
  readonly completedServerTransactions: number;
  readonly completedEvictedEarly: number;
  readonly clientTransactions: number;
  readonly requestRetransmissionsAbsorbed: number;
  readonly responsesRetransmitted: number;
  readonly requestsRetransmitted: number;
  readonly responseRetransmissionsAbsorbed: number;
  readonly timeouts: number;
  readonly transportErrors: number;
  readonly statelessReplies: number;
  readonly malformedDropped: number;
  readonly strayResponses: number;
  readonly strayAcks: number;
  readonly unanswered: number;
  readonly overload: number;
  readonly mtuSwitchedToTcp: number;
  readonly mtuFallbacksToUdp: number;
}

const OVERLOAD_RETRY_AFTER_S = '5';

/** Methods tried first when matching a CANCEL to its transaction (§9.2), INVITE being the one that matters. */
const CANCEL_PROBE_FIRST = ['INVITE'];
/** Bound on the distinct request methods remembered for CANCEL matching (methods are tokens from the network). */
const MAX_PROBE_METHODS = 64;

/**
 * A transaction's place in the matching tables, and its keys. The tables hold this object, not the
 * transaction, so that handing a completed transaction over to its compact record (Timer J) is one field
 * write instead of a get and a set per table: with 100k+ entries lingering for Timer J, every Map operation
 * is a cache miss, and they were a tenth of a PUBLISH's cost.
 */
interface Registration extends ServerTransactionKeys {
  entry: ServerEntry;
  /** Still the value under `key` in #servers (a later transaction with the same key may take it over). */
  inServers: boolean;
  /** Registered under `mergeKey` in #merge. */
  inMerge: boolean;
}

export class TransactionLayer implements RequestSender {
  readonly #transport: TransactionTransport;
  readonly #user: TransactionUser;
  readonly #ctx: TxContext;
  readonly #supported: Set<string>;
  readonly #maxServer: number;
  readonly #maxCompleted: number;
  /** Completed records in the order they were made, which is their Timer J order (one fixed delay). */
  #completedFifo: (CompletedServerRecord | undefined)[] = [];
  #completedHead = 0;
  #completedCount = 0;
  readonly #maxClient: number;
  readonly #udpMtu: number;
  readonly #rejectMaxForwardsZero: boolean;
  readonly #requireMaxForwards: boolean;
  readonly #servers = new Map<string, Registration>();
  readonly #merge = new Map<string, Registration>();
  /** Methods of the server transactions seen, INVITE first: what a CANCEL may target (§9.2). */
  readonly #probeMethods: string[] = [...CANCEL_PROBE_FIRST];
  readonly #clients = new Map<string, NonInviteClientTransaction | InviteClientTransaction>();
  #stopped = false;

  constructor(transport: TransactionTransport, user: TransactionUser, opts: TransactionLayerOptions) {
    const clock = opts.clock ?? systemClock;
    const logger = opts.logger;
    const t1 = opts.t1Ms ?? 500;
    this.#transport = transport;
    this.#user = user;
    this.#ctx = {
      clock,
      timers: new TimerQueue(clock, (err) => logger.error({ err }, 'transaction timer callback threw')),
      transport,
      logger,
      counters: new TransactionCounters(),
      methods: new MethodCounts(),
      t1,
      t2: opts.t2Ms ?? 4000,
      t4: opts.t4Ms ?? 5000,
      serverHeader: opts.serverHeader,
      unansweredTimeoutMs: opts.unansweredTimeoutMs ?? 64 * t1,
    };
    this.#supported = new Set(opts.supported.map((t) => t.toLowerCase()));
    this.#maxServer = opts.maxServerTransactions ?? 200_000;
    this.#maxCompleted = opts.maxCompletedTransactions ?? 200_000;
    this.#maxClient = opts.maxClientTransactions ?? 200_000;
    this.#udpMtu = opts.udpMtu ?? 1300;
    this.#rejectMaxForwardsZero = opts.rejectMaxForwardsZero ?? true;
    this.#requireMaxForwards = opts.requireMaxForwards ?? true;
    transport.onMessage(this.#onMessage);
    transport.onParseError(this.#onParseError);
  }

  stats(): TransactionStats {
    return {
      ...this.#ctx.counters,
      ...this.#ctx.methods.snapshot(),
      serverTransactions: this.#servers.size,
      completedServerTransactions: this.#completedCount,
      clientTransactions: this.#clients.size,
    };
  }

  /** Cancels every timer; pending sendRequest promises resolve with a local 503. */
  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    for (const tx of [...this.#clients.values()]) tx.abort();
    for (const r of this.#servers.values()) if (r.entry instanceof CompletedServerRecord) r.entry.dispose();
    this.#ctx.timers.stop();
    this.#servers.clear();
    this.#merge.clear();
    this.#clients.clear();
    this.#completedFifo = [];
    this.#completedHead = 0;
    this.#completedCount = 0;
  }

  // ------------------------------------------------------------ client side

  sendRequest(request: SipRequest, destination: Destination, options?: ForwardOptions): Promise<ClientTransactionOutcome> {
    const counters = this.#ctx.counters;
    if (this.#stopped) return Promise.resolve(LOCAL_503);
    if (this.#clients.size >= this.#maxClient) {
      counters.overload++;
      return Promise.resolve(LOCAL_503);
    }
    const sentBy = this.#transport.localSentBy(destination);
    if (sentBy === undefined) {
      counters.transportErrors++;
      this.#ctx.logger.warn({ protocol: destination.protocol }, 'no listener to send this request from');
      return Promise.resolve(LOCAL_503);
    }
    const branch = options?.branch ?? newBranch();
    const method = request.method;
    let dest = destination;
    let data = serializeMessage(request, topLines(request, viaText(sentBy, branch)));
    let sentByStr = sentByString(sentBy);
    let fallback: FallbackRoute | undefined;
    if (dest.protocol === 'udp' && this.#udpMtu > 0 && data.length > this.#udpMtu && options?.noMtuSwitch !== true) {
      // §18.1.1: larger than 1300 bytes with the path MTU unknown: use a congestion-controlled transport.
      const tcpDest: Destination = { protocol: 'tcp', address: dest.address, port: dest.port };
      const tcpSentBy = this.#transport.localSentBy(tcpDest);
      if (tcpSentBy !== undefined) {
        counters.mtuSwitchedToTcp++;
        fallback = { data, dest, sentBy: sentByStr };
        data = serializeMessage(request, topLines(request, viaText(tcpSentBy, branch)));
        dest = tcpDest;
        sentByStr = sentByString(tcpSentBy);
      }
    }
    const key = clientKey(branch, method);
    this.#ctx.methods.requestSent(method);
    return new Promise<ClientTransactionOutcome>((resolve) => {
      const tx = new NonInviteClientTransaction(
        this.#ctx,
        { key, sentBy: sentByStr, method, data, dest, fallback },
        resolve,
        this.#onClientTerminated,
      );
      this.#clients.set(key, tx);
      tx.start();
    });
  }

  /**
   * Sends an INVITE through a new INVITE client transaction (RFC 3261 §17.1.1): our Via on top (fresh
   * branch unless given, rport), Max-Forwards defaulted. Events arrive through `events`; the handle
   * cancels (§9.1). A UDP INVITE is never moved to TCP for size here: a proxied INVITE goes to the flow
   * its target registered over. When the request cannot be sent at all, onFinal gets a 503 on a later tick.
   */
  sendInvite(request: SipRequest, destination: Destination, events: InviteClientEvents, options?: ForwardOptions): InviteClientHandle {
    const counters = this.#ctx.counters;
    const branch = options?.branch ?? newBranch();
    const sentBy = this.#stopped || this.#clients.size >= this.#maxClient ? undefined : this.#transport.localSentBy(destination);
    const sent = withTopVia(request, viaText(sentBy ?? { protocol: destination.protocol, host: '0.0.0.0', port: 0 }, branch));
    if (sentBy === undefined) {
      if (this.#clients.size >= this.#maxClient) counters.overload++;
      else counters.transportErrors++;
      queueMicrotask(() => events.onFinal(LOCAL_503));
      return { branch, request: sent, provisionalReceived: false, cancel: () => undefined };
    }
    const key = clientKey(branch, 'INVITE');
    this.#ctx.methods.requestSent('INVITE');
    const tx = new InviteClientTransaction(
      this.#ctx,
      { key, branch, sentBy: sentByString(sentBy), request: sent, data: serializeMessage(sent), dest: destination },
      events,
      { onTerminated: this.#onClientTerminated, sendCancel: this.#sendCancel },
    );
    this.#clients.set(key, tx);
    tx.start();
    return tx;
  }

  /**
   * §9.1: the CANCEL has the INVITE's Request-URI, Call-ID, From, To, CSeq number and Route set, and our
   * Via alone with the INVITE's branch; it runs as its own non-INVITE client transaction.
   */
  readonly #sendCancel = (invite: InviteClientTransaction): void => {
    if (this.#stopped) return;
    const h = invite.request.headers;
    const headers: Array<[string, string]> = [
      ['Via', h.getAll('Via')[0] ?? ''],
      ['Max-Forwards', '70'],
      ['From', h.get('From') ?? ''],
      ['To', h.get('To') ?? ''],
      ['Call-ID', h.get('Call-ID') ?? ''],
      ['CSeq', `${/^\s*(\d+)/.exec(h.get('CSeq') ?? '')?.[1] ?? '1'} CANCEL`],
    ];
    for (const r of h.getAll('Route')) headers.push(['Route', r]);
    const cancel = createRequest('CANCEL', invite.request.uri, headers);
    const key = clientKey(invite.branch, 'CANCEL');
    if (this.#clients.has(key)) return;
    this.#ctx.methods.requestSent('CANCEL');
    const tx = new NonInviteClientTransaction(
      this.#ctx,
      { key, sentBy: invite.sentBy, method: 'CANCEL', data: serializeMessage(cancel), dest: invite.destination },
      (outcome) => {
        if (outcome.status >= 300) this.#ctx.logger.debug({ status: outcome.status, callId: h.get('Call-ID') }, 'CANCEL not accepted');
      },
      this.#onClientTerminated,
    );
    this.#clients.set(key, tx);
    tx.start();
  };

  readonly #onClientTerminated = (tx: NonInviteClientTransaction | InviteClientTransaction): void => {
    if (this.#clients.get(tx.key) === tx) this.#clients.delete(tx.key);
  };

  #onResponse(res: SipResponse): void {
    const counters = this.#ctx.counters;
    const core = validateResponse(res);
    if (core instanceof SipParseError) {
      counters.malformedDropped++;
      return;
    }
    const via = core.via[0];
    const tx = via.branch === undefined ? undefined : this.#clients.get(clientKey(via.branch, core.cseq.method));
    // §18.1.2: a response whose sent-by is not the one we inserted is discarded.
    if (tx === undefined || tx.sentBy !== sentByKey(via)) {
      counters.strayResponses++;
      if (tx === undefined && this.#user.onStrayResponse !== undefined) {
        try {
          this.#user.onStrayResponse(res, core);
        } catch (err) {
          this.#ctx.logger.error({ err }, 'transaction user threw on a stray response');
        }
      }
      return;
    }
    // The first final response of each transaction (not retransmissions of it, nor further 2xx in Accepted).
    if (res.status >= 200 && (tx.state === 'trying' || tx.state === 'calling' || tx.state === 'proceeding')) {
      this.#ctx.methods.responseReceived(core.cseq.method, res.status);
    }
    tx.onResponse(res);
  }

  // ------------------------------------------------------------ server side

  readonly #onMessage = (msg: SipMessage, inbound: InboundContext): void => {
    if (this.#stopped) return;
    if (msg.kind === 'response') this.#onResponse(msg);
    else this.#onRequest(msg, inbound);
  };

  #onRequest(req: SipRequest, inbound: InboundContext): void {
    const validated = validateRequest(req);
    if (validated instanceof SipParseError) {
      this.#rejectInvalid(req, validated, inbound);
      return;
    }
    let core = validated;
    const topViaText = req.headers.getAll('via')[0] ?? '';
    const key = serverKey(req.method, core, req.uri, topViaText);
    const existing = this.#servers.get(key)?.entry;

    if (req.method === 'ACK') {
      this.#ctx.methods.requestReceived('ACK');
      // §17.2.3: an ACK matches the INVITE transaction (our non-2xx final). Any other ACK acknowledges a
      // 2xx (its own transaction, §17.1.1.3): the TU's if it forwards them, else absorbed.
      if (existing instanceof InviteServerTransaction && this.#ackToTagMatches(existing, core)) {
        if (!existing.onAck()) return;
      }
      const onAck = this.#user.onAck;
      if (onAck === undefined) {
        this.#ctx.counters.strayAcks++;
        return;
      }
      try {
        onAck.call(this.#user, req, core, inbound);
      } catch (err) {
        this.#ctx.logger.error({ err }, 'transaction user threw on ACK');
      }
      return;
    }
    if (existing !== undefined && (hasMagicCookie(core.via[0]) || existing.keys.requestToTag === tagOf(core.to))) {
      existing.onRetransmission();
      return;
    }

    // A new transaction. §18.2.1 / RFC 3581 §4: record where the request really came from.
    this.#ctx.methods.requestReceived(req.method);
    const stamped = stampVia(core.via[0], inbound.remote);
    if (stamped !== core.via[0]) {
      const vias = req.headers.getAll('via');
      vias[0] = formatVia(stamped);
      req.headers.set('Via', vias);
      core = { ...core, via: [stamped, ...core.via.slice(1)] };
    }
    // Completed records do not count: a burst of answered requests must not lock out the next ones.
    if (this.#servers.size - this.#completedCount >= this.#maxServer) {
      this.#ctx.counters.overload++;
      this.#replyStateless(req, 503, 'Service Unavailable', inbound, [['Retry-After', OVERLOAD_RETRY_AFTER_S]]);
      return;
    }
    if (req.method === 'CANCEL') {
      this.#onCancel(req, core, inbound, key, topViaText);
      return;
    }
    this.#noteMethod(req.method);

    // A request the TU forwards as a proxy skips the UAS-only checks (merged requests, Require).
    const proxied = this.#user.isProxied?.(req, core) === true;
    const mk = proxied ? undefined : mergeKey(core);
    const mergedWith = mk === undefined ? undefined : this.#merge.get(mk)?.entry;
    const keys = registration(key, mergedWith === undefined ? mk : undefined, tagOf(core.to));
    const tx =
      req.method === 'INVITE'
        ? new InviteServerTransaction(this.#ctx, req, core, inbound, keys, this.#onServerTerminated)
        : new NonInviteServerTransaction(this.#ctx, req, core, inbound, keys, this.#onServerTerminated);
    this.#register(keys, tx);
    if (tx instanceof InviteServerTransaction) tx.start();

    if (this.#rejectMaxForwardsZero && core.maxForwards === 0 && req.method !== 'OPTIONS') {
      // §16.3 step 2 (and §8.2: an OPTIONS with Max-Forwards 0 is answered by the UAS itself).
      tx.respond(createResponse(req, core, 483, { toTag: tx.toTag() }));
      return;
    }
    if (this.#requireMaxForwards && core.maxForwards === undefined) {
      // The syntax layer accepts its absence (RFC 4475 inv2543); as a UAS we hold peers to §8.1.1.
      tx.respond(createResponse(req, core, 400, { toTag: tx.toTag(), reason: 'Missing header: Max-Forwards' }));
      return;
    }
    if (mergedWith !== undefined) {
      // §8.2.2.2: same From tag, Call-ID and CSeq as an ongoing transaction, but not a retransmission of it.
      tx.respond(createResponse(req, core, 482, { toTag: tx.toTag() }));
      return;
    }
    const unsupported = proxied ? [] : this.#unsupportedRequires(req);
    if (unsupported.length > 0) {
      // §8.2.2.3: 420 with Unsupported listing the option tags we do not understand.
      tx.respond(createResponse(req, core, 420, { toTag: tx.toTag(), headers: [['Unsupported', unsupported.join(', ')]] }));
      return;
    }
    try {
      this.#user.onRequest(tx);
    } catch (err) {
      this.#ctx.logger.error({ err, method: req.method }, 'transaction user threw');
      if (!tx.finalSent && !tx.terminated) tx.respond(createResponse(req, core, 500, { toTag: tx.toTag() }));
    }
  }

  /** §9.2: 200 to a CANCEL matching a transaction (487 to a pending INVITE), 481 otherwise. */
  #onCancel(req: SipRequest, core: RequestCore, inbound: InboundContext, key: string, topViaText: string): void {
    const keys = registration(key, undefined, tagOf(core.to));
    const tx = new NonInviteServerTransaction(this.#ctx, req, core, inbound, keys, this.#onServerTerminated);
    this.#register(keys, tx);
    const target = this.#cancelTarget(core, req.uri, topViaText);
    if (target === undefined || target.terminated) {
      tx.respond(createResponse(req, core, 481, { toTag: newTag() }));
      return;
    }
    // The To tag of the CANCEL's response SHOULD equal the one of the original request's response (§9.2).
    tx.respond(createResponse(req, core, 200, { toTag: target.toTag() }));
    if (!target.finalSent) target.onCancel();
  }

  #ackToTagMatches(tx: InviteServerTransaction, core: RequestCore): boolean {
    // §17.2.3 (RFC 2543 rules): the ACK's To tag must be the one of our response.
    return hasMagicCookie(core.via[0]) || tagOf(core.to) === tx.toTag();
  }

  #unsupportedRequires(req: SipRequest): string[] {
    if (!req.headers.has('require')) return [];
    const out: string[] = [];
    for (const tag of req.headers.getAll('require')) {
      const t = tag.trim();
      if (t !== '' && !this.#supported.has(t.toLowerCase()) && !out.includes(t)) out.push(t);
    }
    return out;
  }

  #register(r: Registration, tx: ServerEntry): void {
    r.entry = tx;
    const previous = this.#servers.get(r.key);
    // An RFC 2543 request with another To tag, or a CANCEL, can take over a key: the older one then leaves it alone.
    if (previous !== undefined) previous.inServers = false;
    this.#servers.set(r.key, r);
    r.inServers = true;
    if (r.mergeKey !== undefined) {
      this.#merge.set(r.mergeKey, r);
      r.inMerge = true;
    }
  }

  #noteMethod(method: string): void {
    const m = this.#probeMethods;
    if (m.length < MAX_PROBE_METHODS && !m.includes(method)) m.push(method);
  }

  /**
   * §9.2: the live or completed transaction a CANCEL matches by the §17.2.3 rules except for the method: the
   * CANCEL's key with each method we have transactions for (INVITE first), never a CANCEL transaction.
   */
  #cancelTarget(core: RequestCore, requestUri: string, topViaText: string): ServerEntry | undefined {
    for (const method of this.#probeMethods) {
      const r = this.#servers.get(serverKey(method, core, requestUri, topViaText));
      if (r !== undefined) return r.entry;
    }
    return undefined;
  }

  /** A server entry ended; `replacement` (a Completed record, sharing its keys) takes over its place when given. */
  readonly #onServerTerminated = (tx: ServerEntry, replacement?: ServerEntry): void => {
    if (tx instanceof CompletedServerRecord) {
      this.#completedCount--;
      this.#dropSpentCompleted();
    }
    const r = tx.keys as Registration;
    if (r.entry !== tx) return;
    if (replacement !== undefined) {
      r.entry = replacement;
      if (replacement instanceof CompletedServerRecord) this.#holdCompleted(replacement);
      return;
    }
    if (r.inServers) {
      this.#servers.delete(r.key);
      r.inServers = false;
    }
    if (r.inMerge) {
      this.#merge.delete(r.mergeKey!);
      r.inMerge = false;
    }
  };

  /** Keeps `record` for its Timer J, dropping the oldest ones early beyond maxCompletedTransactions. */
  #holdCompleted(record: CompletedServerRecord): void {
    this.#completedFifo.push(record);
    this.#completedCount++;
    // evict() comes back through #onServerTerminated, which may replace the array: re-read it every time.
    while (this.#completedCount > this.#maxCompleted && this.#completedHead < this.#completedFifo.length) {
      const oldest = this.#completedFifo[this.#completedHead];
      if (oldest === undefined || oldest.terminated) {
        this.#completedFifo[this.#completedHead++] = undefined;
        continue;
      }
      this.#ctx.counters.completedEvictedEarly++;
      oldest.evict();
    }
  }

  /** Records end in Timer J order, so the ended ones are a prefix: released here, not held until the next one. */
  #dropSpentCompleted(): void {
    const fifo = this.#completedFifo;
    while (this.#completedHead < fifo.length && fifo[this.#completedHead]?.terminated !== false) fifo[this.#completedHead++] = undefined;
    if (this.#completedHead === fifo.length) {
      this.#completedFifo = [];
      this.#completedHead = 0;
    } else if (this.#completedHead > 4096 && this.#completedHead * 2 > fifo.length) {
      this.#completedFifo = fifo.slice(this.#completedHead);
      this.#completedHead = 0;
    }
  }

  // ------------------------------------------------------------ stateless errors

  /** A request that parsed but failed §8.1.1 validation: 400 (or 416/505) naming the fault. */
  #rejectInvalid(req: SipRequest, err: SipParseError, inbound: InboundContext): void {
    if (req.method === 'ACK') {
      // §17: no response is ever sent to an ACK.
      this.#ctx.counters.malformedDropped++;
      return;
    }
    this.#replyStateless(req, err.status, err.message, inbound);
  }

  #replyStateless(
    req: SipRequest,
    status: number,
    reason: string,
    inbound: InboundContext,
    extraHeaders?: ReadonlyArray<[string, string]>,
  ): void {
    this.#sendStateless(req.headers, status, reason, inbound, extraHeaders);
  }

  /** Bytes the transport could not parse or frame: answer from a lenient scan if it is a request with a usable Via. */
  readonly #onParseError = (err: SipParseError, data: Buffer, inbound: InboundContext): void => {
    if (this.#stopped) return;
    // The header block alone often parses (body errors, oversize, missing Content-Length on a stream).
    const parsed = data.length > 0 ? parseMessage(data, { ignoreBody: true }) : undefined;
    if (parsed !== undefined && !(parsed instanceof SipParseError)) {
      if (parsed.kind === 'request' && parsed.method !== 'ACK') {
        this.#sendStateless(parsed.headers, err.status, err.message, inbound);
      } else {
        this.#ctx.counters.malformedDropped++;
      }
      return;
    }
    const head = scanHead(data);
    const method = requestLineMethod(head.startLine);
    if (method === undefined || method.toUpperCase() === 'ACK') {
      // A response, an ACK, or bytes with no recognizable request line: never answered.
      this.#ctx.counters.malformedDropped++;
      return;
    }
    this.#sendStateless(head.fields, err.status, err.message, inbound);
  };

  #sendStateless(
    fields: Iterable<[string, string]>,
    status: number,
    reason: string,
    inbound: InboundContext,
    extraHeaders?: ReadonlyArray<[string, string]>,
  ): void {
    const reply = buildStatelessReply(fields, {
      status,
      reason,
      toTag: newTag(),
      serverHeader: this.#ctx.serverHeader,
      remote: inbound.remote,
      extraHeaders,
    });
    if (reply === undefined) {
      this.#ctx.counters.malformedDropped++;
      return;
    }
    const top = parseVia(reply.headers.get('via') ?? '');
    if (top instanceof SipParseError) {
      this.#ctx.counters.malformedDropped++;
      return;
    }
    this.#ctx.counters.statelessReplies++;
    // Synchronous up to the socket write: after a stream framing error the transport closes right after.
    sendBytes(this.#ctx, serializeMessage(reply), responseRoute({ via: [top] }, inbound));
  }
}

/** The keys of a new server transaction, which are also its place in the tables once registered. */
function registration(key: string, mk: string | undefined, requestToTag: string): Registration {
  // The keys are built flat (keys.ts); a To tag of 13+ characters is a slice that would keep the request text
  // alive (V8 keeps a slice's parent) through Timer J, so it is copied.
  const tag = requestToTag.length < 13 ? requestToTag : (' ' + requestToTag).slice(1);
  return { key, mergeKey: mk, requestToTag: tag, entry: NO_ENTRY, inServers: false, inMerge: false };
}

const NO_ENTRY: ServerEntry = {
  keys: { key: '', mergeKey: undefined, requestToTag: '' },
  terminated: true,
  finalSent: true,
  toTag: () => '',
  onRetransmission: () => undefined,
  onCancel: () => undefined,
};

const LOCAL_503: ClientTransactionOutcome = { status: 503, response: undefined, localReason: 'transport-error' };

function viaText(sentBy: SentBy, branch: string): string {
  // RFC 3261 §8.1.1.7 (branch) and RFC 3581 §3 (rport: ask for the response at our source port).
  return `SIP/2.0/${sentBy.protocol.toUpperCase()} ${sentBy.host}:${sentBy.port};branch=${branch};rport`;
}

function sentByString(sentBy: SentBy): string {
  return `${normalizeAddress(sentBy.host)}:${sentBy.port}`;
}

/**
 * What withTopVia adds, as lines for serializeMessage: the same bytes without copying the request (the NOTIFY
 * path: one per watcher and change).
 */
function topLines(request: SipRequest, via: string): Array<[string, string]> {
  return request.headers.has('max-forwards') ? [['Via', via]] : [['Via', via], ['Max-Forwards', '70']];
}

/** A copy of the request with our Via on top and Max-Forwards defaulted (§8.1.1.6); the caller's object is untouched. */
function withTopVia(request: SipRequest, via: string): SipRequest {
  const headers: Array<[string, string]> = [['Via', via]];
  let hasMaxForwards = false;
  for (const [name, value] of request.headers) {
    if (name === 'Max-Forwards') hasMaxForwards = true;
    headers.push([name, value]);
  }
  if (!hasMaxForwards) headers.splice(1, 0, ['Max-Forwards', '70']);
  return createRequest(request.method, request.uri, headers, request.body);
}
