/**
 * Shape check of mutations, shared by every adapter so that all of them accept and refuse exactly the same writes.
 * It runs before a write is queued: a malformed mutation is refused on its own and can never spoil a group commit
 * of other callers. Cheap on purpose (typeof checks, no allocation on success): it runs once per PUBLISH and NOTIFY.
 */
import { checkAccountMutation } from './account-records.js';
import { StoreError } from './errors.js';
import type {
  DialogRecord,
  DocumentRecord,
  FlowRecord,
  PublicationRecord,
  StoreMutation,
  SubscriptionRecord,
  WatcherRecord,
} from './store.js';

const isStr = (v: unknown): v is string => typeof v === 'string';
const isOptStr = (v: unknown): boolean => v === undefined || typeof v === 'string';
/** Stored as SQLite INTEGER: times in epoch ms, CSeqs, versions, ports. */
const isInt = (v: unknown): boolean => typeof v === 'number' && Number.isSafeInteger(v);

function isStrArray(v: unknown): boolean {
  if (!Array.isArray(v)) return false;
  for (let i = 0; i < v.length; i++) if (typeof v[i] !== 'string') return false;
  return true;
}

export function checkPublication(r: PublicationRecord | undefined): string | undefined {
  if (typeof r !== 'object' || r === null) return 'record is not an object';
  if (!isStr(r.presentity) || !isStr(r.event) || !isStr(r.etag)) return 'presentity, event and etag must be strings';
  if (!isInt(r.expiresAt) || !isInt(r.receivedAt)) return 'expiresAt and receivedAt must be integers (epoch ms)';
  if (!isStr(r.contentType) || !isStr(r.body)) return 'contentType and body must be strings';
  if (!isOptStr(r.sender)) return 'sender must be a string or undefined';
  return undefined;
}

function checkDialog(d: DialogRecord | undefined): string | undefined {
  if (typeof d !== 'object' || d === null) return 'dialog is not an object';
  if (!isStr(d.callId) || !isStr(d.localTag) || !isStr(d.remoteTag)) return 'dialog callId and tags must be strings';
  if (!isStr(d.localUri) || !isStr(d.remoteUri) || !isStr(d.remoteTarget)) return 'dialog URIs must be strings';
  if (!isStrArray(d.routeSet)) return 'dialog.routeSet must be an array of strings';
  if (!isInt(d.localSeq) || !isInt(d.remoteSeq)) return 'dialog localSeq and remoteSeq must be integers';
  if (typeof d.secure !== 'boolean') return 'dialog.secure must be a boolean';
  return undefined;
}

function checkFlow(f: FlowRecord | undefined): string | undefined {
  if (typeof f !== 'object' || f === null) return 'flow is not an object';
  if (f.protocol !== 'udp' && f.protocol !== 'tcp') return "flow.protocol must be 'udp' or 'tcp'";
  if (!isStr(f.address) || !isStr(f.localAddress)) return 'flow addresses must be strings';
  if (!isInt(f.port) || !isInt(f.localPort)) return 'flow ports must be integers';
  if (!isOptStr(f.flowId)) return 'flow.flowId must be a string or undefined';
  return undefined;
}

function isEventParams(v: unknown): boolean {
  if (!Array.isArray(v)) return false;
  for (let i = 0; i < v.length; i++) {
    const p: unknown = v[i];
    if (!Array.isArray(p) || p.length !== 2 || typeof p[0] !== 'string' || (p[1] !== null && typeof p[1] !== 'string')) return false;
  }
  return true;
}

export function checkSubscription(r: SubscriptionRecord | undefined): string | undefined {
  if (typeof r !== 'object' || r === null) return 'record is not an object';
  if (!isStr(r.id) || !isStr(r.presentity) || !isStr(r.event) || !isStr(r.watcher)) {
    return 'id, presentity, event and watcher must be strings';
  }
  if (!isOptStr(r.eventId) || !isOptStr(r.reason)) return 'eventId and reason must be strings or undefined';
  if (r.status !== 'pending' && r.status !== 'active' && r.status !== 'terminated') return 'unknown status';
  if (!isInt(r.expiresAt) || !isInt(r.createdAt) || !isInt(r.version)) {
    return 'expiresAt, createdAt and version must be integers';
  }
  if (!isStrArray(r.accept)) return 'accept must be an array of strings';
  if (r.eventParams !== undefined && !isEventParams(r.eventParams)) {
    return 'eventParams must be an array of [name, value] pairs (value a string or null)';
  }
  return checkDialog(r.dialog) ?? checkFlow(r.flow);
}

