/**
 * Adapts the presence core's management facade (PresenceCore) to the admin port: filters, totals and pagination
 * are the facade's (queryPresentities, querySubscriptions), so the adapter only renames fields.
 */
import type {
  CoreEvent as FacadeEvent,
  CoreStats,
  PresenceCore,
  SubscriptionDetail as FacadeSubscriptionDetail,
  SubscriptionInfo as FacadeSubscription,
} from '../core/index.js';
import {
  CoreRejection,
  type AdminCore,
  type CoreEvent,
  type CoreStatsView,
  type PresentityEntry,
  type PublicationInfo,
  type SubscriptionInfo,
} from './core-port.js';
import { splitAor } from './uri-pattern.js';

/** The facade methods the adapter uses; PresenceCore has them all. */
export type CoreFacade = Pick<
  PresenceCore,
  | 'allowEvents'
  | 'queryPresentities'
  | 'getPresentity'
  | 'querySubscriptions'
  | 'getSubscription'
  | 'publish'
  | 'refreshWatchers'
  | 'cleanup'
  | 'stats'
  | 'onEvent'
>;

function subscription(s: FacadeSubscription | FacadeSubscriptionDetail): SubscriptionInfo {
  const detail = 'localTag' in s ? s : undefined;
  return {
    id: s.id,
    presentity: s.presentity,
    event: s.event,
    eventId: s.eventId,
    watcher: s.watcher,
    status: s.status,
    reason: s.reason,
    expiresAt: s.expiresAt,
    createdAt: s.createdAt,
    notifyFailures: s.notifyFailures,
    dialog: {
      callId: s.callId,
      remoteTarget: s.remoteTarget,
      localSeq: s.localSeq,
      ...(detail !== undefined && {
        localTag: detail.localTag,
        remoteTag: detail.remoteTag,
        localUri: detail.localUri,
        remoteUri: detail.remoteUri,
        routeSet: detail.routeSet,
        remoteSeq: detail.remoteSeq,
        secure: detail.secure,
      }),
    },
    flow: { protocol: s.flow.protocol, address: s.flow.address, port: s.flow.port },
    ...(detail !== undefined && { version: detail.version, accept: detail.accept }),
  };
}

function statsView(s: CoreStats): CoreStatsView {
  const presentities: Record<string, number> = {};
  const publications: Record<string, number> = {};
  const subscriptions: Record<string, number> = {};
  let pending = 0;
  for (const [event, c] of Object.entries(s.events)) {
    presentities[event] = c.presentities;
    publications[event] = c.publications;
    subscriptions[event] = c.subscriptions;
    pending += c.pending;
  }
  return {
    presentitiesByEvent: presentities,
    publicationsByEvent: publications,
    subscriptionsByEvent: subscriptions,
    subscriptionsByStatus: { active: s.subscriptions - pending, pending },
    notifySent: s.notify.sent,
    notifyFailed: s.notify.failed,
    notifyQueued: s.notify.queued,
    publishesAccepted: s.publish.accepted,
    publishesRejected: s.publish.rejected,
    detail: s,
  };
}

