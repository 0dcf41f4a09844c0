/**
 * Filtered, counted listings for the management facade (OpenSIPS pres_phtable_list / subs_phtable_list with
 * filters): one pass over the in-memory index, counting every match and keeping one page. These are operator
 * calls, O(presentities) or O(subscriptions) each, never on a SIP path.
 */
import type { PresentityState, Subscription } from './presentity-index.js';

/** One page of a listing, and how many items match in all. */
export interface Page<T> {
  readonly items: T[];
  readonly total: number;
}

export interface PageBounds {
  /** Items per page (default 100). */
  readonly limit?: number;
  /** Matches skipped (default 0). */
  readonly offset?: number;
}

export interface PresentityFilter extends PageBounds {
  readonly event?: string;
  /** Host of the presentity AOR, case-insensitive. */
  readonly domain?: string;
  /** Any test on the presentity AOR (a URI glob from the API). */
  readonly match?: (aor: string) => boolean;
}

export interface SubscriptionFilter extends PageBounds {
  /** Presentity URI (normalised to its AOR by the facade). */
  readonly presentity?: string;
  readonly event?: string;
  /** Watcher URI (normalised to its AOR by the facade). */
  readonly watcher?: string;
  readonly status?: string;
  readonly domain?: string;
  readonly match?: (aor: string) => boolean;
}

/** The dialog and delivery details of a subscription beyond the list fields (RFC 3261 §12 dialog state). */
export interface SubscriptionDialogDetail {
  readonly localTag: string;
  readonly remoteTag: string;
  /** Our URI (the SUBSCRIBE's To) and the watcher's (its From), as name-addr without tag. */
  readonly localUri: string;
  readonly remoteUri: string;
  readonly routeSet: readonly string[];
  /** CSeq of the last request from the watcher. */
  readonly remoteSeq: number;
  readonly secure: boolean;
  readonly accept: readonly string[];
  /** Version of the next body, for packages that count them (RFC 3858 §4.1, RFC 4235 §4.1). */
  readonly version: number;
  /** The Event header of its NOTIFYs (package, parameters, id). */
  readonly eventHeader: string;
}

/** Host part of an AOR ("sip:alice@Example.com" -> "example.com"); '' for tel: AORs. */
export function domainOf(aor: string): string {
  if (aor.startsWith('tel:')) return '';
  const at = aor.lastIndexOf('@');
  return (at < 0 ? aor.slice(aor.indexOf(':') + 1) : aor.slice(at + 1)).toLowerCase();
}

/** Keeps the items `keep` accepts, maps the page of them, counts them all. */
export function pageOf<T, R>(source: Iterable<T>, keep: (t: T) => boolean, map: (t: T) => R, bounds: PageBounds): Page<R> {
  const limit = Math.max(0, bounds.limit ?? 100);
  const offset = Math.max(0, bounds.offset ?? 0);
  const items: R[] = [];
  let total = 0;
  for (const t of source) {
    if (!keep(t)) continue;
    if (total >= offset && items.length < limit) items.push(map(t));
    total++;
  }
  return { items, total };
}

export function presentityTest(f: PresentityFilter): (e: PresentityState) => boolean {
  const domain = f.domain?.toLowerCase();
  return (e) =>
    (e.pubs.length > 0 || e.subs.size > 0) &&
    (f.event === undefined || e.event === f.event) &&
    (domain === undefined || domainOf(e.presentity) === domain) &&
    (f.match === undefined || f.match(e.presentity));
}

/** `presentity` and `watcher` must already be normalised AORs. */
export function subscriptionTest(f: SubscriptionFilter): (s: Subscription) => boolean {
  const domain = f.domain?.toLowerCase();
  return (s) =>
    (f.presentity === undefined || s.entry.presentity === f.presentity) &&
    (f.event === undefined || s.entry.pkg.name === f.event) &&
    (f.watcher === undefined || s.watcher === f.watcher) &&
    (f.status === undefined || s.status === f.status) &&
    (domain === undefined || domainOf(s.entry.presentity) === domain) &&
    (f.match === undefined || f.match(s.entry.presentity));
}

export function dialogDetail(s: Subscription): SubscriptionDialogDetail {
  const d = s.dialog;
  return {
    localTag: d.localTag,
    remoteTag: d.remoteTag,
    localUri: d.localUri,
    remoteUri: d.remoteUri,
    routeSet: d.routeSet,
    remoteSeq: d.remoteSeq,
    secure: d.secure,
    accept: s.accept,
    version: s.version,
    eventHeader: s.eventHeader,
  };
}
