/** Types shared by the outbound subscription state machine and its manager. */
import type { Clock, RequestSender, TimerQueue } from '../transaction/index.js';
import type { Logger } from '../observability/index.js';
import type { OutboundSubscription } from './outbound-subscription.js';
import type { DialogIds } from './subscriber-dialog.js';

/**
 * subscribing: a SUBSCRIBE is out, no NOTIFY yet (Timer N runs); pending / active: as the last NOTIFY said;
 * waiting: a new attempt is scheduled (after a failure, or the notifier ended it); unsubscribing: Expires 0
 * sent, waiting for the last NOTIFY; terminated: refused for good (no retry), kept for inspection.
 */
export type OutboundState = 'subscribing' | 'pending' | 'active' | 'waiting' | 'unsubscribing' | 'terminated';

/** One outbound subscription as the API shows it. Times are Unix epoch milliseconds. */
export interface OutboundInfo {
  readonly id: string;
  readonly presentity: string;
  readonly watcher: string;
  readonly event: string;
  readonly target: string | undefined;
  /** Requested duration, seconds. */
  readonly expires: number;
  readonly state: OutboundState;
  /** Reason of the last Subscription-State (RFC 6665 §4.1.3), when it had one. */
  readonly reason: string | undefined;
  /** Duration the notifier granted (2xx Expires or Subscription-State expires), seconds. */
  readonly grantedExpires: number | undefined;
  readonly expiresAt: number | undefined;
  readonly createdAt: number;
  readonly notifies: number;
  readonly lastNotifyAt: number | undefined;
  /** Why the last attempt failed or the subscription ended. */
  readonly lastError: string | undefined;
  /** Failed attempts in a row (drives the back-off). */
  readonly failures: number;
  readonly dialog:
    | {
        readonly callId: string;
        readonly localTag: string;
        readonly remoteTag: string;
        readonly remoteTarget: string;
        readonly routeSet: readonly string[];
        readonly localSeq: number;
        /** -1 until a request arrived from the notifier. */
        readonly remoteSeq: number;
      }
    | undefined;
}

/** A NOTIFY received in an outbound subscription (the API's `notify-in` event). */
export interface NotifyInEvent {
  readonly type: 'notify-in';
  readonly subscription: OutboundInfo;
  /** Subscription-State value (active, pending, terminated, or an extension). */
  readonly state: string;
  readonly reason: string | undefined;
  readonly expires: number | undefined;
  readonly contentType: string | undefined;
  readonly body: string | undefined;
}

/** The state of an outbound subscription changed. */
export interface OutboundStateEvent {
  readonly type: 'state';
  readonly subscription: OutboundInfo;
}

export type OutboundEvent = NotifyInEvent | OutboundStateEvent;

/** What the manager gives each subscription. */
export interface OutboundContext {
  readonly sender: RequestSender;
  readonly timers: TimerQueue;
  readonly clock: Clock;
  readonly wallNow: () => number;
  readonly logger: Logger;
  /** RFC 3261 T1, ms (Timer N = 64*T1, RFC 6665 §4.1.2.4). */
  readonly t1: number;
  readonly retryBaseMs: number;
  readonly retryMaxMs: number;
  /** Up this long, a subscription that ends starts its back-off afresh. */
  readonly stableMs: number;
  /** [0, 1), for jitter. */
  readonly random: () => number;
  /** NOTIFYs with this Call-ID and To tag go to `sub` from now on. */
  bind(ids: DialogIds, sub: OutboundSubscription): void;
  unbind(ids: DialogIds, sub: OutboundSubscription): void;
  emit(event: OutboundEvent): void;
  /** Refused for good: drop the durable record. */
  terminated(sub: OutboundSubscription): void;
  /** Unsubscribed: forget it entirely. */
  gone(sub: OutboundSubscription): void;
}
