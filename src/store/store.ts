/**
 * The one storage contract of presenced. The presence core keeps hot state in memory and uses a store
 * only as the durable copy: it loads everything at start-up and writes every acknowledged change.
 *
 * Durability rule (docs/storage.md): when the promise returned by `write` resolves, the mutations are
 * committed and survive `kill -9`. Adapters batch the writes of many callers into one commit (group commit),
 * so callers should issue a write per request and await it before sending their 2xx.
 *
 * Records are plain JSON-able data split by concern (publication; subscription dialog state, subscription
 * state and delivery flow; watcher authorisation), unlike Kamailio's subs_t which mixes all three.
 * Records are values: a store keeps what it was given at write time, and the writer must not mutate them afterwards.
 */

export { StoreError, STORE_ERROR_CODES, type StoreErrorCode } from './errors.js';
import type { AccountMutation, BindingRecord, UserRecord } from './account-records.js';
export type { AccountMutation, BindingRecord, UserRecord } from './account-records.js';

/** One publication of one device (the presentity table; RFC 3903 entity). */
export interface PublicationRecord {
  /** Presentity AOR, normalised by the core (e.g. "sip:alice@example.com"). */
  readonly presentity: string;
  /** Event package name including parameters that select the package ("presence", "dialog;sla"). */
  readonly event: string;
  /** Current entity tag (RFC 3903 SIP-ETag). */
  readonly etag: string;
  /** Unix epoch milliseconds when the publication expires. */
  readonly expiresAt: number;
  /** Unix epoch milliseconds when it was last received (initial, modify or refresh). */
  readonly receivedAt: number;
  readonly contentType: string;
  readonly body: string;
  /** The publisher (From URI, or Sender for dialog;sla), so a publisher is not notified of its own change. */
  readonly sender: string | undefined;
}

/** RFC 3261 section 12 dialog state of a subscription, as the notifier (UAS of SUBSCRIBE) sees it. */
export interface DialogRecord {
  readonly callId: string;
  /** Our tag (the To-tag we put in the 2xx to SUBSCRIBE). */
  readonly localTag: string;
  /** The subscriber's From-tag. */
  readonly remoteTag: string;
  /** Our URI (the SUBSCRIBE's To URI) and the subscriber's URI (its From URI), as name-addr text. */
  readonly localUri: string;
  readonly remoteUri: string;
  /** The subscriber's Contact URI: Request-URI of our NOTIFYs. */
  readonly remoteTarget: string;
  /** Route set from Record-Route, in the order our NOTIFYs must carry it. */
  readonly routeSet: readonly string[];
  /** Last CSeq we used for a NOTIFY in this dialog. */
  readonly localSeq: number;
  /** Highest CSeq seen from the subscriber. */
  readonly remoteSeq: number;
  readonly secure: boolean;
}

/** Where NOTIFYs for this subscription are delivered: the flow the last SUBSCRIBE arrived on. */
export interface FlowRecord {
  readonly protocol: 'udp' | 'tcp';
  readonly address: string;
  readonly port: number;
  /** TCP connection identifier while it lasts; after a restart it is gone and a new connection is opened. */
  readonly flowId: string | undefined;
  readonly localAddress: string;
  readonly localPort: number;
}

export type SubscriptionStatus = 'pending' | 'active' | 'terminated';

/** One Event header parameter as received: name and value (null for a parameter without a value). */
export type EventParam = readonly [name: string, value: string | null];

/** One subscription (the active_watchers table). */
export interface SubscriptionRecord {
  /** Stable key: the dialog id (Call-ID, local tag, remote tag) plus Event id, encoded by the core. */
  readonly id: string;
  readonly presentity: string;
  readonly event: string;
  /** Event header `id` parameter (RFC 6665 section 8.2.1), echoed in every NOTIFY. */
  readonly eventId: string | undefined;
  /** Watcher AOR (From URI, or the authenticated identity). */
  readonly watcher: string;
  readonly status: SubscriptionStatus;
  readonly reason: string | undefined;
  /** Unix epoch milliseconds. */
  readonly expiresAt: number;
  readonly createdAt: number;
  /**
   * Per-subscription body version for packages that count (watcherinfo, dialog-info): how many NOTIFYs with a
   * body were sent, i.e. the version the next body carries (RFC 3858 §4.1, RFC 4235 §4.1).
   */
  readonly version: number;
  /**
   * Every Event header parameter of the SUBSCRIBE except `id`, in order (RFC 4235 §3.1 filters, `sla`); echoed in
   * every NOTIFY (RFC 6665 §8.2.1). Absent or empty: none. Records written before this field existed have none.
   */
  readonly eventParams?: readonly EventParam[] | undefined;
  /** Media types the subscriber accepts (Accept header), in its order. */
  readonly accept: readonly string[];
  readonly dialog: DialogRecord;
  readonly flow: FlowRecord;
}

