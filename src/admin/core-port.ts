/**
 * What the admin layer needs from the presence core, in the admin layer's own terms (a port). The composition
 * root passes `adaptCoreFacade(facade)`; tests may pass a fake. Keeping the mapping in this one file means a
 * change of the facade touches one place, and the API's JSON stays stable when the core's records evolve.
 */
import type { EventHub } from './event-hub.js';
import { splitAor } from './uri-pattern.js';

/** One live publication (RFC 3903: one per entity-tag). Times are Unix epoch milliseconds. */
export interface PublicationInfo {
  readonly etag: string;
  readonly expiresAt: number;
  readonly receivedAt: number;
  readonly contentType: string;
  readonly body: string;
  readonly sender: string | undefined;
}

/** A summary of presence state for lamps (PIDF basic status + RPID activities), when the package offers one. */
export interface StatusSummary {
  readonly basic: 'open' | 'closed' | 'unknown';
  readonly activities: readonly string[];
  readonly note?: string;
}

/** One presentity in one event package. */
export interface PresentityEntry {
  readonly presentity: string;
  readonly event: string;
  readonly publications: readonly PublicationInfo[];
  /** Subscriptions to this presentity and package (any status). */
  readonly watchers: number;
  /** The composed state watchers get (before per-watcher processing), when something is published. */
  readonly composite?: { readonly contentType: string; readonly body: string };
  readonly summary?: StatusSummary;
}

export interface SubscriptionInfo {
  readonly id: string;
  readonly presentity: string;
  readonly event: string;
  readonly eventId: string | undefined;
  readonly watcher: string;
  readonly status: 'pending' | 'active' | 'terminated' | 'waiting';
  readonly reason: string | undefined;
  /** Unix epoch milliseconds. */
  readonly expiresAt: number;
  readonly createdAt: number;
  /** NOTIFYs to this watcher that failed in a row. */
  readonly notifyFailures?: number;
  /** Dialog state (RFC 3261 section 12); the fields the core does not expose are absent. */
  readonly dialog: {
    readonly callId: string;
    readonly remoteTarget: string;
    readonly localSeq: number;
    readonly localTag?: string;
    readonly remoteTag?: string;
    readonly localUri?: string;
    readonly remoteUri?: string;
    readonly routeSet?: readonly string[];
    readonly remoteSeq?: number;
    readonly secure?: boolean;
  };
  readonly flow: {
    readonly protocol: 'udp' | 'tcp';
    readonly address: string;
    readonly port: number;
  };
  readonly version?: number;
  readonly accept?: readonly string[];
}

export interface Page<T> {
  readonly items: readonly T[];
  /** Matches before pagination. */
  readonly total: number;
}

export interface PresentityQuery {
  readonly event?: string;
  readonly domain?: string;
  /** URI test built from the `uri` glob. */
  readonly match?: (uri: string) => boolean;
  readonly limit: number;
  readonly offset: number;
}

export interface SubscriptionQuery {
  readonly presentity?: string;
  readonly event?: string;
  readonly watcher?: string;
  readonly status?: string;
  readonly limit: number;
  readonly offset: number;
}

export interface PublishRequest {
  readonly presentity: string;
  readonly event: string;
  /** Seconds; 0 removes the publication named by etag (RFC 3903 section 4.5). */
  readonly expires: number;
  readonly contentType: string | undefined;
  readonly body: string | undefined;
  /** SIP-If-Match: refresh, modify or remove this publication (RFC 3903 section 4.2). */
  readonly etag: string | undefined;
  /** The publisher as a Sender header would name it (dialog;sla: not notified of its own change). */
  readonly sender?: string | undefined;
}

/**
 * A failure the core reports as a SIP-style verdict (the status a SIP PUBLISH would have got). The adapter
 * turns the facade's errors into this so the routes can map them to HTTP once.
 */
export class CoreRejection extends Error {
  constructor(
    readonly sipStatus: number,
    message: string,
  ) {
    super(message);
    this.name = 'CoreRejection';
  }
}

/** Counts the core keeps, read at scrape time for /metrics and /api/stats. All optional: absent is not exported. */
export interface CoreStatsView {
  readonly presentitiesByEvent?: Readonly<Record<string, number>>;
  readonly publicationsByEvent?: Readonly<Record<string, number>>;
  readonly subscriptionsByEvent?: Readonly<Record<string, number>>;
  readonly subscriptionsByStatus?: Readonly<Record<string, number>>;
  readonly notifySent?: number;
  readonly notifyFailed?: number;
  readonly notifyQueued?: number;
  readonly publishesAccepted?: number;
  readonly publishesRejected?: number;
  /** The core's own figures, shown as they are in GET /api/stats. */
  readonly detail?: unknown;
}

