/**
 * INVITE client transaction (RFC 3261 §17.1.1, with the Accepted state of RFC 6026 §7.2 and §8.4).
 *
 *   Calling --1xx--> Proceeding --300-699: ACK--> Completed --Timer D (32 s UDP, 0 TCP)--> Terminated
 *     |  Timer A: re-send (T1 doubling, UDP only)       |--final retransmission: ACK re-sent
 *     |  Timer B (64*T1) or transport error: 408 / 503 --> Terminated
 *     '--2xx (from Calling or Proceeding)--> Accepted --Timer M (64*T1)--> Terminated
 *                                               '--2xx: passed to the TU (retransmissions, other forks)
 *
 * The ACK for a non-2xx is built here (§17.1.1.3); the ACK for a 2xx is the TU's business. A CANCEL
 * asked for before any provisional response waits for one (§9.1).
 */
import { createRequest, serializeMessage, type SipRequest, type SipResponse } from '../sip/index.js';
import type { Destination } from '../transport/index.js';
import type { TxContext } from './context.js';
import type { TimerEntry } from './timer-queue.js';
import type { InviteClientEvents, InviteClientHandle } from './transaction-user.js';

export type InviteClientState = 'calling' | 'proceeding' | 'completed' | 'accepted' | 'terminated';

/** §17.1.1.2: Timer D is at least 32 s on unreliable transports. */
const TIMER_D_MS = 32_000;

export interface InviteClientInit {
  readonly key: string;
  readonly branch: string;
  /** Our Via sent-by "host:port" (canonical), checked against responses (§18.1.2). */
  readonly sentBy: string;
  /** The INVITE as sent: our Via on top. */
  readonly request: SipRequest;
  readonly data: Buffer;
  readonly dest: Destination;
}

export class InviteClientTransaction implements InviteClientHandle {
  readonly key: string;
  readonly branch: string;
  readonly sentBy: string;
  readonly request: SipRequest;
  #state: InviteClientState = 'calling';
  readonly #data: Buffer;
  readonly #dest: Destination;
  readonly #reliable: boolean;
  readonly #ctx: TxContext;
  readonly #events: InviteClientEvents;
  readonly #onTerminated: (tx: InviteClientTransaction) => void;
  readonly #sendCancel: (tx: InviteClientTransaction) => void;
  #timerA: TimerEntry | undefined;
  /** Timer B in Calling; in Proceeding, the 64*T1 wait for a final response after our CANCEL (§9.1). */
  #timerB: TimerEntry | undefined;
  #timerD: TimerEntry | undefined;
  #timerM: TimerEntry | undefined;
  #intervalA: number;
  #provisional = false;
  #cancelWanted = false;
  #cancelSent = false;
  #ackBytes: Buffer | undefined;

  constructor(
    ctx: TxContext,
    init: InviteClientInit,
    events: InviteClientEvents,
    hooks: { onTerminated: (tx: InviteClientTransaction) => void; sendCancel: (tx: InviteClientTransaction) => void },
  ) {
    this.#ctx = ctx;
    this.key = init.key;
    this.branch = init.branch;
    this.sentBy = init.sentBy;
    this.request = init.request;
    this.#data = init.data;
    this.#dest = init.dest;
    this.#reliable = init.dest.protocol !== 'udp';
    this.#events = events;
    this.#onTerminated = hooks.onTerminated;
    this.#sendCancel = hooks.sendCancel;
    this.#intervalA = ctx.t1;
  }

  get state(): InviteClientState {
    return this.#state;
  }

  get destination(): Destination {
    return this.#dest;
  }

  get provisionalReceived(): boolean {
    return this.#provisional;
  }

