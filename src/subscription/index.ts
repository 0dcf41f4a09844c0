/** Public surface of the subscription layer: RFC 6665 notifier-side state and expiry rules, event-agnostic. */
export type { ExpiresRules, ExpiresDecision } from './expires.js';
export { expiresRules, negotiateExpires } from './expires.js';
export type { SubscriptionStatus, TerminationReason, SubscriptionStateFields } from './subscription-state.js';
export { approve, suspend, terminate, remainingSeconds, formatSubscriptionState } from './subscription-state.js';
