/**
 * Hot state in memory; the store is only the durable copy. Per (presentity, package): the live publications
 * (by entity-tag), the composite body cached once per change (not computed per watcher), and the
 * subscriptions watching it. Subscriptions are also found by id (dialog id + event + Event id), and both
 * kinds sit in an expiry heap.
 *
 * Memory matters here (100k+ subscriptions): records are class instances with a fixed shape, arrays and
 * maps that are usually empty are shared constants, and strings are kept once.
 */
import type { Destination } from '../transport/types.js';
import type { TimerHandle } from '../transaction/index.js';
import type { DialogState } from '../dialog/index.js';
import { copyDialog } from '../dialog/index.js';
import type { SubscriptionStatus } from '../subscription/index.js';
import type { EventParam, FlowRecord, PublicationRecord, SubscriptionRecord } from '../store/store.js';
import type { EventPackage, NotifyBody, PublicationView, WatcherInfoItem } from './event-package.js';
import { ExpiryHeap, type HeapItem } from './expiry-heap.js';

/**
 * A copy of `s` that shares no memory with the string it came from. Header values are slices of the whole
 * received message text, and AORs are concatenations of such slices: kept for an hour in a subscription,
 * each would pin its whole SUBSCRIBE in memory. The JSON round trip yields one flat string of exactly the
 * same content (a `slice` would add a 32-byte sliced-string header); strings shorter than V8's
 * sliced-string minimum (13) are already copies.
 */
export function own(s: string): string;
export function own(s: string | undefined): string | undefined;
export function own(s: string | undefined): string | undefined {
  return s === undefined || s.length < 13 ? s : (JSON.parse(JSON.stringify(s)) as string);
}

const internedLists = new Map<string, readonly string[]>();

/**
 * One shared frozen array per distinct list of short tokens (Accept lists: nearly every subscriber sends
 * the same one). Bounded: past 256 distinct lists, new ones are simply copied.
 */
export function internList(list: readonly string[]): readonly string[] {
  if (list.length === 0) return EMPTY_LIST;
  const key = list.join('\n');
  const hit = internedLists.get(key);
  if (hit !== undefined) return hit;
  const copy = Object.freeze(list.map((x) => own(x)));
  if (internedLists.size < 256) internedLists.set(own(key), copy);
  return copy;
}

export const EMPTY_PARAMS: ReadonlyMap<string, string | null> = new Map();
export const EMPTY_LIST: readonly string[] = Object.freeze([]);

/** One publication (RFC 3903 entity). Immutable: refresh and modify make a new one under the new entity-tag. */
export class Publication implements HeapItem, PublicationView {
  heapIndex = -1;
  constructor(
    readonly presentity: string,
    readonly event: string,
    readonly etag: string,
    readonly expiresAt: number,
    readonly receivedAt: number,
    readonly contentType: string,
    readonly body: string,
    readonly sender: string | undefined,
    /** Not stored: after a restart the first composite of a presentity is composed in full. */
    readonly standalone = false,
  ) {}

  static fromRecord(r: PublicationRecord): Publication {
    return new Publication(r.presentity, r.event, r.etag, r.expiresAt, r.receivedAt, r.contentType, r.body, r.sender);
  }

  toRecord(): PublicationRecord {
    return {
      presentity: this.presentity,
      event: this.event,
      etag: this.etag,
      expiresAt: this.expiresAt,
      receivedAt: this.receivedAt,
      contentType: this.contentType,
      body: this.body,
      sender: this.sender,
    };
  }
}

/** The cached composite state: the text for packages, the bytes for the wire (encoded once per change). */
export interface Composite extends NotifyBody {
  readonly bytes: Buffer;
}

const NO_PUBS: readonly Publication[] = Object.freeze([]);

/** All state of one presentity for one package. */
export class PresentityState {
  /**
   * Live publications, in the order their bodies last changed (initial or modify), oldest first. Only the index
   * changes it; until the first publication it is one shared empty array (a watched presentity often has none).
   */
  pubs: readonly Publication[] = NO_PUBS;
  readonly subs = new Set<Subscription>();
  /** undefined: stale; null: no state; else the composite. */
  composite: Composite | null | undefined = undefined;
  /** Operations in progress across an await (store write): the entry must stay indexed until they end. */
  busy = 0;

