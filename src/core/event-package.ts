/**
 * The one interface every event package implements (our idiom for Kamailio's `pres_ev_t` / `add_event`,
 * pjsip's `pjsip_evsub_register_pkg`). The core knows no package: it parses and answers SIP, keeps state,
 * talks to the store and the clock; a package only turns data into data.
 *
 * Rules for implementers:
 * - every hook is optional and has a documented default;
 * - hooks are synchronous and pure with respect to the outside world: they never send SIP, touch the store,
 *   read the clock or keep references to the arguments (the core may reuse them);
 * - a hook that throws is treated as a package bug: the core logs it and falls back to the default
 *   (validatePublish: 500; aggregate/bodyForWatcher/emptyBody/watcherInfoBody: no body; authorize: pending,
 *   which leaks nothing; presentityFor: 400; isPublisher: false).
 */
import type { SipUri } from '../sip/index.js';

/** Expiration policy of a package, in seconds (RFC 3903 §6 step 4, RFC 6665 §4.2.1.1). */
export interface ExpiresPolicy {
  /** Used when the request has no Expires header (RFC 3856 §6.4: 3600 for presence). */
  readonly default: number;
  /** Lower bound: shorter non-zero requests get 423 with Min-Expires. Default: the core's `minExpires`. */
  readonly min?: number;
  /** Upper bound on top of the core's maxExpiresSubscribe / maxExpiresPublish (the smaller one wins). */
  readonly max?: number;
}

/** One live publication as packages see it (RFC 3903 §3: one per entity-tag). Read-only. */
export interface PublicationView {
  readonly etag: string;
  readonly contentType: string;
  readonly body: string;
  /** Unix epoch ms of the last PUBLISH that set or refreshed it. */
  readonly receivedAt: number;
  readonly expiresAt: number;
  /** Publisher identity (From AOR), when known. */
  readonly sender: string | undefined;
  /** The package's validatePublish said this body, sent as is, is its composite when it is the only publication. */
  readonly standalone?: boolean;
}

/** Verdict on a published body; `status` is a SIP status (400, 415, 403 ...), `reason` one printable ASCII line. */
export type PublishVerdict =
  /**
   * `standalone`: the body as published is already what aggregate() would make of it alone (the package checked
   * while it had the document parsed), so a presentity with this one publication needs no composition.
   */
  | { readonly ok: true; readonly standalone?: boolean }
  | { readonly ok: false; readonly status: number; readonly reason: string };

export interface PublishContext {
  /** Presentity AOR the PUBLISH targets ("sip:alice@example.com"). */
  readonly presentity: string;
  readonly sender: string | undefined;
  /**
   * The presentity has subscribers to this package now, so aggregate() runs right after the change is stored
   * (a package may keep what it parsed for it). Absent: unknown.
   */
  readonly watched?: boolean;
}

/** A NOTIFY body with its media type. */
export interface NotifyBody {
  readonly contentType: string;
  readonly body: string;
}

/**
 * Authorization of a watcher (RFC 6665 §4.2.1.3, RFC 3856 §6.6, RFC 5025 sub-handling):
 * - 'active': state is sent;
 * - 'pending': subscription accepted, NOTIFYs carry no state until decided;
 * - 'rejected': SUBSCRIBE answered 403;
 * - 'polite-block': the subscription looks active, but NOTIFYs carry the package's neutral state (emptyBody).
 */
export type AuthorizationDecision = 'active' | 'pending' | 'rejected' | 'polite-block';

export interface AuthorizationRequest {
  /** Watcher AOR (From URI of the SUBSCRIBE). */
  readonly watcher: string;
  readonly watcherDisplayName: string | undefined;
  readonly presentity: string;
  /** Package name ("presence", "dialog;sla"). */
  readonly event: string;
}

/** What a package knows about the watcher a NOTIFY is being built for. Read-only. */
export interface WatcherContext {
  readonly subscriptionId: string;
  readonly watcher: string;
  readonly presentity: string;
  /** The subscription's per-package counter (Kamailio's subs->version): how many NOTIFYs with a body went before. */
  readonly version: number;
  /** Media types the subscriber accepts, in its order (empty: Accept absent, package default applies). */
  readonly accept: readonly string[];
  /** Event header parameters of the SUBSCRIBE other than `id` (RFC 4235 §3.1 filters, for example). */
  readonly eventParams: ReadonlyMap<string, string | null>;
  /** True when the watcher is politely blocked: emptyBody is asked for neutral state (RFC 5025 §3.2.1). */
  readonly politeBlock: boolean;
  /** True for the NOTIFY that follows a SUBSCRIBE (initial, refresh, fetch): packages with partial state send full state. */
  readonly fullState: boolean;
}

