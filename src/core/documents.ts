/**
 * Users' documents (the store's documents table): authorization rules such as RFC 5025 pres-rules, managed over
 * an XCAP-style HTTP API (RFC 4825) and read synchronously by `authorize` hooks. Held in memory, written durably
 * before the change is acknowledged, like every other state of the core. The core does not interpret them: the
 * composition root validates a document before it is stored and decides what a change means (refreshWatchers).
 */
import { newToken } from '../transaction/index.js';
import type { DocumentRecord } from '../store/store.js';
import type { CoreContext } from './context.js';
import { own } from './presentity-index.js';
import { storeFailureStatus } from './replies.js';

/** A document write (RFC 4825 §7.4 PUT of a whole document) with its HTTP preconditions (§7.11). */
export interface DocumentWrite {
  /** Owner URI (the XCAP User Identifier); normalised to its AOR by the facade. */
  readonly owner: string;
  readonly auid: string;
  readonly name: string;
  readonly contentType: string;
  readonly body: string;
  /** If-Match: the entity-tags that may be replaced; "*" = any existing document. */
  readonly ifMatch?: readonly string[] | undefined;
  /** If-None-Match: "*" = only if none exists; tags = only if the current one is none of them. */
  readonly ifNoneMatch?: readonly string[] | undefined;
}

export interface DocumentDelete {
  readonly owner: string;
  readonly auid: string;
  readonly name: string;
  readonly ifMatch?: readonly string[] | undefined;
}

export type DocumentResult =
  | { readonly ok: true; readonly etag: string; readonly created: boolean }
  | { readonly ok: false; readonly status: 400 | 404 | 412 | 500 | 503; readonly reason: string };

/** RFC 4825 §7.11 entity-tags: opaque, 96 random bits, changed on every write. */
const ETAG_BYTES = 12;

function key(owner: string, auid: string, name: string): string {
  return `${owner.length}:${owner}${auid.length}:${auid}${name}`;
}

/** Whether the HTTP preconditions hold for the current tag (undefined: no document). RFC 9110 §13.1.1-2. */
export function preconditionsHold(current: string | undefined, ifMatch?: readonly string[], ifNoneMatch?: readonly string[]): boolean {
  if (ifMatch !== undefined && ifMatch.length > 0) {
    if (current === undefined) return false;
    if (!ifMatch.includes('*') && !ifMatch.includes(current)) return false;
  }
  if (ifNoneMatch !== undefined && ifNoneMatch.length > 0) {
    if (ifNoneMatch.includes('*') ? current !== undefined : current !== undefined && ifNoneMatch.includes(current)) return false;
  }
  return true;
}

export class DocumentIndex {
  readonly #ctx: CoreContext;
  readonly #docs = new Map<string, DocumentRecord>();

  constructor(ctx: CoreContext) {
    this.#ctx = ctx;
  }

  load(records: readonly DocumentRecord[]): void {
    for (const r of records) this.#docs.set(key(r.owner, r.auid, r.name), r);
  }

  get size(): number {
    return this.#docs.size;
  }

  get(owner: string, auid: string, name: string): DocumentRecord | undefined {
    return this.#docs.get(key(owner, auid, name));
  }

  /** Owners having a document of `auid` (for listings and sweeps). */
  owners(auid: string): string[] {
    const out: string[] = [];
    for (const r of this.#docs.values()) if (r.auid === auid) out.push(r.owner);
    return out;
  }

  /** Stores a document (owner already normalised). Applied in memory at once, so a concurrent write sees it. */
  async put(w: DocumentWrite): Promise<DocumentResult> {
    const ctx = this.#ctx;
    const k = key(w.owner, w.auid, w.name);
    const prev = this.#docs.get(k);
    if (!preconditionsHold(prev?.etag, w.ifMatch, w.ifNoneMatch)) return { ok: false, status: 412, reason: 'Precondition Failed' };
    const record: DocumentRecord = {
      owner: own(w.owner),
      auid: own(w.auid),
      name: own(w.name),
      etag: newToken(ETAG_BYTES),
      contentType: own(w.contentType),
      body: w.body,
      updatedAt: ctx.now(),
    };
    this.#docs.set(k, record);
    try {
      await ctx.track(ctx.store.write([{ kind: 'put-document', record }]));
    } catch (err) {
      if (this.#docs.get(k) === record) {
        if (prev === undefined) this.#docs.delete(k);
        else this.#docs.set(k, prev);
      }
      return this.#failure(err);
    }
    return { ok: true, etag: record.etag, created: prev === undefined };
  }

  async delete(d: DocumentDelete): Promise<DocumentResult> {
    const ctx = this.#ctx;
    const k = key(d.owner, d.auid, d.name);
    const prev = this.#docs.get(k);
    if (prev === undefined) return { ok: false, status: 404, reason: 'No such document' };
    if (!preconditionsHold(prev.etag, d.ifMatch)) return { ok: false, status: 412, reason: 'Precondition Failed' };
    this.#docs.delete(k);
    try {
      await ctx.track(ctx.store.write([{ kind: 'delete-document', owner: prev.owner, auid: prev.auid, name: prev.name }]));
    } catch (err) {
      if (!this.#docs.has(k)) this.#docs.set(k, prev);
      return this.#failure(err);
    }
    return { ok: true, etag: prev.etag, created: false };
  }

  #failure(err: unknown): DocumentResult {
    this.#ctx.counters.storeFailures++;
    this.#ctx.logger.error({ err }, 'document change not stored; rolled back');
    const { status, reason } = storeFailureStatus(err);
    return { ok: false, status: status === 503 ? 503 : 500, reason };
  }
}
