/**
 * Durable records of outbound subscriptions: what was asked (presentity, watcher, event, expires, target),
 * not the dialog. After a restart each is subscribed again with a new dialog; the notifier's old subscription
 * ends by itself (its next NOTIFY gets our 481, RFC 6665 §4.1.3) or at its expiry.
 *
 * The records live in the store's documents table (through the core facade), as one JSON document per watcher
 * under a vendor application usage (RFC 4825 §5.1), so no schema change is needed and writes are durable
 * before the API answers, like every other state of presenced.
 */
import { aorKey, parseUri, SipParseError } from '../sip/index.js';

export interface OutboundRecord {
  readonly id: string;
  readonly presentity: string;
  readonly watcher: string;
  readonly event: string;
  /** Requested duration, seconds. */
  readonly expires: number;
  /** Next hop for every request of the subscription ("sip:host:port;transport=tcp"), when given. */
  readonly target: string | undefined;
  readonly accept: readonly string[];
  /** Unix epoch milliseconds. */
  readonly createdAt: number;
}

export interface OutboundRecordStore {
  load(): Promise<readonly OutboundRecord[]>;
  /** Resolves once durable; rejects otherwise. */
  put(record: OutboundRecord): Promise<void>;
  delete(id: string): Promise<void>;
}

/** The part of the core facade used: its documents (PresenceCore has these methods). */
export interface OutboundDocumentPort {
  getDocument(owner: string, auid: string, name: string): { readonly body: string } | undefined;
  putDocument(w: {
    owner: string;
    auid: string;
    name: string;
    contentType: string;
    body: string;
  }): Promise<{ readonly ok: true } | { readonly ok: false; readonly status: number; readonly reason: string }>;
  deleteDocument(d: {
    owner: string;
    auid: string;
    name: string;
  }): Promise<{ readonly ok: true } | { readonly ok: false; readonly status: number; readonly reason: string }>;
  documentOwners(auid: string): string[];
}

/** RFC 4825 §5.1: a vendor-specific application usage is named by a reverse domain name. */
export const OUTBOUND_AUID = 'org.presenced.outbound-subscriptions';
const DOCUMENT_NAME = 'index';
const CONTENT_TYPE = 'application/json';
const MAX_STRING = 2048;

function str(v: unknown): v is string {
  return typeof v === 'string' && v.length > 0 && v.length <= MAX_STRING;
}

/** A stored record checked field by field: the table may hold anything after a downgrade or a manual edit. */
export function recordFromJson(v: unknown): OutboundRecord | undefined {
  if (v === null || typeof v !== 'object') return undefined;
  const o = v as Record<string, unknown>;
  const accept = o['accept'];
  if (
    !str(o['id']) ||
    !str(o['presentity']) ||
    !str(o['watcher']) ||
    !str(o['event']) ||
    typeof o['expires'] !== 'number' ||
    !Number.isInteger(o['expires']) ||
    o['expires'] < 1 ||
    (o['target'] !== undefined && o['target'] !== null && !str(o['target'])) ||
    !Array.isArray(accept) ||
    !accept.every(str) ||
    typeof o['createdAt'] !== 'number'
  ) {
    return undefined;
  }
  return {
    id: o['id'],
    presentity: o['presentity'],
    watcher: o['watcher'],
    event: o['event'],
    expires: o['expires'],
    target: typeof o['target'] === 'string' ? o['target'] : undefined,
    accept: accept as string[],
    createdAt: o['createdAt'],
  };
}

function ownerOf(watcher: string): string {
  const u = parseUri(watcher);
  return u instanceof SipParseError ? watcher : aorKey(u);
}

/**
 * Records kept as one document per watcher. `onSkipped` hears about stored entries that no longer parse.
 * Writes for one watcher are issued in call order and the core applies each in memory when called, so the
 * last write always carries every record of that watcher.
 */
export function documentRecordStore(port: OutboundDocumentPort, onSkipped: (owner: string) => void = () => {}): OutboundRecordStore {
  const byOwner = new Map<string, Map<string, OutboundRecord>>();
  const ownerOfId = new Map<string, string>();

  const write = async (owner: string): Promise<void> => {
    const group = byOwner.get(owner);
    const r =
      group === undefined || group.size === 0
        ? await port.deleteDocument({ owner, auid: OUTBOUND_AUID, name: DOCUMENT_NAME })
        : await port.putDocument({
            owner,
            auid: OUTBOUND_AUID,
            name: DOCUMENT_NAME,
            contentType: CONTENT_TYPE,
            body: JSON.stringify({ subscriptions: [...group.values()] }),
          });
    // Deleting a document that is already gone is what was wanted.
    if (!r.ok && !(r.status === 404 && (group === undefined || group.size === 0))) {
      throw new Error(`outbound subscription record not stored: ${r.status} ${r.reason}`);
    }
  };

  return {
    async load() {
      const out: OutboundRecord[] = [];
      for (const owner of port.documentOwners(OUTBOUND_AUID)) {
        const doc = port.getDocument(owner, OUTBOUND_AUID, DOCUMENT_NAME);
        if (doc === undefined) continue;
        let list: unknown;
        try {
          list = (JSON.parse(doc.body) as { subscriptions?: unknown }).subscriptions;
        } catch {
          list = undefined;
        }
        const group = new Map<string, OutboundRecord>();
        for (const item of Array.isArray(list) ? list : []) {
          const r = recordFromJson(item);
          if (r === undefined || ownerOfId.has(r.id)) {
            onSkipped(owner);
            continue;
          }
          group.set(r.id, r);
          ownerOfId.set(r.id, owner);
          out.push(r);
        }
        byOwner.set(owner, group);
      }
      return out;
    },
    async put(record) {
      const owner = ownerOf(record.watcher);
      let group = byOwner.get(owner);
      if (group === undefined) byOwner.set(owner, (group = new Map()));
      const previous = group.get(record.id);
      group.set(record.id, record);
      ownerOfId.set(record.id, owner);
      try {
        await write(owner);
      } catch (err) {
        if (previous === undefined) {
          group.delete(record.id);
          ownerOfId.delete(record.id);
        } else {
          group.set(record.id, previous);
        }
        throw err;
      }
    },
    async delete(id) {
      const owner = ownerOfId.get(id);
      if (owner === undefined) return;
      const group = byOwner.get(owner);
      const previous = group?.get(id);
      group?.delete(id);
      ownerOfId.delete(id);
      try {
        await write(owner);
      } catch (err) {
        if (previous !== undefined) {
          group?.set(id, previous);
          ownerOfId.set(id, owner);
        }
        throw err;
      }
    },
  };
}

/** Records in memory only (tests, or a deployment that re-creates its subscriptions through the API). */
export function memoryRecordStore(initial: readonly OutboundRecord[] = []): OutboundRecordStore & { readonly records: ReadonlyMap<string, OutboundRecord> } {
  const records = new Map(initial.map((r) => [r.id, r]));
  return {
    records,
    load: async () => [...records.values()],
    put: async (r) => {
      records.set(r.id, r);
    },
    delete: async (id) => {
      records.delete(id);
    },
  };
}