/** Domain events of the core, as admin sees them. */
export type CoreEvent =
  | {
      readonly type: 'publication-changed';
      readonly presentity: string;
      readonly event: string;
      readonly publication: PublicationInfo;
      readonly oldEtag: string | undefined;
    }
  | {
      readonly type: 'publication-removed';
      readonly presentity: string;
      readonly event: string;
      readonly etag: string;
      readonly reason: 'removed' | 'expired';
    }
  | {
      readonly type: 'subscription-created';
      readonly presentity: string;
      readonly event: string;
      readonly id: string;
      readonly watcher: string;
      readonly status: string;
      readonly expiresAt: number;
    }
  | {
      readonly type: 'subscription-terminated';
      readonly presentity: string;
      readonly event: string;
      readonly id: string;
      readonly watcher: string;
      readonly reason: string | undefined;
    }
  | {
      readonly type: 'notify-failed';
      readonly presentity: string;
      readonly event: string;
      readonly id: string;
      readonly watcher: string;
      readonly status: number;
    };

export interface AdminCore {
  /** Names of the event packages the server serves (Allow-Events). */
  eventPackages(): readonly string[];
  listPresentities(query: PresentityQuery): Promise<Page<PresentityEntry>>;
  /** The presentity in each package (only `event` when given); empty when nothing is known of it. */
  getPresentity(uri: string, event: string | undefined): Promise<readonly PresentityEntry[]>;
  listSubscriptions(query: SubscriptionQuery): Promise<Page<SubscriptionInfo>>;
  getSubscription(id: string): Promise<SubscriptionInfo | undefined>;
  /** Stores and notifies exactly as a SIP PUBLISH would. Rejects with CoreRejection on a SIP-level refusal. */
  publish(request: PublishRequest): Promise<{ readonly etag: string; readonly expires: number }>;
  /**
   * Re-sends NOTIFY to the presentity's watchers (OpenSIPS refreshWatchers): type 0 after an authorization
   * rules change (re-evaluates each watcher), type 1 after a change of the stored state.
   */
  refreshWatchers(presentity: string, event: string, type: 0 | 1): Promise<{ readonly notified: number }>;
  /** Runs the expiry clean-up now. */
  cleanup(): Promise<{ readonly publications: number; readonly subscriptions: number }>;
  stats(): CoreStatsView;
  onEvent(listener: (event: CoreEvent) => void): () => void;
}

function secondsLeft(expiresAt: number, now: number): number {
  return Math.max(0, Math.round((expiresAt - now) / 1000));
}

/** Feeds the core's domain events into the API event hub; returns the unsubscribe function. */
export function bridgeDomainEvents(
  core: AdminCore,
  hub: EventHub,
  now: () => number,
  onError: (error: unknown) => void,
): () => void {
  return core.onEvent((e) => {
    try {
      switch (e.type) {
        case 'publication-changed': {
          const p = e.publication;
          hub.emit({
            type: 'publish',
            presentity: e.presentity,
            event: e.event,
            ...splitAor(e.presentity),
            etag: p.etag,
            oldEtag: e.oldEtag ?? null,
            expires: secondsLeft(p.expiresAt, now()),
            expiresAt: new Date(p.expiresAt).toISOString(),
            contentType: p.contentType,
            body: p.body,
            sender: p.sender ?? null,
          });
          break;
        }
        case 'publication-removed':
          hub.emit({
            type: 'unpublish',
            presentity: e.presentity,
            event: e.event,
            ...splitAor(e.presentity),
            etag: e.etag,
            reason: e.reason,
          });
          break;
        case 'subscription-created':
          hub.emit({
            type: 'subscription-created',
            presentity: e.presentity,
            event: e.event,
            subscription: e.id,
            watcher: e.watcher,
            status: e.status,
            expires: secondsLeft(e.expiresAt, now()),
          });
          break;
        case 'subscription-terminated':
          hub.emit({
            type: 'subscription-terminated',
            presentity: e.presentity,
            event: e.event,
            subscription: e.id,
            watcher: e.watcher,
            reason: e.reason ?? null,
          });
          break;
        case 'notify-failed':
          hub.emit({
            type: 'notify-failed',
            presentity: e.presentity,
            event: e.event,
            subscription: e.id,
            watcher: e.watcher,
            status: e.status,
          });
          break;
      }
    } catch (error) {
      onError(error);
    }
  });
}
