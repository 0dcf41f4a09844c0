/**
 * The presence core: the job of Kamailio's / OpenSIPS' presence module (handle_publish, handle_subscribe,
 * NOTIFY, expiry, restart), event-agnostic, with the event packages plugged in through EventPackage.
 * This class wires the parts and is the facade the server and the management API call.
 */
import { aorKey, parseEvent, parseUri, SipParseError } from '../sip/index.js';
import type { Clock, RequestSender, ServerTransaction } from '../transaction/index.js';
import type { DocumentRecord, PresenceStore } from '../store/store.js';
import { reauthorize } from './authorization.js';
import { domainChecker, resolveCoreConfig, type CoreConfig } from './config.js';
import { newCounters, type CoreContext, type CoreLogger } from './context.js';
import { DocumentIndex, type DocumentDelete, type DocumentResult, type DocumentWrite } from './documents.js';
import { DomainEvents, type CoreEventListener } from './domain-events.js';
import {
  dialogDetail,
  pageOf,
  presentityTest,
  subscriptionTest,
  type Page,
  type PresentityFilter,
  type SubscriptionDialogDetail,
  type SubscriptionFilter,
} from './facade-queries.js';
import type { EventPackage, NotifyBody, PublicationView } from './event-package.js';
import { EventRegistry } from './event-registry.js';
import { ExpirySweeper, type SweepResult } from './expiry-sweeper.js';
import { Notifier, type DeliveryFailure } from './notifier.js';
import { PresentityIndex, type EventCounts, type Subscription } from './presentity-index.js';
import { PublishHandler, type PublishResult } from './publish-handler.js';
import { RecoveryPacer, restoreState } from './recovery.js';
import { reply } from './replies.js';
import { SubscribeHandler } from './subscribe-handler.js';
import { WatcherInfo } from './watcher-info.js';

export interface PresenceCoreDeps {
  readonly store: PresenceStore;
  readonly sender: RequestSender;
  readonly clock: Clock;
  readonly logger: CoreLogger;
  /** Missing keys take DEFAULT_CORE_CONFIG values. */
  readonly config?: Partial<CoreConfig>;
  readonly packages: readonly EventPackage[];
}

export interface PresentityInfo {
  readonly presentity: string;
  readonly event: string;
  readonly publications: number;
  readonly subscriptions: number;
}

export interface SubscriptionInfo {
  readonly id: string;
  readonly presentity: string;
  readonly event: string;
  readonly eventId: string | undefined;
  readonly watcher: string;
  readonly status: 'pending' | 'active' | 'terminated';
  readonly reason: string | undefined;
  /** Unix epoch ms. */
  readonly expiresAt: number;
  readonly createdAt: number;
  /** Subscriber Contact (Request-URI of NOTIFYs). */
  readonly remoteTarget: string;
  readonly callId: string;
  readonly localSeq: number;
  readonly flow: { readonly protocol: 'udp' | 'tcp'; readonly address: string; readonly port: number };
  readonly notifyFailures: number;
}

export interface PresentityDetail extends PresentityInfo {
  readonly publicationList: readonly PublicationView[];
  /** The composite state watchers get (before per-watcher processing), or undefined when nothing is published. */
  readonly composite: NotifyBody | undefined;
  readonly watchers: readonly SubscriptionInfo[];
}

export interface FacadePublishRequest {
  /** Presentity URI ("sip:alice@example.com"); normalised to its AOR. */
  readonly presentity: string;
  /** Event package name or Event header value ("presence", "dialog;sla"). */
  readonly event: string;
  /** Seconds; undefined = package default; 0 with etag = remove. */
  readonly expires?: number;
  readonly contentType?: string;
  readonly body?: string;
  /** Entity-tag to refresh, modify or remove (SIP-If-Match). */
  readonly etag?: string;
  /**
   * The publisher, as a SIP PUBLISH's Sender header would name it (OpenSIPS pua_mi sender): packages that keep
   * a publisher from being notified of its own change (dialog;sla) compare it with subscribers' Contacts.
   */
  readonly sender?: string;
}

/** getSubscription(): the list fields and the whole dialog. */
export type SubscriptionDetail = SubscriptionInfo & SubscriptionDialogDetail;