  constructor(
    readonly presentity: string,
    readonly pkg: EventPackage,
  ) {}

  get event(): string {
    return this.pkg.name;
  }

  findPublication(etag: string): Publication | undefined {
    for (const p of this.pubs) if (p.etag === etag) return p;
    return undefined;
  }

  isEmpty(): boolean {
    return this.pubs.length === 0 && this.subs.size === 0 && this.busy === 0;
  }
}

/**
 * The Event header of every NOTIFY of a subscription (RFC 6665 §8.2.1): the event type with the SUBSCRIBE's
 * parameters (filters, `sla`) and its `id`. Without extra parameters it is the package name, shared, not copied.
 */
export function eventHeaderOf(pkgName: string, params: ReadonlyMap<string, string | null>, eventId: string | undefined): string {
  let head = pkgName;
  if (params.size > 0) {
    const semi = pkgName.indexOf(';');
    head = semi < 0 ? pkgName : pkgName.slice(0, semi);
    for (const [k, v] of params) head += v === null ? `;${k}` : `;${k}=${v}`;
  }
  return eventId === undefined ? head : `${head};id=${eventId}`;
}

/** Record form of Event parameters: undefined when there are none. */
export function paramsToRecord(params: ReadonlyMap<string, string | null>): EventParam[] | undefined {
  return params.size === 0 ? undefined : [...params];
}

export function paramsFromRecord(params: readonly EventParam[] | undefined): ReadonlyMap<string, string | null> {
  return params === undefined || params.length === 0 ? EMPTY_PARAMS : new Map(params);
}

/** Watcher changes waiting for the next watcher-info NOTIFY of one subscription (coalesced, latest wins). */
export class WinfoDelta {
  /** A watcher left: the next document carries full state (plus the leavers, once). */
  full = false;
  readonly changed = new Map<string, WatcherInfoItem>();
  readonly ended = new Map<string, WatcherInfoItem>();
}

/** One subscription, notifier side: subscription state, its dialog, its delivery flow, and NOTIFY bookkeeping. */
export class Subscription implements HeapItem {
  heapIndex = -1;
  /** The 2xx to the SUBSCRIBE has been sent: NOTIFYs may go (never a NOTIFY for an unacknowledged subscription). */
  ready = false;
  /** Out of the index (unsubscribed, expired, failed); a pending final NOTIFY may still go. */
  removed = false;
  /** A NOTIFY is outstanding (at most one per dialog). */
  inFlight = false;
  /** State changed while a NOTIFY was outstanding or rate-limited: send the latest state afterwards. */
  dirty = false;
  /** The next NOTIFY follows a SUBSCRIBE (full state for packages that send partial state). */
  fullState = true;
  /** Termination reason of the final NOTIFY still to send. */
  final: string | undefined = undefined;
  rateTimer: TimerHandle | undefined = undefined;
  /** Monotonic ms of the last NOTIFY sent (-1: none since start). */
  lastNotifyAt = -1;
  failures = 0;
  /** Cached next hop of NOTIFYs; cleared when the flow or the remote target changes. */
  nextHop: Destination | undefined = undefined;
  /** NOTIFYs with a body sent so far: the version of the next body (RFC 3858 §4.1, RFC 4235 §4.1), from 0. */
  version = 0;
  /**
   * The local CSeq the store has (or is committing) for this dialog: the record written when the subscription was
   * created or restored carries the dialog's CSeq of that moment, and the notifier records it again every few
   * NOTIFYs (a restart adds cseqRestartMargin over it).
   */
  storedSeq: number;
  /** Watcher-info subscriptions only: changes not yet notified. */
  winfo: WinfoDelta | undefined = undefined;
  /** The Event header of its NOTIFYs. */
  readonly eventHeader: string;

