/** Event (RFC 6665 §8.2.1, compact "o"): event-type *( SEMI event-param ), `id` being one of them. */
import { CLASS, TOKEN, skipWs } from '../chars.js';
import { SipParseError } from '../errors.js';
import { formatParams, parseParamsAt } from '../params.js';
import type { EventHeader, Params } from '../types.js';

function err(why: string): SipParseError {
  return new SipParseError('SIP_ERR_BAD_HEADER', `Bad header Event: ${why}`, { header: 'Event' });
}

/**
 * The event type is kept as written: RFC 6665 §8.2.1 compares event types and the id parameter
 * case-sensitively (as tokens of the package registry), and we must echo them unchanged (§4.2.2).
 */
export function parseEvent(text: string): EventHeader | SipParseError {
  const len = text.length;
  const i = skipWs(text, 0);
  let j = i;
  while (j < len) {
    const c = text.charCodeAt(j);
    if (c >= 128 || (CLASS[c] & TOKEN) === 0) break;
    j++;
  }
  if (j === i) return err('missing event type');
  const params: Params = new Map();
  const end = parseParamsAt(text, j, params);
  if (end < 0) return err('bad parameter');
  if (skipWs(text, end) !== len) return err('unexpected text');
  const id = params.get('id');
  if (id === null) return err('id without value');
  return { type: text.slice(i, j), id, params };
}

export function formatEvent(e: EventHeader): string {
  return e.type + formatParams(e.params);
}
