/**
 * What the proxy needs from the location service (RFC 3261 §10, §16.5): the bindings of an address of
 * record. The registrar's LocationService satisfies it through a small adapter in the composition root
 * (its BindingRecord has these fields), so the proxy does not depend on the registrar's internals.
 */
import type { TransportProtocol } from '../transport/index.js';

/** Where a binding's REGISTER came from: requests for it go back over this flow (RFC 5626, NAT). */
export interface BindingFlow {
  readonly protocol: TransportProtocol;
  readonly address: string;
  readonly port: number;
  /** The TCP connection while it is open. */
  readonly flowId: string | undefined;
}

/** One registered contact of an address of record. */
export interface ProxyBinding {
  /** The Contact URI as registered: the Request-URI of the forwarded request (§16.5). */
  readonly uri: string;
  /** Path header values in order (RFC 3327): become Route headers of the forwarded request. */
  readonly path: readonly string[];
  /** The flow the REGISTER arrived on; undefined when unknown (a binding added by hand). */
  readonly flow: BindingFlow | undefined;
  readonly q?: number | undefined;
}

export type LocationAnswer = readonly ProxyBinding[] | undefined;

export interface ProxyLocation {
  /**
   * Bindings of an AOR ("sip:bob@example.com", core aorKey form). undefined: no such user (404);
   * an empty list: a known user with nothing registered (480). Expired bindings must not be returned.
   */
  lookup(aor: string): LocationAnswer | Promise<LocationAnswer>;
}
