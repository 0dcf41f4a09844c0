/**
 * PresenceStore in process memory: for tests and for the explicit `db: memory:` mode. NOT durable: everything is
 * lost when the process exits. Same contract as the durable adapters (test/contract/store.contract.ts), so the core
 * cannot tell them apart except across a restart.
 */
import { StoreError } from '../errors.js';
import type {
  DocumentRecord,
  PresenceStore,
  PublicationRecord,
  StoreMutation,
  StoreSnapshot,
  StoreStats,
  SubscriptionRecord,
  WatcherRecord,
} from '../store.js';
import { checkMutations } from '../validate.js';
import { AccountTables } from './account-tables.js';

/** Length-prefixed so that no choice of strings can make two different keys collide. */
function key3(a: string, b: string, c: string): string {
  return `${a.length}:${a}${b.length}:${b}${c}`;
}

export class MemoryStore implements PresenceStore {
  readonly #publications = new Map<string, PublicationRecord>();
  readonly #subscriptions = new Map<string, SubscriptionRecord>();
  /** NOTIFY CSeqs advanced by set-notify-cseq since the record was put: saves copying the record per NOTIFY. */
  readonly #notifyCseq = new Map<string, number>();
  /** Body versions set by set-notify-cseq together with the CSeq. */
  readonly #notifyVersion = new Map<string, number>();
  readonly #watchers = new Map<string, WatcherRecord>();
  readonly #documents = new Map<string, DocumentRecord>();
  readonly #accounts = new AccountTables();
  #closed = false;
  #commits = 0;
  #mutations = 0;

  load(): Promise<StoreSnapshot> {
    if (this.#closed) return Promise.reject(new StoreError('STORE_ERR_CLOSED', 'load() after close()'));
    const subscriptions: SubscriptionRecord[] = [];
    for (const record of this.#subscriptions.values()) {
      const seq = this.#notifyCseq.get(record.id);
      const version = this.#notifyVersion.get(record.id);
      if (seq === undefined) subscriptions.push(record);
      else subscriptions.push({ ...record, version: version ?? record.version, dialog: { ...record.dialog, localSeq: seq } });
    }
    return Promise.resolve({
      publications: [...this.#publications.values()],
      subscriptions,
      watchers: [...this.#watchers.values()],
      documents: [...this.#documents.values()],
      users: this.#accounts.users(),
      bindings: this.#accounts.bindings(),
    });
  }

  write(mutations: readonly StoreMutation[]): Promise<void> {
    if (this.#closed) return Promise.reject(new StoreError('STORE_ERR_CLOSED', 'write() after close()'));
    // Validation first, then apply: nothing below can fail, so a write is all-or-nothing.
    const invalid = checkMutations(mutations);
    if (invalid !== undefined) return Promise.reject(invalid);
    for (const m of mutations) this.#apply(m);
    this.#commits++;
    this.#mutations += mutations.length;
    return Promise.resolve();
  }

  close(): Promise<void> {
    this.#closed = true;
    return Promise.resolve();
  }

  stats(): StoreStats {
    return { commits: this.#commits, mutations: this.#mutations, lastCommitMs: 0, pendingMutations: 0 };
  }

  #apply(m: StoreMutation): void {
    switch (m.kind) {
      case 'put-publication': {
        const r = m.record;
        this.#publications.set(key3(r.presentity, r.event, r.etag), r);
        return;
      }
      case 'replace-publication': {
        const r = m.record;
        this.#publications.delete(key3(r.presentity, r.event, m.oldEtag));
        this.#publications.set(key3(r.presentity, r.event, r.etag), r);
        return;
      }
      case 'delete-publication':
        this.#publications.delete(key3(m.presentity, m.event, m.etag));
        return;
      case 'put-subscription':
        this.#subscriptions.set(m.record.id, m.record);
        this.#notifyCseq.delete(m.record.id);
        this.#notifyVersion.delete(m.record.id);
        return;
      case 'delete-subscription':
        this.#subscriptions.delete(m.id);
        this.#notifyCseq.delete(m.id);
        this.#notifyVersion.delete(m.id);
        return;
      case 'set-notify-cseq': {
        const record = this.#subscriptions.get(m.id);
        if (record === undefined) return;
        const current = this.#notifyCseq.get(m.id) ?? record.dialog.localSeq;
        if (m.localSeq > current) {
          this.#notifyCseq.set(m.id, m.localSeq);
          if (m.version !== undefined) this.#notifyVersion.set(m.id, m.version);
        }
        return;
      }
      case 'put-watcher': {
        const r = m.record;
        this.#watchers.set(key3(r.presentity, r.watcher, r.event), r);
        return;
      }
      case 'delete-watcher':
        this.#watchers.delete(key3(m.presentity, m.watcher, m.event));
        return;
      case 'put-document': {
        const r = m.record;
        this.#documents.set(key3(r.owner, r.auid, r.name), r);
        return;
      }
      case 'delete-document':
        this.#documents.delete(key3(m.owner, m.auid, m.name));
        return;
      case 'put-user':
      case 'delete-user':
      case 'put-binding':
      case 'delete-binding':
        this.#accounts.apply(m);
        return;
    }
  }
}
