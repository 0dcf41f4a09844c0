/** Subscription-State (RFC 6665 §8.2.3): substate-value *( SEMI subexp-params ). */
import { parseBoundedInt } from '../chars.js';
import { SipParseError } from '../errors.js';
import { formatParams } from '../params.js';
import type { Params, SubscriptionStateHeader } from '../types.js';
import { MAX_DELTA_SECONDS } from './expires.js';
import { parseTokenWithParams } from './token-params.js';

function err(why: string): SipParseError {
  return new SipParseError('SIP_ERR_BAD_HEADER', `Bad header Subscription-State: ${why}`, { header: 'Subscription-State' });
}

/** The state and reason are lower-cased (case-insensitive tokens); unknown states are kept (extension-substate). */
export function parseSubscriptionState(text: string): SubscriptionStateHeader | SipParseError {
  const v = parseTokenWithParams(text, 'missing state');
  if (typeof v === 'string') return err(v);
  const params = v.params;
  let expires: number | undefined;
  let retryAfter: number | undefined;
  let reason: string | undefined;
  const e = params.get('expires');
  if (e !== undefined) {
    const n = e === null ? -1 : parseBoundedInt(e, MAX_DELTA_SECONDS);
    if (n < 0) return err('bad expires');
    expires = n;
  }
  const r = params.get('retry-after');
  if (r !== undefined) {
    const n = r === null ? -1 : parseBoundedInt(r, MAX_DELTA_SECONDS);
    if (n < 0) return err('bad retry-after');
    retryAfter = n;
  }
  const re = params.get('reason');
  if (re !== undefined) {
    if (re === null) return err('reason without value');
    reason = re.toLowerCase();
  }
  return { state: v.token.toLowerCase(), expires, reason, retryAfter, params };
}

export function formatSubscriptionState(s: SubscriptionStateHeader): string {
  const params: Params = new Map(s.params);
  if (s.reason !== undefined) params.set('reason', s.reason);
  if (s.expires !== undefined) params.set('expires', String(s.expires));
  if (s.retryAfter !== undefined) params.set('retry-after', String(s.retryAfter));
  return s.state + formatParams(params);
}
