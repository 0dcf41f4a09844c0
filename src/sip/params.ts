/**
 * Header parameters (RFC 3261 §25.1 generic-param, with SEMI and EQUAL allowing LWS on both sides) and
 * quoted strings. Values are kept as written, quotes included, so that re-serialisation is faithful;
 * use unquote() to read a quoted value.
 */
import { CLASS, PVALUE, TOKEN, skipWs } from './chars.js';
import type { Params } from './types.js';

/**
 * End index (after the closing quote) of the quoted-string starting at s[i] === '"', or -1 when it is
 * unterminated (RFC 4475 §3.1.2.6 quotbal) or a quoted-pair escapes a CR/LF.
 */
export function scanQuoted(s: string, i: number): number {
  i++;
  while (i < s.length) {
    const c = s.charCodeAt(i);
    if (c === 34) return i + 1;
    if (c === 92) {
      // quoted-pair = "\" (%x00-09 / %x0B-0C / %x0E-7F)
      const n = s.charCodeAt(i + 1);
      if (i + 1 >= s.length || n === 10 || n === 13 || n > 0x7f) return -1;
      i += 2;
      continue;
    }
    if (c === 10 || c === 13) return -1;
    i++;
  }
  return -1;
}

/** Inner text of a quoted-string with quoted-pairs resolved. */
export function unescapeQuoted(raw: string): string {
  const inner = raw.slice(1, -1);
  if (inner.indexOf('\\') < 0) return inner;
  let out = '';
  for (let i = 0; i < inner.length; i++) {
    const ch = inner[i];
    if (ch === '\\' && i + 1 < inner.length) {
      out += inner[i + 1];
      i++;
    } else out += ch;
  }
  return out;
}

/** Quotes text as a quoted-string, escaping '"' and '\'. */
export function quote(text: string): string {
  let out = '"';
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '"' || ch === '\\') out += '\\';
    // CR and LF cannot be carried in a quoted-string at all; drop them rather than emit a broken header.
    if (ch === '\r' || ch === '\n') continue;
    out += ch;
  }
  return out + '"';
}

/** A parameter value without its quotes (null stays null). */
export function unquote(value: string | null | undefined): string | null | undefined {
  if (value == null) return value;
  if (value.length >= 2 && value.charCodeAt(0) === 34 && value.charCodeAt(value.length - 1) === 34) {
    return unescapeQuoted(value);
  }
  return value;
}

/**
 * Parses `*( SEMI generic-param )` from s[i]. Returns the index where parsing stopped (the end of the
 * text, or the first character that does not begin a parameter), or -1 on a malformed parameter.
 * Names are lower-cased; the first occurrence of a name wins.
 */
/**
 * A map that stays empty: the parameters (or URI headers) of every parse result that has none share it,
 * since most URIs inside name-addrs and many To values carry none and a Map costs ~250 bytes of young
 * garbage per message. Parse results are read, never modified; writing to this one throws rather than
 * silently giving every other message the entry. (A plain Map with non-enumerable overrides, not a
 * subclass, so that it stays deep-equal to any other empty Map.)
 */
function emptyMap<V>(): Map<string, V> {
  const m = new Map<string, V>();
  const readOnly = (): never => {
    throw new TypeError('read-only empty parameter map');
  };
  Object.defineProperty(m, 'set', { value: readOnly, enumerable: false });
  Object.defineProperty(m, 'delete', { value: () => false, enumerable: false });
  Object.defineProperty(m, 'clear', { value: () => undefined, enumerable: false });
  return Object.freeze(m);
}

export const EMPTY_PARAMS: Params = emptyMap<string | null>();
export const EMPTY_URI_HEADERS: Map<string, string> = emptyMap<string>();

/** True when parameters start at s[i] (after optional white space): a ';'. */
export function hasParamsAt(s: string, i: number): boolean {
  const j = skipWs(s, i);
  return j < s.length && s.charCodeAt(j) === 59;
}

export function parseParamsAt(s: string, i: number, out: Map<string, string | null>): number {
  const len = s.length;
  for (;;) {
    let j = skipWs(s, i);
    if (j >= len || s.charCodeAt(j) !== 59 /* ; */) return i === j ? i : j;
    j = skipWs(s, j + 1);
    const nameStart = j;
    while (j < len) {
      const c = s.charCodeAt(j);
      if (c >= 128 || (CLASS[c] & TOKEN) === 0) break;
      j++;
    }
    if (j === nameStart) return -1;
    const name = s.slice(nameStart, j).toLowerCase();
    let k = skipWs(s, j);
    let value: string | null = null;
    if (k < len && s.charCodeAt(k) === 61 /* = */) {
      k = skipWs(s, k + 1);
      if (k < len && s.charCodeAt(k) === 34) {
        const end = scanQuoted(s, k);
        if (end < 0) return -1;
        value = s.slice(k, end);
        j = end;
      } else {
        const vs = k;
        // gen-value = token / host / quoted-string; "/" and "@" are tolerated because deployed stacks
        // put them unquoted in feature and call-id parameters.
        while (k < len) {
          const c = s.charCodeAt(k);
          if (c >= 128 || (CLASS[c] & PVALUE) === 0) break;
          k++;
        }
        if (k === vs) return -1;
        value = s.slice(vs, k);
        j = k;
      }
    }
    if (!out.has(name)) out.set(name, value);
    i = j;
  }
}

/** Formats header parameters as `;name=value;flag` (values written as stored). */
export function formatParams(params: Params): string {
  let out = '';
  for (const [k, v] of params) out += v === null ? `;${k}` : `;${k}=${v}`;
  return out;
}
