/**
 * The message model: a request or a response with ordered headers and a body kept as bytes
 * (never decoded here: bodies may be binary, RFC 3261 §7.4).
 */
import { SipHeaders } from './headers.js';

export interface SipRequest {
  readonly kind: 'request';
  method: string;
  /** Request-URI as written on the request line. */
  uri: string;
  headers: SipHeaders;
  body: Buffer;
}

export interface SipResponse {
  readonly kind: 'response';
  status: number;
  reason: string;
  headers: SipHeaders;
  body: Buffer;
}

export type SipMessage = SipRequest | SipResponse;

const EMPTY = Buffer.alloc(0);

function toHeaders(headers: Iterable<readonly [string, string]> | SipHeaders | undefined): SipHeaders {
  if (headers instanceof SipHeaders) return headers;
  return new SipHeaders(headers);
}

export function createRequest(
  method: string,
  uri: string,
  headers?: Iterable<readonly [string, string]> | SipHeaders,
  body?: Buffer,
): SipRequest {
  return { kind: 'request', method, uri, headers: toHeaders(headers), body: body ?? EMPTY };
}

export function createResponseMessage(
  status: number,
  reason: string,
  headers?: Iterable<readonly [string, string]> | SipHeaders,
  body?: Buffer,
): SipResponse {
  return { kind: 'response', status, reason, headers: toHeaders(headers), body: body ?? EMPTY };
}
