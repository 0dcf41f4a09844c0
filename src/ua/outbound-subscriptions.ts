/**
 * Subscriptions presenced holds as a client, on behalf of a watcher (OpenSIPS/Kamailio pua_subscribe, the
 * API's POST /api/subscribe): it subscribes to a presentity's server, keeps the subscription alive, answers
 * its NOTIFYs and reports each as a `notify-in` event.
 *
 * The presentity's server may be presenced itself: the composition root routes such SUBSCRIBEs to our own
 * listener over loopback, so they are real SIP, handled by the core like any other watcher's.
 *
 * The manager owns the table of subscriptions, matches incoming NOTIFYs to them (Call-ID and our From tag;
 * anything else gets 481, RFC 6665 §4.1.3), and keeps the durable records (outbound-record-store.ts): a
 * subscription survives a restart, re-subscribed with a new dialog.
 */
import { aorKey, parseEvent, parseMediaType, parseUri, SipParseError, createResponse, type SipUri } from '../sip/index.js';
import { newTag, newToken, TimerQueue, type Clock, type RequestSender, type ServerTransaction } from '../transaction/index.js';
import type { Destination } from '../transport/index.js';
import type { Logger } from '../observability/index.js';
import type { OutboundRecord, OutboundRecordStore } from './outbound-record-store.js';
import { OutboundSubscription } from './outbound-subscription.js';
import type { OutboundContext, OutboundEvent, OutboundInfo, OutboundState } from './outbound-types.js';
import type { DialogIds } from './subscriber-dialog.js';

/** Where the requests of a subscription go, and the Contact its NOTIFYs should come back to. */
export interface OutboundRoute {
  readonly destination: Destination;
  readonly contact: string;
}

/** POST /api/subscribe, in the manager's terms. */
export interface OutboundRequest {
  readonly presentity: string;
  readonly watcher: string;
  /** Default "presence". */
  readonly event?: string;
  /** Seconds; default 3600. */
  readonly expires?: number;
  /** Next hop ("sip:host:port", ";transport=tcp" for TCP); default: our own listener for local presentities. */
  readonly target?: string;
  /** Accept values; default: the package's usual body type. */
  readonly accept?: readonly string[];
}

export type OutboundResult =
  | { readonly ok: true; readonly created: boolean; readonly subscription: OutboundInfo }
  | { readonly ok: false; readonly status: 400 | 429 | 500 | 503; readonly reason: string };

export interface OutboundSubscriptionsOptions {
  readonly sender: RequestSender;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly store: OutboundRecordStore;
  /**
   * Route for a subscription: `target` when the request named one, else (undefined target) the presentity's
   * own server, which is our listener when the presentity is ours. Undefined: no route (the API answers 400).
   */
  route(presentity: SipUri, target: SipUri | undefined): OutboundRoute | undefined;
  readonly userAgent?: string;
  /** Live subscriptions at most (default 1000). */
  readonly maxSubscriptions?: number;
  /** Longest expires accepted from the API, seconds (default 86400). */
  readonly maxExpires?: number;
  readonly t1Ms?: number;
  readonly retryBaseMs?: number;
  readonly retryMaxMs?: number;
  readonly stableMs?: number;
  /** How long a subscription refused for good stays listed (default 1 h). */
  readonly keepTerminatedMs?: number;
  /** Restored subscriptions start this far apart, so a restart does not burst (default 20 ms). */
  readonly restartSpacingMs?: number;
  readonly random?: () => number;
}

export interface OutboundStats {
  readonly subscriptions: number;
  readonly byState: Readonly<Partial<Record<OutboundState, number>>>;
  readonly notifiesReceived: number;
  /** NOTIFYs that matched none of our subscriptions (answered 481). */
  readonly notifiesUnmatched: number;
}

/** RFC 6665 §7.2 / each package's RFC: the body type a subscriber gets when it sends no Accept. */
const DEFAULT_ACCEPT: Readonly<Record<string, readonly string[]>> = {
  presence: ['application/pidf+xml'],
  'presence.winfo': ['application/watcherinfo+xml'],
  dialog: ['application/dialog-info+xml'],
  'message-summary': ['application/simple-message-summary'],
};

const MAX_ACCEPT = 8;

function bindKey(ids: DialogIds): string {
  return `${ids.callId.length}:${ids.callId}${ids.localTag}`;
}

function sipUri(text: string): SipUri | undefined {
  const u = parseUri(text.trim());
  return u instanceof SipParseError || u.scheme === 'tel' || u.host === '' ? undefined : u;
}

export class OutboundSubscriptions {
  readonly #o: OutboundSubscriptionsOptions;
  readonly #timers: TimerQueue;
  readonly #ctx: OutboundContext;
  readonly #subs = new Map<string, OutboundSubscription>();
  readonly #byDialog = new Map<string, OutboundSubscription>();
  readonly #listeners = new Set<(e: OutboundEvent) => void>();
  readonly #max: number;
  readonly #maxExpires: number;
  #running = false;
  #received = 0;
  #unmatched = 0;

