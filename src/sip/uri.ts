/**
 * SIP, SIPS (RFC 3261 §19.1, §25.1) and TEL (RFC 3966) URIs: parsing with %HH unescaping, formatting
 * with re-escaping, comparison (RFC 3261 §19.1.4) and the address-of-record key used by the store.
 */
import { CLASS, DIGIT, HNV, HOST, PARAMCHAR, PASSWORD, USER } from './chars.js';
import { SipParseError } from './errors.js';
import { EMPTY_PARAMS, EMPTY_URI_HEADERS } from './params.js';
import type { Params, SipUri } from './types.js';

const MAX_URI_LENGTH = 8192;

function isHex(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102);
}

function hexVal(c: number): number {
  return c <= 57 ? c - 48 : (c | 0x20) - 87;
}

/** Advances over characters of class `flag` and valid %HH escapes; stops at anything else. */
function scanEsc(s: string, i: number, end: number, flag: number): number {
  while (i < end) {
    const c = s.charCodeAt(i);
    if (c === 37 /* % */) {
      if (i + 2 < end && isHex(s.charCodeAt(i + 1)) && isHex(s.charCodeAt(i + 2))) {
        i += 3;
        continue;
      }
      return i;
    }
    if (c >= 128 || (CLASS[c] & flag) === 0) return i;
    i++;
  }
  return i;
}

/** Resolves %HH escapes (already validated) as UTF-8 octets. */
export function unescapeUri(s: string): string {
  if (s.indexOf('%') < 0) return s;
  const bytes: number[] = [];
  let ascii = true;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 37 && i + 2 < s.length && isHex(s.charCodeAt(i + 1)) && isHex(s.charCodeAt(i + 2))) {
      const b = hexVal(s.charCodeAt(i + 1)) * 16 + hexVal(s.charCodeAt(i + 2));
      if (b >= 128) ascii = false;
      bytes.push(b);
      i += 2;
    } else {
      bytes.push(c & 0xff);
    }
  }
  if (ascii) return String.fromCharCode(...bytes);
  return Buffer.from(bytes).toString('utf8');
}

const HEX = '0123456789ABCDEF';

/** Escapes every character outside class `flag` as %HH over its UTF-8 octets. */
export function escapeUri(s: string, flag: number): string {
  let plain = true;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 128 || (CLASS[c] & flag) === 0) {
      plain = false;
      break;
    }
  }
  if (plain) return s;
  let out = '';
  for (const b of Buffer.from(s, 'utf8')) {
    if (b < 128 && (CLASS[b] & flag) !== 0) out += String.fromCharCode(b);
    else out += '%' + HEX[b >> 4] + HEX[b & 15];
  }
  return out;
}

function isIPv4(s: string): boolean {
  const parts = s.split('.');
  if (parts.length !== 4) return false;
  for (const p of parts) {
    if (p.length === 0 || p.length > 3) return false;
    for (let i = 0; i < p.length; i++) if ((CLASS[p.charCodeAt(i)] & DIGIT) === 0) return false;
    if (Number(p) > 255) return false;
  }
  return true;
}

/** RFC 3261 §25.1 IPv6address (without brackets), with "::" compression and an IPv4 tail. */
export function isIPv6(s: string): boolean {
  if (s.length < 2 || s.length > 45) return false;
  let groups = 0;
  let compressed = false;
  let i = 0;
  if (s.charCodeAt(0) === 58) {
    if (s.charCodeAt(1) !== 58) return false;
    compressed = true;
    i = 2;
    if (i === s.length) return true;
  }
  while (i < s.length) {
    let j = i;
    while (j < s.length && isHex(s.charCodeAt(j))) j++;
    if (j < s.length && s.charCodeAt(j) === 46 /* . */) {
      if (!isIPv4(s.slice(i))) return false;
      groups += 2;
      break;
    }
    if (j === i || j - i > 4) return false;
    groups++;
    if (j === s.length) break;
    if (s.charCodeAt(j) !== 58) return false;
    if (s.charCodeAt(j + 1) === 58) {
      if (compressed) return false;
      compressed = true;
      i = j + 2;
    } else {
      i = j + 1;
      if (i === s.length) return false;
    }
  }
  return compressed ? groups < 8 : groups === 8;
}

