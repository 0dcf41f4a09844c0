/**
 * Expiration negotiation shared by SUBSCRIBE (RFC 6665 §4.2.1.1) and PUBLISH (RFC 3903 §6 step 4):
 * absent -> default; zero -> a fetch / removal; shorter than the minimum -> 423 with Min-Expires;
 * longer than the maximum -> lowered (the notifier "MAY shorten", never lengthen).
 */

export interface ExpiresRules {
  /** Seconds used when the request has no Expires header. */
  readonly default: number;
  /** Smallest non-zero interval accepted. */
  readonly min: number;
  /** Largest interval granted. */
  readonly max: number;
}

export type ExpiresDecision =
  | { readonly kind: 'granted'; readonly seconds: number }
  /** Expires: 0 (RFC 6665 §4.4.3 fetch or unsubscribe; RFC 3903 §6 removal). */
  | { readonly kind: 'zero' }
  /** Answer 423 Interval Too Brief with this Min-Expires (RFC 3261 §20.23, RFC 6665 §4.2.1.1). */
  | { readonly kind: 'too-brief'; readonly minExpires: number };

/** Builds consistent rules: default and min are clamped into [1, max]. */
export function expiresRules(defaultSeconds: number, min: number, max: number): ExpiresRules {
  const hi = Math.max(1, max);
  const lo = Math.min(Math.max(0, min), hi);
  return { default: Math.min(Math.max(defaultSeconds, lo, 1), hi), min: lo, max: hi };
}

export function negotiateExpires(requested: number | undefined, rules: ExpiresRules): ExpiresDecision {
  if (requested === undefined) return { kind: 'granted', seconds: rules.default };
  if (requested === 0) return { kind: 'zero' };
  if (requested < rules.min) return { kind: 'too-brief', minExpires: rules.min };
  return { kind: 'granted', seconds: requested > rules.max ? rules.max : requested };
}
