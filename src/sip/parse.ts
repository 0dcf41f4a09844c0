/**
 * parseMessage: one whole SIP message (a datagram, or a frame cut by StreamFramer) from bytes, RFC 3261
 * §7 and §25. The header block is located in the Buffer, decoded once, split into lines (with folding
 * undone, §7.3.1) and kept as text; structured values are parsed on demand (validate.ts, headers/*).
 */
import { CLASS, TOKEN, parseBoundedInt } from './chars.js';
import { SipParseError } from './errors.js';
import { adoptParsedHeaders, knownName } from './headers.js';
import type { SipMessage, SipRequest, SipResponse } from './message.js';

/** More header lines than this is an attack, not a message (a legitimate one has a few dozen). */
export const MAX_HEADER_LINES = 1024;
const MAX_CONTENT_LENGTH = 2 ** 31 - 1;

const LF_CRLF = Buffer.from('\n\r\n', 'latin1');
const LF_LF = Buffer.from('\n\n', 'latin1');

function startLineError(why: string, offset: number): SipParseError {
  return new SipParseError('SIP_ERR_START_LINE', `Bad start line: ${why}`, { offset });
}

function headerError(why: string, offset: number, header?: string): SipParseError {
  return new SipParseError('SIP_ERR_HEADER_SYNTAX', why, { offset, header });
}

/** "SIP/2.0" compared case-insensitively (ABNF literals are case-insensitive, RFC 5234 §2.3). */
function isSip20(s: string, from: number, to: number): boolean {
  return (
    to - from === 7 &&
    (s.charCodeAt(from) | 0x20) === 115 &&
    (s.charCodeAt(from + 1) | 0x20) === 105 &&
    (s.charCodeAt(from + 2) | 0x20) === 112 &&
    s.charCodeAt(from + 3) === 47 &&
    s.charCodeAt(from + 4) === 50 &&
    s.charCodeAt(from + 5) === 46 &&
    s.charCodeAt(from + 6) === 48
  );
}

/** SIP-Version = "SIP" "/" 1*DIGIT "." 1*DIGIT: a well-formed but different version earns a 505. */
function isOtherVersion(v: string): boolean {
  return /^SIP\/\d{1,5}\.\d{1,5}$/i.test(v);
}

function versionError(v: string, offset: number): SipParseError {
  return new SipParseError('SIP_ERR_VERSION', `SIP version not supported: ${v}`, { offset });
}

/**
 * s[from, to) without leading and trailing SP/HT. String.prototype.trim() would also strip U+FEFF and
 * other Unicode spaces that are part of a value (RFC 4475 §3.1.1.2 intmeth starts a value with a BOM).
 */
function sliceTrimmed(s: string, from: number, to: number): string {
  while (from < to && (s.charCodeAt(from) === 32 || s.charCodeAt(from) === 9)) from++;
  while (to > from && (s.charCodeAt(to - 1) === 32 || s.charCodeAt(to - 1) === 9)) to--;
  return s.slice(from, to);
}

function isTokenRange(s: string, from: number, to: number): boolean {
  if (to <= from) return false;
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (c >= 128 || (CLASS[c] & TOKEN) === 0) return false;
  }
  return true;
}

export interface ParseOptions {
  /**
   * Parse the header block only and return an empty body, without enforcing Content-Length against the
   * bytes present: for answering a message whose body was refused (StreamFramer's error `headers`).
   */
  ignoreBody?: boolean;
}

const NO_BODY = Buffer.alloc(0);

/**
 * Parses one complete message. Never throws: returns the message or a SipParseError whose `status`
 * is the response to send (400, 413/513, 505).
 *
 * Framing follows RFC 3261 §18.3: with Content-Length, a shorter body is an error and extra bytes are
 * ignored; without it the body is the rest of the datagram (stream framing is StreamFramer's job).
 * The body is a view into `data` (no copy).
 */