export function adaptCoreFacade(core: CoreFacade, now: () => number = Date.now): AdminCore {
  const entry = (presentity: string, event: string): PresentityEntry | undefined => {
    const d = core.getPresentity(presentity, event);
    if (d === undefined) return undefined;
    const out: PresentityEntry = {
      presentity: d.presentity,
      event: d.event,
      watchers: d.subscriptions,
      publications: d.publicationList.map(
        (p): PublicationInfo => ({
          etag: p.etag,
          expiresAt: p.expiresAt,
          receivedAt: p.receivedAt,
          contentType: p.contentType,
          body: p.body,
          sender: p.sender,
        }),
      ),
      ...(d.composite !== undefined && { composite: { contentType: d.composite.contentType, body: d.composite.body } }),
    };
    return out;
  };

  const publicationOf = (presentity: string, event: string, etag: string): PublicationInfo | undefined =>
    entry(presentity, event)?.publications.find((p) => p.etag === etag);

  const mapEvent = (e: FacadeEvent): CoreEvent | undefined => {
    switch (e.type) {
      case 'publication-changed': {
        if (e.change === 'removed') {
          return { type: 'publication-removed', presentity: e.presentity, event: e.event, etag: e.etag, reason: 'removed' };
        }
        // A refresh carries no body in the domain event, but the API's publish event always does: read the
        // stored publication back then (one index lookup). Otherwise the event has everything.
        const t = now();
        const publication: PublicationInfo | undefined =
          e.body === undefined || e.contentType === undefined
            ? publicationOf(e.presentity, e.event, e.etag)
            : {
                etag: e.etag,
                expiresAt: t + e.expires * 1000,
                receivedAt: t,
                contentType: e.contentType,
                body: e.body,
                sender: undefined,
              };
        if (publication === undefined) return undefined;
        return { type: 'publication-changed', presentity: e.presentity, event: e.event, publication, oldEtag: e.oldEtag };
      }
      case 'publication-expired':
        return { type: 'publication-removed', presentity: e.presentity, event: e.event, etag: e.etag, reason: 'expired' };
      case 'subscription-created':
        return {
          type: 'subscription-created',
          presentity: e.presentity,
          event: e.event,
          id: e.id,
          watcher: e.watcher,
          status: e.status,
          expiresAt: now() + e.expires * 1000,
        };
      case 'subscription-terminated':
        return {
          type: 'subscription-terminated',
          presentity: e.presentity,
          event: e.event,
          id: e.id,
          watcher: e.watcher,
          reason: e.reason,
        };
      case 'notify-failed':
        return {
          type: 'notify-failed',
          presentity: e.presentity,
          event: e.event,
          id: e.subscriptionId,
          watcher: e.watcher,
          status: e.status,
        };
      default:
        return undefined;
    }
  };

  return {
    eventPackages: () => core.allowEvents(),

    async listPresentities(q) {
      const page = core.queryPresentities({
        ...(q.event !== undefined && { event: q.event }),
        ...(q.domain !== undefined && { domain: q.domain }),
        ...(q.match !== undefined && { match: q.match }),
        limit: q.limit,
        offset: q.offset,
      });
      const items: PresentityEntry[] = [];
      for (const p of page.items) {
        const e = entry(p.presentity, p.event);
        if (e !== undefined) items.push(e);
      }
      return { items, total: page.total };
    },

    async getPresentity(uri, event) {
      const events = event === undefined ? core.allowEvents() : [event];
      const out: PresentityEntry[] = [];
      for (const ev of events) {
        const e = entry(uri, ev);
        if (e !== undefined) out.push(e);
      }
      return out;
    },

    async listSubscriptions(q) {
      const page = core.querySubscriptions({
        ...(q.presentity !== undefined && { presentity: q.presentity }),
        ...(q.event !== undefined && { event: q.event }),
        ...(q.watcher !== undefined && { watcher: q.watcher }),
        ...(q.status !== undefined && { status: q.status }),
        limit: q.limit,
        offset: q.offset,
      });
      return { items: page.items.map(subscription), total: page.total };
    },

    async getSubscription(id) {
      const s = core.getSubscription(id);
      return s === undefined ? undefined : subscription(s);
    },

    async publish(r) {
      const result = await core.publish({
        presentity: r.presentity,
        event: r.event,
        expires: r.expires,
        ...(r.contentType !== undefined && { contentType: r.contentType }),
        ...(r.body !== undefined && { body: r.body }),
        ...(r.etag !== undefined && { etag: r.etag }),
        ...(r.sender !== undefined && { sender: r.sender }),
      });
      if (!result.ok) throw new CoreRejection(result.status, `${result.status} ${result.reason}`);
      return { etag: result.etag, expires: result.expires };
    },

    async refreshWatchers(presentity, event, type) {
      return { notified: core.refreshWatchers(presentity, event, type) };
    },

    async cleanup() {
      const r = core.cleanup();
      return { publications: r.publications, subscriptions: r.subscriptions };
    },

    stats: () => statsView(core.stats()),

    onEvent(listener) {
      return core.onEvent((e) => {
        const mapped = mapEvent(e);
        if (mapped !== undefined) listener(mapped);
      });
    },
  };
}