function uriError(text: string, why: string): SipParseError {
  return new SipParseError('SIP_ERR_URI', `Bad URI ${text.length > 60 ? text.slice(0, 60) : text}: ${why}`);
}

/**
 * Parses host [":" port] at s[i]; returns the end index, or -1. Hostnames are checked loosely
 * (alphanumerics, "-", ".", and "_" which deployed DNS names carry); IPv6 references are checked fully.
 */
export function scanHostPort(s: string, i: number, out: { host: string; port: number | undefined }): number {
  const len = s.length;
  let j = i;
  if (s.charCodeAt(i) === 91 /* [ */) {
    const close = s.indexOf(']', i);
    if (close < 0 || !isIPv6(s.slice(i + 1, close))) return -1;
    j = close + 1;
  } else {
    while (j < len) {
      const c = s.charCodeAt(j);
      if (c >= 128 || (CLASS[c] & HOST) === 0) break;
      j++;
    }
    if (j === i) return -1;
  }
  out.host = s.slice(i, j);
  out.port = undefined;
  if (j < len && s.charCodeAt(j) === 58 /* : */) {
    const ps = j + 1;
    j = ps;
    while (j < len && (CLASS[s.charCodeAt(j)] & DIGIT) !== 0) j++;
    // RFC 4475 §3.1.2.4 scalar02: a port beyond 65535 is a syntax error, not a wrap-around.
    if (j === ps || j - ps > 5) return -1;
    const port = Number(s.slice(ps, j));
    if (port > 65535) return -1;
    out.port = port;
  }
  return j;
}

function parseUriParams(s: string, i: number, params: Params, telephone: boolean): number {
  const len = s.length;
  const flag = PARAMCHAR;
  while (i < len && s.charCodeAt(i) === 59 /* ; */) {
    const ns = i + 1;
    let j = scanEsc(s, ns, len, flag);
    if (j === ns) return -1;
    const name = unescapeUri(s.slice(ns, j)).toLowerCase();
    let value: string | null = null;
    if (j < len && s.charCodeAt(j) === 61 /* = */) {
      const vs = j + 1;
      j = scanEsc(s, vs, len, flag);
      // RFC 3966 allows an empty-looking value only for isdn-subaddress etc.; SIP requires 1*paramchar.
      if (j === vs && !telephone) return -1;
      value = unescapeUri(s.slice(vs, j));
    }
    if (!params.has(name)) params.set(name, value);
    i = j;
  }
  return i;
}

function parseUriHeaders(s: string, i: number, headers: Map<string, string>): number {
  const len = s.length;
  if (i >= len || s.charCodeAt(i) !== 63 /* ? */) return i;
  do {
    const ns = i + 1;
    let j = scanEsc(s, ns, len, HNV);
    if (j === ns || j >= len || s.charCodeAt(j) !== 61) return -1;
    const name = unescapeUri(s.slice(ns, j));
    const vs = j + 1;
    j = scanEsc(s, vs, len, HNV);
    if (!headers.has(name)) headers.set(name, unescapeUri(s.slice(vs, j)));
    i = j;
  } while (i < len && s.charCodeAt(i) === 38 /* & */);
  return i;
}

const TEL_CHARS = new Uint8Array(128);
for (const ch of '0123456789abcdefABCDEF*#+-.()') TEL_CHARS[ch.charCodeAt(0)] = 1;

