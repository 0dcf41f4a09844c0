/**
 * Non-INVITE client transaction (RFC 3261 §17.1.2), used for NOTIFY.
 *
 *   Trying --1xx--> Proceeding --final--> Completed --Timer K (T4 UDP, 0 TCP)--> Terminated
 *     |  Timer E: re-send (T1 doubling to T2; T2 once Proceeding), UDP only
 *     '--Timer F (64*T1) or transport error --> Terminated with a synthesized 408 / 503
 *
 * A request sent over TCP only because it exceeded the UDP size bound (§18.1.1) falls back to UDP
 * when the connection cannot be made.
 */
import type { SipResponse } from '../sip/index.js';
import type { Destination } from '../transport/index.js';
import type { TxContext } from './context.js';
import type { TimerEntry } from './timer-queue.js';
import type { ClientTransactionOutcome } from './transaction-user.js';

const NO_BYTES = Buffer.alloc(0);
const SETTLED = (): void => {};

export type NonInviteClientState = 'trying' | 'proceeding' | 'completed' | 'terminated';

/** A second way to send the same request, tried once if the first fails at the transport (§18.1.1). */
export interface FallbackRoute {
  readonly data: Buffer;
  readonly dest: Destination;
  readonly sentBy: string;
}

export class NonInviteClientTransaction {
  readonly key: string;
  /** Our Via sent-by "host:port" (canonical), checked against responses (§18.1.2). */
  #sentBy: string;
  readonly method: string;
  #state: NonInviteClientState = 'trying';
  #data: Buffer;
  #dest: Destination;
  #reliable: boolean;
  #fallback: FallbackRoute | undefined;
  readonly #ctx: TxContext;
  #resolve: (outcome: ClientTransactionOutcome) => void;
  readonly #onTerminated: (tx: NonInviteClientTransaction) => void;
  #timerE: TimerEntry | undefined;
  #timerF: TimerEntry | undefined;
  #timerK: TimerEntry | undefined;
  #intervalE: number;

  constructor(
    ctx: TxContext,
    init: { key: string; sentBy: string; method: string; data: Buffer; dest: Destination; fallback?: FallbackRoute },
    resolve: (outcome: ClientTransactionOutcome) => void,
    onTerminated: (tx: NonInviteClientTransaction) => void,
  ) {
    this.#ctx = ctx;
    this.key = init.key;
    this.#sentBy = init.sentBy;
    this.method = init.method;
    this.#data = init.data;
    this.#dest = init.dest;
    this.#reliable = init.dest.protocol !== 'udp';
    this.#fallback = init.fallback;
    this.#resolve = resolve;
    this.#onTerminated = onTerminated;
    this.#intervalE = ctx.t1;
  }

  get state(): NonInviteClientState {
    return this.#state;
  }

  get sentBy(): string {
    return this.#sentBy;
  }

  start(): void {
    const t = this.#ctx.timers;
    this.#send();
    if (!this.#reliable) this.#timerE = t.schedule(this.#intervalE, NonInviteClientTransaction.#onTimerE, this);
    // §17.1.2.2: Timer F applies on every transport.
    this.#timerF = t.schedule(64 * this.#ctx.t1, NonInviteClientTransaction.#onTimerF, this);
  }

  onResponse(response: SipResponse): void {
    if (this.#state === 'completed' || this.#state === 'terminated') {
      this.#ctx.counters.responseRetransmissionsAbsorbed++;
      return;
    }
    if (response.status < 200) {
      // §17.1.2.2: Proceeding; Timer E keeps running but is reset to T2 when it next fires.
      this.#state = 'proceeding';
      this.#fallback = undefined;
      return;
    }
    this.#finish({ status: response.status, response });
    this.#state = 'completed';
    // Timer K absorbs retransmitted finals; zero on reliable transports. Completed never sends again, so the
    // request bytes (and the pool slab they are a slice of) are not kept for those T4 seconds.
    this.#data = NO_BYTES;
    this.#fallback = undefined;
    if (this.#reliable) this.#terminate();
    else this.#timerK = this.#ctx.timers.schedule(this.#ctx.t4, NonInviteClientTransaction.#onTimerK, this);
  }

  /** Ends the transaction with a synthesized 503 (layer shutdown). */
  abort(): void {
    if (this.#state === 'trying' || this.#state === 'proceeding') {
      this.#finish({ status: 503, response: undefined, localReason: 'transport-error' });
    }
    this.#terminate();
  }

  #send(): void {
    const data = this.#data;
    this.#ctx.transport.send(data, this.#dest).catch((err: unknown) => {
      // Ignore failures of a route already abandoned.
      if (data === this.#data) this.#onTransportError(err);
    });
  }

