/**
 * INVITE server transaction (RFC 3261 §17.2.1, with the Accepted state of RFC 6026 §7.1 and §8.5-8.7).
 *
 *   Proceeding --300-699--> Completed --ACK--> Confirmed --Timer I (T4 UDP, 0 TCP)--> Terminated
 *        |                     |--Timer G: re-send final (T1 doubling to T2, UDP only)
 *        |                     '--Timer H (64*T1): no ACK --> Terminated
 *        '--2xx--> Accepted --Timer L (64*T1)--> Terminated
 *                     |--2xx from the TU: sent (retransmissions, other forks downstream)
 *                     |--INVITE retransmission: absorbed, never reaches the TU
 *                     '--matching ACK: passed to the TU
 *
 * RFC 6026 exists because the RFC 3261 "2xx terminates the transaction" rule let a retransmitted INVITE
 * arrive as a new request: for a proxy that means forking the call a second time.
 */
import type { SipResponse } from '../sip/index.js';
import { BaseServerTransaction } from './server-transaction.js';
import type { TimerEntry } from './timer-queue.js';

export type InviteServerState = 'proceeding' | 'completed' | 'confirmed' | 'accepted' | 'terminated';

/** §17.2.1: 100 Trying is sent unless the TU answers within 200 ms. */
const TRYING_DELAY_MS = 200;

export class InviteServerTransaction extends BaseServerTransaction {
  #state: InviteServerState = 'proceeding';
  #provisionalSent = false;
  #timerTrying: TimerEntry | undefined;
  #timerG: TimerEntry | undefined;
  #timerH: TimerEntry | undefined;
  #timerI: TimerEntry | undefined;
  #timerL: TimerEntry | undefined;
  #intervalG = 0;
  #cancelHandler: (() => void) | undefined;

  /** Starts the 100 Trying timer; called by the layer once the transaction is registered. */
  start(): void {
    this.#timerTrying = this.ctx.timers.schedule(TRYING_DELAY_MS, () => {
      this.#timerTrying = undefined;
      if (this.#state !== 'proceeding' || this.#provisionalSent) return;
      // The transaction's own 100 leaves the unanswered-request guard running: the TU has not spoken yet.
      const trying = this.localResponse(100);
      this.prepare(trying);
      this.#provisionalSent = true;
      this.transmit(trying);
    });
  }

  get state(): InviteServerState {
    return this.terminated ? 'terminated' : this.#state;
  }

  get finalSent(): boolean {
    return this.#state !== 'proceeding';
  }

  setCancelHandler(handler: () => void): void {
    this.#cancelHandler = handler;
  }

  respond(response: SipResponse): void {
    const status = response.status;
    if (this.#state === 'accepted' && status >= 200 && status < 300 && !this.terminated) {
      // RFC 6026 §8.5: in Accepted, 2xx responses from the TU are passed to the transport.
      this.prepare(response);
      this.transmit(response);
      return;
    }
    if (this.#state !== 'proceeding' || this.terminated) {
      this.ctx.logger.warn({ method: 'INVITE', status }, 'response after the final response ignored');
      return;
    }
    this.prepare(response);
    this.ctx.timers.cancel(this.#timerTrying);
    this.#timerTrying = undefined;
    if (status < 200) {
      // A provisional from the TU means it has taken the request on (a ringing call, a proxy waiting on
      // its branches under Timer C): the 32 s unanswered-request guard no longer applies (§13.3.1.1).
      this.#provisionalSent = true;
      this.cancelGuard();
      this.transmit(response);
      return;
    }
    this.cancelGuard();
    this.transmit(response);
    if (status < 300) {
      // RFC 6026 §7.1: Accepted, so that INVITE retransmissions are absorbed for Timer L.
      this.#state = 'accepted';
      this.#timerL = this.ctx.timers.schedule(64 * this.ctx.t1, this.#onTimerL);
      return;
    }
    this.#state = 'completed';
    if (!this.reliable) {
      this.#intervalG = this.ctx.t1;
      this.#timerG = this.ctx.timers.schedule(this.#intervalG, this.#onTimerG);
    }
    this.#timerH = this.ctx.timers.schedule(64 * this.ctx.t1, this.#onTimerH);
  }

  onRetransmission(): void {
    this.ctx.counters.requestRetransmissionsAbsorbed++;
    // §17.2.1: re-send the last provisional or the non-2xx final; RFC 6026 §8.7: absorb in Accepted.
    if (this.#state === 'proceeding' || this.#state === 'completed') this.retransmitLast();
  }

  /**
   * An ACK matched this transaction (§17.2.1). Returns true when it belongs to the TU instead: in
   * Accepted it acknowledges a 2xx (RFC 6026 §8.6), possible only with RFC 2543 matching.
   */
  onAck(): boolean {
    if (this.#state === 'accepted') return true;
    if (this.#state !== 'completed') {
      // Confirmed: ACK retransmissions are absorbed (Timer I).
      this.ctx.counters.requestRetransmissionsAbsorbed++;
      return false;
    }
    this.#state = 'confirmed';
    this.ctx.timers.cancel(this.#timerG);
    this.ctx.timers.cancel(this.#timerH);
    this.#timerG = this.#timerH = undefined;
    if (this.reliable) this.terminate();
    else this.#timerI = this.ctx.timers.schedule(this.ctx.t4, () => this.terminate());
    return false;
  }

  /** §9.2: a pending INVITE is answered 487 Request Terminated, unless the TU (a proxy) takes the CANCEL. */
  onCancel(): void {
    if (this.#state !== 'proceeding') return;
    const h = this.#cancelHandler;
    if (h === undefined) {
      this.respond(this.localResponse(487));
      return;
    }
    try {
      h();
    } catch (err) {
      this.ctx.logger.error({ err }, 'cancel handler threw; answering 487');
      if (this.#state === 'proceeding') this.respond(this.localResponse(487));
    }
  }

  readonly #onTimerG = (): void => {
    this.#timerG = undefined;
    if (this.#state !== 'completed') return;
    this.retransmitLast();
    this.#intervalG = Math.min(2 * this.#intervalG, this.ctx.t2);
    this.#timerG = this.ctx.timers.schedule(this.#intervalG, this.#onTimerG);
  };

  readonly #onTimerH = (): void => {
    this.#timerH = undefined;
    if (this.#state !== 'completed') return;
    this.ctx.logger.debug({ callId: this.core.callId }, 'no ACK for INVITE final response (Timer H)');
    this.terminate();
  };

  readonly #onTimerL = (): void => {
    this.#timerL = undefined;
    this.terminate();
  };

  protected onTerminate(): void {
    const t = this.ctx.timers;
    t.cancel(this.#timerTrying);
    t.cancel(this.#timerG);
    t.cancel(this.#timerH);
    t.cancel(this.#timerI);
    t.cancel(this.#timerL);
    this.#timerTrying = this.#timerG = this.#timerH = this.#timerI = this.#timerL = undefined;
    this.#cancelHandler = undefined;
  }
}