  constructor(
    readonly id: string,
    readonly entry: PresentityState,
    readonly eventId: string | undefined,
    readonly eventParams: ReadonlyMap<string, string | null>,
    readonly watcher: string,
    public status: SubscriptionStatus,
    public reason: string | undefined,
    public expiresAt: number,
    readonly createdAt: number,
    readonly accept: readonly string[],
    readonly dialog: DialogState,
    public flow: FlowRecord,
  ) {
    this.eventHeader = eventHeaderOf(entry.pkg.name, eventParams, eventId);
    this.storedSeq = dialog.localSeq;
  }

  get presentity(): string {
    return this.entry.presentity;
  }

  get event(): string {
    return this.entry.pkg.name;
  }

  /** A value copy for the store (records are values; this object keeps changing). */
  toRecord(): SubscriptionRecord {
    return {
      id: this.id,
      presentity: this.entry.presentity,
      event: this.entry.pkg.name,
      eventId: this.eventId,
      watcher: this.watcher,
      status: this.status,
      reason: this.reason,
      expiresAt: this.expiresAt,
      createdAt: this.createdAt,
      version: this.version,
      eventParams: paramsToRecord(this.eventParams),
      accept: this.accept,
      dialog: copyDialog(this.dialog),
      flow: this.flow,
    };
  }
}

/** Subscription id: dialog id plus event package and Event `id` (RFC 6665 §4.1.2.2, §8.2.1). Collision-free. */
export function subscriptionId(dialogKey: string, event: string, eventId: string | undefined): string {
  return `${dialogKey}|${event.length}:${event}${eventId === undefined ? '-' : `=${eventId}`}`;
}

export interface EventCounts {
  presentities: number;
  publications: number;
  subscriptions: number;
  pending: number;
}

export class PresentityIndex {
  /**
   * Entries by package name, then by presentity: a lookup hashes the presentity string it is given instead of
   * concatenating a combined key (a new string, hashed again, per request), and no such key is kept per entry.
   */
  readonly #entries = new Map<string, Map<string, PresentityState>>();
  #entryCount = 0;
  readonly #subs = new Map<string, Subscription>();
  /** Live subscriptions per package name: a few entries, so asking costs no cache miss in the big maps. */
  readonly #subsPerEvent = new Map<string, number>();
  readonly pubHeap = new ExpiryHeap<Publication>();
  readonly subHeap = new ExpiryHeap<Subscription>();

  find(presentity: string, event: string): PresentityState | undefined {
    return this.#entries.get(event)?.get(presentity);
  }

  /** The entry, created (and indexed) when missing. */
  obtain(presentity: string, pkg: EventPackage): PresentityState {
    const byPresentity = this.#eventMap(pkg.name);
    let e = byPresentity.get(presentity);
    if (e === undefined) {
      // Kept for the life of the entry (and as the map key): not a slice holding the request's text.
      e = new PresentityState(own(presentity), pkg);
      byPresentity.set(e.presentity, e);
      this.#entryCount++;
    }
    return e;
  }

  /** A state object for a lookup that must not create an index entry (fetch of an unknown presentity). */
  peekOrTransient(presentity: string, pkg: EventPackage): PresentityState {
    return this.find(presentity, pkg.name) ?? new PresentityState(presentity, pkg);
  }

  /** Pins an entry across an await so that it is not dropped while empty (pair with release). */
  acquire(entry: PresentityState): void {
    entry.busy++;
  }

  release(entry: PresentityState): void {
    entry.busy--;
    this.#dropIfEmpty(entry);
  }

