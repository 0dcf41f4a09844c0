/**
 * The contract between the transaction layer and the layers above it (RFC 3261 section 17: the "TU").
 * The transaction layer absorbs retransmissions, validates mandatory headers and sends stateless errors;
 * the TU sees each new request exactly once and answers it through its server transaction.
 */
import type { SipRequest, SipResponse, RequestCore, ResponseCore } from '../sip/index.js';
import type { Destination, InboundContext } from '../transport/types.js';

export interface ServerTransaction {
  readonly request: SipRequest;
  /** Mandatory headers, already parsed and validated (Via, From, To, Call-ID, CSeq, Max-Forwards). */
  readonly core: RequestCore;
  readonly inbound: InboundContext;
  /** True once the transaction has ended: respond() then sends nothing. */
  readonly terminated?: boolean;
  /**
   * The AOR the request was authenticated as (RFC 3261 §22, digest), set by the auth gate above this layer
   * (src/auth withIdentity). Absent when the request was not authenticated (open mode, or a method that needs
   * none): the From URI is then all we know. The core takes it as the watcher and publisher identity.
   */
  readonly identity?: string | undefined;
  /**
   * Sends a response. Provisional responses may precede one final response; later calls after a final
   * response are ignored (and logged). The transaction keeps the final response to answer retransmissions
   * (Timer J on unreliable transports).
   */
  respond(response: SipResponse): void;
  /**
   * INVITE only (a proxy, RFC 3261 §16.10): when a handler is set, a CANCEL matching this pending INVITE
   * calls it instead of the transaction answering 487 itself; the TU then cancels its branches and the
   * final response (487) reaches the caller through the normal response path. The CANCEL is answered 200
   * by the layer either way (§9.2).
   */
  setCancelHandler?(handler: () => void): void;
}

export interface TransactionUser {
  /** A new request (never a retransmission) that passed validation. ACK and CANCEL are handled below. */
  onRequest(tx: ServerTransaction): void;
  /**
   * An ACK that matched no INVITE server transaction waiting for it: the ACK for a 2xx, a separate
   * transaction of its own (RFC 3261 §13.2.2.4, §17.1.1.3), which a proxy forwards (§16.7). Without this
   * hook such ACKs are absorbed and counted. An ACK is never answered.
   */
  onAck?(request: SipRequest, core: RequestCore, inbound: InboundContext): void;
  /**
   * True when the TU will forward this request as a proxy (RFC 3261 §16) rather than answer it as a UAS:
   * the UAS-only checks of the layer (merged requests §8.2.2.2, Require §8.2.2.3) are then skipped, since
   * they belong to the UAS downstream (§16.3 checks Proxy-Require instead).
   */
  isProxied?(request: SipRequest, core: RequestCore): boolean;
  /**
   * A response that matched no client transaction (§17.1.3), after being counted as stray. A proxy forwards
   * it statelessly (§16.7: such a response is processed "as a stateless proxy"): a callee's 2xx retransmitted
   * after our transaction ended, or after a restart, still reaches the caller. Without this hook it is dropped.
   */
  onStrayResponse?(response: SipResponse, core: ResponseCore): void;
}

/** Outcome of a request we sent: the final response, or a synthesized 408 (Timer F) / 503 (transport error). */
export interface ClientTransactionOutcome {
  readonly status: number;
  /** Absent when synthesized locally (timeout, transport error). */
  readonly response: SipResponse | undefined;
  /** Why a status was synthesized: 'timeout' | 'transport-error'. */
  readonly localReason?: 'timeout' | 'transport-error';
}

/** What the TU hears from an INVITE client transaction (RFC 3261 §17.1.1 with RFC 6026). */
export interface InviteClientEvents {
  /** Every provisional response (100 included), in arrival order. */
  onProvisional(response: SipResponse): void;
  /**
   * The final outcome. A non-2xx arrives once (the transaction has already sent its ACK, §17.1.1.3); a
   * 2xx may arrive several times (retransmissions, or 2xx from other forks downstream: RFC 6026 §8.4,
   * the Accepted state), and the TU handles each (a proxy forwards each upstream). A locally synthesized
   * 408 (Timer B) or 503 (transport error) has no response.
   */
  onFinal(outcome: ClientTransactionOutcome): void;
}

/** The TU's handle on an INVITE client transaction it started. */
export interface InviteClientHandle {
  /** The branch of our Via (the transaction id, §17.1.3). */
  readonly branch: string;
  /** The INVITE as sent, our Via on top (for ACK/CANCEL construction and logging). */
  readonly request: SipRequest;
  /**
   * Cancels the INVITE (RFC 3261 §9.1): a CANCEL is sent now if a provisional response has arrived,
   * otherwise as soon as one does (a CANCEL must not precede it). Nothing happens once a final response
   * arrived. Idempotent.
   */
  cancel(): void;
  /** True once a provisional response has been received. */
  readonly provisionalReceived: boolean;
}

/** Options of a request the TU sends as a proxy. */
export interface ForwardOptions {
  /** Branch for our Via (must start with z9hG4bK and be unique); generated when absent. */
  readonly branch?: string;
  /** Never switch a large UDP request to TCP (§18.1.1): the next hop is a flow that only speaks UDP. */
  readonly noMtuSwitch?: boolean;
}

export interface RequestSender {
  /**
   * Sends a request through a new non-INVITE client transaction. The layer adds the top Via (with a fresh
   * z9hG4bK branch and rport) itself; the request must carry everything else. Resolves once with the final
   * outcome; never rejects.
   */
  sendRequest(request: SipRequest, destination: Destination): Promise<ClientTransactionOutcome>;
}
