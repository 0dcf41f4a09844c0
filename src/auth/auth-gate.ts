/**
 * The digest authentication gate in front of REGISTER, PUBLISH and SUBSCRIBE (RFC 3261 §22.2: a UAS challenges
 * with 401 and WWW-Authenticate), and in front of the requests the proxy routes for our users (§22.3: a proxy
 * challenges with 407 and Proxy-Authenticate, and reads Proxy-Authorization). The method router asks `check`
 * before a handler runs, the proxy asks `checkProxied` before it routes; either lets the request through (with
 * the authenticated AOR) or answers it: challenge, 403, or 400. Both share the nonces, the replay table and the
 * failure limiter, so a source guessing passwords is counted whatever method it tries them on.
 *
 * Order of checks for a request that needs authentication:
 *   1. source blocked by the failure limiter -> 403 (credentials not even looked at);
 *   2. no Digest credentials for our realm -> 401 challenge;
 *   3. malformed credentials, unsupported algorithm or qop, digest-uri not the Request-URI -> 400;
 *   4. unknown user or wrong response -> counted failure, 401 challenge (403 once the source gets blocked);
 *   5. right response but nonce not ours, expired or its count replayed -> 401 with stale=true (RFC 7616 §3.3:
 *      the client retries with the new nonce without asking its user);
 *   6. authenticated; then the identity rules: REGISTER only for one's own AOR, PUBLISH only for one's own AOR
 *      unless a trusted publisher, a proxied request only From one's own AOR -> 403.
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
  /** Requests the proxy routes for a caller claiming one of our users need authentication (407) when enforced. */
  readonly proxy?: boolean;
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
  /** 401 and 407 challenges. */
  readonly challenges: number;
  /** Of which 407 (requests the proxy was to route). */
  readonly proxyChallenges: number;
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

/** What a proxied request that passed carries on: who it is, and the Proxy-Authorization values that were ours. */
export interface ProxyAuthentication {
  /** The authenticated AOR; undefined when authentication is not enforced. */
  readonly identity: string | undefined;
  /**
   * The Proxy-Authorization values addressed to our realm, exactly as received: the proxy removes them before
   * forwarding (RFC 3261 §20.28: a value is consumed by the proxy of its realm, and only by that one).
   */
  readonly consumed: readonly string[];
}

type Header = [string, string];

/** How a challenge travels: a UAS's 401 (§22.2) or a proxy's 407 (§22.3). */
interface Scheme {
  readonly status: 401 | 407;
  readonly challengeHeader: 'WWW-Authenticate' | 'Proxy-Authenticate';
  readonly credentialsHeader: 'Authorization' | 'Proxy-Authorization';
}

const UAS: Scheme = { status: 401, challengeHeader: 'WWW-Authenticate', credentialsHeader: 'Authorization' };
const PROXY: Scheme = { status: 407, challengeHeader: 'Proxy-Authenticate', credentialsHeader: 'Proxy-Authorization' };

/** The answer for every proxied request while authentication is not enforced (no allocation per request). */
const NOT_ENFORCED: ProxyAuthentication = Object.freeze({ identity: undefined, consumed: Object.freeze([]) as readonly string[] });

/** Credentials values examined per request (a request may carry one per realm, RFC 3261 §22.4). */
const MAX_CREDENTIAL_VALUES = 8;

export class AuthGate {
  readonly #o: AuthGateOptions;
  readonly #nonces: NonceIssuer;
  readonly #counts: NonceCountTracker;
  readonly #limiter: FailureLimiter;
  readonly #opaque: string;
  readonly #trusted: ReadonlySet<string>;
  readonly #algorithms: readonly DigestAlgorithm[];
  #challenges = 0;
  #proxyChallenges = 0;
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

  /** Whether the requests the proxy routes for our users need authentication right now. */
  get proxyEnforced(): boolean {
    return this.#o.proxy === true && this.enforced;
  }

  /**
   * Lets the request through (returning the transaction to hand to the handler, with `identity` when it was
   * authenticated) or answers it and returns undefined.
   */
  check(tx: ServerTransaction): ServerTransaction | undefined {
    if (!this.requires(tx.request.method)) return tx;
    const passed = this.#authenticate(tx, UAS);
    if (passed === undefined) return undefined;
    if (!this.#allowed(tx, passed.aor)) {
      this.#forbidden++;
      this.#reply(tx, 403, 'Forbidden (not your address of record)');
      return undefined;
    }
    return withIdentity(tx, passed.aor);
  }

