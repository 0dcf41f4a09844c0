/**
 * Watcher information (RFC 3857 template packages such as presence.winfo, bodies per RFC 3858) from the core's
 * own state: the subscriptions of (presentity, watched package) and the remembered pending or waiting watchers
 * (the store's watchers table, Kamailio's `watchers`).
 *
 * - The package builds the document (`watcherInfoBody`); the core decides what changed and when: a new watcher
 *   or a status change gives a partial document, a watcher leaving gives full state (as Kamailio and OpenSIPS do
 *   after an unsubscribe), and a SUBSCRIBE to watcher info always gets full state (RFC 3857 §4.3).
 * - Changes coalesce per watcher-info subscription: while its NOTIFY is outstanding they are merged, latest state
 *   per watcher, and sent in one document.
 * - A subscription that ends while pending leaves a `waiting` watcher (RFC 3857 §3.3, event timeout), remembered
 *   `waitingSubsDays` days so that the presentity can still see and allow it; then it is given up (event giveup).
 */
import { parseNameAddr, SipParseError } from '../sip/index.js';
import type { StoreMutation, WatcherRecord } from '../store/store.js';
import type { CoreContext } from './context.js';
import {
  WATCHER_INFO_EVENTS,
  watcherItemId,
  type EventPackage,
  type WatcherContext,
  type WatcherInfoEvent,
  type WatcherInfoItem,
  type WatcherInfoStatus,
} from './event-package.js';
import { own, WinfoDelta, type Subscription } from './presentity-index.js';

const DAY_MS = 86_400_000;

/**
 * Remembered (pending/waiting) watchers per presentity: beyond this, new ones are not remembered, so a flood of
 * SUBSCRIBEs from made-up watchers cannot grow memory for waitingSubsDays days. Their subscriptions still count.
 */
export const MAX_REMEMBERED_PER_PRESENTITY = 1000;

const EVENTS: ReadonlySet<string> = new Set(WATCHER_INFO_EVENTS);

/** The RFC 3857 event for a subscription that ended with `reason` (RFC 6665 reasons map onto RFC 3857 events). */
export function endEvent(reason: string): WatcherInfoEvent {
  return EVENTS.has(reason) && reason !== 'subscribe' && reason !== 'approved' ? (reason as WatcherInfoEvent) : 'timeout';
}

function displayNameOf(nameAddr: string): string | undefined {
  const na = parseNameAddr(nameAddr);
  return na instanceof SipParseError ? undefined : na.displayName;
}

function recordKey(presentity: string, event: string): string {
  return `${event} ${presentity}`;
}

export class WatcherInfo {
  readonly #ctx: CoreContext;
  /** Watched package name -> the watcher-info packages reporting it. */
  readonly #byWatched = new Map<string, EventPackage[]>();
  /** (watched event, presentity) -> watcher AOR -> remembered pending/waiting watcher. */
  readonly #records = new Map<string, Map<string, WatcherRecord>>();
  #recordCount = 0;
  #request: (sub: Subscription) => void = () => undefined;
  /** Inside batch(): watcher-info subscriptions to notify once the batch ends. */
  #batching = 0;
  readonly #due = new Set<Subscription>();

  constructor(ctx: CoreContext) {
    this.#ctx = ctx;
    for (const p of ctx.registry.packages()) {
      if (p.winfoOf === undefined || p.watcherInfoBody === undefined) continue;
      let list = this.#byWatched.get(p.winfoOf);
      if (list === undefined) this.#byWatched.set(p.winfoOf, (list = []));
      list.push(p);
    }
  }

  /** How a changed watcher-info subscription asks for its NOTIFY (the notifier; set once at wiring). */
  attach(request: (sub: Subscription) => void): void {
    this.#request = request;
  }

