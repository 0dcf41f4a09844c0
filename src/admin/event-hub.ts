/**
 * The events the management API reports (OpenSIPS E_PRESENCE_PUBLISH, E_PRESENCE_EXPOSED and friends), and
 * the hub that numbers them, keeps a short replay buffer for reconnecting streams, and fans them out to
 * Server-Sent Events streams and webhooks.
 *
 * Listeners run synchronously on the caller's turn (a domain event from the core), so each listener only
 * queues work; a listener that throws is isolated and counted.
 */

export const API_EVENT_TYPES = [
  'publish',
  'unpublish',
  'exposed',
  'subscription-created',
  'subscription-terminated',
  'notify-failed',
  'notify-in',
] as const;

export type ApiEventType = (typeof API_EVENT_TYPES)[number];

interface EventCommon {
  /** Increasing sequence number; the SSE `id`, usable as Last-Event-ID. */
  readonly id: number;
  /** ISO 8601 time the event was recorded. */
  readonly time: string;
  readonly presentity: string;
  /** Event package ("presence", "dialog", "message-summary" ...). */
  readonly event: string;
}

/** A publication as the API shows it (in publish and exposed events, and in presentity details). */
export interface PublicationView {
  readonly etag: string;
  /** Seconds left until it expires (0 once removed). */
  readonly expires: number;
  readonly expiresAt: string;
  readonly contentType: string;
  readonly body: string;
  readonly sender: string | null;
}

/** A publication was created, modified or refreshed (E_PRESENCE_PUBLISH). */
export interface PublishEvent extends EventCommon, PublicationView {
  readonly type: 'publish';
  readonly user: string;
  readonly domain: string;
  /** The ETag this publication replaced, when it was a refresh or modification. */
  readonly oldEtag: string | null;
}

/** A publication ended: removed by its publisher (Expires: 0) or expired. */
export interface UnpublishEvent extends EventCommon {
  readonly type: 'unpublish';
  readonly user: string;
  readonly domain: string;
  readonly etag: string;
  readonly reason: 'removed' | 'expired';
}

/** One matching publication, reported because POST /api/expose asked for it (E_PRESENCE_EXPOSED). */
export interface ExposedEvent extends EventCommon, PublicationView {
  readonly type: 'exposed';
  readonly user: string;
  readonly domain: string;
}

export interface SubscriptionCreatedEvent extends EventCommon {
  readonly type: 'subscription-created';
  readonly subscription: string;
  readonly watcher: string;
  readonly status: string;
  readonly expires: number;
}

export interface SubscriptionTerminatedEvent extends EventCommon {
  readonly type: 'subscription-terminated';
  readonly subscription: string;
  readonly watcher: string;
  readonly reason: string | null;
}

export interface NotifyFailedEvent extends EventCommon {
  readonly type: 'notify-failed';
  readonly subscription: string;
  readonly watcher: string;
  /** SIP status of the failure (408 on timeout, 503 on transport error, or the watcher's error response). */
  readonly status: number;
}

/**
 * A NOTIFY received in a subscription presenced holds as a client (POST /api/subscribe, OpenSIPS pua_subscribe):
 * `presentity` is the resource subscribed to, `watcher` who presenced subscribed as.
 */
export interface NotifyInEvent extends EventCommon {
  readonly type: 'notify-in';
  /** Id of the outbound subscription (GET /api/subscribe/{id}). */
  readonly subscription: string;
  readonly watcher: string;
  /** Subscription-State value: active, pending or terminated (RFC 6665 §4.1.3). */
  readonly state: string;
  readonly reason: string | null;
  /** expires parameter of Subscription-State, seconds. */
  readonly expires: number | null;
  readonly contentType: string | null;
  /** The NOTIFY body ('' when it had none). */
  readonly body: string;
}

export type ApiEvent =
  | PublishEvent
  | UnpublishEvent
  | ExposedEvent
  | SubscriptionCreatedEvent
  | SubscriptionTerminatedEvent
  | NotifyFailedEvent
  | NotifyInEvent;

