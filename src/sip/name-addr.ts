/**
 * name-addr / addr-spec with header parameters (From, To, Contact, Route, Record-Route, Refer-To ...),
 * RFC 3261 §20.10 and §25.1.
 */
import { CLASS, TOKEN, skipWs, trimWs } from './chars.js';
import { SipParseError } from './errors.js';
import { EMPTY_PARAMS, formatParams, hasParamsAt, parseParamsAt, quote, scanQuoted, unescapeQuoted } from './params.js';
import type { NameAddr, Params } from './types.js';
import { formatUri, parseUri } from './uri.js';

function err(text: string, why: string): SipParseError {
  return new SipParseError('SIP_ERR_BAD_HEADER', `Bad address ${text.length > 60 ? text.slice(0, 60) : text}: ${why}`);
}

/** True when s[from, to) is `*(token LWS)`: a display name that needs no quotes. */
function isTokenPhrase(s: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (c === 32 || c === 9) continue;
    if (c >= 128 || (CLASS[c] & TOKEN) === 0) return false;
  }
  return true;
}

/**
 * Parses `( name-addr / addr-spec ) *( SEMI generic-param )`.
 * In the addr-spec form the URI ends at the first ";" (the parameters that follow belong to the header,
 * §20.10), and a URI containing "," "?" or ";" must have been written in angle brackets (§20),
 * so "?" there is an error (RFC 4475 §3.1.2.13 regbadct). No whitespace is allowed inside < >
 * (LAQUOT/RAQUOT, RFC 4475 §3.1.2.14 badaspec).
 */
export function parseNameAddr(text: string): NameAddr | SipParseError {
  const len = text.length;
  let i = skipWs(text, 0);
  let displayName: string | undefined;
  let uriText: string;
  if (i >= len) return err(text, 'empty');
  if (text.charCodeAt(i) === 34 /* " */) {
    const end = scanQuoted(text, i);
    if (end < 0) return err(text, 'unterminated quoted string');
    displayName = unescapeQuoted(text.slice(i, end));
    i = skipWs(text, end);
    if (i >= len || text.charCodeAt(i) !== 60) return err(text, 'expected < after display name');
  }
  if (text.charCodeAt(i) !== 60 /* < */) {
    const lt = text.indexOf('<', i);
    if (lt >= 0 && isTokenPhrase(text, i, lt)) {
      const name = trimWs(text.slice(i, lt));
      if (name.length > 0) displayName = name;
      i = lt;
    }
  }
  if (text.charCodeAt(i) === 60) {
    const gt = text.indexOf('>', i + 1);
    if (gt < 0) return err(text, 'missing >');
    uriText = text.slice(i + 1, gt);
    i = gt + 1;
  } else {
    const start = i;
    while (i < len) {
      const c = text.charCodeAt(i);
      if (c === 59 || c === 32 || c === 9) break;
      if (c === 63 || c === 44 || c === 34 || c === 60 || c === 62) {
        return err(text, 'URI with ",", "?" or "<" must be enclosed in <>');
      }
      i++;
    }
    uriText = text.slice(start, i);
  }
  const uri = parseUri(uriText);
  if (uri instanceof SipParseError) return uri;
  const params: Params = hasParamsAt(text, i) ? new Map() : EMPTY_PARAMS;
  const end = parseParamsAt(text, i, params);
  if (end < 0) return err(text, 'bad parameter');
  if (skipWs(text, end) !== len) return err(text, 'unexpected text after address');
  return { displayName, uri, uriText, params };
}

/** Formats as name-addr (always with < >, which is valid for every URI). */
export function formatNameAddr(na: NameAddr): string {
  const uri = na.uriText.length > 0 ? na.uriText : formatUri(na.uri);
  const dn = na.displayName !== undefined && na.displayName.length > 0 ? quote(na.displayName) + ' ' : '';
  return `${dn}<${uri}>${formatParams(na.params)}`;
}