  /**
   * Runs `fn` and sends what it reported in one NOTIFY per watcher-info subscription, instead of a first NOTIFY
   * with the first change and a second one with the rest (refreshWatchers, expiry sweeps).
   */
  batch(fn: () => void): void {
    this.#batching++;
    try {
      fn();
    } finally {
      if (--this.#batching === 0 && this.#due.size > 0) {
        const due = [...this.#due];
        this.#due.clear();
        for (const ws of due) this.#request(ws);
      }
    }
  }

  /** Whether some watcher-info package reports the watchers of `event` (only then are watchers remembered). */
  watches(event: string): boolean {
    return this.#byWatched.has(event);
  }

  get recordCount(): number {
    return this.#recordCount;
  }

  // --- remembered watchers (the watchers table) ----------------------------------------------

  /**
   * Takes the stored watchers at start-up: pending and waiting ones of watched packages are remembered; those
   * past `waitingSubsDays` are dropped (returned as deletions). Other records are left alone.
   */
  load(records: readonly WatcherRecord[], now: number): StoreMutation[] {
    const drop: StoreMutation[] = [];
    const limit = this.#ctx.config.waitingSubsDays * DAY_MS;
    for (const r of records) {
      if (!this.watches(r.event) || (r.status !== 'pending' && r.status !== 'waiting')) continue;
      if (r.insertedAt + limit <= now) {
        drop.push({ kind: 'delete-watcher', presentity: r.presentity, watcher: r.watcher, event: r.event });
        continue;
      }
      this.#put(r);
    }
    return drop;
  }

  /** Remembered watchers of (presentity, event), for re-authorization. */
  records(presentity: string, event: string): WatcherRecord[] {
    const m = this.#records.get(recordKey(presentity, event));
    return m === undefined ? [] : [...m.values()];
  }

  /** Remembers a watcher; false when the presentity has too many remembered already (nothing changed). */
  #put(r: WatcherRecord): boolean {
    const key = recordKey(r.presentity, r.event);
    let m = this.#records.get(key);
    if (m === undefined) this.#records.set(key, (m = new Map()));
    if (!m.has(r.watcher)) {
      if (m.size >= MAX_REMEMBERED_PER_PRESENTITY) return false;
      this.#recordCount++;
    }
    m.set(r.watcher, r);
    return true;
  }

