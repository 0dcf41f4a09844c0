/**
 * Identity keys for authorization matching (RFC 4745 §7.1.1, RFC 5025 §3.1.1.2): a watcher and a
 * rule's <one id> match when their keys are equal; a <many domain> matches the key's domain.
 *
 * SIP, SIPS and TEL URIs go through the SIP layer's address-of-record key (host lower-cased, no
 * port, parameters or headers, sips folded to sip), the same key the core uses for presentities.
 * Other schemes (pres:, im:, mailto:) are compared as written with scheme and domain lower-cased.
 */
import { aorKey, isSipParseError, parseUri } from '../../sip/index.js';

export interface IdentityKey {
  /** Comparable form, e.g. "sip:alice@example.com". */
  readonly key: string;
  /** Lower-cased domain, undefined for TEL and domain-less URIs. */
  readonly domain: string | undefined;
}

const SCHEME = /^([A-Za-z][A-Za-z0-9+.-]*):(.*)$/s;

/** Key of a URI; undefined for text that is not a URI at all. */
export function identityKey(uri: string): IdentityKey | undefined {
  const text = uri.trim();
  const m = SCHEME.exec(text);
  if (m === null) return undefined;
  const scheme = m[1]!.toLowerCase();
  if (scheme === 'sip' || scheme === 'sips' || scheme === 'tel') {
    const parsed = parseUri(text);
    if (isSipParseError(parsed)) return undefined;
    const key = aorKey(parsed);
    return { key, domain: parsed.scheme === 'tel' ? undefined : parsed.host.toLowerCase() };
  }
  const rest = m[2]!;
  if (rest === '' || /\s/.test(rest)) return undefined;
  const at = rest.lastIndexOf('@');
  if (at < 0) return { key: `${scheme}:${rest}`, domain: undefined };
  const domain = rest.slice(at + 1).toLowerCase();
  return { key: `${scheme}:${rest.slice(0, at)}@${domain}`, domain };
}

/** Whether two URIs name the same identity under {@link identityKey}. */
export function sameIdentity(a: string, b: string): boolean {
  const ka = identityKey(a);
  const kb = identityKey(b);
  return ka !== undefined && kb !== undefined && ka.key === kb.key;
}