function parseTel(text: string, i: number): SipUri | SipParseError {
  const len = text.length;
  const ns = i;
  while (i < len) {
    const c = text.charCodeAt(i);
    if (c < 128 && TEL_CHARS[c] === 1) i++;
    else if (c === 37 && i + 2 < len && isHex(text.charCodeAt(i + 1)) && isHex(text.charCodeAt(i + 2))) i += 3;
    else break;
  }
  if (i === ns) return uriError(text, 'empty telephone number');
  const numberEnd = i;
  const params: Params = i < len && text.charCodeAt(i) === 59 ? new Map() : EMPTY_PARAMS;
  i = parseUriParams(text, i, params, true);
  if (i < 0) return uriError(text, 'bad parameter');
  if (i !== len) return uriError(text, 'unexpected character');
  return {
    scheme: 'tel',
    user: unescapeUri(text.slice(ns, numberEnd)),
    password: undefined,
    host: '',
    port: undefined,
    params,
    headers: EMPTY_URI_HEADERS,
  };
}

/**
 * Parses a SIP, SIPS or TEL URI. Any other well-formed scheme yields SIP_ERR_UNSUPPORTED_URI_SCHEME
 * (status 416, RFC 3261 §8.2.2.1); anything malformed (whitespace, "<>", bad escapes, bad host or port)
 * yields SIP_ERR_URI.
 */
export function parseUri(text: string): SipUri | SipParseError {
  const len = text.length;
  if (len === 0) return uriError(text, 'empty');
  if (len > MAX_URI_LENGTH) return uriError(text, 'too long');
  // scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )
  let i = 0;
  while (i < len) {
    const c = text.charCodeAt(i);
    const alpha = (c | 0x20) >= 97 && (c | 0x20) <= 122;
    if (alpha || (i > 0 && ((c >= 48 && c <= 57) || c === 43 || c === 45 || c === 46))) i++;
    else break;
  }
  if (i === 0 || i >= len || text.charCodeAt(i) !== 58) return uriError(text, 'no scheme');
  const scheme = text.slice(0, i).toLowerCase();
  i++;
  if (scheme === 'tel') return parseTel(text, i);
  if (scheme !== 'sip' && scheme !== 'sips') {
    // Still reject garbage: an absolute URI has no whitespace or angle brackets.
    for (let k = i; k < len; k++) {
      const c = text.charCodeAt(k);
      if (c <= 32 || c === 60 || c === 62 || c === 34 || c >= 127) return uriError(text, 'unexpected character');
    }
    return new SipParseError('SIP_ERR_UNSUPPORTED_URI_SCHEME', `Unsupported URI scheme: ${scheme}`);
  }
  let user: string | undefined;
  let password: string | undefined;
  const at = text.indexOf('@', i);
  if (at >= 0) {
    const ue = scanEsc(text, i, at, USER);
    if (ue === i) return uriError(text, 'empty user');
    user = unescapeUri(text.slice(i, ue));
    if (ue < at) {
      if (text.charCodeAt(ue) !== 58) return uriError(text, 'bad character in user');
      const pe = scanEsc(text, ue + 1, at, PASSWORD);
      if (pe !== at) return uriError(text, 'bad character in password');
      password = unescapeUri(text.slice(ue + 1, at));
    }
    i = at + 1;
  }
  const hp = { host: '', port: undefined as number | undefined };
  i = scanHostPort(text, i, hp);
  if (i < 0) return uriError(text, 'bad host or port');
  // Shared empty maps when there are none (most URIs inside name-addrs): see EMPTY_PARAMS.
  const params: Params = i < len && text.charCodeAt(i) === 59 ? new Map() : EMPTY_PARAMS;
  i = parseUriParams(text, i, params, false);
  if (i < 0) return uriError(text, 'bad parameter');
  const headers = i < len && text.charCodeAt(i) === 63 ? new Map<string, string>() : EMPTY_URI_HEADERS;
  i = parseUriHeaders(text, i, headers);
  if (i < 0) return uriError(text, 'bad header');
  if (i !== len) return uriError(text, 'unexpected character');
  return { scheme, user, password, host: hp.host, port: hp.port, params, headers };
}

