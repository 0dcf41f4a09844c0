/**
 * The watcher-information template package (RFC 3857) applied to a package, `presence.winfo` by
 * default: the presentity subscribes to learn who watches it and in which state.
 *
 * Its state is not published: it is the core's list of watchers of the presentity. The core hands
 * it over through {@link WatcherInfoPackage.watcherInfoBody}, a hook beyond EventPackage, and the
 * package turns it into full or partial application/watcherinfo+xml with the subscription's version.
 */
import type {
  AuthorizationDecision,
  AuthorizationRequest,
  EventPackage,
  ExpiresPolicy,
  NotifyBody,
  WatcherContext,
  WatcherInfoView,
} from '../../core/event-package.js';
import { aorKey, isSipParseError, parseUri } from '../../sip/index.js';
import {
  composeWatcherInfo,
  WATCHERINFO_CONTENT_TYPE,
  type WatcherEvent,
  type WatcherInfoEntry,
  type WatcherStatus,
} from './watcherinfo.js';

/** What the core knows about the watchers of one resource when a winfo NOTIFY is due (RFC 3857 §4.3). */
export type WinfoView = WatcherInfoView;

export interface WatcherInfoPackage extends EventPackage {
  /** The package whose watchers are reported ("presence"). */
  readonly winfoOf: string;
  /**
   * The NOTIFY body for one winfo subscriber (RFC 3857 §4.3): full state after a SUBSCRIBE
   * (`subscriber.fullState`) or when `view.changed` is undefined, else a partial document with only
   * the changed watchers; `version` is the subscription's counter (RFC 3858 §4.1).
   */
  watcherInfoBody(view: WinfoView, subscriber: WatcherContext): string;
}

export interface WinfoPackageOptions {
  /** The watched package; the template name is `<watched>.winfo` (RFC 3857 §3). Default "presence". */
  readonly watchedPackage?: string;
  /** RFC 3857 §4.4: default 3600 s. */
  readonly expires?: ExpiresPolicy;
}

function aor(uri: string): string {
  const u = parseUri(uri.trim());
  return isSipParseError(u) ? uri.trim() : aorKey(u);
}

/** Creates the watcher-information package for `watchedPackage` (default `presence.winfo`). */
export function createWinfoPackage(options: WinfoPackageOptions = {}): WatcherInfoPackage {
  const watched = options.watchedPackage ?? 'presence';
  return {
    name: `${watched}.winfo`,
    contentTypes: [WATCHERINFO_CONTENT_TYPE],
    expires: options.expires ?? { default: 3600 },
    // A template package has no published state of its own (RFC 3857 §4.1: no PUBLISH semantics).
    publishable: false,
    winfoOf: watched,

    /**
     * RFC 3857 §5.1 / §7: watcher information is the presentity's own business; only the presentity
     * may subscribe to it, anyone else is refused (403). The core must ask even with forceActive on.
     */
    authorize(request: AuthorizationRequest): AuthorizationDecision {
      return aor(request.watcher) === aor(request.presentity) ? 'active' : 'rejected';
    },

    // Before the core hands over a view (or when it has none): an empty but valid full document.
    emptyBody(presentity: string, watcher: WatcherContext): NotifyBody {
      return {
        contentType: WATCHERINFO_CONTENT_TYPE,
        body: composeWatcherInfo({ version: watcher.version, state: 'full', lists: [{ resource: presentity, package: watched, watchers: [] }] }),
      };
    },

    watcherInfoBody(view: WinfoView, subscriber: WatcherContext): string {
      const partial = !subscriber.fullState && view.changed !== undefined && view.changed.length > 0;
      return composeWatcherInfo({
        version: subscriber.version,
        state: partial ? 'partial' : 'full',
        lists: [{ resource: view.resource, package: watched, watchers: partial ? view.changed! : view.watchers }],
      });
    },
  };
}

/** Inputs to describe one watcher, in the core's terms (subscription or remembered watcher record). */
export interface WatcherFacts {
  /** Stable key of the subscription (dialog id) or of the watcher record; hashed into the id. */
  readonly key: string;
  readonly uri: string;
  readonly displayName?: string | undefined;
  readonly status: WatcherStatus;
  /** Why it is in that state: an RFC 3857 event, a subscription termination reason, or nothing. */
  readonly reason?: string | undefined;
  /** The status before this change, when the change is a transition. */
  readonly previousStatus?: WatcherStatus | undefined;
  /** Subscription start and expiry, ms since the epoch, and the current time, for the timing attributes. */
  readonly createdAt?: number | undefined;
  readonly expiresAt?: number | undefined;
  readonly now?: number | undefined;
}

const EVENTS: ReadonlySet<string> = new Set(['subscribe', 'approved', 'deactivated', 'probation', 'rejected', 'timeout', 'giveup', 'noresource']);

/**
 * The RFC 3857 §3.3 event for a watcher's state: subscribe (new pending or active), approved
 * (pending to active), timeout (expired, unsubscribed, or a pending one moved to waiting), else the
 * termination reason when it is an RFC 3857 event (deactivated, probation, rejected, giveup, noresource).
 */
export function watcherEventFor(status: WatcherStatus, reason?: string, previousStatus?: WatcherStatus): WatcherEvent {
  if (reason !== undefined && EVENTS.has(reason)) {
    // A reason only explains the state it belongs with: "approved" describes an active watcher.
    if (status === 'active' && (reason === 'approved' || reason === 'subscribe')) return reason;
    if (status === 'terminated' && reason !== 'approved' && reason !== 'subscribe') return reason as WatcherEvent;
    if (status === 'waiting' && (reason === 'timeout' || reason === 'giveup')) return reason as WatcherEvent;
    if (status === 'pending' && reason === 'subscribe') return 'subscribe';
  }
  switch (status) {
    case 'pending':
      return 'subscribe';
    case 'active':
      return previousStatus === 'pending' || previousStatus === 'waiting' ? 'approved' : 'subscribe';
    case 'waiting':
      return 'timeout';
    case 'terminated':
      return 'timeout';
  }
}

/** Builds a watcherinfo entry from the core's facts: stable hashed id, event, timing attributes. */
export function watcherInfoEntry(facts: WatcherFacts, idOf: (key: string) => string): WatcherInfoEntry {
  const now = facts.now;
  const duration = now !== undefined && facts.createdAt !== undefined ? Math.max(0, Math.floor((now - facts.createdAt) / 1000)) : undefined;
  const expiration =
    now !== undefined && facts.expiresAt !== undefined && facts.status !== 'terminated'
      ? Math.max(0, Math.ceil((facts.expiresAt - now) / 1000))
      : undefined;
  return {
    id: idOf(facts.key),
    uri: facts.uri,
    status: facts.status,
    event: watcherEventFor(facts.status, facts.reason, facts.previousStatus),
    displayName: facts.displayName,
    durationSubscribed: duration,
    expiration,
  };
}