export type WatcherAuthStatus = 'pending' | 'active' | 'terminated' | 'waiting';

/** Authorisation state of one watcher for one presentity and package (the watchers table). */
export interface WatcherRecord {
  readonly presentity: string;
  readonly watcher: string;
  readonly event: string;
  readonly status: WatcherAuthStatus;
  /** RFC 3857 event that led to the status (subscribe, approved, rejected, timeout, giveup ...). */
  readonly reason: string | undefined;
  readonly displayName: string | undefined;
  readonly insertedAt: number;
}

/**
 * A user's document (the documents table), e.g. an RFC 5025 pres-rules document managed over XCAP (RFC 4825):
 * one per (owner, application usage, document name).
 */
export interface DocumentRecord {
  /** The owner's AOR, normalised by the core ("sip:alice@example.com"); the XCAP User Identifier. */
  readonly owner: string;
  /** XCAP application unique id ("pres-rules"). */
  readonly auid: string;
  /** Document name within the owner's directory ("index"). */
  readonly name: string;
  /** Entity tag of this version of the document (RFC 4825 §7.11). */
  readonly etag: string;
  readonly contentType: string;
  readonly body: string;
  /** Unix epoch milliseconds of the last change. */
  readonly updatedAt: number;
}

export type StoreMutation =
  | { readonly kind: 'put-publication'; readonly record: PublicationRecord }
  | { readonly kind: 'delete-publication'; readonly presentity: string; readonly event: string; readonly etag: string }
  /** put-publication under a new etag replaces the row of the old one atomically (RFC 3903 refresh/modify). */
  | { readonly kind: 'replace-publication'; readonly oldEtag: string; readonly record: PublicationRecord }
  | { readonly kind: 'put-subscription'; readonly record: SubscriptionRecord }
  | { readonly kind: 'delete-subscription'; readonly id: string }
  /**
   * Advances the stored NOTIFY CSeq (dialog.localSeq) of a subscription without rewriting the whole record.
   * It is a high-water mark: it never lowers the stored value (RFC 3261 section 12.2.1.1, the local CSeq only
   * grows), and it is a no-op for an unknown id. Adapters may coalesce several for the same id into one update.
   * With `version`, the body version is set together with the CSeq, under the same rule: both only move when the
   * CSeq advances (a NOTIFY's version never exceeds a later NOTIFY's).
   */
  | {
      readonly kind: 'set-notify-cseq';
      readonly id: string;
      readonly localSeq: number;
      /** The subscription's body version after that NOTIFY (SubscriptionRecord.version); omitted: unchanged. */
      readonly version?: number | undefined;
    }
  | { readonly kind: 'put-watcher'; readonly record: WatcherRecord }
  | { readonly kind: 'delete-watcher'; readonly presentity: string; readonly watcher: string; readonly event: string }
  /** Creates or replaces the document of (owner, auid, name). */
  | { readonly kind: 'put-document'; readonly record: DocumentRecord }
  | { readonly kind: 'delete-document'; readonly owner: string; readonly auid: string; readonly name: string }
  /** Users and registrar bindings: put-user, delete-user, put-binding, delete-binding (account-records.ts). */
  | AccountMutation;

export interface StoreSnapshot {
  readonly publications: PublicationRecord[];
  readonly subscriptions: SubscriptionRecord[];
  readonly watchers: WatcherRecord[];
  readonly documents: DocumentRecord[];
  /** SIP users with their digest secrets (registrar side, account-records.ts). */
  readonly users: UserRecord[];
  /** Registered contacts, expired ones included: the registrar drops them at start-up. */
  readonly bindings: BindingRecord[];
}

export interface PresenceStore {
  /** Reads the whole durable state (at start-up). */
  load(): Promise<StoreSnapshot>;
  /**
   * Applies the mutations in order, atomically, and resolves once they are committed (durable).
   * Rejects with a StoreError if the commit fails; nothing of the batch is then applied. Writes of other
   * callers committed in the same group are not affected by one caller's failure (docs/storage.md).
   * Codes: STORE_ERR_INVALID_MUTATION (malformed, checked before queuing), STORE_ERR_COMMIT_FAILED, STORE_ERR_CLOSED,
   * STORE_ERR_OVERLOADED (too many writes already waiting for the database; refused at once, nothing applied).
   * A caller that does not await (set-notify-cseq) must still attach a rejection handler.
   */
  write(mutations: readonly StoreMutation[]): Promise<void>;
  /**
   * Flushes pending writes and releases the database. Further `write` and `load` calls reject with
   * STORE_ERR_CLOSED; a second `close` resolves and does nothing.
   */
  close(): Promise<void>;
  /** Figures for metrics: commits done, mutations written, last commit duration in ms. */
  stats(): StoreStats;
}

export interface StoreStats {
  readonly commits: number;
  readonly mutations: number;
  readonly lastCommitMs: number;
  readonly pendingMutations: number;
}