export interface CoreStats {
  readonly events: Readonly<Record<string, EventCounts>>;
  readonly subscriptions: number;
  readonly publish: { readonly accepted: number; readonly rejected: number };
  readonly subscribe: { readonly accepted: number; readonly rejected: number };
  readonly notify: { readonly sent: number; readonly failed: number; readonly queued: number; readonly inFlight: number };
  readonly recoveryPending: number;
  readonly storeFailures: number;
}

type State = 'new' | 'starting' | 'running' | 'stopped';

function infoOf(sub: Subscription): SubscriptionInfo {
  return {
    id: sub.id,
    presentity: sub.entry.presentity,
    event: sub.entry.pkg.name,
    eventId: sub.eventId,
    watcher: sub.watcher,
    status: sub.status,
    reason: sub.reason,
    expiresAt: sub.expiresAt,
    createdAt: sub.createdAt,
    remoteTarget: sub.dialog.remoteTarget,
    callId: sub.dialog.callId,
    localSeq: sub.dialog.localSeq,
    flow: { protocol: sub.flow.protocol, address: sub.flow.address, port: sub.flow.port },
    notifyFailures: sub.failures,
  };
}

export class PresenceCore {
  readonly #ctx: CoreContext;
  readonly #notifier: Notifier;
  readonly #publish: PublishHandler;
  readonly #subscribe: SubscribeHandler;
  readonly #sweeper: ExpirySweeper;
  readonly #winfo: WatcherInfo;
  readonly #documents: DocumentIndex;
  readonly #inFlight = new Set<Promise<unknown>>();
  #pacer: RecoveryPacer | undefined;
  #state: State = 'new';

