/**
 * The response context of one proxied INVITE (RFC 3261 §16.7, §16.8, §16.10): parallel branches, each an
 * INVITE client transaction under its own Timer C, and the one server transaction towards the caller.
 *
 *   upstream: pending --2xx of any branch (forwarded at once)--> accepted
 *                |----every branch final, best one sent (§16.7 step 6)--> rejected
 *   branch:   calling --101-199--> proceeding --final--> done
 *                '------ Timer C / CANCEL without a provisional: done with a local 408 / 487 ------'
 *
 * Provisional responses (not 100) and every 2xx are forwarded immediately (§16.7 step 5); a 2xx or 6xx
 * cancels the other branches (§16.7 step 10); a CANCEL from the caller cancels them all (§16.10). A branch
 * that has not answered at all is counted as 487 at once when cancelled (Kamailio's cancel_b_method 0):
 * a CANCEL may not be sent before a provisional response (§9.1), and the caller should not wait 32 s for
 * a phone that is not there. Its CANCEL still goes out if a provisional arrives later.
 */
import { createResponse, type SipRequest, type SipResponse } from '../sip/index.js';
import type { Logger } from '../observability/index.js';
import {
  newTag,
  type ClientTransactionOutcome,
  type InviteClientEvents,
  type InviteClientHandle,
  type ServerTransaction,
  type TimerQueue,
} from '../transaction/index.js';
import type { Destination, InboundContext } from '../transport/index.js';
import { upstreamCopy, upstreamFinal, type BranchFinal } from './best-response.js';

/** One place the request goes: the copy to send (our Via is added below), where, and the branch id. */
export interface ProxyTarget {
  readonly request: SipRequest;
  readonly dest: Destination;
  readonly branch: string;
}

export interface InviteContextDeps {
  readonly transactions: {
    sendInvite(request: SipRequest, destination: Destination, events: InviteClientEvents, options: { branch: string; noMtuSwitch: boolean }): InviteClientHandle;
  };
  /** Stateless response forwarding (§16.7 step 9 after the server transaction is gone). */
  readonly sendResponse: (response: SipResponse, inbound: InboundContext) => Promise<void>;
  readonly timers: TimerQueue;
  readonly logger: Logger;
  /** Timer C (§16.6 step 11): must exceed 3 minutes. */
  readonly timerCMs: number;
}

/** What the proxy (and its call tracker) hears from a context. */
export interface InviteContextListener {
  /** A 101-199 or 2xx response of a branch, as received (our Via still on top). */
  onBranchResponse(response: SipResponse, target: ProxyTarget): void;
  /** The final non-2xx the context sent upstream; cancelled when the caller's CANCEL caused it. */
  onRejected(status: number, cancelled: boolean): void;
  /** Every branch ended and the caller has a final response: the context can be forgotten. */
  onDone(): void;
}

type BranchState = 'calling' | 'proceeding' | 'done';

interface Branch {
  readonly target: ProxyTarget;
  handle: InviteClientHandle | undefined;
  state: BranchState;
  final: BranchFinal | undefined;
  timerC: ReturnType<TimerQueue['schedule']> | undefined;
}

type Upstream = 'pending' | 'accepted' | 'rejected';

export class InviteContext {
  readonly #tx: ServerTransaction;
  readonly #deps: InviteContextDeps;
  readonly #listener: InviteContextListener;
  readonly #branches: Branch[] = [];
  #upstream: Upstream = 'pending';
  #cancelled = false;
  #done = false;

  constructor(tx: ServerTransaction, deps: InviteContextDeps, listener: InviteContextListener) {
    this.#tx = tx;
    this.#deps = deps;
    this.#listener = listener;
    tx.setCancelHandler?.(() => this.cancel());
  }

  get upstream(): Upstream {
    return this.#upstream;
  }

  get branchCount(): number {
    return this.#branches.length;
  }

