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
 *   (validatePublish: 500; aggregate/bodyForWatcher/emptyBody: no body; authorize: pending, which leaks nothing).
 */

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
}

/** Verdict on a published body; `status` is a SIP status (400, 415, 403 ...), `reason` one printable ASCII line. */
export type PublishVerdict =
  | { readonly ok: true }
  | { readonly ok: false; readonly status: number; readonly reason: string };

export interface PublishContext {
  /** Presentity AOR the PUBLISH targets ("sip:alice@example.com"). */
  readonly presentity: string;
  readonly sender: string | undefined;
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
   */
  aggregate?(presentity: string, publications: readonly PublicationView[]): string | undefined;

  /**
   * Per-watcher rewrite of the composite body (Kamailio aux_body_processing: version counters, filtering).
   * Return undefined to send the NOTIFY without a body. Default: the composite as is.
   */
  bodyForWatcher?(composite: string, watcher: WatcherContext): string | undefined;

  /**
   * State to send when nothing is published, and for politely blocked watchers (Kamailio notify_offline_body).
   * Default: undefined, i.e. a NOTIFY without body.
   */
  emptyBody?(presentity: string, watcher: WatcherContext): NotifyBody | undefined;

  /** Decides a new subscription (Kamailio get_auth_status). Default: 'active'. Not consulted when forceActive is set. */
  authorize?(request: AuthorizationRequest): AuthorizationDecision;

  /**
   * For a watcher-info template package (RFC 3857): the name of the package whose watchers it reports
   * (Kamailio wipeer). Reserved: the core does not act on it yet; winfo support comes with its package.
   */
  readonly winfoOf?: string;

  /**
   * Keep the entity-tag on refresh instead of issuing a new one (Kamailio etag_not_new). Off by default:
   * RFC 3903 §6 step 7 wants a fresh SIP-ETag in every 2xx, and only broken clients need this.
   */
  readonly keepEtagOnRefresh?: boolean;
}
