/**
 * The digest authentication gate in front of REGISTER, PUBLISH and SUBSCRIBE (RFC 3261 §22.2: a UAS challenges
 * with 401 and WWW-Authenticate). The method router asks it before a handler runs; it either lets the request
 * through (with the authenticated AOR attached as `identity`) or answers it: 401 challenge, 403, or 400.
 *
 * Order of checks for a request that needs authentication:
 *   1. source blocked by the failure limiter -> 403 (credentials not even looked at);
 *   2. no Digest credentials for our realm -> 401 challenge;
 *   3. malformed credentials, unsupported algorithm or qop, digest-uri not the Request-URI -> 400;
 *   4. unknown user or wrong response -> counted failure, 401 challenge (403 once the source gets blocked);
 *   5. right response but nonce not ours, expired or its count replayed -> 401 with stale=true (RFC 7616 §3.3:
 *      the client retries with the new nonce without asking its user);
 *   6. authenticated; then the identity rules: REGISTER only for one's own AOR, PUBLISH only for one's own AOR
 *      unless a trusted publisher -> 403.
 */
import { aorKey, createResponse, parseUri, SipParseError, uriEquals } from '../sip/index.js';
import { newTag, type ServerTransaction } from '../transaction/index.js';
import {
  algorithmOf,
  DIGEST_ALGORITHMS,
  expectedResponse,
  formatChallenge,
  parseDigestCredentials,
  sameDigest,
  type DigestAlgorithm,
  type DigestCredentials,
} from './digest.js';
import { FailureLimiter } from './failure-limiter.js';
import { withIdentity } from './identity.js';
import { NonceCountTracker, NonceIssuer } from './nonce.js';
import type { UserDirectory } from './user-directory.js';

export type AuthMode = 'auto' | 'on' | 'off';
export type GatedMethod = 'REGISTER' | 'PUBLISH' | 'SUBSCRIBE';

export interface AuthLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

export interface AuthGateOptions {
  readonly users: UserDirectory;
  /** auto: open while no user exists, enforced once one does; on: always enforced; off: never. */
  readonly mode: AuthMode;
  /** Which methods need authentication when it is enforced. */
  readonly methods: Readonly<Record<GatedMethod, boolean>>;
  /** AORs allowed to PUBLISH for any presentity (voicemail, PBX accounts). */
  readonly trustedPublishers: readonly string[];
  /**
   * Algorithms offered, one WWW-Authenticate each, in this order (RFC 8760 §2.4: most preferred first); answers
   * in others are refused. Default SHA-256 then MD5. MD5 alone for clients that give up on a challenge they do
   * not know instead of skipping it (libre/baresip before 2.x does).
   */
  readonly algorithms?: readonly DigestAlgorithm[];
  readonly nonceTtlSeconds: number;
  /** Nonces whose counts are remembered (replay protection); the oldest are evicted beyond. */
  readonly maxTrackedNonces: number;
  readonly limiter: { readonly maxFailures: number; readonly windowSeconds: number; readonly blockSeconds: number; readonly maxSources: number };
  /** Wall clock, epoch ms. */
  readonly now: () => number;
  readonly logger: AuthLogger;
  /** HMAC key for nonces (tests); random otherwise. */
  readonly nonceKey?: Buffer;
}

export interface AuthStats {
  readonly enforced: boolean;
  readonly users: number;
  readonly challenges: number;
  readonly authenticated: number;
  readonly failures: number;
  readonly stale: number;
  readonly replays: number;
  readonly malformed: number;
  readonly forbidden: number;
  readonly blockedRequests: number;
  readonly blockedSources: number;
  readonly trackedNonces: number;
}

type Header = [string, string];

export class AuthGate {
  readonly #o: AuthGateOptions;
  readonly #nonces: NonceIssuer;
  readonly #counts: NonceCountTracker;
  readonly #limiter: FailureLimiter;
  readonly #opaque: string;
  readonly #trusted: ReadonlySet<string>;
  readonly #algorithms: readonly DigestAlgorithm[];
  #challenges = 0;
  #authenticated = 0;
  #failures = 0;
  #stale = 0;
  #replays = 0;
  #malformed = 0;
  #forbidden = 0;
  #blockedRequests = 0;

