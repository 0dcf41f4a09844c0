/**
 * The notifier side of one subscription (RFC 6665 §4.1.3, §4.2): the pending | active | terminated state
 * machine and the Subscription-State header value it produces. Event-agnostic.
 *
 *   (new) --authorize:active--> active --terminate--> terminated
 *   (new) --authorize:pending-> pending --approve--> active
 *                               pending --terminate--> terminated
 * terminated is final; a subscription is never revived (a new SUBSCRIBE makes a new one).
 */

export type SubscriptionStatus = 'pending' | 'active' | 'terminated';

/** RFC 6665 §4.1.3 / §8.3 event reasons for `terminated` (and RFC 3857 winfo events). */
export type TerminationReason =
  | 'deactivated'
  | 'probation'
  | 'rejected'
  | 'timeout'
  | 'giveup'
  | 'noresource'
  | 'invariant';

/** The mutable part of a subscription this machine owns. */
export interface SubscriptionStateFields {
  status: SubscriptionStatus;
  /** Why it ended (terminated), or a sub-state of active ('polite-block'). */
  reason: string | undefined;
}

/** Moves pending -> active. Returns false when the transition is not allowed (already terminated). */
export function approve(s: SubscriptionStateFields): boolean {
  if (s.status === 'terminated') return false;
  s.status = 'active';
  return true;
}

/** Moves active -> pending (authorisation withdrawn pending a decision). */
export function suspend(s: SubscriptionStateFields): boolean {
  if (s.status === 'terminated') return false;
  s.status = 'pending';
  return true;
}

/** Moves to terminated with a reason; a second termination keeps the first reason. */
export function terminate(s: SubscriptionStateFields, reason: TerminationReason): boolean {
  if (s.status === 'terminated') return false;
  s.status = 'terminated';
  s.reason = reason;
  return true;
}

/** Whole seconds left before expiresAt (never negative): the `expires` parameter of Subscription-State. */
export function remainingSeconds(expiresAt: number, now: number): number {
  const left = Math.floor((expiresAt - now) / 1000);
  return left > 0 ? left : 0;
}

/**
 * Subscription-State value (RFC 6665 §8.2.3, §4.1.3): `active;expires=N`, `pending;expires=N`,
 * `terminated;reason=R` (plus retry-after when given).
 */
export function formatSubscriptionState(
  status: SubscriptionStatus,
  expiresSeconds: number,
  reason?: string,
  retryAfter?: number,
): string {
  if (status === 'terminated') {
    let v = reason === undefined ? 'terminated' : `terminated;reason=${reason}`;
    if (retryAfter !== undefined) v += `;retry-after=${retryAfter}`;
    return v;
  }
  return `${status};expires=${expiresSeconds}`;
}
