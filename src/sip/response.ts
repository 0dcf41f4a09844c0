/** createResponse: a response to a request per RFC 3261 §8.2.6. */
import { SipHeaders } from './headers.js';
import type { SipRequest, SipResponse } from './message.js';
import { createResponseMessage } from './message.js';
import { reasonPhrase } from './reason-phrases.js';
import type { RequestCore } from './validate.js';

export interface CreateResponseOptions {
  reason?: string;
  /** To-tag to add when the request's To has none (every status above 100, §8.2.6.2). */
  toTag?: string;
  /** Extra header lines, appended in order. */
  headers?: Array<[string, string]>;
  body?: Buffer;
  /** Content-Type of the body. */
  contentType?: string;
  /**
   * Copy the request's Record-Route values in order: required in a response that establishes a dialog
   * (2xx to SUBSCRIBE, §12.1.1; RFC 6665 §4.4.1).
   */
  copyRecordRoute?: boolean;
}

const EMPTY = Buffer.alloc(0);

/**
 * Builds a response: all Via values in order, From, To (with `;tag=toTag` added when the request had no
 * To-tag and the status is not 100), Call-ID and CSeq copied from the request (§8.2.6.2); the default
 * Reason-Phrase; Content-Length is written at serialisation.
 */
export function createResponse(req: SipRequest, core: RequestCore, status: number, opts: CreateResponseOptions = {}): SipResponse {
  const h = new SipHeaders();
  const rh = req.headers;
  for (const v of rh.getAll('Via')) h.append('Via', v);
  h.append('From', rh.get('From') ?? '');
  let to = rh.get('To') ?? '';
  // §8.2.6.2: the UAS MUST add a tag to the To of every response except 100 (Trying) when none is present.
  if (status > 100 && opts.toTag !== undefined && opts.toTag.length > 0 && !core.to.params.has('tag')) {
    to += ';tag=' + opts.toTag;
  }
  h.append('To', to);
  h.append('Call-ID', rh.get('Call-ID') ?? core.callId);
  h.append('CSeq', rh.get('CSeq') ?? `${core.cseq.seq} ${core.cseq.method}`);
  if (opts.copyRecordRoute === true) for (const rr of rh.getAll('Record-Route')) h.append('Record-Route', rr);
  if (opts.headers !== undefined) for (const [n, v] of opts.headers) h.append(n, v);
  const body = opts.body ?? EMPTY;
  if (opts.contentType !== undefined && body.length > 0 && !h.has('Content-Type')) h.append('Content-Type', opts.contentType);
  return createResponseMessage(status, opts.reason ?? reasonPhrase(status), h, body);
}