  constructor(options: OutboundSubscriptionsOptions) {
    this.#o = options;
    const log = options.logger;
    this.#timers = new TimerQueue(options.clock, (err) => log.error({ err }, 'outbound subscription timer threw'));
    this.#max = options.maxSubscriptions ?? 1000;
    this.#maxExpires = options.maxExpires ?? 86_400;
    const subs = this.#subs;
    const byDialog = this.#byDialog;
    const keep = options.keepTerminatedMs ?? 3_600_000;
    this.#ctx = {
      sender: options.sender,
      timers: this.#timers,
      clock: options.clock,
      wallNow: () => options.clock.wallNow(),
      logger: log,
      t1: options.t1Ms ?? 500,
      retryBaseMs: options.retryBaseMs ?? 5000,
      retryMaxMs: options.retryMaxMs ?? 300_000,
      stableMs: options.stableMs ?? 60_000,
      random: options.random ?? Math.random,
      bind: (ids, sub) => byDialog.set(bindKey(ids), sub),
      unbind: (ids, sub) => {
        const k = bindKey(ids);
        if (byDialog.get(k) === sub) byDialog.delete(k);
      },
      emit: (e) => this.#emit(e),
      terminated: (sub) => {
        options.store.delete(sub.record.id).catch((err: unknown) => log.warn({ err, id: sub.record.id }, 'outbound subscription record not removed'));
        this.#timers.schedule(keep, () => {
          if (subs.get(sub.record.id) === sub && sub.state === 'terminated') subs.delete(sub.record.id);
        });
      },
      gone: (sub) => {
        if (subs.get(sub.record.id) === sub) subs.delete(sub.record.id);
      },
    };
  }

  /** Loads the durable records and subscribes again, paced (restartSpacingMs apart). */
  async start(): Promise<void> {
    const records = await this.#o.store.load();
    const spacing = this.#o.restartSpacingMs ?? 20;
    let i = 0;
    for (const r of records) {
      const made = this.#make(r);
      if (made === undefined) {
        this.#o.logger.warn({ id: r.id, presentity: r.presentity, target: r.target }, 'stored outbound subscription has no route; skipped');
        continue;
      }
      made.start(i++ * spacing);
    }
    this.#running = true;
    if (records.length > 0) this.#o.logger.info({ subscriptions: this.#subs.size }, 'outbound subscriptions restored');
  }

  /** Timers off; nothing is sent: the notifiers' subscriptions lapse or get 481, and start() re-creates ours. */
  async stop(): Promise<void> {
    this.#running = false;
    for (const s of this.#subs.values()) s.stop();
    this.#timers.stop();
  }

  onEvent(listener: (e: OutboundEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  list(): OutboundInfo[] {
    return [...this.#subs.values()].map((s) => s.info());
  }

  get(id: string): OutboundInfo | undefined {
    return this.#subs.get(id)?.info();
  }

  stats(): OutboundStats {
    const byState: Partial<Record<OutboundState, number>> = {};
    for (const s of this.#subs.values()) byState[s.state] = (byState[s.state] ?? 0) + 1;
    return { subscriptions: this.#subs.size, byState, notifiesReceived: this.#received, notifiesUnmatched: this.#unmatched };
  }

  /** Starts a subscription (durable before it resolves); an identical live one is returned instead. */
  async create(req: OutboundRequest): Promise<OutboundResult> {
    if (!this.#running) return { ok: false, status: 503, reason: 'not running' };
    const presentity = sipUri(req.presentity);
    if (presentity === undefined) return { ok: false, status: 400, reason: 'presentity: expected a sip: or sips: URI' };
    const watcher = sipUri(req.watcher);
    if (watcher === undefined) return { ok: false, status: 400, reason: 'watcher: expected a sip: or sips: URI' };
    const event = (req.event ?? 'presence').trim();
    const ev = parseEvent(event);
    if (ev instanceof SipParseError) return { ok: false, status: 400, reason: `event: ${ev.message}` };
    const expires = req.expires ?? 3600;
    if (!Number.isInteger(expires) || expires < 1 || expires > this.#maxExpires) {
      return { ok: false, status: 400, reason: `expires: expected whole seconds between 1 and ${this.#maxExpires}` };
    }
    let target: SipUri | undefined;
    if (req.target !== undefined) {
      target = sipUri(req.target);
      if (target === undefined) return { ok: false, status: 400, reason: 'target: expected a SIP URI such as sip:presence.example.com:5060' };
    }
    const accept = req.accept ?? DEFAULT_ACCEPT[ev.type] ?? [];
    if (accept.length > MAX_ACCEPT) return { ok: false, status: 400, reason: `accept: at most ${MAX_ACCEPT} media types` };
    for (const a of accept) {
      if (parseMediaType(a) instanceof SipParseError) return { ok: false, status: 400, reason: `accept: bad media type ${a}` };
    }
    if (this.#o.route(presentity, target) === undefined) {
      return { ok: false, status: 400, reason: 'no route to the presentity\'s server: give target (sip:host:port)' };
    }
    const same = this.#findSame(aorKey(presentity), aorKey(watcher), event, req.target?.trim());
    if (same !== undefined) return { ok: true, created: false, subscription: same.info() };
    if (this.#subs.size >= this.#max) {
      return { ok: false, status: 429, reason: `too many outbound subscriptions (at most ${this.#max})` };
    }
    const record: OutboundRecord = {
      id: newToken(12),
      presentity: req.presentity.trim(),
      watcher: req.watcher.trim(),
      event,
      expires,
      target: req.target?.trim(),
      accept: [...accept],
      createdAt: this.#o.clock.wallNow(),
    };
    try {
      await this.#o.store.put(record);
    } catch (err) {
      this.#o.logger.error({ err }, 'outbound subscription not stored');
      return { ok: false, status: 500, reason: 'the subscription could not be stored' };
    }
    // Re-checked: the store write yielded, and the limit or a stop may have come meanwhile.
    if (!this.#running || this.#subs.size >= this.#max) {
      await this.#o.store.delete(record.id).catch(() => undefined);
      return this.#running ? { ok: false, status: 429, reason: `too many outbound subscriptions (at most ${this.#max})` } : { ok: false, status: 503, reason: 'not running' };
    }
    const sub = this.#make(record)!;
    sub.start(0);
    return { ok: true, created: true, subscription: sub.info() };
  }

  /** Unsubscribes (RFC 6665 §4.1.2.3) and forgets the record; undefined when there is no such subscription. */
  async remove(id: string): Promise<OutboundResult | undefined> {
    const sub = this.#subs.get(id);
    if (sub === undefined) return undefined;
    try {
      await this.#o.store.delete(id);
    } catch (err) {
      this.#o.logger.error({ err, id }, 'outbound subscription record not removed');
      return { ok: false, status: 500, reason: 'the subscription record could not be removed' };
    }
    if (sub.state === 'terminated') this.#subs.delete(id);
    else sub.unsubscribe();
    return { ok: true, created: false, subscription: sub.info() };
  }

  /**
   * A NOTIFY that the router hands over (in-dialog: it has a To tag). Ours when its Call-ID and To tag are those
   * of one of our attempts; anything else is answered 481 (RFC 6665 §4.1.3, RFC 3261 §12.2.2).
   */
  handleNotify(tx: ServerTransaction): void {
    const toTag = tx.core.to.params.get('tag');
    const sub = typeof toTag === 'string' ? this.#byDialog.get(bindKey({ callId: tx.core.callId, localTag: toTag })) : undefined;
    if (sub === undefined) {
      this.#unmatched++;
      tx.respond(createResponse(tx.request, tx.core, 481, { toTag: newTag(), reason: 'Subscription Does Not Exist' }));
      return;
    }
    this.#received++;
    sub.handleNotify(tx);
  }

  /** True when this request is one of our own SUBSCRIBEs (for an authentication gate to let it through). */
  ownsRequest(callId: string, fromTag: string | undefined): boolean {
    return fromTag !== undefined && this.#byDialog.has(bindKey({ callId, localTag: fromTag }));
  }

  #make(record: OutboundRecord): OutboundSubscription | undefined {
    const presentity = sipUri(record.presentity);
    const target = record.target === undefined ? undefined : sipUri(record.target);
    if (presentity === undefined || (record.target !== undefined && target === undefined)) return undefined;
    const route = this.#o.route(presentity, target);
    if (route === undefined) return undefined;
    const sub = new OutboundSubscription(
      this.#ctx,
      record,
      {
        presentity: record.presentity,
        watcher: record.watcher,
        event: record.event,
        accept: record.accept,
        contact: route.contact,
        userAgent: this.#o.userAgent,
      },
      route.destination,
    );
    this.#subs.set(record.id, sub);
    return sub;
  }

  #findSame(presentity: string, watcher: string, event: string, target: string | undefined): OutboundSubscription | undefined {
    for (const s of this.#subs.values()) {
      const r = s.record;
      if (s.state === 'terminated' || s.state === 'unsubscribing') continue;
      if (r.event !== event || r.target !== target) continue;
      const p = sipUri(r.presentity);
      const w = sipUri(r.watcher);
      if (p !== undefined && w !== undefined && aorKey(p) === presentity && aorKey(w) === watcher) return s;
    }
    return undefined;
  }

  #emit(e: OutboundEvent): void {
    for (const l of this.#listeners) {
      try {
        l(e);
      } catch (err) {
        this.#o.logger.error({ err }, 'outbound subscription listener threw');
      }
    }
  }
}
