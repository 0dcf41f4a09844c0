/**
 * Public surface of the auth layer: digest authentication (RFC 3261 §22, RFC 7616, RFC 8760) for REGISTER,
 * PUBLISH and SUBSCRIBE (401) and for the requests the proxy routes (407), the SIP users, and brute-force
 * protection.
 *
 * ```ts
 * const users = new UserDirectory(store, () => clock.wallNow());
 * users.load(snapshot.users);
 * const gate = new AuthGate({ users, mode: 'auto', methods: { REGISTER: true, PUBLISH: true, SUBSCRIBE: false }, ... });
 * // in the method router, before the handler:
 * const authed = gate.check(tx);   // undefined: already answered (401/403/400)
 * if (authed) handler(authed);      // authed.identity: the authenticated AOR, if any
 * // in the proxy, for an initial request From one of our users:
 * const passed = gate.checkProxied(tx); // undefined: already answered (407/403/400)
 * // passed.consumed: our Proxy-Authorization values, removed before forwarding
 * ```
 */
export {
  AuthGate,
  type AuthGateOptions,
  type AuthLogger,
  type AuthMode,
  type AuthStats,
  type GatedMethod,
  type ProxyAuthentication,
} from './auth-gate.js';
export {
  UserDirectory,
  UserInputError,
  userIdentity,
  userRecord,
  MAX_PASSWORD_LENGTH,
  MAX_USERS,
  type AccountWriter,
  type UserView,
} from './user-directory.js';
export {
  computeHa1,
  digestHash,
  expectedResponse,
  formatChallenge,
  parseDigestCredentials,
  DIGEST_ALGORITHMS,
  type DigestAlgorithm,
  type DigestCredentials,
} from './digest.js';
export { NonceIssuer, NonceCountTracker } from './nonce.js';
export { FailureLimiter } from './failure-limiter.js';
export { withIdentity } from './identity.js';
