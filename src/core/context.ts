/**
 * What the parts of the core share: injected dependencies, the in-memory index, counters. Internal to core/.
 */
import type { Clock, RequestSender } from '../transaction/index.js';
import type { PresenceStore } from '../store/store.js';
import type { CoreConfig } from './config.js';
import type { EventRegistry } from './event-registry.js';
import type { PresentityIndex } from './presentity-index.js';
import type { DomainEvents } from './domain-events.js';

/** The logging the core needs; a pino logger fits as is. */
export interface CoreLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface CoreCounters {
  publishAccepted: number;
  publishRejected: number;
  subscribeAccepted: number;
  subscribeRejected: number;
  notifySent: number;
  notifyFailed: number;
  /** NOTIFYs waiting behind an outstanding one or a rate limit, right now. */
  notifyQueued: number;
  notifyInFlight: number;
  storeFailures: number;
}

export interface CoreContext {
  readonly store: PresenceStore;
  readonly sender: RequestSender;
  readonly clock: Clock;
  readonly logger: CoreLogger;
  readonly config: CoreConfig;
  readonly registry: EventRegistry;
  readonly index: PresentityIndex;
  readonly events: DomainEvents;
  readonly counters: CoreCounters;
  readonly isLocalDomain: (host: string) => boolean;
  /** Wall-clock ms (stored times and expiries are epoch ms). */
  now(): number;
  /** Registers a store write so that stop() can wait for it; returns the same promise. */
  track<T>(p: Promise<T>): Promise<T>;
}

export function newCounters(): CoreCounters {
  return {
    publishAccepted: 0,
    publishRejected: 0,
    subscribeAccepted: 0,
    subscribeRejected: 0,
    notifySent: 0,
    notifyFailed: 0,
    notifyQueued: 0,
    notifyInFlight: 0,
    storeFailures: 0,
  };
}
