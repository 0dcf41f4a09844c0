/** Token lists: Allow, Supported, Require, Proxy-Require, Unsupported, Allow-Events (RFC 3261 §25.1). */
import { isToken } from '../chars.js';
import { SipParseError } from '../errors.js';
import { splitList } from '../headers.js';

/**
 * Parses values of a token-list header (already split or not) into tokens in order, dropping empty
 * elements. Event names in Allow-Events (`dialog.winfo`) are tokens too.
 */
export function parseTokenList(values: readonly string[], header = 'Token list'): string[] | SipParseError {
  const out: string[] = [];
  for (const value of values) {
    for (const part of splitList(value)) {
      if (!isToken(part)) {
        return new SipParseError('SIP_ERR_BAD_HEADER', `Bad header ${header}: not a token`, { header: header === 'Token list' ? undefined : header });
      }
      out.push(part);
    }
  }
  return out;
}
