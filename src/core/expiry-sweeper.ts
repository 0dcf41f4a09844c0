/**
 * Expiry (Kamailio clean_period): every cleanPeriod seconds, on the injected clock, expired publications are
 * deleted and their presentities' watchers told the new composite state (RFC 3903 §6), and expired
 * subscriptions get `terminated;reason=timeout` (RFC 6665 §4.2.2) and are deleted. The heaps make a sweep
 * cost O(expired · log n), whatever the number of live records.
 *
 * Deletions are written without holding anything back: the state is gone in memory either way, and a
 * failed write only leaves expired rows that the next start-up drops.
 */
import type { TimerHandle } from '../transaction/index.js';
import type { StoreMutation } from '../store/store.js';
import type { CoreContext } from './context.js';
import type { Notifier } from './notifier.js';
import type { PresentityState } from './presentity-index.js';
import type { WatcherInfo } from './watcher-info.js';

export interface SweepResult {
  readonly publications: number;
  readonly subscriptions: number;
}

export class ExpirySweeper {
  readonly #ctx: CoreContext;
  readonly #notifier: Notifier;
  readonly #winfo: WatcherInfo;
  #timer: TimerHandle | undefined;
  #running = false;

  constructor(ctx: CoreContext, notifier: Notifier, winfo: WatcherInfo) {
    this.#ctx = ctx;
    this.#notifier = notifier;
    this.#winfo = winfo;
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#arm();
  }

  stop(): void {
    this.#running = false;
    if (this.#timer !== undefined) this.#ctx.clock.clearTimer(this.#timer);
    this.#timer = undefined;
  }

  #arm(): void {
    this.#timer = this.#ctx.clock.setTimer(this.#ctx.config.cleanPeriod * 1000, () => {
      this.#timer = undefined;
      if (!this.#running) return;
      try {
        this.sweep();
      } catch (err) {
        this.#ctx.logger.error({ err }, 'expiry sweep failed');
      }
      if (this.#running) this.#arm();
    });
  }

  /** Expires everything due now. Safe to call at any time (the management API's cleanup). */
  sweep(): SweepResult {
    let result: SweepResult = { publications: 0, subscriptions: 0 };
    // Watchers leaving in one sweep reach watcher info in one NOTIFY per subscriber.
    this.#winfo.batch(() => {
      result = this.#sweep();
    });
    return result;
  }

  #sweep(): SweepResult {
    const ctx = this.#ctx;
    const now = ctx.now();
    const mutations: StoreMutation[] = [];
    const touched = new Set<PresentityState>();

    const pubs = ctx.index.pubHeap.popExpired(now);
    for (const pub of pubs) {
      const entry = ctx.index.find(pub.presentity, pub.event);
      if (entry === undefined) continue;
      // Keep the entry while we still have to notify its watchers.
      if (!touched.has(entry)) {
        touched.add(entry);
        ctx.index.acquire(entry);
      }
      ctx.index.removePublication(entry, pub);
      mutations.push({ kind: 'delete-publication', presentity: pub.presentity, event: pub.event, etag: pub.etag });
    }

    const subs = ctx.index.subHeap.popExpired(now);
    for (const sub of subs) {
      ctx.index.removeSubscription(sub);
      mutations.push({ kind: 'delete-subscription', id: sub.id });
      // A pending watcher whose subscription expired is remembered as waiting (RFC 3857 §3.3).
      for (const m of this.#winfo.endedMutations(sub, now)) mutations.push(m);
    }
    // Waiting watchers remembered longer than waitingSubsDays are given up (reported with event giveup).
    this.#winfo.sweep(now, mutations);

    if (mutations.length > 0) {
      ctx.track(ctx.store.write(mutations)).catch((err: unknown) => {
        ctx.counters.storeFailures++;
        ctx.logger.warn({ err, count: mutations.length }, 'expiry deletions not stored (dropped again at start-up)');
      });
    }

    for (const pub of pubs) {
      ctx.events.emit({ type: 'publication-expired', presentity: pub.presentity, event: pub.event, etag: pub.etag });
    }
    for (const entry of touched) {
      this.#notifier.stateChanged(entry);
      ctx.index.release(entry);
    }
    for (const sub of subs) {
      ctx.events.emit({
        type: 'subscription-terminated',
        id: sub.id,
        presentity: sub.entry.presentity,
        event: sub.entry.pkg.name,
        watcher: sub.watcher,
        reason: 'timeout',
      });
      this.#notifier.sendFinal(sub, 'timeout');
      this.#winfo.ended(sub, 'timeout', sub.status === 'pending');
    }
    if (pubs.length > 0 || subs.length > 0) {
      ctx.logger.debug({ publications: pubs.length, subscriptions: subs.length }, 'expired');
    }
    return { publications: pubs.length, subscriptions: subs.length };
  }
}
