/**
 * What one Contact of a REGISTER asks for: its binding key within the AOR, its expiry, q, instance and reg-id.
 * Pure: parsing and canonical forms only (RFC 3261 §10.3, §19.1.4, §20.10; RFC 5626 §6; RFC 5627 §3.2).
 */
import { deltaSeconds, formatNameAddr, unquote, type NameAddr, type SipUri } from '../sip/index.js';

/** URI parameters that take part in URI comparison even when only one side has them (RFC 3261 §19.1.4). */
const SIGNIFICANT_PARAMS = ['transport', 'user', 'ttl', 'method', 'maddr'] as const;

/**
 * A string equal for two Contact URIs exactly when RFC 3261 §19.1.4 calls them equivalent (for the parts a
 * registrar compares): scheme, user (case-sensitive), host (case-insensitive), port, and the parameters that
 * must match; other parameters are ignored, as a URI with them equals one without.
 */
export function canonicalContactUri(uri: SipUri): string {
  let out = `${uri.scheme}:${uri.user !== undefined ? `${uri.user}@` : ''}${uri.host.toLowerCase()}`;
  if (uri.port !== undefined) out += `:${uri.port}`;
  for (const p of SIGNIFICANT_PARAMS) {
    const v = uri.params.get(p);
    if (v !== undefined) out += `;${p}=${(v ?? '').toLowerCase()}`;
  }
  return out;
}

export interface ContactRequest {
  /** Binding identity within the AOR (BindingRecord.key). */
  readonly key: string;
  readonly uri: string;
  /** The Contact as sent, without expires (echoed in 200 responses). */
  readonly contact: string;
  /** Seconds asked for: the contact's expires parameter, else the Expires header, else undefined. */
  readonly requested: number | undefined;
  readonly q: number | undefined;
  readonly instance: string | undefined;
  readonly regId: number | undefined;
}

export type ContactProblem = { readonly problem: string };

/** q-value: "0" to "1" with at most three decimals (RFC 3261 §25.1 qvalue). */
function parseQ(v: string | null | undefined): number | undefined | ContactProblem {
  if (v === undefined) return undefined;
  if (v === null || !/^(0(\.\d{0,3})?|1(\.0{0,3})?)$/.test(v)) return { problem: 'Bad q value in Contact' };
  return Number(v);
}

/**
 * Reads one Contact of a REGISTER. `headerExpires` is the Expires header value (undefined when absent);
 * `outbound` tells whether the UA supports RFC 5626 (Supported: outbound), without which reg-id is ignored.
 */
export function readContact(na: NameAddr, headerExpires: number | undefined, outbound: boolean): ContactRequest | ContactProblem {
  const scheme = na.uri.scheme;
  if (scheme !== 'sip' && scheme !== 'sips') return { problem: 'Contact must be a SIP URI' };
  let requested = headerExpires;
  const e = na.params.get('expires');
  if (e !== undefined) {
    const n = deltaSeconds(e);
    if (n === undefined) return { problem: 'Bad expires parameter in Contact' };
    requested = n;
  }
  const q = parseQ(na.params.get('q'));
  if (typeof q === 'object') return q;
  const rawInstance = na.params.get('+sip.instance');
  let instance: string | undefined;
  if (rawInstance !== undefined) {
    const v = unquote(rawInstance);
    // RFC 5626 §4.1: "<urn:...>"; compared as URNs, whose namespace-specific part here (uuid) is case-insensitive.
    if (typeof v !== 'string' || !/^<[^<>\s]{1,200}>$/.test(v)) return { problem: 'Bad +sip.instance in Contact' };
    instance = v;
  }
  let regId: number | undefined;
  const rawRegId = na.params.get('reg-id');
  if (rawRegId !== undefined && instance !== undefined && outbound) {
    if (rawRegId === null || !/^[1-9]\d{0,9}$/.test(rawRegId) || Number(rawRegId) > 2 ** 31 - 1) {
      return { problem: 'Bad reg-id in Contact' };
    }
    regId = Number(rawRegId);
  }
  // RFC 5626 §6: instance + reg-id names a flow of one UA instance; RFC 5627 §3.2: the instance alone names the
  // UA, whatever its Contact URI; without either, the Contact URI is the binding (RFC 3261 §10.3 step 7).
  const key =
    instance !== undefined && regId !== undefined
      ? `ob:${instance.toLowerCase()};reg-id=${regId}`
      : instance !== undefined
        ? `instance:${instance.toLowerCase()}`
        : `uri:${canonicalContactUri(na.uri)}`;
  const params = new Map(na.params);
  params.delete('expires');
  const contact = formatNameAddr({ ...na, params });
  return { key, uri: na.uriText, contact, requested, q, instance, regId };
}
