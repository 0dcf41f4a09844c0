/** `token *( SEMI generic-param )` as a whole header value: Event (RFC 6665 §8.2.1) and Subscription-State (§8.2.3). */
import { CLASS, TOKEN, skipWs } from '../chars.js';
import { parseParamsAt } from '../params.js';
import type { Params } from '../types.js';

export interface TokenWithParams {
  /** As written (callers decide on case). */
  readonly token: string;
  readonly params: Params;
}

/** The token and its parameters, or why the value is not one (`missing` when there is no token). */
export function parseTokenWithParams(text: string, missing: string): TokenWithParams | string {
  const len = text.length;
  const i = skipWs(text, 0);
  let j = i;
  while (j < len) {
    const c = text.charCodeAt(j);
    if (c >= 128 || (CLASS[c] & TOKEN) === 0) break;
    j++;
  }
  if (j === i) return missing;
  const params: Params = new Map();
  const end = parseParamsAt(text, j, params);
  if (end < 0) return 'bad parameter';
  if (skipWs(text, end) !== len) return 'unexpected text';
  return { token: text.slice(i, j), params };
}
