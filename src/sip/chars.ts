/**
 * Character classes of the RFC 3261 §25.1 grammar as bit flags over ASCII, so that hot loops test a
 * character with one array read instead of a regular expression.
 */

export const TOKEN = 1; // token: alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~"
export const UNRESERVED = 2; // alphanum / mark
export const USER = 4; // unreserved / user-unreserved (escapes handled separately)
export const PASSWORD = 8; // unreserved / "&" / "=" / "+" / "$" / ","
export const PARAMCHAR = 16; // unreserved / param-unreserved
export const HNV = 32; // unreserved / hnv-unreserved
export const HOST = 64; // hostname characters (alphanum / "-" / "." ; "_" tolerated)
export const DIGIT = 128;
/** gen-value characters of header parameters: token / host (":" "[" "]"), plus "/" and "@" tolerated. */
export const PVALUE = 256;

export const CLASS = new Uint16Array(128);

function add(flags: number, chars: string): void {
  for (let i = 0; i < chars.length; i++) CLASS[chars.charCodeAt(i)] |= flags;
}

const ALPHA = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';
const DIGITS = '0123456789';
const ALNUM = ALPHA + DIGITS;
const MARK = "-_.!~*'()";

add(TOKEN, ALNUM + "-.!%*_+`'~");
add(UNRESERVED | USER | PASSWORD | PARAMCHAR | HNV, ALNUM + MARK);
add(USER, '&=+$,;?/');
add(PASSWORD, '&=+$,');
add(PARAMCHAR, '[]/:&+$');
add(HNV, '[]/?:+$');
add(HOST, ALNUM + '-._');
add(DIGIT, DIGITS);
add(PVALUE, ALNUM + "-.!%*_+`'~" + ':[]/@');

export function isToken(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 128 || (CLASS[c] & TOKEN) === 0) return false;
  }
  return true;
}

export function isDigits(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

/** SP or HTAB: what remains of LWS once folding has been unfolded. */
export function isWs(c: number): boolean {
  return c === 32 || c === 9;
}

export function skipWs(s: string, i: number): number {
  while (i < s.length) {
    const c = s.charCodeAt(i);
    if (c !== 32 && c !== 9) break;
    i++;
  }
  return i;
}

/** End index (exclusive) of a run of characters having `flag`, starting at i. */
export function scan(s: string, i: number, flag: number): number {
  while (i < s.length) {
    const c = s.charCodeAt(i);
    if (c >= 128 || (CLASS[c] & flag) === 0) break;
    i++;
  }
  return i;
}

/**
 * Parses a non-negative decimal integer of at most `max`; -1 when the text is not 1*DIGIT or exceeds max.
 * Digits are accumulated in a double, which is exact far beyond 2^32, and the length is capped first.
 */
export function parseBoundedInt(s: string, max: number): number {
  if (s.length === 0 || s.length > 16) {
    // 1*DIGIT may carry leading zeros; allow them but refuse absurd lengths.
    if (s.length === 0) return -1;
    let j = 0;
    while (j < s.length - 1 && s.charCodeAt(j) === 48) j++;
    if (s.length - j > 16) return -1;
    s = s.slice(j);
  }
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return -1;
    n = n * 10 + (c - 48);
  }
  return n > max ? -1 : n;
}

/** Removes leading and trailing SP/HT only (String.prototype.trim() also eats U+FEFF and Unicode spaces). */
export function trimWs(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && (s.charCodeAt(a) === 32 || s.charCodeAt(a) === 9)) a++;
  while (b > a && (s.charCodeAt(b - 1) === 32 || s.charCodeAt(b - 1) === 9)) b--;
  return a === 0 && b === s.length ? s : s.slice(a, b);
}
