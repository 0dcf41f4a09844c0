/**
 * The response context of one proxied non-INVITE request (RFC 3261 §16.7): MESSAGE forked to every
 * device, BYE/UPDATE/INFO/PRACK/REFER along a dialog's route. Each branch is a non-INVITE client
 * transaction; the first 2xx goes upstream at once (§16.7 step 5), otherwise the best final response once
 * every branch has one (step 6). Provisional responses are not forwarded: non-INVITE requests only ever
 * see 100, which a proxy does not forward (§16.7 step 5, RFC 4320 §4.1).
 */
import { createResponse, type SipRequest, type SipResponse } from '../sip/index.js';
import {
  newTag,
  type ClientTransactionOutcome,
  type ServerTransaction,
} from '../transaction/index.js';
import type { Destination } from '../transport/index.js';
import { upstreamCopy, upstreamFinal, type BranchFinal } from './best-response.js';
import type { ProxyTarget } from './invite-context.js';

export interface NonInviteContextDeps {
  readonly transactions: {
    sendRequest(request: SipRequest, destination: Destination, options: { branch: string; noMtuSwitch: boolean }): Promise<ClientTransactionOutcome>;
  };
}

export interface NonInviteContextListener {
  /** The final response sent upstream (status, and the branch response when it was one). */
  onFinal(status: number, response: SipResponse | undefined): void;
}

export class NonInviteContext {
  readonly #tx: ServerTransaction;
  readonly #deps: NonInviteContextDeps;
  readonly #listener: NonInviteContextListener | undefined;
  readonly #finals: BranchFinal[] = [];
  #expected = 0;
  #answered = false;

  constructor(tx: ServerTransaction, deps: NonInviteContextDeps, listener?: NonInviteContextListener) {
    this.#tx = tx;
    this.#deps = deps;
    this.#listener = listener;
  }

  start(targets: readonly ProxyTarget[]): void {
    this.#expected = targets.length;
    for (const t of targets) {
      void this.#deps.transactions
        .sendRequest(t.request, t.dest, { branch: t.branch, noMtuSwitch: true })
        .then((o) => this.#onOutcome(o));
    }
  }

  #onOutcome(o: ClientTransactionOutcome): void {
    this.#finals.push({ status: o.status, response: o.response });
    if (this.#answered) return;
    if (o.status < 300 && o.response !== undefined) {
      const up = upstreamCopy(o.response);
      if (up !== undefined) {
        this.#answer(o.status, up, o.response);
        return;
      }
    }
    if (this.#finals.length < this.#expected) return;
    const { status, response, best } = upstreamFinal(this.#finals, (s, reason) =>
      createResponse(this.#tx.request, this.#tx.core, s, { toTag: newTag(), ...(reason ? { reason } : {}) }),
    );
    this.#answer(status, response, best?.response);
  }

  #answer(status: number, up: SipResponse, received: SipResponse | undefined): void {
    this.#answered = true;
    this.#listener?.onFinal(status, received);
    this.#tx.respond(up);
  }
}