  #onTransportError(err: unknown): void {
    if (this.#state !== 'trying' && this.#state !== 'proceeding') return;
    const fb = this.#fallback;
    if (fb !== undefined && this.#state === 'trying') {
      // §18.1.1: the TCP attempt made only for size failed; retry over UDP.
      this.#fallback = undefined;
      this.#ctx.counters.mtuFallbacksToUdp++;
      this.#data = fb.data;
      this.#dest = fb.dest;
      this.#sentBy = fb.sentBy;
      this.#reliable = fb.dest.protocol !== 'udp';
      this.#send();
      if (!this.#reliable) {
        this.#intervalE = this.#ctx.t1;
        this.#timerE = this.#ctx.timers.schedule(this.#intervalE, NonInviteClientTransaction.#onTimerE, this);
      }
      return;
    }
    this.#ctx.counters.transportErrors++;
    this.#ctx.logger.debug(
      { err, method: this.method, dest: `${this.#dest.protocol}:${this.#dest.address}:${this.#dest.port}` },
      'request send failed',
    );
    // §17.1.4: a transport failure is reported to the TU as 503.
    this.#finish({ status: 503, response: undefined, localReason: 'transport-error' });
    this.#terminate();
  }

  // Timer callbacks are shared by all transactions (the timer passes the transaction): no closures per instance.
  static #onTimerE(tx: NonInviteClientTransaction): void {
    tx.#timerE = undefined;
    if (tx.#state !== 'trying' && tx.#state !== 'proceeding') return;
    tx.#ctx.counters.requestsRetransmitted++;
    tx.#send();
    tx.#intervalE = tx.#state === 'proceeding' ? tx.#ctx.t2 : Math.min(2 * tx.#intervalE, tx.#ctx.t2);
    tx.#timerE = tx.#ctx.timers.schedule(tx.#intervalE, NonInviteClientTransaction.#onTimerE, tx);
  }

  static #onTimerK(tx: NonInviteClientTransaction): void {
    tx.#timerK = undefined;
    tx.#terminate();
  }

  static #onTimerF(tx: NonInviteClientTransaction): void {
    tx.#timerF = undefined;
    if (tx.#state !== 'trying' && tx.#state !== 'proceeding') return;
    tx.#ctx.counters.timeouts++;
    // §17.1.2.2: Timer F fires -> the TU is told of a timeout, which RFC 3261 §8.1.3.1 treats as 408.
    tx.#finish({ status: 408, response: undefined, localReason: 'timeout' });
    tx.#terminate();
  }

  #finish(outcome: ClientTransactionOutcome): void {
    const t = this.#ctx.timers;
    t.cancel(this.#timerE);
    t.cancel(this.#timerF);
    this.#timerE = this.#timerF = undefined;
    const resolve = this.#resolve;
    // Once only; and the settled promise (reachable through its resolve function) holds the outcome, i.e. the
    // whole parsed response, which must not live on through Timer K.
    this.#resolve = SETTLED;
    resolve(outcome);
  }

  #terminate(): void {
    if (this.#state === 'terminated') return;
    this.#state = 'terminated';
    const t = this.#ctx.timers;
    t.cancel(this.#timerE);
    t.cancel(this.#timerF);
    t.cancel(this.#timerK);
    this.#timerE = this.#timerF = this.#timerK = undefined;
    this.#onTerminated(this);
  }
}