/** An event before the hub numbers and stamps it. Distributes over the union so each variant keeps its fields. */
export type NewApiEvent = ApiEvent extends infer E ? (E extends ApiEvent ? Omit<E, 'id' | 'time'> : never) : never;

export type ApiEventListener = (event: ApiEvent) => void;

export interface EventHubOptions {
  /** Wall clock in Unix epoch milliseconds (injected for tests). */
  now?: () => number;
  /** Events kept for replay to a reconnecting stream (Last-Event-ID). */
  replayCount?: number;
  /** Upper bound on the bytes of bodies kept for replay, so large bodies cannot pin memory. */
  replayBytes?: number;
  /** Told about a listener that threw (the hub keeps going). */
  onListenerError?: (error: unknown) => void;
}

export interface EventHubStats {
  readonly published: number;
  readonly listeners: number;
  readonly listenerErrors: number;
  readonly lastId: number;
}

export class EventHub {
  readonly #listeners = new Set<ApiEventListener>();
  readonly #replay: ApiEvent[] = [];
  #replayBytes = 0;
  #nextId = 1;
  #published = 0;
  #listenerErrors = 0;
  readonly #now: () => number;
  readonly #replayCount: number;
  readonly #replayBytesMax: number;
  readonly #onListenerError: (error: unknown) => void;

  constructor(options: EventHubOptions = {}) {
    this.#now = options.now ?? Date.now;
    this.#replayCount = options.replayCount ?? 200;
    this.#replayBytesMax = options.replayBytes ?? 2 * 1024 * 1024;
    this.#onListenerError = options.onListenerError ?? (() => {});
  }

  /** Numbers, stamps and delivers an event; returns it as delivered. */
  emit(input: NewApiEvent): ApiEvent {
    const event = { ...input, id: this.#nextId++, time: new Date(this.#now()).toISOString() } as ApiEvent;
    this.#published++;
    this.#remember(event);
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch (error) {
        this.#listenerErrors++;
        this.#onListenerError(error);
      }
    }
    return event;
  }

  /** Adds a listener; returns the function that removes it. */
  subscribe(listener: ApiEventListener): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  /**
   * Events after `lastId` still in the replay buffer, oldest first. `complete` is false when some were
   * already evicted, so a client knows it missed events and should reload state.
   */
  since(lastId: number): { events: ApiEvent[]; complete: boolean } {
    const events = this.#replay.filter((e) => e.id > lastId);
    const oldest = this.#replay[0]?.id ?? this.#nextId;
    // An id beyond ours comes from an earlier run of the server (ids restart at 1): the client missed everything.
    const complete = lastId <= this.#nextId - 1 && lastId + 1 >= oldest;
    return { events: complete ? events : this.#replay.slice(), complete };
  }

  stats(): EventHubStats {
    return {
      published: this.#published,
      listeners: this.#listeners.size,
      listenerErrors: this.#listenerErrors,
      lastId: this.#nextId - 1,
    };
  }

  #remember(event: ApiEvent): void {
    const size = 'body' in event ? event.body.length : 0;
    this.#replay.push(event);
    this.#replayBytes += size;
    while (
      this.#replay.length > this.#replayCount ||
      (this.#replayBytes > this.#replayBytesMax && this.#replay.length > 1)
    ) {
      const dropped = this.#replay.shift()!;
      this.#replayBytes -= 'body' in dropped ? dropped.body.length : 0;
    }
  }
}

/** Which events a stream or webhook wants. Empty lists mean "all". */
export interface EventFilter {
  readonly types: ReadonlySet<ApiEventType> | null;
  readonly events: ReadonlySet<string> | null;
  readonly presentity: ((uri: string) => boolean) | null;
}

export function matchesFilter(filter: EventFilter, e: ApiEvent): boolean {
  if (filter.types !== null && !filter.types.has(e.type)) return false;
  if (filter.events !== null && !filter.events.has(e.event)) return false;
  if (filter.presentity !== null && !filter.presentity(e.presentity)) return false;
  return true;
}

export const MATCH_ALL: EventFilter = { types: null, events: null, presentity: null };
