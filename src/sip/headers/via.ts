/**
 * Via (RFC 3261 §20.42, §25.1 via-parm) with the received/rport parameters of RFC 3581 §3-4.
 * One via-parm per call: SipHeaders.getAll('Via') has already split the comma list.
 */
import { CLASS, DIGIT, HOST, TOKEN, parseBoundedInt, skipWs } from '../chars.js';
import { SipParseError } from '../errors.js';
import { formatParams, parseParamsAt } from '../params.js';
import type { Params, Via } from '../types.js';
import { isIPv6 } from '../uri.js';

function err(text: string, why: string): SipParseError {
  return new SipParseError('SIP_ERR_BAD_HEADER', `Bad header Via: ${why}`, { header: 'Via' });
}

function scanToken(s: string, i: number): number {
  while (i < s.length) {
    const c = s.charCodeAt(i);
    if (c >= 128 || (CLASS[c] & TOKEN) === 0) break;
    i++;
  }
  return i;
}

/** received = IPv4address / IPv6address (RFC 3261 §25.1; RFC 5118 §4.5 tolerates brackets). */
function isAddress(v: string): boolean {
  if (v.length === 0) return false;
  if (v.charCodeAt(0) === 91) return v.endsWith(']') && isIPv6(v.slice(1, -1));
  if (v.indexOf(':') >= 0) return isIPv6(v);
  for (let i = 0; i < v.length; i++) if ((CLASS[v.charCodeAt(i)] & HOST) === 0) return false;
  return true;
}

const TRANSPORTS = ['UDP', 'TCP', 'TLS', 'SCTP', 'WS', 'WSS'];

/** The upper-cased transport token, without allocating for the usual ones. */
function transportName(s: string, from: number, to: number): string {
  outer: for (const t of TRANSPORTS) {
    if (t.length !== to - from) continue;
    for (let k = 0; k < t.length; k++) {
      if ((s.charCodeAt(from + k) & 0xdf) !== t.charCodeAt(k)) continue outer;
    }
    return t;
  }
  return s.slice(from, to).toUpperCase();
}

/**
 * Parses one via-parm: `SIP / 2.0 / UDP host[:port];params`, with LWS allowed around "/" and ":"
 * (SLASH and COLON of §25.1, RFC 4475 §3.1.1.1 wsinv). The transport is upper-cased; any token is
 * accepted (RFC 4475 §3.1.1.10 transports).
 */
export function parseVia(text: string): Via | SipParseError {
  const len = text.length;
  let i = skipWs(text, 0);
  let j = scanToken(text, i);
  if (j === i) return err(text, 'missing protocol name');
  i = skipWs(text, j);
  if (text.charCodeAt(i) !== 47) return err(text, 'expected /');
  i = skipWs(text, i + 1);
  j = scanToken(text, i);
  if (j === i) return err(text, 'missing protocol version');
  i = skipWs(text, j);
  if (text.charCodeAt(i) !== 47) return err(text, 'expected /');
  i = skipWs(text, i + 1);
  j = scanToken(text, i);
  if (j === i) return err(text, 'missing transport');
  const transport = transportName(text, i, j);
  i = skipWs(text, j);
  if (i === j) return err(text, 'missing sent-by');
  // sent-by = host [ COLON port ]
  const hs = i;
  if (text.charCodeAt(i) === 91) {
    const close = text.indexOf(']', i);
    if (close < 0 || !isIPv6(text.slice(i + 1, close))) return err(text, 'bad IPv6 reference');
    i = close + 1;
  } else {
    while (i < len && (CLASS[text.charCodeAt(i)] & HOST) !== 0) i++;
    if (i === hs) return err(text, 'missing host');
  }
  const host = text.slice(hs, i);
  let port: number | undefined;
  const k = skipWs(text, i);
  if (text.charCodeAt(k) === 58) {
    const ps = skipWs(text, k + 1);
    let pe = ps;
    while (pe < len && (CLASS[text.charCodeAt(pe)] & DIGIT) !== 0) pe++;
    if (pe === ps || pe - ps > 5) return err(text, 'bad port');
    let p = 0;
    for (let d = ps; d < pe; d++) p = p * 10 + text.charCodeAt(d) - 48;
    if (p > 65535) return err(text, 'bad port');
    port = p;
    i = pe;
  }
  const params: Params = new Map();
  const end = parseParamsAt(text, i, params);
  if (end < 0) return err(text, 'bad parameter');
  if (skipWs(text, end) !== len) return err(text, 'unexpected text');

  let branch: string | undefined;
  let received: string | undefined;
  let rport: number | true | undefined;
  if (params.size > 0) {
    const b = params.get('branch');
    if (b !== undefined) {
      if (b === null) return err(text, 'empty branch');
      branch = b;
    }
    const r = params.get('received');
    if (r !== undefined) {
      if (r === null || !isAddress(r)) return err(text, 'bad received');
      received = r;
    }
    const rp = params.get('rport');
    if (rp !== undefined) {
      if (rp === null) rport = true;
      else {
        const n = parseBoundedInt(rp, 65535);
        if (n < 0) return err(text, 'bad rport');
        rport = n;
      }
    }
    const ttl = params.get('ttl');
    if (ttl !== undefined && (ttl === null || parseBoundedInt(ttl, 255) < 0)) return err(text, 'bad ttl');
  }
  return { transport, host, port, params, branch, received, rport };
}

/**
 * Formats a via-parm. The typed branch/received/rport fields win over the same names in params, so
 * that a transport can fill in received and rport (RFC 3581 §4) by building a new Via object.
 */
export function formatVia(v: Via): string {
  let out = `SIP/2.0/${v.transport} ${v.host}${v.port !== undefined ? ':' + v.port : ''}`;
  const typed = new Map<string, string | null>();
  if (v.branch !== undefined) typed.set('branch', v.branch);
  if (v.received !== undefined) typed.set('received', v.received);
  if (v.rport !== undefined) typed.set('rport', v.rport === true ? null : String(v.rport));
  const merged: Params = new Map();
  for (const [k, val] of v.params) {
    if (typed.has(k)) {
      merged.set(k, typed.get(k) ?? null);
      typed.delete(k);
    } else if (k !== 'branch' && k !== 'received' && k !== 'rport') merged.set(k, val);
  }
  for (const [k, val] of typed) merged.set(k, val);
  return out + formatParams(merged);
}
