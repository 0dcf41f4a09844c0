/**
 * What every transaction shares: timers, the transport, the RFC 3261 timer base values, counters.
 * Kept in one object so a transaction costs a few fields, not a closure per dependency.
 */
import type { Logger } from '../observability/index.js';
import type {
  Destination,
  LocalBinding,
  MessageHandler,
  ParseErrorHandler,
  SentBy,
} from '../transport/index.js';
import type { Clock } from './clock.js';
import type { MethodCounts } from './method-counts.js';
import type { TimerQueue } from './timer-queue.js';

/** The part of TransportLayer the transaction layer uses (a fake implements it in unit tests). */
export interface TransactionTransport {
  onMessage(handler: MessageHandler): void;
  onParseError(handler: ParseErrorHandler): void;
  /** Responses too: the layer routes them itself (§18.2.2 via responseDestination) and keeps the bytes. */
  send(data: Buffer, dest: Destination, local?: LocalBinding): Promise<void>;
  /** send() for bytes nobody waits for (responses): failures are the transport's to count and log. */
  post(data: Buffer, dest: Destination, local?: LocalBinding): void;
  localSentBy(dest: Destination): SentBy | undefined;
}

export class TransactionCounters {
  /** Requests that matched a server transaction (RFC 3261 §17.2.3) and never reached the TU. */
  requestRetransmissionsAbsorbed = 0;
  /** Responses re-sent by server transactions (to retransmitted requests, Timer G). */
  responsesRetransmitted = 0;
  /** Requests re-sent by client transactions (Timer E). */
  requestsRetransmitted = 0;
  /** Final responses to a client transaction already completed (absorbed during Timer K). */
  responseRetransmissionsAbsorbed = 0;
  /** Client transactions ended by Timer F (408). */
  timeouts = 0;
  /** Client transactions ended by a transport failure (503). */
  transportErrors = 0;
  /** Errors answered without a transaction (400, 413, 416, 505, 503 overload). */
  statelessReplies = 0;
  /** Malformed requests that could not be answered (no usable Via) and responses that failed validation. */
  malformedDropped = 0;
  /** Responses matching no client transaction (§17.1.3). */
  strayResponses = 0;
  /** ACKs matching no INVITE server transaction (ACKs to 2xx we never send, or late ones). */
  strayAcks = 0;
  /** Requests the TU left unanswered until the guard timer answered 500. */
  unanswered = 0;
  /** Requests refused because the transaction table was full. */
  overload = 0;
  /**
   * Completed non-INVITE server transactions dropped before Timer J because maxCompletedTransactions were held
   * (a retransmission arriving later is handled as a new request).
   */
  completedEvictedEarly = 0;
  /** UDP requests over the MTU bound sent over TCP instead (RFC 3261 §18.1.1), and fallbacks to UDP. */
  mtuSwitchedToTcp = 0;
  mtuFallbacksToUdp = 0;
}

export interface TxContext {
  readonly clock: Clock;
  readonly timers: TimerQueue;
  readonly transport: TransactionTransport;
  readonly logger: Logger;
  readonly counters: TransactionCounters;
  /** Requests and responses by method and code (metrics). */
  readonly methods: MethodCounts;
  readonly t1: number;
  readonly t2: number;
  readonly t4: number;
  readonly serverHeader: string;
  readonly unansweredTimeoutMs: number;
}
