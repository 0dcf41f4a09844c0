/**
 * What the admin layer needs from the subscriptions presenced holds as a client (subscribe on behalf, OpenSIPS
 * pua_subscribe), in its own terms: the composition root passes the ua layer's OutboundSubscriptions, which has
 * this shape. Results are data ({ok, status, reason}), as the core facade's are, so the routes map them once.
 */
import type { EventHub } from './event-hub.js';

/** One outbound subscription. Times are Unix epoch milliseconds. */
export interface OutboundSubscriptionInfo {
  readonly id: string;
  readonly presentity: string;
  readonly watcher: string;
  readonly event: string;
  readonly target: string | undefined;
  readonly expires: number;
  /** subscribing, pending, active, waiting, unsubscribing, terminated. */
  readonly state: string;
  readonly reason: string | undefined;
  readonly grantedExpires: number | undefined;
  readonly expiresAt: number | undefined;
  readonly createdAt: number;
  readonly notifies: number;
  readonly lastNotifyAt: number | undefined;
  readonly lastError: string | undefined;
  readonly failures: number;
  readonly dialog:
    | {
        readonly callId: string;
        readonly localTag: string;
        readonly remoteTag: string;
        readonly remoteTarget: string;
        readonly routeSet: readonly string[];
        readonly localSeq: number;
        readonly remoteSeq: number;
      }
    | undefined;
}

export interface OutboundSubscribeRequest {
  readonly presentity: string;
  readonly watcher: string;
  readonly event?: string;
  readonly expires?: number;
  readonly target?: string;
  readonly accept?: readonly string[];
}

export type OutboundOutcome =
  | { readonly ok: true; readonly created: boolean; readonly subscription: OutboundSubscriptionInfo }
  | { readonly ok: false; readonly status: number; readonly reason: string };

/** What the port reports: every NOTIFY received (notify-in), and state changes (not forwarded to the API). */
export type OutboundPortEvent =
  | {
      readonly type: 'notify-in';
      readonly subscription: OutboundSubscriptionInfo;
      readonly state: string;
      readonly reason: string | undefined;
      readonly expires: number | undefined;
      readonly contentType: string | undefined;
      readonly body: string | undefined;
    }
  | { readonly type: 'state'; readonly subscription: OutboundSubscriptionInfo };

export interface OutboundPort {
  create(request: OutboundSubscribeRequest): Promise<OutboundOutcome>;
  list(): readonly OutboundSubscriptionInfo[];
  get(id: string): OutboundSubscriptionInfo | undefined;
  /** Undefined when there is no such subscription. */
  remove(id: string): Promise<OutboundOutcome | undefined>;
  onEvent(listener: (event: OutboundPortEvent) => void): () => void;
  stats(): object;
}

/** Feeds each NOTIFY received into the API event hub as a `notify-in` event; returns the unsubscribe function. */
export function bridgeOutboundEvents(port: OutboundPort, hub: EventHub): () => void {
  return port.onEvent((e) => {
    if (e.type !== 'notify-in') return;
    const s = e.subscription;
    hub.emit({
      type: 'notify-in',
      presentity: s.presentity,
      event: s.event,
      subscription: s.id,
      watcher: s.watcher,
      state: e.state,
      reason: e.reason ?? null,
      expires: e.expires ?? null,
      contentType: e.contentType ?? null,
      body: e.body ?? '',
    });
  });
}
