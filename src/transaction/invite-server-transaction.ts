/**
 * INVITE server transaction (RFC 3261 §17.2.1), kept to what a presence server needs: rejecting INVITE
 * (405/501) correctly. 2xx responses end the transaction at once (their retransmission is the TU's job).
 *
 *   Proceeding --300-699--> Completed --ACK--> Confirmed --Timer I (T4 UDP, 0 TCP)--> Terminated
 *        |                     |--Timer G: re-send final (T1 doubling to T2, UDP only)
 *        |                     '--Timer H (64*T1): no ACK --> Terminated
 *        '--2xx--> Terminated
 */
import type { SipResponse } from '../sip/index.js';
import { BaseServerTransaction } from './server-transaction.js';
import type { TimerEntry } from './timer-queue.js';

export type InviteServerState = 'proceeding' | 'completed' | 'confirmed' | 'terminated';

/** §17.2.1: 100 Trying is sent unless the TU answers within 200 ms. */
const TRYING_DELAY_MS = 200;

export class InviteServerTransaction extends BaseServerTransaction {
  #state: InviteServerState = 'proceeding';
  #provisionalSent = false;
  #timerTrying: TimerEntry | undefined;
  #timerG: TimerEntry | undefined;
  #timerH: TimerEntry | undefined;
  #timerI: TimerEntry | undefined;
  #intervalG = 0;

  /** Starts the 100 Trying timer; called by the layer once the transaction is registered. */
  start(): void {
    this.#timerTrying = this.ctx.timers.schedule(TRYING_DELAY_MS, () => {
      this.#timerTrying = undefined;
      if (this.#state === 'proceeding' && !this.#provisionalSent) this.respond(this.localResponse(100));
    });
  }

  get state(): InviteServerState {
    return this.terminated ? 'terminated' : this.#state;
  }

  get finalSent(): boolean {
    return this.#state !== 'proceeding';
  }

  respond(response: SipResponse): void {
    if (this.#state !== 'proceeding' || this.terminated) {
      this.ctx.logger.warn({ method: 'INVITE', status: response.status }, 'response after the final response ignored');
      return;
    }
    this.prepare(response);
    this.ctx.timers.cancel(this.#timerTrying);
    this.#timerTrying = undefined;
    if (response.status < 200) {
      this.#provisionalSent = true;
      this.transmit(response);
      return;
    }
    this.cancelGuard();
    this.transmit(response);
    if (response.status < 300) {
      this.terminate();
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
    if (this.#state === 'proceeding' || this.#state === 'completed') this.retransmitLast();
  }

  /** An ACK matched this transaction (§17.2.1). */
  onAck(): void {
    if (this.#state !== 'completed') {
      // Confirmed: ACK retransmissions are absorbed (Timer I).
      this.ctx.counters.requestRetransmissionsAbsorbed++;
      return;
    }
    this.#state = 'confirmed';
    this.ctx.timers.cancel(this.#timerG);
    this.ctx.timers.cancel(this.#timerH);
    this.#timerG = this.#timerH = undefined;
    if (this.reliable) this.terminate();
    else this.#timerI = this.ctx.timers.schedule(this.ctx.t4, () => this.terminate());
  }

  /** §9.2: a pending INVITE is answered 487 Request Terminated. */
  onCancel(): void {
    if (this.#state === 'proceeding') this.respond(this.localResponse(487));
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

  protected onTerminate(): void {
    const t = this.ctx.timers;
    t.cancel(this.#timerTrying);
    t.cancel(this.#timerG);
    t.cancel(this.#timerH);
    t.cancel(this.#timerI);
    this.#timerTrying = this.#timerG = this.#timerH = this.#timerI = undefined;
  }
}
