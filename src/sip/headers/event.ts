/** Event (RFC 6665 §8.2.1, compact "o"): event-type *( SEMI event-param ), `id` being one of them. */
import { SipParseError } from '../errors.js';
import { formatParams } from '../params.js';
import type { EventHeader } from '../types.js';
import { parseTokenWithParams } from './token-params.js';

function err(why: string): SipParseError {
  return new SipParseError('SIP_ERR_BAD_HEADER', `Bad header Event: ${why}`, { header: 'Event' });
}

/**
 * The event type is kept as written: RFC 6665 §8.2.1 compares event types and the id parameter
 * case-sensitively (as tokens of the package registry), and we must echo them unchanged (§4.2.2).
 */
export function parseEvent(text: string): EventHeader | SipParseError {
  const v = parseTokenWithParams(text, 'missing event type');
  if (typeof v === 'string') return err(v);
  const id = v.params.get('id');
  if (id === null) return err('id without value');
  return { type: v.token, id, params: v.params };
}

export function formatEvent(e: EventHeader): string {
  return e.type + formatParams(e.params);
}
