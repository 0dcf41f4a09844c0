/**
 * application/watcherinfo+xml (RFC 3858): composition of full and partial documents, and a
 * namespace-aware reader used to check what we send (and, later, by a winfo client).
 *
 * Pure functions: no I/O, no clock. Documents are built as trees and written by the shared
 * deterministic serializer, so every attribute value is escaped and output is byte-stable.
 */
import {
  WATCHER_INFO_EVENTS,
  WATCHER_INFO_STATUSES,
  watcherItemId,
  type WatcherInfoEvent,
  type WatcherInfoItem,
  type WatcherInfoStatus,
} from '../../core/event-package.js';
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

/** RFC 3858 §4.2 / RFC 3857 §3.3 watcher states (declared once, in the core's package interface). */
export type WatcherStatus = WatcherInfoStatus;
/** RFC 3858 §4.2 / RFC 3857 §3.4 events: what moved the watcher into its status. */
export type WatcherEvent = WatcherInfoEvent;
/** One `<watcher>`: a subscription (or a remembered attempt) to the watched resource. */
export type WatcherInfoEntry = WatcherInfoItem;

export const WATCHER_STATUSES: readonly WatcherStatus[] = WATCHER_INFO_STATUSES;
export const WATCHER_EVENTS: readonly WatcherEvent[] = WATCHER_INFO_EVENTS;

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
 * A short stable watcher id from a subscription key: the core's own (RFC 3857 §7: hashed, so Call-IDs and
 * tags stay out of the document), so the ids a package computes match those the core reports.
 */
export const watcherId: (key: string) => string = watcherItemId;

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
