/**
 * The request transformations of a proxy (RFC 3261 §16.4 route information preprocessing and §16.6
 * request forwarding steps 1-6), as pure functions over headers: no sockets, no timers.
 */
import {
  createRequest,
  parseNameAddr,
  SipParseError,
  type RequestCore,
  type SipHeaders,
  type SipRequest,
  type SipUri,
} from '../sip/index.js';

/** The Request-URI and Route set after §16.4, ready to be copied per branch. */
export interface PreprocessedRequest {
  readonly requestUri: string;
  /** The headers with our own Route values removed (a copy; the received request is untouched). */
  readonly headers: SipHeaders;
  /** The Route values left, in order. */
  readonly routes: readonly string[];
  /** How many of our own Route values were removed (one, or two with double record-routing). */
  readonly poppedOwnRoutes: number;
}

function routeUri(value: string): SipUri | undefined {
  const na = parseNameAddr(value);
  return na instanceof SipParseError ? undefined : na.uri;
}

/**
 * RFC 3261 §16.4. A Request-URI that is one of our Record-Route values means the previous hop was a
 * strict router: the last Route value is the real Request-URI. Then every leading Route value that names
 * us is removed (two of them after double record-routing, RFC 5658).
 */
export function preprocessRoutes(req: SipRequest, requestUri: SipUri, isProxyUri: (uri: SipUri) => boolean): PreprocessedRequest {
  const headers = req.headers.clone();
  let routes = headers.getAll('Route');
  let uri = req.uri;
  if (isProxyUri(requestUri) && routes.length > 0) {
    const last = parseNameAddr(routes[routes.length - 1]);
    if (!(last instanceof SipParseError)) {
      uri = last.uriText;
      routes = routes.slice(0, -1);
    }
  }
  let popped = 0;
  while (popped < routes.length) {
    const u = routeUri(routes[popped]);
    if (u === undefined || !isProxyUri(u)) break;
    popped++;
  }
  routes = routes.slice(popped);
  if (routes.length > 0) headers.set('Route', routes);
  else headers.delete('Route');
  return { requestUri: uri, headers, routes, poppedOwnRoutes: popped };
}

export interface BranchPlan {
  /** Request-URI of this copy: the binding's contact (§16.5) or unchanged. */
  readonly requestUri: string;
  /** Record-Route values to add on top, first = topmost (§16.6 step 4). */
  readonly recordRoute: readonly string[];
  /** Route values to put before the existing ones (a binding's Path, RFC 3327 §5.3). */
  readonly preloadedRoutes: readonly string[];
}

/**
 * One copy of the request for one target (§16.6 steps 1-6): new Request-URI, Max-Forwards decremented
 * (70 when absent), Record-Route and Path routes added. When the first Route then lacks ;lr the next hop is
 * a strict router (§16.6 step 6 note, §12.2.1.1): its URI becomes the Request-URI and the Request-URI
 * goes to the end of the Route set. Our Via is added by the transaction layer.
 */
export function branchCopy(pre: PreprocessedRequest, req: SipRequest, core: RequestCore, plan: BranchPlan): SipRequest {
  const h = pre.headers.clone();
  h.set('Max-Forwards', String(core.maxForwards === undefined ? 70 : core.maxForwards - 1));
  for (let i = plan.recordRoute.length - 1; i >= 0; i--) h.prepend('Record-Route', plan.recordRoute[i]);
  let uri = plan.requestUri;
  let routes = [...plan.preloadedRoutes, ...pre.routes];
  if (routes.length > 0) {
    const first = parseNameAddr(routes[0]);
    if (!(first instanceof SipParseError) && !first.uri.params.has('lr')) {
      routes = [...routes.slice(1), `<${uri}>`];
      uri = first.uriText;
    }
    h.set('Route', routes);
  }
  return createRequest(req.method, uri, h, req.body);
}

/** The URI text of the first Route value, for the next-hop lookup. */
export function firstRouteUri(routes: readonly string[]): string | undefined {
  if (routes.length === 0) return undefined;
  const na = parseNameAddr(routes[0]);
  return na instanceof SipParseError ? undefined : na.uriText;
}