  start(): void {
    const t = this.#ctx.timers;
    this.#send(this.#data);
    // §17.1.1.2: Timer A only on unreliable transports; Timer B always.
    if (!this.#reliable) this.#timerA = t.schedule(this.#intervalA, this.#onTimerA);
    this.#timerB = t.schedule(64 * this.#ctx.t1, this.#onTimerB);
  }

  cancel(): void {
    if (this.#cancelWanted) return;
    this.#cancelWanted = true;
    // §9.1: only once a provisional response arrived, and never after a final one.
    if (this.#state === 'proceeding') this.#doCancel();
  }

  onResponse(response: SipResponse): void {
    const status = response.status;
    switch (this.#state) {
      case 'calling':
      case 'proceeding':
        if (status < 200) {
          this.#provisional = true;
          if (this.#state === 'calling') {
            // §17.1.1.2: Proceeding stops retransmissions; Timer B no longer applies (the TU runs Timer C).
            this.#state = 'proceeding';
            this.#cancelTimers();
          }
          this.#deliver(() => this.#events.onProvisional(response));
          if (this.#cancelWanted) this.#doCancel();
          return;
        }
        this.#cancelTimers();
        if (status < 300) {
          this.#state = 'accepted';
          this.#timerM = this.#ctx.timers.schedule(64 * this.#ctx.t1, this.#terminate);
        } else {
          this.#state = 'completed';
          this.#ack(response);
          if (this.#reliable) this.#terminate();
          else this.#timerD = this.#ctx.timers.schedule(TIMER_D_MS, this.#terminate);
        }
        this.#deliver(() => this.#events.onFinal({ status, response }));
        return;
      case 'completed':
        // §17.1.1.2: a retransmitted final gets the ACK again and is not passed up.
        this.#ctx.counters.responseRetransmissionsAbsorbed++;
        if (status >= 300 && this.#ackBytes !== undefined) this.#send(this.#ackBytes);
        return;
      case 'accepted':
        // RFC 6026 §8.4: every 2xx goes to the TU; anything else is discarded.
        if (status >= 200 && status < 300) this.#deliver(() => this.#events.onFinal({ status, response }));
        else this.#ctx.counters.responseRetransmissionsAbsorbed++;
        return;
      default:
        this.#ctx.counters.responseRetransmissionsAbsorbed++;
    }
  }

  /** Ends the transaction with a synthesized 503 (layer shutdown). */
  abort(): void {
    if (this.#state === 'calling' || this.#state === 'proceeding') {
      this.#cancelTimers();
      this.#deliver(() => this.#events.onFinal({ status: 503, response: undefined, localReason: 'transport-error' }));
    }
    this.#terminate();
  }

  #doCancel(): void {
    if (this.#cancelSent) return;
    this.#cancelSent = true;
    this.#sendCancel(this);
    // §9.1: with no final response 64*T1 after the CANCEL, the INVITE is considered cancelled and its
    // client transaction destroyed (Proceeding has no timer of its own). The TU hears a local 408.
    this.#timerB = this.#ctx.timers.schedule(64 * this.#ctx.t1, this.#onCancelExpired);
  }

  readonly #onCancelExpired = (): void => {
    this.#timerB = undefined;
    if (this.#state !== 'proceeding') return;
    this.#ctx.counters.timeouts++;
    this.#deliver(() => this.#events.onFinal({ status: 408, response: undefined, localReason: 'timeout' }));
    this.#terminate();
  };

  /**
   * §17.1.1.3: the ACK for a non-2xx has the INVITE's Request-URI, Call-ID, From, CSeq number and Route
   * set, our Via alone (same branch), and the To of the response (with its tag).
   */
  #ack(response: SipResponse): void {
    const req = this.request;
    const h = req.headers;
    const headers: Array<[string, string]> = [
      ['Via', h.getAll('Via')[0] ?? ''],
      ['Max-Forwards', '70'],
      ['From', h.get('From') ?? ''],
      ['To', response.headers.get('To') ?? h.get('To') ?? ''],
      ['Call-ID', h.get('Call-ID') ?? ''],
      ['CSeq', `${cseqNumber(h.get('CSeq'))} ACK`],
    ];
    for (const r of h.getAll('Route')) headers.push(['Route', r]);
    this.#ackBytes = serializeMessage(createRequest('ACK', req.uri, headers));
    this.#send(this.#ackBytes);
  }

  #send(data: Buffer): void {
    this.#ctx.transport.send(data, this.#dest).catch((err: unknown) => {
      if (data === this.#data) this.#onTransportError(err);
      else this.#ctx.logger.debug({ err }, 'ACK send failed');
    });
  }

  #onTransportError(err: unknown): void {
    if (this.#state !== 'calling' && this.#state !== 'proceeding') return;
    this.#ctx.counters.transportErrors++;
    this.#ctx.logger.debug(
      { err, dest: `${this.#dest.protocol}:${this.#dest.address}:${this.#dest.port}` },
      'INVITE send failed',
    );
    // §17.1.1.2 / §17.1.4: a transport failure is reported to the TU as 503.
    this.#cancelTimers();
    this.#deliver(() => this.#events.onFinal({ status: 503, response: undefined, localReason: 'transport-error' }));
    this.#terminate();
  }

  readonly #onTimerA = (): void => {
    this.#timerA = undefined;
    if (this.#state !== 'calling') return;
    this.#ctx.counters.requestsRetransmitted++;
    this.#send(this.#data);
    // §17.1.1.2: Timer A doubles without the T2 cap that non-INVITE retransmissions have.
    this.#intervalA *= 2;
    this.#timerA = this.#ctx.timers.schedule(this.#intervalA, this.#onTimerA);
  };

  readonly #onTimerB = (): void => {
    this.#timerB = undefined;
    if (this.#state !== 'calling') return;
    this.#ctx.counters.timeouts++;
    this.#cancelTimers();
    this.#deliver(() => this.#events.onFinal({ status: 408, response: undefined, localReason: 'timeout' }));
    this.#terminate();
  };

  #deliver(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.#ctx.logger.error({ err }, 'INVITE client transaction user threw');
    }
  }

  #cancelTimers(): void {
    const t = this.#ctx.timers;
    t.cancel(this.#timerA);
    t.cancel(this.#timerB);
    this.#timerA = this.#timerB = undefined;
  }

  readonly #terminate = (): void => {
    if (this.#state === 'terminated') return;
    this.#state = 'terminated';
    const t = this.#ctx.timers;
    this.#cancelTimers();
    t.cancel(this.#timerD);
    t.cancel(this.#timerM);
    this.#timerD = this.#timerM = undefined;
    this.#onTerminated(this);
  };
}

function cseqNumber(cseq: string | undefined): string {
  const m = /^\s*(\d+)/.exec(cseq ?? '');
  return m === null ? '1' : m[1];
}
