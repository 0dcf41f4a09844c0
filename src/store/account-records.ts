/**
 * Records of the registrar side of presenced: SIP users with their digest secrets (the `users` table, Kamailio's
 * `subscriber`) and registered contacts (the `bindings` table, Kamailio's `location`). Re-exported by store.ts,
 * which holds the one storage contract; kept in a file of their own because they belong to another concern than
 * presence state. The validators here are shared by every adapter (validate.ts dispatches to them).
 */
import type { FlowRecord } from './store.js';

/**
 * A SIP user. Only H(A1) values are kept (RFC 7616 §5.1 / RFC 3261 §22.4 "store H(A1) instead of the password"):
 * one per algorithm offered, since H(A1) of one hash cannot be turned into the other.
 */
export interface UserRecord {
  /** Normalised AOR (core `aorKey`): "sip:alice@example.com". The key. */
  readonly aor: string;
  /** Digest username: the user part of the AOR, unescaped. */
  readonly username: string;
  /** Digest realm the hashes were computed for: the AOR's domain, lower-cased. */
  readonly realm: string;
  /** Lower-case hex MD5(username:realm:password). */
  readonly ha1Md5: string;
  /** Lower-case hex SHA-256(username:realm:password) (RFC 8760). */
  readonly ha1Sha256: string;
  /** Unix epoch ms. */
  readonly createdAt: number;
  readonly updatedAt: number;
}

/** One registered contact of an AOR (RFC 3261 §10.3), with what RFC 5626/3327 need to reach it later. */
export interface BindingRecord {
  readonly aor: string;
  /**
   * Identity of the binding within the AOR: `+sip.instance` plus `reg-id` (RFC 5626 §6), or `+sip.instance`
   * alone, or the Contact URI in a canonical form (RFC 3261 §10.3 step 7 compares URIs). Encoded by the registrar.
   */
  readonly key: string;
  /** The Contact URI as registered (where requests for the AOR are sent). */
  readonly uri: string;
  /** The Contact as the UA sent it (name-addr), without its expires parameter: echoed in 200 responses. */
  readonly contact: string;
  /** q value, 0..1 (RFC 3261 §20.10); undefined when the UA gave none. */
  readonly q: number | undefined;
  readonly instance: string | undefined;
  readonly regId: number | undefined;
  /** Unix epoch ms. */
  readonly expiresAt: number;
  /** When this binding was first created (RFC 3680 duration-registered). */
  readonly registeredAt: number;
  readonly updatedAt: number;
  /** Call-ID and CSeq of the last REGISTER that touched it (RFC 3261 §10.3 step 7 ordering). */
  readonly callId: string;
  readonly cseq: number;
  /** Path header values, in order (RFC 3327): the route towards the UA. */
  readonly path: readonly string[];
  readonly userAgent: string | undefined;
  /** The flow the REGISTER arrived on (RFC 5626 flow; for NAT traversal the proxy sends over it). */
  readonly flow: FlowRecord;
}

export type AccountMutation =
  | { readonly kind: 'put-user'; readonly record: UserRecord }
  | { readonly kind: 'delete-user'; readonly aor: string }
  /** Creates or replaces the binding (aor, key). */
  | { readonly kind: 'put-binding'; readonly record: BindingRecord }
  | { readonly kind: 'delete-binding'; readonly aor: string; readonly key: string };

export const ACCOUNT_MUTATION_KINDS: ReadonlySet<string> = new Set(['put-user', 'delete-user', 'put-binding', 'delete-binding']);

const isStr = (v: unknown): v is string => typeof v === 'string';
const isOptStr = (v: unknown): boolean => v === undefined || typeof v === 'string';
const isInt = (v: unknown): boolean => typeof v === 'number' && Number.isSafeInteger(v);
const HEX = /^[0-9a-f]+$/;

export function checkUser(r: UserRecord | undefined): string | undefined {
  if (typeof r !== 'object' || r === null) return 'record is not an object';
  if (!isStr(r.aor) || !isStr(r.username) || !isStr(r.realm)) return 'aor, username and realm must be strings';
  if (!isStr(r.ha1Md5) || r.ha1Md5.length !== 32 || !HEX.test(r.ha1Md5)) return 'ha1Md5 must be 32 lower-case hex digits';
  if (!isStr(r.ha1Sha256) || r.ha1Sha256.length !== 64 || !HEX.test(r.ha1Sha256)) {
    return 'ha1Sha256 must be 64 lower-case hex digits';
  }
  if (!isInt(r.createdAt) || !isInt(r.updatedAt)) return 'createdAt and updatedAt must be integers (epoch ms)';
  return undefined;
}

export function checkBinding(r: BindingRecord | undefined): string | undefined {
  if (typeof r !== 'object' || r === null) return 'record is not an object';
  if (!isStr(r.aor) || !isStr(r.key) || !isStr(r.uri) || !isStr(r.contact)) return 'aor, key, uri and contact must be strings';
  if (r.q !== undefined && !(typeof r.q === 'number' && r.q >= 0 && r.q <= 1)) return 'q must be a number in 0..1 or undefined';
  if (!isOptStr(r.instance) || !isOptStr(r.userAgent)) return 'instance and userAgent must be strings or undefined';
  if (r.regId !== undefined && !isInt(r.regId)) return 'regId must be an integer or undefined';
  if (!isInt(r.expiresAt) || !isInt(r.registeredAt) || !isInt(r.updatedAt)) return 'times must be integers (epoch ms)';
  if (!isStr(r.callId) || !isInt(r.cseq)) return 'callId must be a string and cseq an integer';
  if (!Array.isArray(r.path) || !r.path.every(isStr)) return 'path must be an array of strings';
  const f = r.flow;
  if (typeof f !== 'object' || f === null) return 'flow is not an object';
  if (f.protocol !== 'udp' && f.protocol !== 'tcp') return "flow.protocol must be 'udp' or 'tcp'";
  if (!isStr(f.address) || !isStr(f.localAddress) || !isInt(f.port) || !isInt(f.localPort)) return 'flow addresses/ports malformed';
  if (!isOptStr(f.flowId)) return 'flow.flowId must be a string or undefined';
  return undefined;
}

/** Why an account mutation is malformed, or undefined when it is well formed. */
export function checkAccountMutation(m: AccountMutation): string | undefined {
  switch (m.kind) {
    case 'put-user':
      return checkUser(m.record);
    case 'delete-user':
      return isStr(m.aor) ? undefined : 'aor must be a string';
    case 'put-binding':
      return checkBinding(m.record);
    case 'delete-binding':
      return isStr(m.aor) && isStr(m.key) ? undefined : 'aor and key must be strings';
    default:
      return 'unknown mutation kind';
  }
}
