/**
 * application/watcherinfo+xml (RFC 3858): composition of full and partial documents, and a
 * namespace-aware reader used to check what we send (and, later, by a winfo client).
 *
 * Pure functions: no I/O, no clock. Documents are built as trees and written by the shared
 * deterministic serializer, so every attribute value is escaped and output is byte-stable.
 */
import {
  getAttr,
  isXmlElement,
  parseXml,
  serializeXml,
  textContent,
  xmlElement,
  XmlError,
  type XmlElement,
} from '../shared/index.js';

export const WATCHERINFO_NS = 'urn:ietf:params:xml:ns:watcherinfo';
export const WATCHERINFO_CONTENT_TYPE = 'application/watcherinfo+xml';

/** RFC 3858 §4.2 / RFC 3857 §3.3 watcher states. */
export type WatcherStatus = 'pending' | 'active' | 'waiting' | 'terminated';

/** RFC 3858 §4.2 / RFC 3857 §3.4 events: what moved the watcher into its status. */
export type WatcherEvent =
  | 'subscribe'
  | 'approved'
  | 'deactivated'
  | 'probation'
  | 'rejected'
  | 'timeout'
  | 'giveup'
  | 'noresource';

export const WATCHER_STATUSES: readonly WatcherStatus[] = ['pending', 'active', 'waiting', 'terminated'];
export const WATCHER_EVENTS: readonly WatcherEvent[] = [
  'subscribe',
  'approved',
  'deactivated',
  'probation',
  'rejected',
  'timeout',
  'giveup',
  'noresource',
];

/** One `<watcher>`: a subscription (or a remembered attempt) to the watched resource. */
export interface WatcherInfoEntry {
  /**
   * Stable identifier of this watcher's subscription: the same subscription keeps the same id in
   * every document (RFC 3858 §4.2), so a partial document can update it. See {@link watcherId}.
   */
  readonly id: string;
  /** Watcher URI (the element content). */
  readonly uri: string;
  readonly status: WatcherStatus;
  readonly event: WatcherEvent;
  readonly displayName?: string | undefined;
  /** Seconds the watcher has been subscribed (RFC 3858 duration-subscribed). */
  readonly durationSubscribed?: number | undefined;
  /** Seconds until the subscription expires (RFC 3858 expiration). */
  readonly expiration?: number | undefined;
}

/** One `<watcher-list>`: the watchers of one resource for one package. */
export interface WatcherList {
  readonly resource: string;
  /** The watched package, e.g. "presence" (RFC 3858 §4.2 package attribute). */
  readonly package: string;
  readonly watchers: readonly WatcherInfoEntry[];
}

export interface WatcherInfoDocument {
  /** Counted per subscription from 0, +1 per document sent (RFC 3858 §4.1). */
  readonly version: number;
  readonly state: 'full' | 'partial';
  readonly lists: readonly WatcherList[];
}

const STATUS_SET: ReadonlySet<string> = new Set(WATCHER_STATUSES);
const EVENT_SET: ReadonlySet<string> = new Set(WATCHER_EVENTS);

function nonNegativeInteger(n: number): boolean {
  return Number.isSafeInteger(n) && n >= 0;
}

/** Serialize a watcherinfo document. Throws TypeError on out-of-schema values (a caller bug, not input). */
export function composeWatcherInfo(doc: WatcherInfoDocument): string {
  if (!nonNegativeInteger(doc.version)) throw new TypeError(`watcherinfo version ${doc.version} is not a non-negative integer`);
  const lists: XmlElement[] = [];
  for (const list of doc.lists) {
    const watchers: XmlElement[] = [];
    for (const w of list.watchers) {
      if (!STATUS_SET.has(w.status)) throw new TypeError(`watcher status "${w.status}" is not an RFC 3858 status`);
      if (!EVENT_SET.has(w.event)) throw new TypeError(`watcher event "${w.event}" is not an RFC 3858 event`);
      // Attribute order follows the RFC 3858 examples: status, id, event, then the optional ones.
      const attrs: Record<string, string> = { status: w.status, id: w.id, event: w.event };
      if (w.durationSubscribed !== undefined) {
        if (!nonNegativeInteger(w.durationSubscribed)) throw new TypeError('duration-subscribed must be a non-negative integer');
        attrs['duration-subscribed'] = String(w.durationSubscribed);
      }
      if (w.expiration !== undefined) {
        if (!nonNegativeInteger(w.expiration)) throw new TypeError('expiration must be a non-negative integer');
        attrs['expiration'] = String(w.expiration);
      }
      if (w.displayName !== undefined && w.displayName !== '') attrs['display-name'] = w.displayName;
      watchers.push(xmlElement(WATCHERINFO_NS, 'watcher', attrs, [w.uri]));
    }
    lists.push(xmlElement(WATCHERINFO_NS, 'watcher-list', { resource: list.resource, package: list.package }, watchers));
  }
  return serializeXml(xmlElement(WATCHERINFO_NS, 'watcherinfo', { version: String(doc.version), state: doc.state }, lists));
}

