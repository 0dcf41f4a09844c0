/**
 * HTTP Digest as SIP uses it (RFC 3261 §22.4, RFC 7616 for the algorithm framework, RFC 8760 for SHA-256 in
 * SIP): hashing, the credentials parser and the challenge formatter. No state, no clock: the nonce lives in
 * nonce.ts and the policy in auth-gate.ts.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

/** The algorithms we offer, strongest first: RFC 8760 §2.4 lists challenges in order of preference. */
export const DIGEST_ALGORITHMS = ['SHA-256', 'MD5'] as const;
export type DigestAlgorithm = (typeof DIGEST_ALGORITHMS)[number];

/** Longest Authorization value we parse; real ones are ~300 bytes. */
export const MAX_CREDENTIALS_LENGTH = 4096;
const MAX_PARAMS = 24;

const HASH_NAME: Record<DigestAlgorithm, string> = { 'SHA-256': 'sha256', MD5: 'md5' };

/** Hex digest of `text` (UTF-8) under the algorithm's hash (RFC 7616 §3.4: H(data)). */
export function digestHash(algorithm: DigestAlgorithm, text: string): string {
  return createHash(HASH_NAME[algorithm]).update(text, 'utf8').digest('hex');
}

/** H(A1) for the non-session algorithms: H(username ":" realm ":" password) (RFC 7616 §3.4.2). */
export function computeHa1(algorithm: DigestAlgorithm, username: string, realm: string, password: string): string {
  return digestHash(algorithm, `${username}:${realm}:${password}`);
}

/** Maps the algorithm parameter of credentials to ours; absent means MD5 (RFC 7616 §3.3, RFC 3261 §22.4). */
export function algorithmOf(param: string | undefined): DigestAlgorithm | undefined {
  if (param === undefined) return 'MD5';
  const a = param.toUpperCase();
  return a === 'MD5' ? 'MD5' : a === 'SHA-256' ? 'SHA-256' : undefined;
}

/** The Digest credentials of an Authorization header (RFC 3261 §25.1 digest-response), values unquoted. */
export interface DigestCredentials {
  readonly username: string;
  readonly realm: string;
  readonly nonce: string;
  /** digest-uri: the Request-URI as the client wrote it. */
  readonly uri: string;
  readonly response: string;
  readonly algorithm: string | undefined;
  readonly cnonce: string | undefined;
  readonly opaque: string | undefined;
  readonly qop: string | undefined;
  /** nonce-count as the 8 hex digits written (kept as text: it enters the hash as written). */
  readonly nc: string | undefined;
}

const TOKEN = /^[A-Za-z0-9.!%*_+`'~-]+$/;
const WS = /[ \t\r\n]/;

/**
 * Parses `Digest k=v, k="v", ...`. Returns the credentials or a one-line reason. Strict where laxness would be
 * ambiguous (duplicate parameters, unterminated quotes), lenient about whitespace, as RFC 3261 §25.1 LWS allows.
 */
export function parseDigestCredentials(value: string): DigestCredentials | string {
  if (value.length > MAX_CREDENTIALS_LENGTH) return 'Authorization header too long';
  let i = 0;
  const n = value.length;
  const skipWs = (): void => {
    while (i < n && WS.test(value[i]!)) i++;
  };
  skipWs();
  const schemeStart = i;
  while (i < n && !WS.test(value[i]!)) i++;
  if (value.slice(schemeStart, i).toLowerCase() !== 'digest') return 'not Digest credentials';
  const params = new Map<string, string>();
  for (;;) {
    skipWs();
    if (i >= n) break;
    const nameStart = i;
    while (i < n && value[i] !== '=' && value[i] !== ',' && !WS.test(value[i]!)) i++;
    const name = value.slice(nameStart, i).toLowerCase();
    if (!TOKEN.test(name)) return 'malformed Digest parameter name';
    skipWs();
    if (value[i] !== '=') return `Digest parameter ${name} has no value`;
    i++;
    skipWs();
    let v: string;
    if (value[i] === '"') {
      i++;
      let out = '';
      let closed = false;
      while (i < n) {
        const c = value[i]!;
        if (c === '\\' && i + 1 < n) {
          out += value[i + 1];
          i += 2;
          continue;
        }
        if (c === '"') {
          closed = true;
          i++;
          break;
        }
        out += c;
        i++;
      }
      if (!closed) return `unterminated quoted value of ${name}`;
      v = out;
    } else {
      const start = i;
      while (i < n && value[i] !== ',' && !WS.test(value[i]!)) i++;
      v = value.slice(start, i);
      if (!TOKEN.test(v) && !/^[0-9a-fA-F]+$/.test(v)) return `malformed value of ${name}`;
    }
    if (params.has(name)) return `duplicate Digest parameter ${name}`;
    params.set(name, v);
    if (params.size > MAX_PARAMS) return 'too many Digest parameters';
    skipWs();
    if (i >= n) break;
    if (value[i] !== ',') return 'expected "," between Digest parameters';
    i++;
  }
  const req = (k: string): string | undefined => params.get(k);
  const username = req('username');
  const realm = req('realm');
  const nonce = req('nonce');
  const uri = req('uri');
  const response = req('response');
  if (username === undefined || realm === undefined || nonce === undefined || uri === undefined || response === undefined) {
    return 'Digest credentials need username, realm, nonce, uri and response';
  }
  return {
    username,
    realm,
    nonce,
    uri,
    response: response.toLowerCase(),
    algorithm: params.get('algorithm'),
    cnonce: params.get('cnonce'),
    opaque: params.get('opaque'),
    qop: params.get('qop'),
    nc: params.get('nc'),
  };
}

/**
 * The request-digest the client should have sent (RFC 7616 §3.4.1; RFC 2069 form without qop, which
 * RFC 3261 §22.4 keeps for backward compatibility). `ha1` is the stored H(A1) for the same algorithm.
 */
export function expectedResponse(algorithm: DigestAlgorithm, ha1: string, method: string, c: DigestCredentials): string {
  const ha2 = digestHash(algorithm, `${method}:${c.uri}`);
  if (c.qop === undefined) return digestHash(algorithm, `${ha1}:${c.nonce}:${ha2}`);
  return digestHash(algorithm, `${ha1}:${c.nonce}:${c.nc ?? ''}:${c.cnonce ?? ''}:${c.qop}:${ha2}`);
}

/** Constant-time comparison of two hex digests (no early exit on the first differing byte). */
export function sameDigest(a: string, b: string): boolean {
  const x = Buffer.from(a, 'latin1');
  const y = Buffer.from(b, 'latin1');
  return x.length === y.length && timingSafeEqual(x, y);
}

export interface ChallengeParams {
  readonly realm: string;
  readonly nonce: string;
  readonly opaque: string;
  readonly algorithm: DigestAlgorithm;
  /** RFC 7616 §3.3: the credentials were right but the nonce is not (expired, replayed, from before a restart). */
  readonly stale: boolean;
}

/** One WWW-Authenticate value (RFC 3261 §25.1 digest-cln, qop="auth" only). */
export function formatChallenge(p: ChallengeParams): string {
  const realm = p.realm.replace(/["\\\r\n]/g, '');
  return (
    `Digest realm="${realm}", nonce="${p.nonce}", opaque="${p.opaque}", algorithm=${p.algorithm}, qop="auth"` +
    (p.stale ? ', stale=true' : '')
  );
}
