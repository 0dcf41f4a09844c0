/**
 * Presentity identity comparison for PIDF `entity` attributes.
 *
 * This is a presence-specific equivalence, not RFC 3261 §19.1.4 URI equality: the question is
 * "do these two URIs name the same presentity", not "are these the same SIP URI" (a PUBLISH to
 * sip:alice@example.com;transport=tcp carrying entity="pres:alice@example.com" is legitimate).
 */

interface EntityKey {
  /** 'presence' for sip/sips/pres (one presentity, several ways to reach it), else the scheme. */
  kind: string;
  user: string;
  host: string;
  /** The scheme-specific part, for schemes we do not take apart. */
  opaque: string;
}

// RFC 3261 §25.1 scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )
const SCHEME = /^([A-Za-z][A-Za-z0-9+.-]*):/;

function decodePercent(s: string): string {
  if (!s.includes('%')) return s;
  try {
    return decodeURIComponent(s);
  } catch {
    return s; // malformed escape: compare as written
  }
}

function entityKey(uri: string): EntityKey {
  let s = uri.trim();
  if (s.startsWith('<') && s.endsWith('>')) s = s.slice(1, -1).trim();
  // No scheme: OpenSIPS pua_mi and some gateways publish entity="user@host"; read it as sip:.
  let scheme = 'sip';
  const m = SCHEME.exec(s);
  if (m !== null) {
    scheme = m[1]!.toLowerCase();
    s = s.slice(m[0].length);
  }
  // RFC 3859 defines pres: for the presentity, RFC 3861 resolves it to sip:/sips:; the
  // presence server treats all three as one name. Other schemes (tel:, im:...) are compared literally.
  if (scheme !== 'sip' && scheme !== 'sips' && scheme !== 'pres') {
    return { kind: scheme, user: '', host: '', opaque: s };
  }
  if (s.startsWith('//')) s = s.slice(2); // tolerate "pres://alice@host"
  const at = s.indexOf('@');
  let user = '';
  let hostpart = s;
  if (at >= 0) {
    user = s.slice(0, at);
    hostpart = s.slice(at + 1);
    // RFC 3261 §19.1.1: userinfo may carry a password; it is not part of the identity.
    const colon = user.indexOf(':');
    if (colon >= 0) user = user.slice(0, colon);
  }
  // URI parameters, headers and port do not change which presentity is meant.
  const end = hostpart.search(/[;?]/);
  if (end >= 0) hostpart = hostpart.slice(0, end);
  let host: string;
  if (hostpart.startsWith('[')) {
    const close = hostpart.indexOf(']');
    host = close >= 0 ? hostpart.slice(0, close + 1) : hostpart;
  } else {
    const colon = hostpart.indexOf(':');
    host = colon >= 0 ? hostpart.slice(0, colon) : hostpart;
  }
  if (host.endsWith('.')) host = host.slice(0, -1);
  // RFC 3261 §19.1.4: host compares case-insensitively, user case-sensitively, and escaped
  // characters equal their unescaped form.
  return { kind: 'presence', user: decodePercent(user), host: host.toLowerCase(), opaque: '' };
}

/**
 * True when two URIs designate the same presentity: sip:, sips: and pres: are equivalent,
 * the user part is case-sensitive, the host is not, and port, password, URI parameters and
 * headers are ignored. A value without a scheme (OpenSIPS pua_mi publishes `entity="user@host"`)
 * is read as sip:.
 */
export function samePresentity(a: string, b: string): boolean {
  const ka = entityKey(a);
  const kb = entityKey(b);
  if (ka.kind !== kb.kind) return false;
  if (ka.kind !== 'presence') return ka.opaque === kb.opaque;
  return ka.user === kb.user && ka.host === kb.host && ka.host !== '';
}