/**
 * Read access to the composite state of other packages for the same presentity, given to `aggregate` of a
 * package that declares `dependsOn` (mix_dialog_presence: presence reads the dialog state). Packages never
 * import each other; they read each other's state only through this.
 */
export interface RelatedState {
  /** The composite body of `event` (a package name listed in `dependsOn`) for this presentity, if any. */
  composite(event: string): string | undefined;
}

/** RFC 3858 §4.2 / RFC 3857 §3.3 watcher status, as the core reports them to watcher-info packages. */
export type WatcherInfoStatus = 'pending' | 'active' | 'waiting' | 'terminated';
/** RFC 3858 §4.2 / RFC 3857 §3.4 event: what moved the watcher into its status. */
export type WatcherInfoEvent =
  | 'subscribe'
  | 'approved'
  | 'deactivated'
  | 'probation'
  | 'rejected'
  | 'timeout'
  | 'giveup'
  | 'noresource';

export const WATCHER_INFO_STATUSES: readonly WatcherInfoStatus[] = ['pending', 'active', 'waiting', 'terminated'];
export const WATCHER_INFO_EVENTS: readonly WatcherInfoEvent[] = [
  'subscribe',
  'approved',
  'deactivated',
  'probation',
  'rejected',
  'timeout',
  'giveup',
  'noresource',
];

/** One watcher of the watched package (a subscription, or a remembered pending/waiting watcher). */
export interface WatcherInfoItem {
  /**
   * Stable for one subscription (or remembered watcher) across documents (RFC 3858 §4.2), so a partial
   * document can update it. See {@link watcherItemId}.
   */
  readonly id: string;
  /** Watcher URI (the `<watcher>` element content). */
  readonly uri: string;
  readonly status: WatcherInfoStatus;
  readonly event: WatcherInfoEvent;
  readonly displayName?: string | undefined;
  /** Seconds since the subscription started (RFC 3858 duration-subscribed). */
  readonly durationSubscribed?: number | undefined;
  /** Seconds until it expires (RFC 3858 expiration). */
  readonly expiration?: number | undefined;
}

/**
 * Stable, opaque id of one watcher entry (RFC 3858 §4.2: unique within the list, the same across documents)
 * from its key (dialog id, or presentity+watcher+event for a remembered watcher). Hashing keeps Call-IDs and
 * tags, which the presentity has no business seeing, out of the document (RFC 3857 §7 privacy).
 */
export function watcherItemId(key: string): string {
  // Two independent 32-bit FNV-1a variants: 64 bits makes collisions among one resource's watchers negligible.
  let a = 0x811c9dc5;
  let b = 0x01000193 ^ 0x5bd1e995;
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995) ^ (b >>> 15);
  }
  return `w${(a >>> 0).toString(36)}${(b >>> 0).toString(36)}`;
}

/** What the core knows about the watchers of one resource when a watcher-info NOTIFY is due (RFC 3857 §4.3). */
export interface WatcherInfoView {
  /** The watched resource: the presentity, who is also the watcher-info subscriber. */
  readonly resource: string;
  /** Every watcher the presentity may know about. */
  readonly watchers: readonly WatcherInfoItem[];
  /**
   * The watchers whose state changed since the previous NOTIFY of this subscription, for a partial document;
   * undefined when full state is due (after a SUBSCRIBE, after a watcher left, or with nothing recorded).
   */
  readonly changed?: readonly WatcherInfoItem[] | undefined;
}

/** The parts of a SUBSCRIBE a package may derive the presentity from (dialog;sla). */
export interface SubscribeView {
  readonly requestUri: SipUri;
  readonly from: SipUri;
  readonly to: SipUri;
  /** The Contact URI; undefined when the request has none (in-dialog refreshes may omit it). */
  readonly contact: SipUri | undefined;
}

export interface EventPackage {
  /**
   * Event type with the parameters that select this package: 'presence', 'presence.winfo', 'dialog',
   * 'dialog;sla', 'message-summary'. Event types compare byte for byte (RFC 6665 §8.2.1).
   */
  readonly name: string;
  /** Media types accepted in PUBLISH and offered in NOTIFY; the first is the default (RFC 6665 §4.4.2 Accept rules). */
  readonly contentTypes: readonly string[];
  readonly expires: ExpiresPolicy;
  /** Whether PUBLISH is allowed for this package (false for template packages like presence.winfo: 489). */
  readonly publishable: boolean;

