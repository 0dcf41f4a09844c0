/** CSeq (RFC 3261 §20.16): `1*DIGIT LWS Method`, the number below 2^31 (§8.1.1.5). */
import { CLASS, DIGIT, TOKEN, skipWs } from '../chars.js';
import { SipParseError } from '../errors.js';
import type { CSeq } from '../types.js';

const MAX_SEQ = 2 ** 31 - 1;

function err(why: string): SipParseError {
  return new SipParseError('SIP_ERR_BAD_HEADER', `Bad header CSeq: ${why}`, { header: 'CSeq' });
}

export function parseCSeq(text: string): CSeq | SipParseError {
  const len = text.length;
  let i = skipWs(text, 0);
  const ds = i;
  while (i < len && (CLASS[text.charCodeAt(i)] & DIGIT) !== 0) i++;
  if (i === ds) return err('missing sequence number');
  let d = ds;
  while (d < i - 1 && text.charCodeAt(d) === 48) d++;
  // RFC 4475 §3.1.2.4 scalar02: an overlarge sequence number is an error, not a wrap-around.
  if (i - d > 10) return err('sequence number too large');
  const seq = Number(text.slice(d, i));
  if (seq > MAX_SEQ) return err('sequence number too large');
  const ms = skipWs(text, i);
  if (ms === i) return err('missing method');
  let j = ms;
  while (j < len) {
    const c = text.charCodeAt(j);
    if (c >= 128 || (CLASS[c] & TOKEN) === 0) break;
    j++;
  }
  if (j === ms) return err('missing method');
  if (skipWs(text, j) !== len) return err('unexpected text after method');
  return { seq, method: text.slice(ms, j) };
}

export function formatCSeq(c: CSeq): string {
  return `${c.seq} ${c.method}`;
}
