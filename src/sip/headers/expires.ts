/** Expires and other delta-seconds values (RFC 3261 §20.19, §25.1): 0 .. 2^32-1. */
import { parseBoundedInt, trimWs } from '../chars.js';
import { SipParseError } from '../errors.js';

export const MAX_DELTA_SECONDS = 2 ** 32 - 1;

/**
 * Parses delta-seconds. The RFC 2543 date form and values above 2^32-1 are errors here; whether to treat
 * them as the default (RFC 3261 §20.19 "SHOULD be treated as 3600") is the caller's policy.
 */
export function parseExpires(text: string): number | SipParseError {
  const n = parseBoundedInt(trimWs(text), MAX_DELTA_SECONDS);
  if (n < 0) return new SipParseError('SIP_ERR_BAD_HEADER', 'Bad header Expires: not delta-seconds', { header: 'Expires' });
  return n;
}

/** delta-seconds from a parameter value (expires=, retry-after=), or undefined if it is not one. */
export function deltaSeconds(v: string | null | undefined): number | undefined {
  if (v == null) return undefined;
  const n = parseBoundedInt(v, MAX_DELTA_SECONDS);
  return n < 0 ? undefined : n;
}