function formatUriParams(params: Params): string {
  let out = '';
  for (const [k, v] of params) out += v === null ? ';' + escapeUri(k, PARAMCHAR) : `;${escapeUri(k, PARAMCHAR)}=${escapeUri(v, PARAMCHAR)}`;
  return out;
}

/** Formats a URI, re-escaping characters that may not appear literally in each component. */
export function formatUri(uri: SipUri): string {
  if (uri.scheme === 'tel') {
    // The user class covers digits, "+" and the visual separators; "#" is escaped as RFC 3966 requires.
    return 'tel:' + escapeUri(uri.user ?? '', USER) + formatUriParams(uri.params);
  }
  let out = uri.scheme + ':';
  if (uri.user !== undefined) {
    out += escapeUri(uri.user, USER);
    if (uri.password !== undefined) out += ':' + escapeUri(uri.password, PASSWORD);
    out += '@';
  }
  out += uri.host;
  if (uri.port !== undefined) out += ':' + uri.port;
  out += formatUriParams(uri.params);
  if (uri.headers.size > 0) {
    let first = true;
    for (const [k, v] of uri.headers) {
      out += (first ? '?' : '&') + escapeUri(k, HNV) + '=' + escapeUri(v, HNV);
      first = false;
    }
  }
  return out;
}

function stripVisual(n: string): string {
  return n.replace(/[-.()]/g, '').toLowerCase();
}

const ALWAYS_COMPARED = ['user', 'ttl', 'method', 'maddr', 'transport'];

function paramValueEq(a: string | null, b: string | null): boolean {
  if (a === null || b === null) return a === b;
  return a.toLowerCase() === b.toLowerCase();
}

/**
 * URI equivalence of RFC 3261 §19.1.4: scheme and userinfo compared exactly (after unescaping), host
 * case-insensitively, ports must both be absent or equal; parameters present in both must match;
 * user, ttl, method, maddr and transport must be present in both or neither; headers must all match.
 * TEL URIs (RFC 3966 §4) compare numbers without visual separators and all parameters.
 */
export function uriEquals(a: SipUri, b: SipUri): boolean {
  if (a.scheme !== b.scheme) return false;
  if (a.scheme === 'tel') {
    if (stripVisual(a.user ?? '') !== stripVisual(b.user ?? '')) return false;
    if (a.params.size !== b.params.size) return false;
    for (const [k, v] of a.params) {
      if (!b.params.has(k) || !paramValueEq(v, b.params.get(k) ?? null)) return false;
    }
    return true;
  }
  if (a.user !== b.user || a.password !== b.password) return false;
  if (a.host.toLowerCase() !== b.host.toLowerCase()) return false;
  if (a.port !== b.port) return false;
  for (const [k, v] of a.params) {
    if (b.params.has(k)) {
      if (!paramValueEq(v, b.params.get(k) ?? null)) return false;
    }
  }
  for (const k of ALWAYS_COMPARED) if (a.params.has(k) !== b.params.has(k)) return false;
  if (a.headers.size !== b.headers.size) return false;
  const bh = new Map<string, string>();
  for (const [k, v] of b.headers) bh.set(k.toLowerCase(), v);
  for (const [k, v] of a.headers) {
    const other = bh.get(k.toLowerCase());
    if (other === undefined || other.toLowerCase() !== v.toLowerCase()) return false;
  }
  return true;
}

/**
 * Canonical address-of-record key: "sip:user@host" with sips folded to sip, host lower-cased, and no
 * port, parameters or headers; "tel:+number" without visual separators for TEL URIs.
 */
export function aorKey(uri: SipUri): string {
  if (uri.scheme === 'tel') return 'tel:' + stripVisual(uri.user ?? '');
  const host = uri.host.toLowerCase();
  return uri.user === undefined ? 'sip:' + host : 'sip:' + escapeUri(uri.user, USER) + '@' + host;
}