export function parseMessage(data: Buffer, opts?: ParseOptions): SipMessage | SipParseError {
  if (!Buffer.isBuffer(data)) return new SipParseError('SIP_ERR_EMPTY', 'Empty message', { offset: 0 });
  const total = data.length;
  let start = 0;
  // RFC 3261 §7.5: CRLFs before the start-line are ignored (keep-alives on streams).
  while (start < total && (data[start] === 13 || data[start] === 10)) start++;
  if (start >= total) return new SipParseError('SIP_ERR_EMPTY', 'Empty message', { offset: 0 });

  // End of the header block: the first empty line. CRLF is the rule; a bare LF is tolerated.
  let headEnd: number;
  let bodyStart: number;
  const e1 = data.indexOf(LF_CRLF, start);
  if (e1 >= 0) {
    headEnd = e1 + 1;
    bodyStart = e1 + 3;
  } else {
    const e2 = data.indexOf(LF_LF, start);
    if (e2 < 0) return headerError('Missing empty line after headers', total);
    headEnd = e2 + 1;
    bodyStart = e2 + 2;
  }
  const text = data.toString('utf8', start, headEnd);
  let tlen = text.length;
  // A CR that does not end a line would survive into a value and could split it on re-serialisation.
  for (let cr = text.indexOf('\r'); cr >= 0; cr = text.indexOf('\r', cr + 2)) {
    if (text.charCodeAt(cr + 1) !== 10) return headerError('Bare CR in header block', start + cr);
  }

  // ---- start line -------------------------------------------------------------------------------
  const nl0 = text.indexOf('\n');
  const sl = nl0 > 0 && text.charCodeAt(nl0 - 1) === 13 ? nl0 - 1 : nl0;
  let method = '';
  let uri = '';
  let status = 0;
  let reason = '';
  if (sl >= 4 && (text.charCodeAt(0) | 0x20) === 115 && (text.charCodeAt(1) | 0x20) === 105 && (text.charCodeAt(2) | 0x20) === 112 && text.charCodeAt(3) === 47) {
    // Status-Line = SIP-Version SP Status-Code SP Reason-Phrase (§7.2)
    const sp = text.indexOf(' ');
    if (sp < 0 || sp > sl) return startLineError('no status code', start);
    if (!isSip20(text, 0, sp)) {
      const v = text.slice(0, sp);
      return isOtherVersion(v) ? versionError(v, start) : startLineError('bad version', start);
    }
    const cs = sp + 1;
    // Status-Code = 3DIGIT (RFC 4475 §3.1.2.19 bigcode: more digits is an error).
    let ce = cs;
    while (ce < sl && (CLASS[text.charCodeAt(ce)] & 128) !== 0) ce++;
    if (ce - cs !== 3 || (ce < sl && text.charCodeAt(ce) !== 32)) return startLineError('bad status code', start + cs);
    status = Number(text.slice(cs, ce));
    if (status < 100 || status > 699) return startLineError('status code out of range', start + cs);
    // The SP before an empty Reason-Phrase is tolerated when missing (RFC 4475 §3.1.1.13 noreason).
    reason = ce < sl ? text.slice(ce + 1, sl) : '';
  } else {
    // Request-Line = Method SP Request-URI SP SIP-Version CRLF: exactly single spaces (§7.1,
    // RFC 4475 §3.1.2.8-10 lwsruri, lwsstart, trws).
    const sp1 = text.indexOf(' ');
    if (sp1 <= 0 || sp1 > sl) return startLineError('no request URI', start);
    if (!isTokenRange(text, 0, sp1)) return startLineError('bad method', start);
    const sp2 = text.indexOf(' ', sp1 + 1);
    if (sp2 < 0 || sp2 > sl) return startLineError('no SIP version', start + sp1);
    if (sp2 === sp1 + 1) return startLineError('empty request URI', start + sp1);
    for (let i = sp1 + 1; i < sp2; i++) {
      const c = text.charCodeAt(i);
      if (c <= 32 || c >= 127) return startLineError('bad character in request URI', start + i);
    }
    if (!isSip20(text, sp2 + 1, sl)) {
      const v = text.slice(sp2 + 1, sl);
      return isOtherVersion(v) ? versionError(v, start + sp2 + 1) : startLineError('bad SIP version', start + sp2 + 1);
    }
    method = text.slice(0, sp1);
    uri = text.slice(sp1 + 1, sp2);
  }

  // ---- header lines -----------------------------------------------------------------------------
  const names: string[] = [];
  const keys: string[] = [];
  const values: string[] = [];
  let clCount = 0;
  let pos = nl0 + 1;
  while (pos < tlen) {
    let nl = text.indexOf('\n', pos);
    if (nl < 0) nl = tlen;
    const lineEnd = nl > pos && text.charCodeAt(nl - 1) === 13 ? nl - 1 : nl;
    if (lineEnd === pos) {
      // An empty line ended by a bare LF came before the first CRLF CRLF: the headers end here.
      bodyStart = start + Buffer.byteLength(text.slice(0, nl + 1), 'utf8');
      tlen = pos;
      break;
    }
    const c0 = text.charCodeAt(pos);
    if (c0 === 32 || c0 === 9) {
      // Folded continuation (LWS = [*WSP CRLF] 1*WSP): joins the previous value with one SP.
      const last = values.length - 1;
      if (last < 0) return headerError('Continuation line before any header', start + pos);
      const more = sliceTrimmed(text, pos, lineEnd);
      if (more.length > 0) values[last] = values[last].length > 0 ? values[last] + ' ' + more : more;
      pos = nl + 1;
      continue;
    }
    const colon = text.indexOf(':', pos);
    if (colon < 0 || colon >= lineEnd) return headerError('Header line without colon', start + pos);
    // HCOLON = *( SP / HTAB ) ":" SWS
    let ne = colon;
    while (ne > pos && (text.charCodeAt(ne - 1) === 32 || text.charCodeAt(ne - 1) === 9)) ne--;
    if (ne === pos) return headerError('Bad header name', start + pos);
    if (keys.length >= MAX_HEADER_LINES) {
      return new SipParseError('SIP_ERR_TOO_LARGE', 'Too many header fields', { offset: start + pos, status: 513 });
    }
    let key: string;
    const known = knownName(text, pos, ne);
    if (known !== undefined) {
      // A known name is a token by construction: no need to check its characters.
      key = known.key;
      names.push(known.name);
    } else {
      if (!isTokenRange(text, pos, ne)) return headerError('Bad header name', start + pos);
      const rawName = text.slice(pos, ne);
      key = rawName.toLowerCase();
      names.push(rawName);
    }
    keys.push(key);
    values.push(sliceTrimmed(text, colon + 1, lineEnd));
    if (key === 'content-length') clCount++;
    pos = nl + 1;
  }

  // ---- body -------------------------------------------------------------------------------------
  let body: Buffer;
  if (opts?.ignoreBody === true) {
    body = NO_BODY;
  } else if (clCount > 1) {
    // Content-Length is not a list; two of them make the framing ambiguous (RFC 4475 §3.3.9 mcl01).
    return new SipParseError('SIP_ERR_CONTENT_LENGTH', 'Multiple Content-Length headers', { header: 'Content-Length' });
  } else if (clCount === 1) {
    // Read after the loop: the value may have been folded over several lines.
    const contentLength = parseBoundedInt(values[keys.indexOf('content-length')], MAX_CONTENT_LENGTH);
    if (contentLength < 0) return new SipParseError('SIP_ERR_CONTENT_LENGTH', 'Bad header Content-Length: not a non-negative integer', { header: 'Content-Length' });
    // §18.3: a body shorter than Content-Length is an error (RFC 4475 §3.1.2.2 clerr); extra bytes are dropped.
    if (bodyStart + contentLength > total) {
      return new SipParseError('SIP_ERR_BODY_TRUNCATED', `Body shorter than Content-Length ${contentLength}`, { header: 'Content-Length', offset: total });
    }
    body = data.subarray(bodyStart, bodyStart + contentLength);
  } else {
    body = data.subarray(Math.min(bodyStart, total));
  }

  const headers = adoptParsedHeaders(names, keys, values);
  if (status === 0) {
    const req: SipRequest = { kind: 'request', method, uri, headers, body };
    return req;
  }
  const res: SipResponse = { kind: 'response', status, reason, headers, body };
  return res;
}