  constructor(options: AuthGateOptions) {
    this.#o = options;
    this.#nonces = new NonceIssuer({
      ttlSeconds: options.nonceTtlSeconds,
      now: options.now,
      ...(options.nonceKey !== undefined ? { key: options.nonceKey } : {}),
    });
    this.#counts = new NonceCountTracker(options.maxTrackedNonces);
    this.#limiter = new FailureLimiter({
      maxFailures: options.limiter.maxFailures,
      windowMs: options.limiter.windowSeconds * 1000,
      blockMs: options.limiter.blockSeconds * 1000,
      maxSources: options.limiter.maxSources,
    });
    // RFC 7616 §3.3: opaque is returned unchanged by the client; ours carries nothing, it is just constant.
    this.#opaque = this.#nonces.issue().slice(0, 16);
    this.#algorithms = options.algorithms !== undefined && options.algorithms.length > 0 ? [...new Set(options.algorithms)] : DIGEST_ALGORITHMS;
    this.#trusted = new Set(options.trustedPublishers.map(normaliseAor).filter((a): a is string => a !== undefined));
  }

  /** Whether authentication is currently required at all (false in open mode). */
  get enforced(): boolean {
    const mode = this.#o.mode;
    return mode === 'on' || (mode === 'auto' && this.#o.users.size > 0);
  }

  /** Whether this method needs authentication right now. */
  requires(method: string): boolean {
    if (method !== 'REGISTER' && method !== 'PUBLISH' && method !== 'SUBSCRIBE') return false;
    return this.#o.methods[method] && this.enforced;
  }

  /**
   * Lets the request through (returning the transaction to hand to the handler, with `identity` when it was
   * authenticated) or answers it and returns undefined.
   */
  check(tx: ServerTransaction): ServerTransaction | undefined {
    const method = tx.request.method;
    if (!this.requires(method)) return tx;
    const now = this.#o.now();
    const source = tx.inbound.remote.address;
    if (this.#limiter.isBlocked(source, now)) {
      this.#blockedRequests++;
      this.#reply(tx, 403, 'Forbidden (too many failed authentications)');
      return undefined;
    }
    const realm = realmOf(tx);
    const credentials = this.#credentialsFor(tx, realm);
    if (credentials === undefined) {
      this.#challenge(tx, realm, false);
      return undefined;
    }
    if (typeof credentials === 'string') {
      this.#malformed++;
      this.#reply(tx, 400, `Bad Authorization header (${credentials})`);
      return undefined;
    }
    const verdict = this.#verify(tx, credentials, realm, now);
    if (verdict !== 'ok') return undefined;
    const user = this.#o.users.find(credentials.username, realm)!;
    this.#authenticated++;
    if (!this.#allowed(tx, user.aor)) {
      this.#forbidden++;
      this.#reply(tx, 403, 'Forbidden (not your address of record)');
      return undefined;
    }
    return withIdentity(tx, user.aor);
  }

  stats(): AuthStats {
    return {
      enforced: this.enforced,
      users: this.#o.users.size,
      challenges: this.#challenges,
      authenticated: this.#authenticated,
      failures: this.#failures,
      stale: this.#stale,
      replays: this.#replays,
      malformed: this.#malformed,
      forbidden: this.#forbidden,
      blockedRequests: this.#blockedRequests,
      blockedSources: this.#limiter.blocked(this.#o.now()).length,
      trackedNonces: this.#counts.size,
    };
  }

  /** Sources refused for too many failures, with the end of their block (epoch ms). */
  blockedSources(): Array<{ source: string; until: number }> {
    return this.#limiter.blocked(this.#o.now());
  }

  /** Digest credentials for our realm among the Authorization headers; a reason string when malformed. */
  #credentialsFor(tx: ServerTransaction, realm: string): DigestCredentials | string | undefined {
    const values = tx.request.headers.getAll('Authorization');
    let problem: string | undefined;
    // RFC 3261 §22.4: a request may carry credentials for several realms; ours are the ones we check.
    for (const v of values.slice(0, 8)) {
      const c = parseDigestCredentials(v);
      if (typeof c === 'string') {
        if (c !== 'not Digest credentials') problem ??= c;
        continue;
      }
      if (c.realm.toLowerCase() === realm) return c;
    }
    return problem;
  }

  #verify(tx: ServerTransaction, c: DigestCredentials, realm: string, now: number): 'ok' | 'answered' {
    const algorithm = algorithmOf(c.algorithm);
    if (algorithm === undefined || !this.#algorithms.includes(algorithm)) {
      this.#malformed++;
      this.#reply(tx, 400, 'Unsupported digest algorithm');
      return 'answered';
    }
    if (c.qop !== undefined && c.qop.toLowerCase() !== 'auth') {
      this.#malformed++;
      this.#reply(tx, 400, 'Unsupported qop');
      return 'answered';
    }
    let nc = 1;
    if (c.qop !== undefined) {
      if (c.nc === undefined || !/^[0-9a-fA-F]{8}$/.test(c.nc) || c.cnonce === undefined || c.cnonce === '') {
        this.#malformed++;
        this.#reply(tx, 400, 'qop=auth needs nc and cnonce');
        return 'answered';
      }
      nc = Number.parseInt(c.nc, 16);
    }
    // RFC 7616 §3.4.6 / RFC 3261 §22.4: the digest-uri must name the Request-URI, or a captured response could be
    // replayed against another resource.
    const digestUri = parseUri(c.uri);
    if (digestUri instanceof SipParseError || !uriEquals(digestUri, tx.core.requestUri)) {
      this.#malformed++;
      this.#reply(tx, 400, 'Authorization uri does not match the Request-URI');
      return 'answered';
    }
    const user = this.#o.users.find(c.username, realm);
    const ha1 = user === undefined ? undefined : algorithm === 'MD5' ? user.ha1Md5 : user.ha1Sha256;
    const right = ha1 !== undefined && sameDigest(expectedResponse(algorithm, ha1, tx.request.method, c), c.response);
    if (!right) {
      this.#failures++;
      const source = tx.inbound.remote.address;
      const blocked = this.#limiter.recordFailure(source, now);
      this.#o.logger.info(
        { source, username: c.username.slice(0, 64), realm, method: tx.request.method, blocked },
        'digest authentication failed',
      );
      if (blocked) {
        this.#o.logger.warn({ source, seconds: this.#o.limiter.blockSeconds }, 'source blocked after repeated authentication failures');
        this.#blockedRequests++;
        this.#reply(tx, 403, 'Forbidden (too many failed authentications)');
      } else {
        this.#challenge(tx, realm, false);
      }
      return 'answered';
    }
    const nonce = this.#nonces.check(c.nonce);
    if (!nonce.ok) {
      this.#stale++;
      this.#challenge(tx, realm, true);
      return 'answered';
    }
    const count = this.#counts.use(nonce.seq, nonce.issuedAt, nc, now, this.#nonces.ttlMs);
    if (count !== 'fresh') {
      if (count === 'replay') this.#replays++;
      else this.#stale++;
      this.#o.logger.debug({ source: tx.inbound.remote.address, verdict: count }, 'nonce count not accepted');
      this.#challenge(tx, realm, true);
      return 'answered';
    }
    return 'ok';
  }

  #allowed(tx: ServerTransaction, identity: string): boolean {
    switch (tx.request.method) {
      case 'REGISTER':
        // RFC 3261 §10.3 step 4: the authenticated user must be authorised to modify the AOR's bindings.
        return aorKey(tx.core.to.uri) === identity;
      case 'PUBLISH':
        // RFC 3903 §6 step 2 (authorize the EPA): one's own presentity, or any for a trusted publisher.
        return aorKey(tx.core.requestUri) === identity || this.#trusted.has(identity);
      default:
        return true;
    }
  }

  #challenge(tx: ServerTransaction, realm: string, stale: boolean): void {
    this.#challenges++;
    const nonce = this.#nonces.issue();
    const headers: Header[] = this.#algorithms.map((algorithm) => [
      'WWW-Authenticate',
      formatChallenge({ realm, nonce, opaque: this.#opaque, algorithm, stale }),
    ]);
    this.#reply(tx, 401, undefined, headers);
  }

  #reply(tx: ServerTransaction, status: number, reason?: string, headers: Header[] = []): void {
    tx.respond(
      createResponse(tx.request, tx.core, status, {
        toTag: newTag(),
        headers,
        ...(reason !== undefined ? { reason } : {}),
      }),
    );
  }
}

/** The realm we challenge in: the domain of the identity claimed in From, lower-cased. */
function realmOf(tx: ServerTransaction): string {
  const host = tx.core.from.uri.host.toLowerCase();
  return host === '' ? tx.core.requestUri.host.toLowerCase() : host;
}

function normaliseAor(text: string): string | undefined {
  const t = text.trim();
  const u = parseUri(/^sips?:/i.test(t) ? t : `sip:${t}`);
  return u instanceof SipParseError ? undefined : aorKey(u);
}