  /** Forwards to every target at once (parallel forking, §16.6). */
  start(targets: readonly ProxyTarget[]): void {
    for (const target of targets) {
      const b: Branch = { target, handle: undefined, state: 'calling', final: undefined, timerC: undefined };
      this.#branches.push(b);
    }
    for (const b of this.#branches) {
      if (this.#upstream !== 'pending' || this.#cancelled) {
        // A 6xx or a CANCEL arrived while branches were being created: no new branch (§16.7 step 5).
        b.state = 'done';
        b.final = { status: 487, response: undefined };
        continue;
      }
      b.timerC = this.#deps.timers.schedule(this.#deps.timerCMs, () => this.#onTimerC(b));
      b.handle = this.#deps.transactions.sendInvite(
        b.target.request,
        b.target.dest,
        {
          onProvisional: (r) => this.#onProvisional(b, r),
          onFinal: (o) => this.#onFinal(b, o),
        },
        { branch: b.target.branch, noMtuSwitch: true },
      );
    }
    this.#check();
  }

  /** §16.10: the caller's CANCEL (already answered 200 by the transaction layer). */
  cancel(): void {
    if (this.#upstream !== 'pending' || this.#cancelled) return;
    this.#cancelled = true;
    for (const b of this.#branches) this.#cancelBranch(b, 487);
    this.#check();
  }

  #onProvisional(b: Branch, r: SipResponse): void {
    if (b.state === 'done') return;
    b.state = 'proceeding';
    if (r.status === 100) return;
    // §16.7 step 2 / §16.8: any provisional other than 100 restarts Timer C.
    this.#restartTimerC(b);
    if (this.#upstream !== 'pending') return;
    const up = upstreamCopy(r);
    if (up === undefined) return;
    this.#listener.onBranchResponse(r, b.target);
    this.#tx.respond(up);
  }

  #onFinal(b: Branch, o: ClientTransactionOutcome): void {
    const r = o.response;
    if (r !== undefined && o.status < 300) {
      this.#forward2xx(b, r);
      return;
    }
    if (b.state === 'done') return;
    this.#finish(b, { status: o.status, response: r });
    if (o.status >= 600) {
      // §16.7 step 5: a 6xx ends the search; the others are cancelled, and it will be the best response.
      for (const other of this.#branches) this.#cancelBranch(other, 487);
    }
    this.#check();
  }

  #forward2xx(b: Branch, r: SipResponse): void {
    const up = upstreamCopy(r);
    if (b.state !== 'done') this.#finish(b, { status: r.status, response: r });
    if (up !== undefined) {
      this.#listener.onBranchResponse(r, b.target);
      if (this.#upstream === 'rejected' || this.#tx.terminated === true) {
        // The server transaction is gone or already answered non-2xx: forwarded statelessly (§16.7 step 9).
        this.#deps.sendResponse(up, this.#tx.inbound).catch((err: unknown) => {
          this.#deps.logger.debug({ err }, '2xx forward failed');
        });
      } else {
        this.#tx.respond(up);
      }
    }
    if (this.#upstream === 'pending') {
      this.#upstream = 'accepted';
      // §16.7 step 10: a final response forwarded cancels every pending branch.
      for (const other of this.#branches) this.#cancelBranch(other, 487);
    }
    this.#check();
  }

  #cancelBranch(b: Branch, localStatus: number): void {
    if (b.state === 'done') return;
    b.handle?.cancel();
    if (b.state === 'calling') this.#finish(b, { status: localStatus, response: undefined });
  }

  #onTimerC(b: Branch): void {
    b.timerC = undefined;
    if (b.state === 'done') return;
    // §16.8: with a provisional the branch is cancelled (its 487 will follow); without one it counts as 408.
    this.#deps.logger.debug({ branch: b.target.branch }, 'Timer C fired');
    if (b.state === 'proceeding') b.handle?.cancel();
    else this.#cancelBranch(b, 408);
    this.#check();
  }

  #restartTimerC(b: Branch): void {
    this.#deps.timers.cancel(b.timerC);
    b.timerC = this.#deps.timers.schedule(this.#deps.timerCMs, () => this.#onTimerC(b));
  }

  #finish(b: Branch, final: BranchFinal): void {
    b.state = 'done';
    b.final = final;
    this.#deps.timers.cancel(b.timerC);
    b.timerC = undefined;
  }

  #check(): void {
    if (this.#done) return;
    for (const b of this.#branches) if (b.state !== 'done') return;
    if (this.#upstream === 'pending') this.#sendBest();
    this.#done = true;
    this.#listener.onDone();
  }

  /** §16.7 steps 6-7 once every branch is final and none was a 2xx. */
  #sendBest(): void {
    const finals = this.#branches.map((b) => b.final).filter((f): f is BranchFinal => f !== undefined);
    const { status, response } = upstreamFinal(finals, (s, reason) =>
      createResponse(this.#tx.request, this.#tx.core, s, { toTag: newTag(), ...(reason ? { reason } : {}) }),
    );
    this.#upstream = 'rejected';
    this.#listener.onRejected(status, this.#cancelled);
    this.#tx.respond(response);
  }
}