  /**
   * RFC 3261 §16.3 step 6 and §22.3: a request the proxy is about to route for a caller whose From names one of
   * our users (the proxy decides which requests those are). Answers it (407 with Proxy-Authenticate, 403, 400)
   * and returns undefined, or returns the identity and the credentials to remove before forwarding. The
   * authenticated user must be the one in From (403 otherwise): a user may not place calls in another's name.
   */
  checkProxied(tx: ServerTransaction): ProxyAuthentication | undefined {
    if (!this.proxyEnforced) return NOT_ENFORCED;
    const passed = this.#authenticate(tx, PROXY);
    if (passed === undefined) return undefined;
    if (aorKey(tx.core.from.uri) !== passed.aor) {
      this.#forbidden++;
      this.#reply(tx, 403, 'Forbidden (From is not your address of record)');
      return undefined;
    }
    return { identity: passed.aor, consumed: passed.consumed };
  }

  /** Steps 1-5 of the header comment: the authenticated AOR and our credentials values, or undefined when answered. */
  #authenticate(tx: ServerTransaction, scheme: Scheme): { aor: string; consumed: string[] } | undefined {
    const now = this.#o.now();
    const source = tx.inbound.remote.address;
    if (this.#limiter.isBlocked(source, now)) {
      this.#blockedRequests++;
      this.#reply(tx, 403, 'Forbidden (too many failed authentications)');
      return undefined;
    }
    const realm = realmOf(tx);
    const found = this.#credentialsFor(tx, realm, scheme);
    if (found === undefined) {
      this.#challenge(tx, realm, false, scheme);
      return undefined;
    }
    if (typeof found === 'string') {
      this.#malformed++;
      this.#reply(tx, 400, `Bad ${scheme.credentialsHeader} header (${found})`);
      return undefined;
    }
    const credentials = found.credentials;
    if (this.#verify(tx, credentials, realm, now, scheme) !== 'ok') return undefined;
    const user = this.#o.users.find(credentials.username, realm)!;
    this.#authenticated++;
    return { aor: user.aor, consumed: found.values };
  }

  stats(): AuthStats {
    return {
      enforced: this.enforced,
      users: this.#o.users.size,
      challenges: this.#challenges,
      proxyChallenges: this.#proxyChallenges,
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

  /**
   * Digest credentials for our realm among the scheme's credentials headers, with every value addressed to our
   * realm (the ones a proxy consumes); a reason string when malformed.
   */
  #credentialsFor(
    tx: ServerTransaction,
    realm: string,
    scheme: Scheme,
  ): { credentials: DigestCredentials; values: string[] } | string | undefined {
    const values = tx.request.headers.getAll(scheme.credentialsHeader);
    let problem: string | undefined;
    let found: { credentials: DigestCredentials; values: string[] } | undefined;
    // RFC 3261 §22.4: a request may carry credentials for several realms; ours are the ones we check.
    for (let i = 0; i < values.length && i < MAX_CREDENTIAL_VALUES; i++) {
      const v = values[i]!;
      const c = parseDigestCredentials(v);
      if (typeof c === 'string') {
        if (c !== 'not Digest credentials') problem ??= c;
        continue;
      }
      if (c.realm.toLowerCase() !== realm) continue;
      if (found === undefined) found = { credentials: c, values: [v] };
      else found.values.push(v);
    }
    return found ?? problem;
  }

  #verify(tx: ServerTransaction, c: DigestCredentials, realm: string, now: number, scheme: Scheme): 'ok' | 'answered' {
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
      this.#reply(tx, 400, `${scheme.credentialsHeader} uri does not match the Request-URI`);
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
        this.#challenge(tx, realm, false, scheme);
      }
      return 'answered';
    }
    const nonce = this.#nonces.check(c.nonce);
    if (!nonce.ok) {
      this.#stale++;
      this.#challenge(tx, realm, true, scheme);
      return 'answered';
    }
    const count = this.#counts.use(nonce.seq, nonce.issuedAt, nc, now, this.#nonces.ttlMs);
    if (count !== 'fresh') {
      if (count === 'replay') this.#replays++;
      else this.#stale++;
      this.#o.logger.debug({ source: tx.inbound.remote.address, verdict: count }, 'nonce count not accepted');
      this.#challenge(tx, realm, true, scheme);
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

  #challenge(tx: ServerTransaction, realm: string, stale: boolean, scheme: Scheme): void {
    this.#challenges++;
    if (scheme.status === 407) this.#proxyChallenges++;
    const nonce = this.#nonces.issue();
    const headers: Header[] = this.#algorithms.map((algorithm) => [
      scheme.challengeHeader,
      formatChallenge({ realm, nonce, opaque: this.#opaque, algorithm, stale }),
    ]);
    this.#reply(tx, scheme.status, undefined, headers);
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
