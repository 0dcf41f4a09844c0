/**
 * Non-INVITE server transaction (RFC 3261 §17.2.2, with RFC 4320 §4.1).
 *
 *   Trying --1xx--> Proceeding --final--> Completed --Timer J (64*T1 UDP, 0 TCP)--> Terminated
 *      \-------------------final--------------^
 */
import type { SipResponse } from '../sip/index.js';
import { CompletedServerRecord } from './completed-server-record.js';
import { BaseServerTransaction } from './server-transaction.js';

export type NonInviteServerState = 'trying' | 'proceeding' | 'completed' | 'terminated';

export class NonInviteServerTransaction extends BaseServerTransaction {
  #state: NonInviteServerState = 'trying';

  /** As seen by the TU; 'completed' stays once the layer handed the Timer J wait to a compact record. */
  get state(): NonInviteServerState {
    return this.#state === 'completed' ? 'completed' : this.terminated ? 'terminated' : this.#state;
  }

  get finalSent(): boolean {
    return this.#state === 'completed';
  }

  respond(response: SipResponse): void {
    if (this.#state === 'completed' || this.terminated) {
      this.ctx.logger.warn(
        { method: this.request.method, status: response.status },
        'response after the final response ignored',
      );
      return;
    }
    if (response.status < 200) {
      // RFC 4320 §4.1: only 100 may be sent to a non-INVITE request, and over UDP not before T2,
      // since an early 100 would stop the client's Timer E backoff short of T2 for no gain.
      if (response.status !== 100) {
        this.ctx.logger.warn({ method: this.request.method, status: response.status }, 'non-100 provisional to non-INVITE dropped (RFC 4320)');
        return;
      }
      if (!this.reliable && this.ctx.clock.now() - this.createdAt < this.ctx.t2) return;
      this.prepare(response);
      this.#state = 'proceeding';
      this.transmit(response);
      return;
    }
    this.prepare(response);
    this.#state = 'completed';
    this.transmit(response);
    // §17.2.2: Timer J keeps the final response for retransmitted requests; zero on reliable transports.
    if (this.reliable || this.lastBytes === undefined) {
      this.terminate();
      return;
    }
    this.handOff(
      new CompletedServerRecord(this.ctx, this.keys, this.lastBytes, this.route, this.toTag(), this.layerCallback),
    );
  }

  onRetransmission(): void {
    this.ctx.counters.requestRetransmissionsAbsorbed++;
    // §17.2.2: in Trying retransmissions are discarded; in Proceeding/Completed the last response is re-sent.
    if (this.#state !== 'trying') this.retransmitLast();
  }

  /** §9.2: a CANCEL has no effect on a non-INVITE transaction (the CANCEL itself is answered 200). */
  onCancel(): void {}

  protected onTerminate(): void {}
}
