/**
 * Bearer-token authentication of the HTTP API (RFC 6750 section 2.1, Authorization header only: tokens in
 * query strings end up in logs and browser history, so section 2.3 is not supported).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';

export type AuthResult = 'ok' | 'missing' | 'invalid';

/**
 * Returns the checker for an Authorization header value. With no tokens configured every request passes:
 * the listener then relies on its bind address (127.0.0.1 by default).
 */
export function bearerChecker(tokens: readonly string[]): ((header: string | undefined) => AuthResult) | null {
  if (tokens.length === 0) return null;
  // Comparing fixed-size digests keeps the comparison constant-time whatever the token lengths.
  const digests = tokens.map((t) => createHash('sha256').update(t).digest());
  return (header) => {
    if (header === undefined || header === '') return 'missing';
    const m = /^Bearer +([\x21-\x7e]+) *$/i.exec(header);
    if (m === null) return 'invalid';
    const given = createHash('sha256').update(m[1]!).digest();
    let ok = false;
    // Check every token, without short-cut, so timing does not reveal which one matched.
    for (const d of digests) ok = timingSafeEqual(d, given) || ok;
    return ok ? 'ok' : 'invalid';
  };
}

/**
 * Without tokens, an API on loopback is open to any local process, and also to any web page whose host name
 * its attacker re-points at 127.0.0.1 (DNS rebinding): the browser then sends the attacker's name as Host.
 * Accepting only IP literals, localhost and the configured listen host closes that door.
 */
export function hostChecker(listenHost: string): (host: string | undefined) => boolean {
  const own = listenHost.toLowerCase();
  return (header) => {
    if (header === undefined) return true; // HTTP/1.0 clients; browsers always send Host
    let host = header.trim().toLowerCase();
    if (host.startsWith('[')) {
      const close = host.indexOf(']');
      host = close > 0 ? host.slice(1, close) : host;
    } else {
      const colon = host.lastIndexOf(':');
      if (colon >= 0) host = host.slice(0, colon);
    }
    return isIP(host) !== 0 || host === 'localhost' || host.endsWith('.localhost') || host === own;
  };
}
