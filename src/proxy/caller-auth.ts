/**
 * Which requests the proxy authenticates before routing them (RFC 3261 §16.3 step 6, §22.3), and the removal of
 * the credentials it consumed. The digest check itself belongs to src/auth (AuthGate.checkProxied): the server
 * hands it in, so the proxy works without it (tests, a server with no users).
 *
 * The policy is the usual one of a small-site Kamailio configuration:
 * - requests inside a dialog (To tag: re-INVITE, BYE, UPDATE, INFO, REFER's NOTIFYs) follow our Record-Route
 *   and are not challenged (`has_totag()` -> `loose_route()`); their routing already refuses dialogs we did not
 *   set up, so a To tag opens no path that an unauthenticated caller could not take anyway;
 * - ACK and CANCEL never are (§22.1: they cannot be resubmitted with credentials; a CANCEL follows its INVITE,
 *   which was authenticated);
 * - an initial request whose From names one of our domains must prove it (`from_uri == myself` ->
 *   `auth_check`), with the user in From;
 * - one from another domain is an inbound call: accepted when it is for one of our users, refused (403) when
 *   it is for elsewhere, as any initial request for another domain is. We relay for nobody.
 */
import type { RequestCore, SipHeaders, SipRequest } from '../sip/index.js';
import type { ServerTransaction } from '../transaction/index.js';

/** What the proxy needs of the authentication side (src/auth AuthGate fits it). */
export interface ProxyAuthenticator {
  /** Whether anyone is challenged right now (false in open mode): lets the proxy skip the policy checks. */
  readonly proxyEnforced: boolean;
  /**
   * Answers the request itself (407 with Proxy-Authenticate, 403, 400) and returns undefined, or returns the
   * authenticated AOR (undefined when authentication is not enforced) and the Proxy-Authorization values
   * addressed to our realm, which are removed before forwarding.
   */
  checkProxied(tx: ServerTransaction): { readonly identity: string | undefined; readonly consumed: readonly string[] } | undefined;
}

/** True for a request the proxy must authenticate before routing it (see the policy above). */
export function needsCallerAuth(req: SipRequest, core: RequestCore, isOurDomain: (host: string) => boolean): boolean {
  const method = req.method;
  if (method === 'ACK' || method === 'CANCEL') return false;
  if ((core.to.params.get('tag') ?? '') !== '') return false;
  const from = core.from.uri;
  // A tel: From names no domain of ours: whoever sends it (a gateway) is an outside caller.
  return from.scheme !== 'tel' && isOurDomain(from.host);
}

/**
 * Removes the Proxy-Authorization values we consumed (RFC 3261 §20.28: a value is consumed only by the proxy of
 * its realm); values for other realms go on to the proxies they are for.
 */
export function removeConsumedCredentials(headers: SipHeaders, consumed: readonly string[]): void {
  if (consumed.length === 0) return;
  const kept = headers.getAll('Proxy-Authorization').filter((v) => !consumed.includes(v));
  if (kept.length > 0) headers.set('Proxy-Authorization', kept);
  else headers.delete('Proxy-Authorization');
}
