/**
 * Public surface of the presence core (RFC 3903 PUBLISH, RFC 6665 SUBSCRIBE/NOTIFY), event-agnostic.
 *
 * Usage (the server is the composition root):
 * ```ts
 * const core = new PresenceCore({ store, sender: transactionLayer, clock: systemClock, logger,
 *   config: { serverAddress: 'sip:presence@192.0.2.1:5060', domains: ['example.com'] },
 *   packages: [createPresencePackage({ notifyOfflineBody: false })] });
 * await core.start();                        // load, drop expired, re-notify at notifyRecoveryRate/s
 * router.on('PUBLISH', (tx) => core.handlePublish(tx));
 * router.on('SUBSCRIBE', (tx) => core.handleSubscribe(tx));
 * // OPTIONS / 489: core.allowEvents() for Allow-Events, core.acceptedTypes() for Accept
 * await core.stop();                         // timers off, writes drained; subscriptions survive
 * ```
 *
 * - `handlePublish(tx)` / `handleSubscribe(tx)` answer the transaction themselves (every outcome, never
 *   throw); NOTIFYs go out through the RequestSender. Before `start()` resolves and after `stop()` they
 *   answer 503 with Retry-After.
 * - Management facade: `listPresentities`, `getPresentity`, `listSubscriptions`, `queryPresentities` /
 *   `querySubscriptions` (filters and a total, facade-queries.ts), `getSubscription(id)` (the whole dialog),
 *   `publish` (a PUBLISH minus SIP, optional `sender`: same checks, durability and notifications; returns
 *   `{ok, etag, expires}` or `{ok:false, status, reason}`), `refreshWatchers(uri, event, type)` (0: re-authorize
 *   and send, 1: re-send state), `cleanup` (expiry sweep now), `stats`, and `onEvent(listener)` for the
 *   typed domain events (publication-changed, publication-expired, subscription-created,
 *   subscription-terminated, notify-failed).
 * - Event packages implement {@link EventPackage} (see event-package.ts for every hook and its default)
 *   and are passed to the constructor; the registry derives Allow-Events, 489, 415 and 406 from them.
 */
export { PresenceCore } from './presence-core.js';
export type {
  PresenceCoreDeps,
  PresentityInfo,
  PresentityDetail,
  SubscriptionInfo,
  FacadePublishRequest,
  CoreStats,
  SubscriptionDetail,
} from './presence-core.js';
export type { Page, PageBounds, PresentityFilter, SubscriptionFilter, SubscriptionDialogDetail } from './facade-queries.js';
export type { PublishResult } from './publish-handler.js';
export type { DocumentWrite, DocumentDelete, DocumentResult } from './documents.js';
export type { SweepResult } from './expiry-sweeper.js';
export type { CoreConfig } from './config.js';
export { DEFAULT_CORE_CONFIG } from './config.js';
export type { CoreLogger } from './context.js';
export type { CoreEvent, CoreEventListener, PublicationChange } from './domain-events.js';
export type { EventCounts } from './presentity-index.js';
export type {
  EventPackage,
  ExpiresPolicy,
  PublicationView,
  PublishVerdict,
  PublishContext,
  NotifyBody,
  AuthorizationDecision,
  AuthorizationRequest,
  WatcherContext,
  RelatedState,
  SubscribeView,
  WatcherInfoEvent,
  WatcherInfoItem,
  WatcherInfoStatus,
  WatcherInfoView,
} from './event-package.js';
export { EventRegistry, acceptableTypes, packageAccepts } from './event-registry.js';
