/** Contact (RFC 3261 §20.10, compact "m"): `*` or a list of name-addr/addr-spec with parameters. */
import { SipParseError } from '../errors.js';
import { splitList } from '../headers.js';
import { parseNameAddr } from '../name-addr.js';
import type { ContactList, NameAddr } from '../types.js';

/**
 * Parses the Contact values of a message (SipHeaders.getAll('Contact'); values still holding commas are
 * split again). `*` must stand alone (§10.2.2, §20.10); whether it is allowed at all (REGISTER with
 * Expires 0) is the registrar's decision.
 */
export function parseContactList(values: readonly string[]): ContactList | SipParseError {
  const contacts: NameAddr[] = [];
  let star = false;
  let count = 0;
  for (const value of values) {
    for (const part of splitList(value)) {
      count++;
      if (part === '*') {
        star = true;
        continue;
      }
      const na = parseNameAddr(part);
      if (na instanceof SipParseError) return na.inHeader('Contact');
      contacts.push(na);
    }
  }
  if (star && count > 1) {
    return new SipParseError('SIP_ERR_BAD_HEADER', 'Bad header Contact: * must be the only value', { header: 'Contact' });
  }
  return { star, contacts };
}