  *entries(): IterableIterator<PresentityState> {
    for (const byPresentity of this.#entries.values()) yield* byPresentity.values();
  }

  get entryCount(): number {
    return this.#entryCount;
  }

  // --- publications -------------------------------------------------------------------------

  addPublication(entry: PresentityState, pub: Publication): void {
    this.#ensureIndexed(entry);
    entry.pubs = [...entry.pubs, pub];
    this.pubHeap.push(pub);
  }

  /** Puts `next` where `prev` was (a refresh keeps the order) or at the end (a modify is the newest change). */
  replacePublication(entry: PresentityState, prev: Publication, next: Publication, moveToEnd: boolean): void {
    const i = entry.pubs.indexOf(prev);
    this.pubHeap.remove(prev);
    if (i < 0) {
      entry.pubs = [...entry.pubs, next];
    } else if (moveToEnd) {
      entry.pubs = [...entry.pubs.filter((p) => p !== prev), next];
    } else {
      entry.pubs = entry.pubs.map((p) => (p === prev ? next : p));
    }
    this.pubHeap.push(next);
    this.#ensureIndexed(entry);
  }

  removePublication(entry: PresentityState, pub: Publication): boolean {
    const i = entry.pubs.indexOf(pub);
    this.pubHeap.remove(pub);
    if (i < 0) return false;
    entry.pubs = entry.pubs.length === 1 ? NO_PUBS : entry.pubs.filter((p) => p !== pub);
    this.#dropIfEmpty(entry);
    return true;
  }

  // --- subscriptions ------------------------------------------------------------------------

  subscription(id: string): Subscription | undefined {
    return this.#subs.get(id);
  }

  subscriptions(): IterableIterator<Subscription> {
    return this.#subs.values();
  }

  get subscriptionCount(): number {
    return this.#subs.size;
  }

  addSubscription(sub: Subscription): void {
    this.#ensureIndexed(sub.entry);
    sub.removed = false;
    sub.entry.subs.add(sub);
    this.#subs.set(sub.id, sub);
    const event = sub.entry.event;
    this.#subsPerEvent.set(event, (this.#subsPerEvent.get(event) ?? 0) + 1);
    this.subHeap.push(sub);
  }

  /** Whether any subscription to `event` exists (watcher-info skips presentity lookups when none does). */
  hasSubscriptions(event: string): boolean {
    return (this.#subsPerEvent.get(event) ?? 0) > 0;
  }

  /** Re-positions a subscription whose expiresAt changed. */
  touchSubscription(sub: Subscription): void {
    this.subHeap.update(sub);
  }

  removeSubscription(sub: Subscription): boolean {
    if (this.#subs.get(sub.id) !== sub) return false;
    this.#subs.delete(sub.id);
    const event = sub.entry.event;
    this.#subsPerEvent.set(event, this.#subsPerEvent.get(event)! - 1);
    sub.entry.subs.delete(sub);
    this.subHeap.remove(sub);
    sub.removed = true;
    this.#dropIfEmpty(sub.entry);
    return true;
  }

  // --- figures ------------------------------------------------------------------------------

  countsByEvent(): Map<string, EventCounts> {
    const out = new Map<string, EventCounts>();
    for (const e of this.entries()) {
      let c = out.get(e.event);
      if (c === undefined) out.set(e.event, (c = { presentities: 0, publications: 0, subscriptions: 0, pending: 0 }));
      if (e.pubs.length > 0) c.presentities++;
      c.publications += e.pubs.length;
      c.subscriptions += e.subs.size;
      for (const s of e.subs) if (s.status === 'pending') c.pending++;
    }
    return out;
  }

  /** A transient entry (fetch) that becomes live is indexed; an entry is dropped only when empty and not busy. */
  #ensureIndexed(entry: PresentityState): void {
    const byPresentity = this.#eventMap(entry.event);
    if (!byPresentity.has(entry.presentity)) {
      byPresentity.set(entry.presentity, entry);
      this.#entryCount++;
    }
  }

  #dropIfEmpty(entry: PresentityState): void {
    if (!entry.isEmpty()) return;
    const byPresentity = this.#entries.get(entry.event);
    if (byPresentity !== undefined && byPresentity.get(entry.presentity) === entry) {
      byPresentity.delete(entry.presentity);
      this.#entryCount--;
    }
  }

  #eventMap(event: string): Map<string, PresentityState> {
    let m = this.#entries.get(event);
    if (m === undefined) this.#entries.set(event, (m = new Map()));
    return m;
  }
}
