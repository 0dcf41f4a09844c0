/**
 * Start-up: rebuild the in-memory index from the store, and re-notify recovered subscriptions at a bounded
 * pace, so that a restart never turns into a NOTIFY storm.
 *
 * - What expired while we were down is dropped, durably, before anything else.
 * - NOTIFY CSeqs: set-notify-cseq writes are not awaited, so the stored value may trail what was sent.
 *   Every loaded local CSeq gets a safety margin (cseqRestartMargin), and the raised value is written
 *   back at once, so the CSeq never goes backwards even across two quick restarts (RFC 3261 §12.2.1.1).
 *   The body version rides on the same writes and gets the same margin: a subscriber drops a document whose
 *   version is not above the last one (RFC 4235 §4.1, RFC 3858 §4.1), and the recovery NOTIFY is full state.
 * - Remembered pending/waiting watchers (RFC 3857) are restored; those past waitingSubsDays are dropped.
 * - TCP flow ids die with the process (and could be reused by new connections): they are cleared.
 * - Records of packages not registered now are left untouched in the store.
 */
import type { TimerHandle } from '../transaction/index.js';
import type { StoreMutation, StoreSnapshot } from '../store/store.js';
import type { CoreContext } from './context.js';
import type { Notifier } from './notifier.js';
import { EMPTY_LIST, internList, paramsFromRecord, Publication, Subscription } from './presentity-index.js';
import type { WatcherInfo } from './watcher-info.js';

export interface RecoveryResult {
  readonly publications: number;
  readonly subscriptions: number;
  readonly droppedExpired: number;
  readonly skippedUnknownEvent: number;
  /** Recovered subscriptions, in the order they will be re-notified. */
  readonly toNotify: Subscription[];
}

/** Rebuilds the index from a snapshot and writes back drops and raised CSeqs. */
export async function restoreState(ctx: CoreContext, snapshot: StoreSnapshot, winfo: WatcherInfo): Promise<RecoveryResult> {
  const now = ctx.now();
  const margin = ctx.config.cseqRestartMargin;
  const mutations: StoreMutation[] = [];
  let publications = 0;
  let dropped = 0;
  let skipped = 0;

  // Oldest first, so each presentity's publication order is the order their bodies arrived.
  const pubs = snapshot.publications.slice().sort((a, b) => a.receivedAt - b.receivedAt);
  for (const r of pubs) {
    const pkg = ctx.registry.get(r.event);
    if (pkg === undefined) {
      skipped++;
      continue;
    }
    if (r.expiresAt <= now) {
      dropped++;
      mutations.push({ kind: 'delete-publication', presentity: r.presentity, event: r.event, etag: r.etag });
      continue;
    }
    const entry = ctx.index.obtain(r.presentity, pkg);
    if (entry.findPublication(r.etag) !== undefined) continue;
    ctx.index.addPublication(entry, Publication.fromRecord(r));
    publications++;
  }

  const toNotify: Subscription[] = [];
  for (const r of snapshot.subscriptions) {
    const pkg = ctx.registry.get(r.event);
    if (pkg === undefined) {
      skipped++;
      continue;
    }
    if (r.expiresAt <= now || r.status === 'terminated') {
      dropped++;
      mutations.push({ kind: 'delete-subscription', id: r.id });
      continue;
    }
    if (ctx.index.subscription(r.id) !== undefined) continue;
    const localSeq = r.dialog.localSeq + margin;
    const version = r.version + margin;
    const dialog = {
      ...r.dialog,
      routeSet: r.dialog.routeSet.length === 0 ? EMPTY_LIST : r.dialog.routeSet.slice(),
      localSeq,
    };
    const flow = { ...r.flow, flowId: undefined };
    const entry = ctx.index.obtain(r.presentity, pkg);
    const sub = new Subscription(
      r.id,
      entry,
      r.eventId,
      paramsFromRecord(r.eventParams),
      r.watcher,
      r.status,
      r.reason,
      r.expiresAt,
      r.createdAt,
      internList(r.accept),
      dialog,
      flow,
    );
    sub.ready = true;
    sub.version = version;
    ctx.index.addSubscription(sub);
    mutations.push({ kind: 'set-notify-cseq', id: r.id, localSeq, version });
    toNotify.push(sub);
  }

  const dropped0 = mutations.length;
  mutations.push(...winfo.load(snapshot.watchers, now));
  dropped += mutations.length - dropped0;

  if (mutations.length > 0) {
    try {
      await ctx.track(ctx.store.write(mutations));
    } catch (err) {
      ctx.counters.storeFailures++;
      ctx.logger.error({ err }, 'start-up clean-up not stored; expired rows stay until the next start');
    }
  }
  return { publications, subscriptions: toNotify.length, droppedExpired: dropped, skippedUnknownEvent: skipped, toNotify };
}

/**
 * Sends the recovery NOTIFYs at `rate` per second. A subscription that got a NOTIFY meanwhile (a change, a
 * refresh) or ended is skipped: it already has current state.
 */
export class RecoveryPacer {
  readonly #ctx: CoreContext;
  readonly #notifier: Notifier;
  readonly #queue: Subscription[];
  #next = 0;
  #credit = 0;
  #timer: TimerHandle | undefined;
  readonly #interval: number;
  readonly #perTick: number;
  #sent = 0;

  constructor(ctx: CoreContext, notifier: Notifier, queue: Subscription[]) {
    this.#ctx = ctx;
    this.#notifier = notifier;
    this.#queue = queue;
    const rate = ctx.config.notifyRecoveryRate;
    // Ticks of at least 20 ms; each tick earns rate * interval / 1000 NOTIFYs (fractions carry over).
    this.#interval = Math.max(20, 1000 / rate);
    this.#perTick = (rate * this.#interval) / 1000;
  }

  get remaining(): number {
    return this.#queue.length - this.#next;
  }

  get sent(): number {
    return this.#sent;
  }

  start(): void {
    if (this.remaining > 0 && this.#timer === undefined) this.#arm();
  }

  stop(): void {
    if (this.#timer !== undefined) this.#ctx.clock.clearTimer(this.#timer);
    this.#timer = undefined;
  }

  #arm(): void {
    this.#timer = this.#ctx.clock.setTimer(this.#interval, () => {
      this.#timer = undefined;
      this.#tick();
      if (this.remaining > 0) this.#arm();
      else this.#queue.length = 0;
    });
  }

  #tick(): void {
    this.#credit += this.#perTick;
    while (this.#credit >= 1 && this.#next < this.#queue.length) {
      const sub = this.#queue[this.#next++]!;
      if (sub.removed || sub.lastNotifyAt >= 0) continue;
      this.#credit -= 1;
      sub.fullState = true;
      if (this.#notifier.request(sub, true)) this.#sent++;
    }
    // Unused credit does not pile up into a burst later.
    if (this.#credit > this.#perTick) this.#credit = this.#perTick;
  }
}