export function checkWatcher(r: WatcherRecord | undefined): string | undefined {
  if (typeof r !== 'object' || r === null) return 'record is not an object';
  if (!isStr(r.presentity) || !isStr(r.watcher) || !isStr(r.event)) return 'presentity, watcher and event must be strings';
  const s = r.status;
  if (s !== 'pending' && s !== 'active' && s !== 'terminated' && s !== 'waiting') return 'unknown status';
  if (!isOptStr(r.reason) || !isOptStr(r.displayName)) return 'reason and displayName must be strings or undefined';
  if (!isInt(r.insertedAt)) return 'insertedAt must be an integer (epoch ms)';
  return undefined;
}

export function checkDocument(r: DocumentRecord | undefined): string | undefined {
  if (typeof r !== 'object' || r === null) return 'record is not an object';
  if (!isStr(r.owner) || !isStr(r.auid) || !isStr(r.name)) return 'owner, auid and name must be strings';
  if (!isStr(r.etag) || !isStr(r.contentType) || !isStr(r.body)) return 'etag, contentType and body must be strings';
  if (!isInt(r.updatedAt)) return 'updatedAt must be an integer (epoch ms)';
  return undefined;
}

/** Why the mutation is malformed, or undefined when it is well formed. */
export function checkMutation(m: StoreMutation): string | undefined {
  if (typeof m !== 'object' || m === null) return 'mutation is not an object';
  switch (m.kind) {
    case 'put-publication':
      return checkPublication(m.record);
    case 'replace-publication':
      return isStr(m.oldEtag) ? checkPublication(m.record) : 'oldEtag must be a string';
    case 'delete-publication':
      return isStr(m.presentity) && isStr(m.event) && isStr(m.etag)
        ? undefined
        : 'presentity, event and etag must be strings';
    case 'put-subscription':
      return checkSubscription(m.record);
    case 'delete-subscription':
      return isStr(m.id) ? undefined : 'id must be a string';
    case 'set-notify-cseq':
      if (!isStr(m.id) || !isInt(m.localSeq)) return 'id must be a string and localSeq an integer';
      return m.version === undefined || isInt(m.version) ? undefined : 'version must be an integer or undefined';
    case 'put-watcher':
      return checkWatcher(m.record);
    case 'delete-watcher':
      return isStr(m.presentity) && isStr(m.watcher) && isStr(m.event)
        ? undefined
        : 'presentity, watcher and event must be strings';
    case 'put-document':
      return checkDocument(m.record);
    case 'delete-document':
      return isStr(m.owner) && isStr(m.auid) && isStr(m.name) ? undefined : 'owner, auid and name must be strings';
    case 'put-user':
    case 'delete-user':
    case 'put-binding':
    case 'delete-binding':
      return checkAccountMutation(m);
    default:
      return 'unknown mutation kind';
  }
}

/** A StoreError naming the first malformed mutation of a write, or undefined when all are well formed. */
export function checkMutations(mutations: readonly StoreMutation[]): StoreError | undefined {
  if (!Array.isArray(mutations)) {
    return new StoreError('STORE_ERR_INVALID_MUTATION', 'write() takes an array of mutations');
  }
  for (let i = 0; i < mutations.length; i++) {
    const problem = checkMutation(mutations[i]!);
    if (problem !== undefined) {
      const kind = String((mutations[i] as { kind?: unknown } | null)?.kind);
      return new StoreError('STORE_ERR_INVALID_MUTATION', `mutation ${i} (${kind}): ${problem}`);
    }
  }
  return undefined;
}
