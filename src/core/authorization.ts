/**
 * Watcher authorization (RFC 6665 §4.2.1.3, RFC 3856 §6.6, RFC 5025 sub-handling): the decision at SUBSCRIBE,
 * and its re-evaluation for live subscriptions when the rules change (OpenSIPS refreshWatchers type 1, Kamailio
 * pres_update_watchers):
 *
 * | was \ now     | active                  | polite-block         | pending                      | rejected               |
 * | pending       | active (event approved) | active, neutral body | unchanged                    | terminated;rejected    |
 * | active        | unchanged               | active, neutral body | terminated;deactivated (a)   | terminated;rejected    |
 * | polite-block  | active                  | unchanged            | terminated;deactivated (a)   | terminated;rejected    |
 *
 * (a) RFC 6665 §4.1.3 has no way back from active to pending: the subscription ends with `deactivated`, which
 * tells the subscriber to subscribe again at once (§4.2.2), and the new subscription is decided afresh.
 * Remembered waiting watchers (no subscription) that are now allowed or refused are forgotten and reported.
 */
import type { StoreMutation } from '../store/store.js';
import type { CoreContext } from './context.js';
import type { AuthorizationDecision, EventPackage } from './event-package.js';
import type { ChangeCause, Notifier } from './notifier.js';
import type { PresentityState, Subscription } from './presentity-index.js';
import type { WatcherInfo } from './watcher-info.js';

/** Whether the core asks the package at all: never with forceActive, except for watcher info (RFC 3857 §5.1). */
export function authorizationApplies(ctx: CoreContext, pkg: EventPackage): boolean {
  if (pkg.authorize === undefined) return false;
  return !ctx.config.forceActive || pkg.winfoOf !== undefined;
}

/** The package's decision; a hook that throws leaks nothing: pending (RFC 6665 §4.2.1.3). */
export function authorizeWatcher(
  ctx: CoreContext,
  pkg: EventPackage,
  watcher: string,
  displayName: string | undefined,
  presentity: string,
): AuthorizationDecision {
  if (!authorizationApplies(ctx, pkg)) return 'active';
  try {
    return pkg.authorize!({ watcher, watcherDisplayName: displayName, presentity, event: pkg.name });
  } catch (err) {
    ctx.logger.error({ err, event: pkg.name }, 'package authorize() threw');
    return 'pending';
  }
}

function currentDecision(sub: Subscription): AuthorizationDecision {
  if (sub.status === 'pending') return 'pending';
  return sub.reason === 'polite-block' ? 'polite-block' : 'active';
}

export interface ReauthorizeResult {
  /** NOTIFYs queued (current state to every remaining watcher, final NOTIFYs to the ended ones). */
  readonly notified: number;
  readonly approved: number;
  readonly ended: number;
}

/**
 * Re-runs authorization for every watcher of one presentity and package and acts on the changes; then every
 * watcher gets its current state (refreshWatchers; and every change of state for packages with
 * reauthorizeOnChange, `cause` then naming the publisher). Memory is changed at once, the store after, NOTIFYs once the
 * write settled (architecture: durable before told).
 */
export function reauthorize(
  ctx: CoreContext,
  notifier: Notifier,
  winfo: WatcherInfo,
  entry: PresentityState,
  cause?: ChangeCause,
): ReauthorizeResult {
  const pkg = entry.pkg;
  if (!authorizationApplies(ctx, pkg)) return { notified: notifier.fanOut(entry, cause), approved: 0, ended: 0 };
  // Pinned until the NOTIFYs are queued: removing its last subscriptions must not drop it from the index.
  ctx.index.acquire(entry);
  const mutations: StoreMutation[] = [];
  const changed: Subscription[] = [];
  const ended: Array<[Subscription, string, boolean]> = [];
  let approved = 0;
  for (const sub of [...entry.subs]) {
    if (!sub.ready) continue; // still being stored: it was decided a moment ago
    const before = currentDecision(sub);
    const now = authorizeWatcher(ctx, pkg, sub.watcher, undefined, entry.presentity);
    if (now === before) continue;
    if (now === 'rejected' || (now === 'pending' && before !== 'pending')) {
      ended.push([sub, now === 'rejected' ? 'rejected' : 'deactivated', before === 'pending']);
      continue;
    }
    if (before === 'pending') {
      approved++;
      mutations.push(...winfo.forget(entry.presentity, pkg.name, sub.watcher));
    }
    sub.status = 'active';
    sub.reason = now === 'polite-block' ? 'polite-block' : before === 'pending' ? 'approved' : undefined;
    mutations.push({ kind: 'put-subscription', record: sub.toRecord() });
    changed.push(sub);
  }
  for (const [sub, , wasPending] of ended) {
    if (wasPending) mutations.push(...winfo.forget(entry.presentity, pkg.name, sub.watcher));
    ctx.index.removeSubscription(sub);
    mutations.push({ kind: 'delete-subscription', id: sub.id });
  }
  // Remembered waiting watchers: allowed or refused now, they have nothing left to wait for.
  const decided: Array<[ReturnType<WatcherInfo['records']>[number], 'approved' | 'rejected']> = [];
  for (const r of winfo.records(entry.presentity, pkg.name)) {
    if (r.status !== 'waiting' && hasSubscription(entry, r.watcher)) continue;
    const d = authorizeWatcher(ctx, pkg, r.watcher, r.displayName, entry.presentity);
    if (d === 'pending') continue;
    mutations.push(...winfo.forget(r.presentity, r.event, r.watcher));
    decided.push([r, d === 'rejected' ? 'rejected' : 'approved']);
  }

  let notified = 0;
  const tell = (): void => winfo.batch(() => {
    for (const [sub, reason, wasPending] of ended) {
      ctx.events.emit({
        type: 'subscription-terminated',
        id: sub.id,
        presentity: entry.presentity,
        event: pkg.name,
        watcher: sub.watcher,
        reason,
      });
      notifier.sendFinal(sub, reason);
      winfo.ended(sub, reason, wasPending);
    }
    for (const sub of changed) winfo.statusChanged(sub);
    for (const [r, event] of decided) winfo.recordDecided(r, event);
    // Everyone left gets the current state (a refresh: also those whose decision did not change).
    notifier.fanOut(entry, cause);
  });
  for (const sub of entry.subs) if (sub.ready) notified++;
  notified += ended.length;
  if (mutations.length === 0) {
    tell();
    ctx.index.release(entry);
  } else {
    ctx.track(ctx.store.write(mutations)).then(
      () => {
        tell();
        ctx.index.release(entry);
      },
      (err: unknown) => {
        // Memory holds the new decisions; the store keeps the old ones until the next change or restart.
        ctx.counters.storeFailures++;
        ctx.logger.error({ err, presentity: entry.presentity, event: pkg.name }, 'authorization changes not stored');
        tell();
        ctx.index.release(entry);
      },
    );
  }
  return { notified, approved, ended: ended.length };
}

function hasSubscription(entry: PresentityState, watcher: string): boolean {
  for (const s of entry.subs) if (s.watcher === watcher) return true;
  return false;
}