/**
 * A short stable watcher id from a subscription key (dialog id, or presentity+watcher+event for a
 * remembered pending watcher). Hashing keeps Call-IDs and tags, which the presentity has no business
 * seeing, out of the document (RFC 3857 §7 privacy) while staying the same across NOTIFYs.
 */
export function watcherId(key: string): string {
  // Two independent 32-bit FNV-1a variants: 64 bits makes collisions among one resource's watchers negligible.
  let a = 0x811c9dc5;
  let b = 0x01000193 ^ 0x5bd1e995;
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995) ^ (b >>> 15);
  }
  return `w${(a >>> 0).toString(36)}${(b >>> 0).toString(36)}`;
}

// ---------------------------------------------------------------------------------------------
// Reading (structural validation against the RFC 3858 schema)

export type WatcherInfoParse = { readonly ok: true; readonly doc: WatcherInfoDocument } | { readonly ok: false; readonly reason: string };

function bad(reason: string): WatcherInfoParse {
  return { ok: false, reason };
}

const XS_NON_NEG = /^[0-9]+$/;

function readUnsigned(el: XmlElement, name: string): number | undefined | null {
  const v = getAttr(el, name);
  if (v === undefined) return undefined;
  const t = v.trim();
  if (!XS_NON_NEG.test(t)) return null;
  const n = Number(t);
  return Number.isSafeInteger(n) ? n : null;
}

/**
 * Reads a watcherinfo document and checks it against the RFC 3858 §5 schema: root, required
 * attributes and their enumerations, watcher ids unique within each list. Elements of other
 * namespaces (the schema's `any ##other`) are allowed and ignored.
 */
export function parseWatcherInfo(body: string): WatcherInfoParse {
  const root = parseXml(body);
  if (root instanceof XmlError) return bad(`watcherinfo is not well-formed XML: ${root.message}`);
  if (root.ns !== WATCHERINFO_NS || root.local !== 'watcherinfo') return bad('root element is not {urn:ietf:params:xml:ns:watcherinfo}watcherinfo');
  const version = readUnsigned(root, 'version');
  if (version === undefined || version === null) return bad('watcherinfo version missing or not a non-negative integer');
  const state = getAttr(root, 'state');
  if (state !== 'full' && state !== 'partial') return bad('watcherinfo state must be full or partial');
  const lists: WatcherList[] = [];
  for (const c of root.children) {
    if (!isXmlElement(c)) {
      if (c.text.trim() !== '') return bad('text content directly in watcherinfo');
      continue;
    }
    if (c.ns !== WATCHERINFO_NS) continue;
    if (c.local !== 'watcher-list') return bad(`unexpected element ${c.local} in watcherinfo`);
    const resource = getAttr(c, 'resource');
    const pkg = getAttr(c, 'package');
    if (resource === undefined || resource === '') return bad('watcher-list without resource');
    if (pkg === undefined || pkg === '') return bad('watcher-list without package');
    const ids = new Set<string>();
    const watchers: WatcherInfoEntry[] = [];
    for (const w of c.children) {
      if (!isXmlElement(w)) {
        if (w.text.trim() !== '') return bad('text content directly in watcher-list');
        continue;
      }
      if (w.ns !== WATCHERINFO_NS) continue;
      if (w.local !== 'watcher') return bad(`unexpected element ${w.local} in watcher-list`);
      const id = getAttr(w, 'id');
      const status = getAttr(w, 'status');
      const event = getAttr(w, 'event');
      if (id === undefined || id === '') return bad('watcher without id');
      if (ids.has(id)) return bad(`watcher id ${id} repeated in one watcher-list`);
      ids.add(id);
      if (status === undefined || !STATUS_SET.has(status)) return bad(`watcher ${id} has bad status`);
      if (event === undefined || !EVENT_SET.has(event)) return bad(`watcher ${id} has bad event`);
      if (w.children.some(isXmlElement)) return bad(`watcher ${id} has element content`);
      const uri = textContent(w).trim();
      if (uri === '') return bad(`watcher ${id} has no URI`);
      const durationSubscribed = readUnsigned(w, 'duration-subscribed');
      const expiration = readUnsigned(w, 'expiration');
      if (durationSubscribed === null || expiration === null) return bad(`watcher ${id} has a bad numeric attribute`);
      watchers.push({
        id,
        uri,
        status: status as WatcherStatus,
        event: event as WatcherEvent,
        displayName: getAttr(w, 'display-name'),
        durationSubscribed,
        expiration,
      });
    }
    lists.push({ resource, package: pkg, watchers });
  }
  return { ok: true, doc: { version, state, lists } };
}
