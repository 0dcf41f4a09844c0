/**
 * The contract between the transaction layer and the layers above it (RFC 3261 section 17: the "TU").
 * The transaction layer absorbs retransmissions, validates mandatory headers and sends stateless errors;
 * the TU sees each new request exactly once and answers it through its server transaction.
 */
import type { SipRequest, SipResponse, RequestCore } from '../sip/index.js';
import type { Destination, InboundContext } from '../transport/types.js';

export interface ServerTransaction {
  readonly request: SipRequest;
  /** Mandatory headers, already parsed and validated (Via, From, To, Call-ID, CSeq, Max-Forwards). */
  readonly core: RequestCore;
  readonly inbound: InboundContext;
  /**
   * Sends a response. Provisional responses may precede one final response; later calls after a final
   * response are ignored (and logged). The transaction keeps the final response to answer retransmissions
   * (Timer J on unreliable transports).
   */
  respond(response: SipResponse): void;
}

export interface TransactionUser {
  /** A new request (never a retransmission) that passed validation. ACK and CANCEL are handled below. */
  onRequest(tx: ServerTransaction): void;
}

/** Outcome of a request we sent: the final response, or a synthesized 408 (Timer F) / 503 (transport error). */
export interface ClientTransactionOutcome {
  readonly status: number;
  /** Absent when synthesized locally (timeout, transport error). */
  readonly response: SipResponse | undefined;
  /** Why a status was synthesized: 'timeout' | 'transport-error'. */
  readonly localReason?: 'timeout' | 'transport-error';
}

export interface RequestSender {
  /**
   * Sends a request through a new non-INVITE client transaction. The layer adds the top Via (with a fresh
   * z9hG4bK branch and rport) itself; the request must carry everything else. Resolves once with the final
   * outcome; never rejects.
   */
  sendRequest(request: SipRequest, destination: Destination): Promise<ClientTransactionOutcome>;
}