  /**
   * Checks a published body (Kamailio evs_publ_handl). Default: every body of an accepted content type is taken.
   * A verdict of `{ok:false, status:400, reason}` becomes "400 <reason>".
   */
  validatePublish?(body: string, contentType: string, ctx: PublishContext): PublishVerdict;

  /**
   * Composes the state of a presentity from all its live publications, oldest first (Kamailio agg_nbody).
   * Called once per change, not per watcher; the result has media type `contentTypes[0]`.
   * Return undefined for "no state". Default: the most recently received publication's body and type.
   * A package with `dependsOn` is also asked when nothing is published (the list is empty), and reads the
   * other packages' state through `related`.
   */
  aggregate?(presentity: string, publications: readonly PublicationView[], related?: RelatedState): string | undefined;

  /**
   * Packages whose state feeds this package's composite for the same presentity (mix_dialog_presence: presence
   * depends on "dialog"). When their state changes, the core recomputes this package's composite and notifies
   * its watchers. Default: none.
   */
  readonly dependsOn?: readonly string[];

  /**
   * Per-watcher rewrite of the composite body (Kamailio aux_body_processing: version counters, filtering).
   * Return undefined to send the NOTIFY without a body. Default: the composite as is. Returning `composite` itself
   * sends the composite's shared bytes (no copy); a string returned to several watchers of one composite (one
   * filtered document per permission set) is encoded once.
   */
  bodyForWatcher?(composite: string, watcher: WatcherContext): string | undefined;

  /**
   * State to send when nothing is published, and for politely blocked watchers (Kamailio notify_offline_body).
   * Default: undefined, i.e. a NOTIFY without body.
   */
  emptyBody?(presentity: string, watcher: WatcherContext): NotifyBody | undefined;

  /**
   * Decides a subscription (Kamailio get_auth_status): at SUBSCRIBE, and again for live subscriptions when
   * refreshWatchers is asked (rules changed). Default: 'active'. Not consulted when forceActive is set, except
   * for watcher-info packages (`winfoOf`), whose authorization is never forced (RFC 3857 §5.1).
   */
  authorize?(request: AuthorizationRequest): AuthorizationDecision;

  /**
   * Authorization depends on this package's own state (pres-rules `<sphere>` conditions read the presentity's
   * published sphere, RFC 4745 §7.2): on every change of state the watchers are re-decided before they are
   * notified, so a watcher the new state excludes never receives it. Default: false.
   */
  readonly reauthorizeOnChange?: boolean;

  /**
   * For a watcher-info template package (RFC 3857): the name of the package whose watchers it reports
   * (Kamailio wipeer). Its NOTIFY bodies come from `watcherInfoBody`, fed with the core's watchers of
   * (presentity, winfoOf): subscriptions and remembered pending/waiting watchers.
   */
  readonly winfoOf?: string;

  /**
   * Body of a watcher-info NOTIFY (RFC 3857 §4.3, RFC 3858): full state when `subscriber.fullState` or
   * `view.changed` is undefined, else partial; `subscriber.version` is the subscription's counter.
   * Used only with `winfoOf`.
   */
  watcherInfoBody?(view: WatcherInfoView, subscriber: WatcherContext): string;

  /**
   * The presentity an initial SUBSCRIBE watches, when it is not the Request-URI (dialog;sla: Contact user at
   * the From domain, draft-anil-sipping-bla). Undefined: the request lacks what is needed (400). Default:
   * the Request-URI.
   */
  presentityFor?(request: SubscribeView): string | undefined;

  /**
   * Whether the subscription whose Contact is `subscriberContact` belongs to the publisher `sender` of a change:
   * that subscription is not notified of it (OpenSIPS handle_publish(sender_uri), dialog;sla). When a package has
   * this hook, a PUBLISH's Sender header is stored as the publication's sender (config bla.trustSender).
   * Default: every watcher is notified.
   */
  isPublisher?(sender: string | undefined, subscriberContact: string): boolean;

  /**
   * Keep the entity-tag on refresh instead of issuing a new one (Kamailio etag_not_new). Off by default:
   * RFC 3903 §6 step 7 wants a fresh SIP-ETag in every 2xx, and only broken clients need this.
   */
  readonly keepEtagOnRefresh?: boolean;
}
