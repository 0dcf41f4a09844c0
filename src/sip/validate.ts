/**
 * validateRequest / validateResponse: the mandatory header fields of RFC 3261 §8.1.1 parsed and checked
 * once per message. Results are cached per message and invalidated when its headers, method or
 * Request-URI change, so every layer may call these freely.
 */
import { isToken, parseBoundedInt } from './chars.js';
import { SipParseError } from './errors.js';
import { headersMemo, headersVersion, setHeadersMemo, singleLine, type SipHeaders } from './headers.js';
import { parseCSeq } from './headers/cseq.js';
import { parseVia } from './headers/via.js';
import type { SipRequest, SipResponse } from './message.js';
import { parseNameAddr } from './name-addr.js';
import type { CSeq, NameAddr, SipUri, Via } from './types.js';
import { parseUri } from './uri.js';

export interface ResponseCore {
  via: Via[];
  from: NameAddr;
  to: NameAddr;
  callId: string;
  cseq: CSeq;
}

export interface RequestCore extends ResponseCore {
  /** undefined when absent: RFC 2543 peers omit it and RFC 4475 §3.4.1 (inv2543) expects acceptance. */
  maxForwards: number | undefined;
  requestUri: SipUri;
}

/** Cached result, kept in the headers object: valid while version, kind, method and URI are unchanged. */
class Memo {
  constructor(
    readonly version: number,
    readonly kind: 'request' | 'response',
    readonly method: string,
    readonly uri: string,
    readonly result: RequestCore | ResponseCore | SipParseError,
  ) {}
}

function missing(name: string): SipParseError {
  return new SipParseError('SIP_ERR_MISSING_HEADER', `Missing header: ${name}`, { header: name });
}

function duplicate(name: string): SipParseError {
  // RFC 4475 §3.3.8 multi01: several values in a single-valued field make the request invalid.
  return new SipParseError('SIP_ERR_DUPLICATE_HEADER', `Bad header ${name}: more than one value`, { header: name });
}

/** The one value of a single-valued header, or an error when it is absent or repeated. */
function single(headers: SipHeaders, name: string, key: string): string | SipParseError {
  const v = singleLine(headers, key);
  if (v === 0) return missing(name);
  if (typeof v === 'number') return duplicate(name);
  if (v.length === 0) return new SipParseError('SIP_ERR_BAD_HEADER', `Bad header ${name}: empty`, { header: name });
  return v;
}

/** callid = word [ "@" word ]: visible ASCII, no whitespace (§25.1). */
function isCallId(v: string): boolean {
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c <= 32 || c >= 127) return false;
  }
  return v.length > 0;
}

function validateCommon(headers: SipHeaders): ResponseCore | SipParseError {
  const viaValues = headers.getAll('Via');
  if (viaValues.length === 0) return missing('Via');
  const via: Via[] = new Array<Via>(viaValues.length);
  for (let i = 0; i < viaValues.length; i++) {
    const v = parseVia(viaValues[i]);
    if (v instanceof SipParseError) return v;
    via[i] = v;
  }
  const fromText = single(headers, 'From', 'from');
  if (fromText instanceof SipParseError) return fromText;
  const from = parseNameAddr(fromText);
  if (from instanceof SipParseError) return from.inHeader('From');
  const toText = single(headers, 'To', 'to');
  if (toText instanceof SipParseError) return toText;
  const to = parseNameAddr(toText);
  if (to instanceof SipParseError) return to.inHeader('To');
  const callId = single(headers, 'Call-ID', 'call-id');
  if (callId instanceof SipParseError) return callId;
  if (!isCallId(callId)) return new SipParseError('SIP_ERR_BAD_HEADER', 'Bad header Call-ID: invalid characters', { header: 'Call-ID' });
  const cseqText = single(headers, 'CSeq', 'cseq');
  if (cseqText instanceof SipParseError) return cseqText;
  const cseq = parseCSeq(cseqText);
  if (cseq instanceof SipParseError) return cseq;
  return { via, from, to, callId, cseq };
}

function computeRequest(req: SipRequest): RequestCore | SipParseError {
  if (!isToken(req.method)) return new SipParseError('SIP_ERR_START_LINE', 'Bad start line: bad method');
  const common = validateCommon(req.headers);
  if (common instanceof SipParseError) return common;
  // §8.1.1.5: the CSeq method MUST match the request method (RFC 4475 §3.1.2.17-18 mismatch01/02).
  if (common.cseq.method !== req.method) {
    return new SipParseError(
      'SIP_ERR_CSEQ_METHOD_MISMATCH',
      `Bad header CSeq: method ${common.cseq.method} does not match request method ${req.method}`,
      { header: 'CSeq' },
    );
  }
  let maxForwards: number | undefined;
  const mf = singleLine(req.headers, 'max-forwards');
  if (mf === 2) return duplicate('Max-Forwards');
  if (typeof mf === 'string') {
    // Max-Forwards = 1*DIGIT; values above 255 are refused (RFC 4475 §3.1.2.4 scalar02).
    const n = parseBoundedInt(mf, 255);
    if (n < 0) return new SipParseError('SIP_ERR_BAD_HEADER', 'Bad header Max-Forwards: not an integer 0-255', { header: 'Max-Forwards' });
    maxForwards = n;
  }
  // The Request-URI last: a 416 needs valid Via/From/To/Call-ID/CSeq to be answered at all.
  const requestUri = parseUri(req.uri);
  if (requestUri instanceof SipParseError) return requestUri;
  // §19.1.1 table: URI headers are not allowed in a Request-URI (RFC 4475 §3.1.2.11 escruri).
  if (requestUri.headers.size > 0) return new SipParseError('SIP_ERR_URI', 'Bad Request-URI: headers not allowed');
  return { via: common.via, from: common.from, to: common.to, callId: common.callId, cseq: common.cseq, maxForwards, requestUri };
}

/**
 * Checks the mandatory headers of a request (Via, From, To, Call-ID, CSeq; Max-Forwards when present),
 * the CSeq method, and the Request-URI. Cached per message: calling it again is free.
 */
export function validateRequest(req: SipRequest): RequestCore | SipParseError {
  const version = headersVersion(req.headers);
  const hit = headersMemo(req.headers);
  if (hit instanceof Memo && hit.version === version && hit.kind === 'request' && hit.method === req.method && hit.uri === req.uri) {
    return hit.result as RequestCore | SipParseError;
  }
  const result = computeRequest(req);
  setHeadersMemo(req.headers, new Memo(version, 'request', req.method, req.uri, result));
  return result;
}

/** Checks the mandatory headers of a response (Via, From, To, Call-ID, CSeq). Cached like validateRequest. */
export function validateResponse(res: SipResponse): ResponseCore | SipParseError {
  const version = headersVersion(res.headers);
  const hit = headersMemo(res.headers);
  if (hit instanceof Memo && hit.version === version && hit.kind === 'response') return hit.result as ResponseCore | SipParseError;
  const result = validateCommon(res.headers);
  setHeadersMemo(res.headers, new Memo(version, 'response', '', '', result));
  return result;
}