  #delete(presentity: string, event: string, watcher: string): WatcherRecord | undefined {
    const key = recordKey(presentity, event);
    const m = this.#records.get(key);
    const r = m?.get(watcher);
    if (m === undefined || r === undefined) return undefined;
    m.delete(watcher);
    this.#recordCount--;
    if (m.size === 0) this.#records.delete(key);
    return r;
  }

  /**
   * A subscription was just accepted: a pending one is remembered (so it outlives its subscription), an active
   * one clears what was remembered of that watcher. Applied in memory; returns the store mutations.
   */
  accepted(sub: Subscription, displayName: string | undefined, now: number): StoreMutation[] {
    const event = sub.entry.pkg.name;
    if (!this.watches(event)) return [];
    const presentity = sub.entry.presentity;
    if (sub.status === 'pending') {
      const record: WatcherRecord = {
        presentity,
        watcher: sub.watcher,
        event,
        status: 'pending',
        reason: 'subscribe',
        displayName: own(displayName),
        insertedAt: now,
      };
      return this.#put(record) ? [{ kind: 'put-watcher', record }] : [];
    }
    return this.forget(presentity, event, sub.watcher);
  }

  /** A subscription ended: a pending one leaves a waiting watcher behind (RFC 3857 §3.3). */
  endedMutations(sub: Subscription, now: number): StoreMutation[] {
    const event = sub.entry.pkg.name;
    if (!this.watches(event) || sub.status !== 'pending') return [];
    const record: WatcherRecord = {
      presentity: sub.entry.presentity,
      watcher: sub.watcher,
      event,
      status: 'waiting',
      reason: 'timeout',
      displayName: displayNameOf(sub.dialog.remoteUri),
      insertedAt: now,
    };
    return this.#put(record) ? [{ kind: 'put-watcher', record }] : [];
  }

  /** The remembered watcher, if any (to restore it when a write fails). */
  peek(presentity: string, event: string, watcher: string): WatcherRecord | undefined {
    return this.#records.get(recordKey(presentity, event))?.get(watcher);
  }

  /** Puts back what peek() returned before a change whose write failed. */
  restore(presentity: string, event: string, watcher: string, previous: WatcherRecord | undefined): void {
    this.#delete(presentity, event, watcher);
    if (previous !== undefined) this.#put(previous);
  }

  /** The watcher was decided (approved or rejected) or re-subscribed as active: nothing more to remember. */
  forget(presentity: string, event: string, watcher: string): StoreMutation[] {
    return this.#delete(presentity, event, watcher) === undefined ? [] : [{ kind: 'delete-watcher', presentity, watcher, event }];
  }

  /**
   * Gives up watchers remembered longer than `waitingSubsDays` with no live subscription (Kamailio
   * waiting_subs_daysno): deleted, and reported once as terminated with event giveup.
   */
  sweep(now: number, mutations: StoreMutation[]): number {
    if (this.#recordCount === 0) return 0;
    const limit = this.#ctx.config.waitingSubsDays * DAY_MS;
    const due: WatcherRecord[] = [];
    for (const m of this.#records.values()) {
      for (const r of m.values()) if (r.insertedAt + limit <= now && !this.#hasLiveSubscription(r)) due.push(r);
    }
    for (const r of due) {
      this.#delete(r.presentity, r.event, r.watcher);
      mutations.push({ kind: 'delete-watcher', presentity: r.presentity, watcher: r.watcher, event: r.event });
      this.recordDecided(r, 'giveup');
    }
    return due.length;
  }

  #hasLiveSubscription(r: WatcherRecord): boolean {
    const entry = this.#ctx.index.find(r.presentity, r.event);
    if (entry === undefined) return false;
    for (const s of entry.subs) if (s.watcher === r.watcher) return true;
    return false;
  }

  // --- changes to report ---------------------------------------------------------------------

  /** A new watcher (RFC 3857 event subscribe): partial state. */
  created(sub: Subscription): void {
    if (this.watches(sub.entry.pkg.name)) this.#dispatch(sub.entry.presentity, sub.entry.pkg.name, () => this.#itemOfSub(sub, this.#ctx.now()), false);
  }

  /** A watcher's status changed (approved, polite-blocked ...): partial state. */
  statusChanged(sub: Subscription): void {
    this.created(sub);
  }

  /**
   * A watcher left (unsubscribe, expiry, NOTIFY failure, rejection): full state, carrying the leaver once as
   * terminated with its RFC 3857 event. A pending one that left is reported as the waiting watcher it became.
   */
  ended(sub: Subscription, reason: string, wasPending: boolean): void {
    const event = sub.entry.pkg.name;
    if (!this.watches(event)) return;
    const item = wasPending && reason === 'timeout'
      ? undefined // the remembered waiting watcher is in the full state already
      : (): WatcherInfoItem => ({ ...this.#itemOfSub(sub, this.#ctx.now()), status: 'terminated', event: endEvent(reason), expiration: undefined });
    this.#dispatch(sub.entry.presentity, event, item, true);
  }

  /** A remembered watcher was decided without a subscription (approved, rejected, given up): partial state. */
  recordDecided(r: WatcherRecord, event: WatcherInfoEvent): void {
    this.#dispatch(r.presentity, r.event, () => ({ ...this.#itemOfRecord(r), status: 'terminated', event }), false);
  }

  /** Records a change for every active watcher-info subscriber of the presentity; the item is built only if there is one. */
  #dispatch(presentity: string, watched: string, build: (() => WatcherInfoItem) | undefined, full: boolean): void {
    const pkgs = this.#byWatched.get(watched);
    if (pkgs === undefined) return;
    let item: WatcherInfoItem | undefined;
    for (const pkg of pkgs) {
      if (!this.#ctx.index.hasSubscriptions(pkg.name)) continue;
      const entry = this.#ctx.index.find(presentity, pkg.name);
      if (entry === undefined) continue;
      for (const ws of entry.subs) {
        if (ws.status !== 'active') continue;
        if (item === undefined && build !== undefined) item = build();
        const delta = (ws.winfo ??= new WinfoDelta());
        if (full) delta.full = true;
        if (item !== undefined) {
          if (full) {
            delta.changed.delete(item.id);
            delta.ended.set(item.id, item);
          } else {
            delta.ended.delete(item.id);
            delta.changed.set(item.id, item);
          }
        }
        if (this.#batching > 0) this.#due.add(ws);
        else this.#request(ws);
      }
    }
  }

  // --- bodies --------------------------------------------------------------------------------

  /** The body of the next NOTIFY of a watcher-info subscription; consumes its pending changes. */
  body(ws: Subscription, ctx: WatcherContext): string | undefined {
    const pkg = ws.entry.pkg;
    const watched = pkg.winfoOf;
    if (watched === undefined || pkg.watcherInfoBody === undefined) return undefined;
    const delta = ws.winfo;
    ws.winfo = undefined;
    const resource = ws.entry.presentity;
    const watchers = this.#current(resource, watched);
    const full = ctx.fullState || delta === undefined || delta.full || delta.changed.size === 0;
    if (full && delta !== undefined && delta.ended.size > 0) {
      const present = new Set(watchers.map((w) => w.id));
      for (const e of delta.ended.values()) if (!present.has(e.id)) watchers.push(e);
    }
    const changed = full ? undefined : [...delta.changed.values()];
    try {
      return pkg.watcherInfoBody({ resource, watchers, changed }, ctx);
    } catch (err) {
      this.#ctx.logger.error({ err, event: pkg.name }, 'package watcherInfoBody() threw');
      return undefined;
    }
  }

  /** Every watcher of (presentity, watched): its subscriptions, then remembered watchers without one. */
  #current(presentity: string, watched: string): WatcherInfoItem[] {
    const now = this.#ctx.now();
    const out: WatcherInfoItem[] = [];
    const entry = this.#ctx.index.find(presentity, watched);
    const live = new Set<string>();
    if (entry !== undefined) {
      for (const sub of entry.subs) {
        if (!sub.ready) continue; // not answered yet
        live.add(sub.watcher);
        out.push(this.#itemOfSub(sub, now));
      }
    }
    const m = this.#records.get(recordKey(presentity, watched));
    if (m !== undefined) {
      for (const r of m.values()) if (!live.has(r.watcher)) out.push(this.#itemOfRecord(r));
    }
    return out;
  }

  #itemOfSub(sub: Subscription, now: number): WatcherInfoItem {
    const pending = sub.status === 'pending';
    const status: WatcherInfoStatus = pending ? 'pending' : 'active';
    return {
      id: watcherItemId(sub.id),
      uri: sub.watcher,
      status,
      // RFC 3857 §3.3: "approved" once a pending watcher was allowed, else the SUBSCRIBE that created it.
      event: !pending && sub.reason === 'approved' ? 'approved' : 'subscribe',
      displayName: displayNameOf(sub.dialog.remoteUri),
      durationSubscribed: Math.max(0, Math.floor((now - sub.createdAt) / 1000)),
      expiration: Math.max(0, Math.ceil((sub.expiresAt - now) / 1000)),
    };
  }

  #itemOfRecord(r: WatcherRecord): WatcherInfoItem {
    const reason = r.reason;
    return {
      id: watcherItemId(`${r.presentity}\n${r.watcher}\n${r.event}`),
      uri: r.watcher,
      // A pending record without its subscription is a watcher waiting for a decision.
      status: 'waiting',
      event: reason !== undefined && EVENTS.has(reason) && reason !== 'subscribe' ? (reason as WatcherInfoEvent) : 'timeout',
      displayName: r.displayName,
    };
  }
}
