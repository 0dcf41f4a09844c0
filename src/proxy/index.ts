/**
 * Public surface of the stateful proxy (RFC 3261 §16) and of its call tracking (the dialog state that
 * dialog-info publications are made from). The composition root builds one StatefulProxy, routes the
 * proxied methods to handle(), ACKs for 2xx to onAck(), and passes the location service through the
 * ProxyLocation interface, and the digest check of callers through the ProxyAuthenticator interface.
 */
export {
  StatefulProxy,
  PROXIED_METHODS,
  type StatefulProxyOptions,
  type ProxyStats,
  type ProxyTransactions,
  type ProxyNetwork,
} from './stateful-proxy.js';
export { needsCallerAuth, type ProxyAuthenticator } from './caller-auth.js';
export type { ProxyLocation, ProxyBinding, BindingFlow, LocationAnswer } from './location.js';
export { CallTracker, sessionExpiresSeconds, type CallTrackerOptions, type CallListener } from './call-tracker.js';
export type { CallSnapshot, CallState, CallEndReason, CallParty } from './call-dialog.js';
export { chooseBest, authenticateHeaders, type BranchFinal } from './best-response.js';
export type { HostResolver } from './next-hop.js';
export { LoopOverload, type LoopOverloadOptions, type OverloadProbe } from './overload.js';
