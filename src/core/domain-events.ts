/**
 * Typed, read-only events the core emits for the management API, metrics and webhooks (OpenSIPS
 * E_PRESENCE_PUBLISH and friends). Listeners run synchronously after the change is durable and answered;
 * a listener that throws is logged and ignored, it never disturbs SIP processing.
 */

export type PublicationChange = 'created' | 'refreshed' | 'modified' | 'removed';

export type CoreEvent =
  | {
      readonly type: 'publication-changed';
      readonly change: PublicationChange;
      readonly presentity: string;
      readonly event: string;
      /** The current entity-tag (the new one; for 'removed', the one removed). */
      readonly etag: string;
      readonly oldEtag: string | undefined;
      /** Granted seconds (0 for 'removed'). */
      readonly expires: number;
      readonly contentType: string | undefined;
      /** The published body (absent for refresh and removal). */
      readonly body: string | undefined;
    }
  | { readonly type: 'publication-expired'; readonly presentity: string; readonly event: string; readonly etag: string }
  | {
      readonly type: 'subscription-created';
      readonly id: string;
      readonly presentity: string;
      readonly event: string;
      readonly watcher: string;
      readonly status: 'pending' | 'active';
      readonly expires: number;
    }
  | {
      readonly type: 'subscription-terminated';
      readonly id: string;
      readonly presentity: string;
      readonly event: string;
      readonly watcher: string;
      /** timeout (unsubscribe or expiry), notify-failed, noresource ... */
      readonly reason: string;
    }
  | {
      readonly type: 'notify-failed';
      readonly subscriptionId: string;
      readonly presentity: string;
      readonly event: string;
      readonly watcher: string;
      readonly status: number;
      readonly localReason: 'timeout' | 'transport-error' | undefined;
      /** Whether the failure ended the subscription. */
      readonly removed: boolean;
    };

export type CoreEventListener = (event: CoreEvent) => void;

export class DomainEvents {
  readonly #listeners = new Set<CoreEventListener>();
  readonly #onError: (err: unknown) => void;

  constructor(onError: (err: unknown) => void) {
    this.#onError = onError;
  }

  /** Adds a listener; returns the function that removes it. */
  on(listener: CoreEventListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  get hasListeners(): boolean {
    return this.#listeners.size > 0;
  }

  emit(event: CoreEvent): void {
    for (const l of this.#listeners) {
      try {
        l(event);
      } catch (err) {
        this.#onError(err);
      }
    }
  }
}