  constructor(deps: PresenceCoreDeps) {
    const registry = new EventRegistry();
    for (const p of deps.packages) registry.register(p);
    const config = resolveCoreConfig(deps.config);
    const logger = deps.logger;
    const clock = deps.clock;
    const inFlight = this.#inFlight;
    this.#ctx = {
      store: deps.store,
      sender: deps.sender,
      clock,
      logger,
      config,
      registry,
      index: new PresentityIndex(),
      events: new DomainEvents((err) => logger.error({ err }, 'domain event listener threw')),
      counters: newCounters(),
      isLocalDomain: domainChecker(config),
      now: () => clock.wallNow(),
      track<T>(p: Promise<T>): Promise<T> {
        inFlight.add(p);
        const done = (): void => {
          inFlight.delete(p);
        };
        p.then(done, done);
        return p;
      },
    };
    this.#winfo = new WatcherInfo(this.#ctx);
    this.#documents = new DocumentIndex(this.#ctx);
    this.#notifier = new Notifier(this.#ctx, this.#winfo, (sub, reason) => this.#endAfterDeliveryFailure(sub, reason));
    this.#publish = new PublishHandler(this.#ctx, this.#notifier);
    this.#subscribe = new SubscribeHandler(this.#ctx, this.#notifier, this.#winfo);
    this.#sweeper = new ExpirySweeper(this.#ctx, this.#notifier, this.#winfo);
  }

  /**
   * Loads the durable state, drops what expired while down, starts the expiry sweeper and re-notifies the
   * recovered subscriptions at notifyRecoveryRate per second. Requests before it resolves get 503.
   */
  async start(): Promise<void> {
    if (this.#state !== 'new') throw new Error(`PresenceCore.start() in state ${this.#state}`);
    this.#state = 'starting';
    const ctx = this.#ctx;
    const snapshot = await ctx.store.load();
    this.#documents.load(snapshot.documents);
    const r = await restoreState(ctx, snapshot, this.#winfo);
    if (this.#state !== 'starting') return; // stopped meanwhile
    ctx.logger.info(
      {
        publications: r.publications,
        subscriptions: r.subscriptions,
        droppedExpired: r.droppedExpired,
        skippedUnknownEvent: r.skippedUnknownEvent,
        watchers: this.#winfo.recordCount,
        documents: this.#documents.size,
      },
      'presence state restored',
    );
    this.#sweeper.start();
    this.#pacer = new RecoveryPacer(ctx, this.#notifier, r.toNotify);
    this.#pacer.start();
    this.#state = 'running';
  }

  /**
   * Stops timers and lets in-flight store writes finish. Sends no terminated NOTIFYs: subscriptions survive
   * restarts. Does not close the store (its owner does).
   */
  async stop(): Promise<void> {
    if (this.#state === 'stopped') return;
    this.#state = 'stopped';
    this.#sweeper.stop();
    this.#pacer?.stop();
    this.#notifier.stop();
    while (this.#inFlight.size > 0) {
      await Promise.allSettled([...this.#inFlight]);
    }
  }

  /** Answers a PUBLISH (RFC 3903). */
  handlePublish(tx: ServerTransaction): void {
    if (!this.#accepting(tx)) return;
    this.#publish.handle(tx);
  }

  /** Answers a SUBSCRIBE (RFC 6665, initial, refresh, unsubscribe or fetch) and sends the NOTIFYs it calls for. */
  handleSubscribe(tx: ServerTransaction): void {
    if (!this.#accepting(tx)) return;
    this.#subscribe.handle(tx);
  }

  /** Event types for Allow-Events (RFC 6665 §4.4.4), from the registered packages. */
  allowEvents(): string[] {
    return this.#ctx.registry.allowEvents();
  }

  /** Media types some package accepts (for Accept in OPTIONS answers). */
  acceptedTypes(): string[] {
    return this.#ctx.registry.acceptedTypes();
  }

  /** Subscribes to the core's domain events; returns the unsubscribe function. */
  onEvent(listener: CoreEventListener): () => void {
    return this.#ctx.events.on(listener);
  }

  // --- management facade --------------------------------------------------------------------

  listPresentities(opts: { event?: string; limit?: number; offset?: number } = {}): PresentityInfo[] {
    const limit = Math.max(0, opts.limit ?? 100);
    let skip = Math.max(0, opts.offset ?? 0);
    const out: PresentityInfo[] = [];
    for (const e of this.#ctx.index.entries()) {
      if (opts.event !== undefined && e.event !== opts.event) continue;
      if (e.pubs.length === 0 && e.subs.size === 0) continue;
      if (skip > 0) {
        skip--;
        continue;
      }
      if (out.length >= limit) break;
      out.push({ presentity: e.presentity, event: e.event, publications: e.pubs.length, subscriptions: e.subs.size });
    }
    return out;
  }

  getPresentity(uri: string, event: string): PresentityDetail | undefined {
    const presentity = this.#normalise(uri);
    if (presentity === undefined) return undefined;
    const e = this.#ctx.index.find(presentity, event);
    if (e === undefined) return undefined;
    const comp = this.#notifier.composite(e);
    return {
      presentity: e.presentity,
      event: e.event,
      publications: e.pubs.length,
      subscriptions: e.subs.size,
      publicationList: e.pubs.map((p) => p.toRecord()),
      composite: comp === null ? undefined : { contentType: comp.contentType, body: comp.body },
      watchers: [...e.subs].map(infoOf),
    };
  }

  listSubscriptions(opts: { presentity?: string; event?: string; limit?: number; offset?: number } = {}): SubscriptionInfo[] {
    const limit = Math.max(0, opts.limit ?? 1000);
    let skip = Math.max(0, opts.offset ?? 0);
    const out: SubscriptionInfo[] = [];
    const presentity = opts.presentity === undefined ? undefined : this.#normalise(opts.presentity);
    if (opts.presentity !== undefined && presentity === undefined) return out;
    const source =
      presentity !== undefined && opts.event !== undefined
        ? (this.#ctx.index.find(presentity, opts.event)?.subs.values() ?? [].values())
        : this.#ctx.index.subscriptions();
    for (const s of source) {
      if (presentity !== undefined && s.entry.presentity !== presentity) continue;
      if (opts.event !== undefined && s.entry.pkg.name !== opts.event) continue;
      if (skip > 0) {
        skip--;
        continue;
      }
      if (out.length >= limit) break;
      out.push(infoOf(s));
    }
    return out;
  }

  /** Presentities matching the filters (event, domain, AOR test), one page, and how many match in all. */
  queryPresentities(filter: PresentityFilter = {}): Page<PresentityInfo> {
    return pageOf(
      this.#ctx.index.entries(),
      presentityTest(filter),
      (e): PresentityInfo => ({ presentity: e.presentity, event: e.event, publications: e.pubs.length, subscriptions: e.subs.size }),
      filter,
    );
  }

  /** Subscriptions matching the filters (presentity, event, watcher, status, domain, AOR test), one page, and the total. */
  querySubscriptions(filter: SubscriptionFilter = {}): Page<SubscriptionInfo> {
    const norm = (u: string | undefined): string | undefined | null => (u === undefined ? undefined : (this.#normalise(u) ?? null));
    const presentity = norm(filter.presentity);
    const watcher = norm(filter.watcher);
    if (presentity === null || watcher === null) return { items: [], total: 0 };
    const index = this.#ctx.index;
    const source =
      presentity !== undefined && filter.event !== undefined
        ? (index.find(presentity, filter.event)?.subs.values() ?? [].values())
        : index.subscriptions();
    return pageOf(source, subscriptionTest({ ...filter, presentity, watcher }), infoOf, filter);
  }

  /** One subscription with its whole dialog state, by id (as listed). */
  getSubscription(id: string): SubscriptionDetail | undefined {
    const s = this.#ctx.index.subscription(id);
    return s === undefined ? undefined : { ...infoOf(s), ...dialogDetail(s) };
  }

  /** Publishes as a PUBLISH would (same checks, durability and notifications), minus SIP. */
  async publish(req: FacadePublishRequest): Promise<PublishResult> {
    const presentity = this.#normalise(req.presentity);
    if (presentity === undefined) return { ok: false, status: 400, reason: 'Bad presentity URI', headers: [] };
    const ctx = this.#ctx;
    let pkg = ctx.registry.get(req.event);
    if (pkg === undefined) {
      const ev = parseEvent(req.event);
      if (!(ev instanceof SipParseError)) pkg = ctx.registry.lookup(ev);
    }
    if (pkg === undefined || !pkg.publishable) {
      return { ok: false, status: 489, reason: 'Bad Event', headers: [['Allow-Events', ctx.registry.allowEvents().join(', ')]] };
    }
    if (this.#state !== 'running') return { ok: false, status: 503, reason: 'Service Unavailable', headers: [] };
    return this.#publish.publish({
      presentity,
      pkg,
      ifMatch: req.etag,
      expires: req.expires,
      contentType: req.contentType?.toLowerCase().split(';')[0]!.trim(),
      body: req.body,
      sender: req.sender,
    });
  }

  /**
   * Re-decides every watcher of a presentity (the rules changed: OpenSIPS refreshWatchers, Kamailio
   * pres_update_watchers) and sends each its current state: pending -> active with state, -> terminated;reason=
   * rejected, to or from polite-block (neutral state); watcher info is told. With forceActive (and for packages
   * without `authorize`) it only re-sends the state. Returns how many NOTIFYs were queued.
   */
  refreshWatchers(uri: string, event: string, type: 0 | 1 = 0): number {
    const presentity = this.#normalise(uri);
    if (presentity === undefined || this.#state !== 'running') return 0;
    const ctx = this.#ctx;
    const pkg = ctx.registry.get(event);
    if (pkg === undefined) return 0;
    if (type === 1) {
      // OpenSIPS refreshWatchers type 1: the state changed behind our back; authorization stands, state is re-sent.
      const entry = ctx.index.find(presentity, event);
      return entry === undefined ? 0 : this.#notifier.stateChanged(entry);
    }
    // Remembered waiting watchers count too, so the entry is needed even without subscriptions.
    const e = ctx.index.find(presentity, event) ?? ctx.index.peekOrTransient(presentity, pkg);
    return reauthorize(ctx, this.#notifier, this.#winfo, e).notified;
  }

  /**
   * The composite state of a presentity for one package (what watchers get before per-watcher processing), or
   * undefined when there is none. For hooks of the composition root (pres-rules sphere of the presence state).
   */
  compositeOf(uri: string, event: string): NotifyBody | undefined {
    const presentity = this.#normalise(uri);
    if (presentity === undefined) return undefined;
    const e = this.#ctx.index.find(presentity, event);
    const comp = e === undefined ? null : this.#notifier.composite(e);
    return comp === null ? undefined : { contentType: comp.contentType, body: comp.body };
  }

  // --- documents (XCAP-style rules, RFC 4825) -----------------------------------------------

  /** A user's document (owner: a URI, normalised to its AOR), e.g. ("sip:alice@example.com", "pres-rules", "index"). */
  getDocument(owner: string, auid: string, name: string): DocumentRecord | undefined {
    const aor = this.#normalise(owner);
    return aor === undefined ? undefined : this.#documents.get(aor, auid, name);
  }

  /**
   * Stores a document durably (the caller validated it), with RFC 4825 §7.11 preconditions (412). Nothing is
   * re-evaluated here: the caller decides what the change means (refreshWatchers).
   */
  async putDocument(w: DocumentWrite): Promise<DocumentResult> {
    const owner = this.#normalise(w.owner);
    if (owner === undefined) return { ok: false, status: 400, reason: 'Bad owner URI' };
    if (this.#state !== 'running') return { ok: false, status: 503, reason: 'Service Unavailable' };
    return this.#documents.put({ ...w, owner });
  }

  /** Deletes a document (404 when there is none, 412 when If-Match fails). */
  async deleteDocument(d: DocumentDelete): Promise<DocumentResult> {
    const owner = this.#normalise(d.owner);
    if (owner === undefined) return { ok: false, status: 400, reason: 'Bad owner URI' };
    if (this.#state !== 'running') return { ok: false, status: 503, reason: 'Service Unavailable' };
    return this.#documents.delete({ ...d, owner });
  }

  /** Owners with a document of `auid`. */
  documentOwners(auid: string): string[] {
    return this.#documents.owners(auid);
  }

  /** Runs an expiry sweep now (OpenSIPS cleanup). */
  cleanup(): SweepResult {
    return this.#sweeper.sweep();
  }

  stats(): CoreStats {
    const c = this.#ctx.counters;
    const events: Record<string, EventCounts> = {};
    for (const [k, v] of this.#ctx.index.countsByEvent()) events[k] = v;
    return {
      events,
      subscriptions: this.#ctx.index.subscriptionCount,
      publish: { accepted: c.publishAccepted, rejected: c.publishRejected },
      subscribe: { accepted: c.subscribeAccepted, rejected: c.subscribeRejected },
      notify: { sent: c.notifySent, failed: c.notifyFailed, queued: c.notifyQueued, inFlight: c.notifyInFlight },
      recoveryPending: this.#pacer?.remaining ?? 0,
      storeFailures: c.storeFailures,
    };
  }

  // --- internals ----------------------------------------------------------------------------

  #accepting(tx: ServerTransaction): boolean {
    if (this.#state === 'running') return true;
    // Not loaded yet, or shutting down: RFC 3261 §21.5.4, 503 with Retry-After.
    reply(tx, 503, { headers: [['Retry-After', String(this.#ctx.config.retryAfter)]] }, this.#ctx.logger);
    return false;
  }

  #normalise(uri: string): string | undefined {
    const u = parseUri(uri.trim());
    return u instanceof SipParseError ? undefined : aorKey(u);
  }

  /** RFC 6665 §4.2.2: the NOTIFY failed in a way that ends the subscription. */
  #endAfterDeliveryFailure(sub: Subscription, reason: DeliveryFailure): void {
    const ctx = this.#ctx;
    if (!ctx.index.removeSubscription(sub)) return;
    const wasPending = sub.status === 'pending';
    ctx
      .track(ctx.store.write([{ kind: 'delete-subscription', id: sub.id }, ...this.#winfo.endedMutations(sub, ctx.now())]))
      .catch((err: unknown) => ctx.logger.warn({ err, id: sub.id }, 'subscription removal not stored'));
    this.#winfo.ended(sub, 'timeout', wasPending);
    ctx.events.emit({
      type: 'subscription-terminated',
      id: sub.id,
      presentity: sub.entry.presentity,
      event: sub.entry.pkg.name,
      watcher: sub.watcher,
      reason,
    });
  }
}
