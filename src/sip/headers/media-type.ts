/** Content-Type (RFC 3261 §20.15) and Accept (§20.1) media types. */
import { CLASS, TOKEN, skipWs } from '../chars.js';
import { SipParseError } from '../errors.js';
import { splitList } from '../headers.js';
import { formatParams, parseParamsAt } from '../params.js';
import type { MediaType, Params } from '../types.js';

function err(header: string, why: string): SipParseError {
  return new SipParseError('SIP_ERR_BAD_HEADER', `Bad header ${header}: ${why}`, { header });
}

function scanToken(s: string, i: number): number {
  while (i < s.length) {
    const c = s.charCodeAt(i);
    if (c >= 128 || (CLASS[c] & TOKEN) === 0) break;
    i++;
  }
  return i;
}

function parseMedia(text: string, header: string): MediaType | SipParseError {
  const len = text.length;
  let i = skipWs(text, 0);
  const ts = i;
  i = scanToken(text, i);
  if (i === ts) return err(header, 'missing type');
  const type = text.slice(ts, i);
  i = skipWs(text, i);
  if (text.charCodeAt(i) !== 47) return err(header, 'expected /');
  i = skipWs(text, i + 1);
  const ss = i;
  i = scanToken(text, i);
  if (i === ss) return err(header, 'missing subtype');
  const params: Params = new Map();
  const end = parseParamsAt(text, i, params);
  if (end < 0) return err(header, 'bad parameter');
  if (skipWs(text, end) !== len) return err(header, 'unexpected text');
  return { type: (type + '/' + text.slice(ss, i)).toLowerCase(), params };
}

/** Parses a Content-Type value; type/subtype lower-cased, parameters kept as written (see unquote()). */
export function parseMediaType(text: string): MediaType | SipParseError {
  return parseMedia(text, 'Content-Type');
}

/**
 * Parses a whole Accept value (or several lines joined by ","). An empty value yields [] which, per
 * RFC 3261 §20.1, means that no body is acceptable.
 */
export function parseAccept(text: string): MediaType[] | SipParseError {
  const out: MediaType[] = [];
  for (const part of splitList(text)) {
    const m = parseMedia(part, 'Accept');
    if (m instanceof SipParseError) return m;
    out.push(m);
  }
  return out;
}

export function formatMediaType(m: MediaType): string {
  return m.type + formatParams(m.params);
}

/** True when `accepted` (possibly with wildcards such as "application/*" or "*\/*") covers `type`. */
export function mediaTypeMatches(accepted: string, type: string): boolean {
  if (accepted === '*/*' || accepted === type) return true;
  if (accepted.endsWith('/*')) return type.startsWith(accepted.slice(0, -1));
  return false;
}
