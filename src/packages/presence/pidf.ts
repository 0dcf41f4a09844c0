/**
 * PIDF (RFC 3863), its data model (RFC 4479) and RPID (RFC 4480): validation of published
 * bodies, composition of several publications into one NOTIFY body, and small read-outs.
 *
 * Pure functions: no I/O, no clock. Everything is matched by expanded name ({namespace}local),
 * never by prefix, so `<p:presence xmlns:p="urn:ietf:params:xml:ns:pidf">` is a PIDF document
 * and `<presence xmlns="urn:example:evil">` is not.
 */
import {
  firstChild,
  getAttr,
  isXmlElement,
  parseXml,
  serializeXml,
  textContent,
  xmlElement,
  XmlError,
  type XmlAttr,
  type XmlElement,
} from '../shared/index.js';
import { samePresentity } from './same-presentity.js';

export { samePresentity } from './same-presentity.js';

export const PIDF_NS = 'urn:ietf:params:xml:ns:pidf';
export const DM_NS = 'urn:ietf:params:xml:ns:pidf:data-model';
export const RPID_NS = 'urn:ietf:params:xml:ns:pidf:rpid';

/**
 * Namespaces whose elements we can carry without misrepresenting them: PIDF, data model,
 * RPID, CIPID (RFC 4482), timed status (RFC 4481) and capabilities (RFC 5196).
 */
const UNDERSTOOD_NS: ReadonlySet<string> = new Set([
  PIDF_NS,
  DM_NS,
  RPID_NS,
  'urn:ietf:params:xml:ns:pidf:cipid',
  'urn:ietf:params:xml:ns:pidf:timed-status',
  'urn:ietf:params:xml:ns:pidf:caps',
]);

/** A parsed PIDF document. Treat as immutable: it may be shared by cached aggregations. */
export interface PidfDocument {
  /** The `entity` attribute as published. */
  readonly entity: string;
  /** The `{urn:ietf:params:xml:ns:pidf}presence` root. */
  readonly root: XmlElement;
}

export type PidfValidation = { ok: true; doc: PidfDocument } | { ok: false; reason: string };

/** One live publication of a presentity (RFC 3903 §3: one per ETag). */
export interface PidfPublication {
  etag: string;
  /** The stored body, or the document validatePidf returned for it (saves a parse). */
  body: string | PidfDocument;
  /** When the publication was received, in ms since the epoch; orders tuples without a timestamp. */
  receivedAt: number;
}

export type PidfBasic = 'open' | 'closed' | 'unknown';

export interface PidfSummary {
  basic: PidfBasic;
  /** Local names of RPID <activities> children (RFC 4480), e.g. "on-the-phone", "away". */
  activities: string[];
  note?: string;
}

// ---------------------------------------------------------------------------------------------
// Reading and validation

/** Reasons end up in a SIP reason phrase: one line of printable ASCII, bounded. */
function phrase(s: string): string {
  const clean = s.replace(/[^\x20-\x7e]/g, '?');
  return clean.length > 200 ? `${clean.slice(0, 197)}...` : clean;
}

function show(value: string): string {
  return value.length > 80 ? `${value.slice(0, 77)}...` : value;
}

function xmlReason(e: XmlError): string {
  switch (e.code) {
    case 'XML_DTD_FORBIDDEN':
      return 'PIDF body must not contain a DOCTYPE';
    case 'XML_MALFORMED':
      return `PIDF body is not well-formed XML: ${e.message}`;
    default:
      return `PIDF body rejected: ${e.message}`;
  }
}

/** Parse and check the root only: what every reader needs, validation aside. */
function readPidf(body: string | PidfDocument): PidfDocument | string {
  if (typeof body !== 'string') return body;
  const root = parseXml(body);
  if (root instanceof XmlError) return xmlReason(root);
  // RFC 3863 §4.1: the root is <presence> in the PIDF namespace; the same local name in
  // another namespace is a different element entirely.
  if (root.ns !== PIDF_NS || root.local !== 'presence') {
    return `PIDF root element must be {${PIDF_NS}}presence, not {${show(root.ns)}}${show(root.local)}`;
  }
  const entity = getAttr(root, 'entity');
  if (entity === undefined || entity.trim() === '') return 'PIDF presence element has no entity attribute';
  return { entity, root };
}

function isTrue(v: string | undefined): boolean {
  if (v === undefined) return false;
  const t = v.trim(); // xs:boolean collapses whitespace
  return t === 'true' || t === '1';
}

/**
 * RFC 3863 mustUnderstand: an extension flagged with it may not be silently ignored, and since we
 * would forward it to watchers as if it were understood, the whole document is refused. The
 * attribute is defined in the PIDF namespace; the unqualified spelling is accepted too because
 * publishers that write it mean the same thing.
 */
function findMustUnderstand(el: XmlElement): XmlElement | undefined {
  if (!UNDERSTOOD_NS.has(el.ns)) {
    for (const a of el.attrs) {
      if (a.local === 'mustUnderstand' && (a.ns === PIDF_NS || a.ns === '') && isTrue(a.value)) return el;
    }
  }
  for (const c of el.children) {
    if (isXmlElement(c)) {
      const hit = findMustUnderstand(c);
      if (hit !== undefined) return hit;
    }
  }
  return undefined;
}

function checkStructure(root: XmlElement): string | undefined {
  // tuple, dm:person and dm:device ids are all xs:ID, so they share one document-wide space
  // (RFC 3863 §4.1 and RFC 4479 schemas); composition relies on that to rename safely.
  const ids = new Set<string>();
  const claim = (kind: string, el: XmlElement): string | undefined => {
    const id = getAttr(el, 'id');
    if (id === undefined || id.trim() === '') return `PIDF ${kind} without id attribute`;
    if (ids.has(id)) return `PIDF id "${show(id)}" is not unique in the document`;
    ids.add(id);
    return undefined;
  };
  for (const child of root.children) {
    if (!isXmlElement(child)) continue;
    if (child.ns === PIDF_NS && child.local === 'tuple') {
      const bad = claim('tuple', child);
      if (bad !== undefined) return bad;
      const id = getAttr(child, 'id')!;
      let status: XmlElement | undefined;
      for (const c of child.children) {
        if (!isXmlElement(c) || c.ns !== PIDF_NS || c.local !== 'status') continue;
        // RFC 3863 §4.1: exactly one <status> per tuple.
        if (status !== undefined) return `PIDF tuple "${show(id)}" has more than one status element`;
        status = c;
      }
      if (status === undefined) return `PIDF tuple "${show(id)}" has no status element`;
      // A <basic> other than open/closed (baresip publishes "unknown") is tolerated, as Kamailio does, and
      // left out when composing (withValidBasic), so watchers still receive schema-valid PIDF (RFC 3863 §4.1.4).
    } else if (isDmItem(child)) {
      const bad = claim(`dm:${child.local}`, child);
      if (bad !== undefined) return bad;
    }
  }
  const mu = findMustUnderstand(root);
  if (mu !== undefined) {
    return `PIDF element {${show(mu.ns)}}${show(mu.local)} is marked mustUnderstand but is not supported`;
  }
  return undefined;
}

/**
 * Validate a PUBLISH body for presentity `presentityUri` (the Request-URI). On failure the reason
 * is a short ASCII line suitable for a 400 reason phrase.
 */
export function validatePidf(body: string, presentityUri: string): PidfValidation {
  const doc = readPidf(body);
  if (typeof doc === 'string') return { ok: false, reason: phrase(doc) };
  // The entity names the presentity the document describes (RFC 3863 §4.1); a compositor
  // accepting it for another resource (RFC 3903 §6) would let one user publish for another.
  if (!samePresentity(doc.entity, presentityUri)) {
    return {
      ok: false,
      reason: phrase(`PIDF entity ${show(doc.entity.trim())} does not match presentity ${show(presentityUri)}`),
    };
  }
  const bad = checkStructure(doc.root);
  if (bad !== undefined) return { ok: false, reason: phrase(bad) };
  return { ok: true, doc };
}

// ---------------------------------------------------------------------------------------------
// Composition (RFC 3903 §3, RFC 4479)

// xs:dateTime; a value without a zone is read as UTC so that output never depends on the
// server's local time zone.
const DATE_TIME = /^\s*(-?\d{4,})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)?\s*$/;

function parseDateTime(s: string): number | undefined {
  const m = DATE_TIME.exec(s);
  if (m === null) return undefined;
  const ms = m[7] === undefined ? 0 : Math.floor(Number(m[7]) * 1000);
  let t = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]), ms);
  const zone = m[8];
  if (zone !== undefined && zone !== 'Z') {
    const sign = zone[0] === '-' ? -1 : 1;
    t -= sign * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4, 6))) * 60_000;
  }
  return Number.isFinite(t) ? t : undefined;
}

function timestampOf(el: XmlElement, ns: string): number | undefined {
  const ts = firstChild(el, ns, 'timestamp');
  return ts === undefined ? undefined : parseDateTime(textContent(ts));
}

/** dm:person and dm:device: data-model items with an xs:ID and a <dm:timestamp> (RFC 4479). */
function isDmItem(el: XmlElement): boolean {
  return el.ns === DM_NS && (el.local === 'person' || el.local === 'device');
}

/** The timestamp a child of <presence> is ordered by, if it has one: a tuple's, a dm:person's or dm:device's. */
function itemTimestamp(el: XmlElement): number | undefined {
  if (el.ns === PIDF_NS && el.local === 'tuple') return timestampOf(el, PIDF_NS);
  return isDmItem(el) ? timestampOf(el, DM_NS) : undefined;
}

/** Two notes with the same key say the same thing in the same language: the composite says it once. */
function noteKey(note: XmlElement): string {
  return `${getAttr(note, 'lang', 'http://www.w3.org/XML/1998/namespace') ?? ''}\u0000${textContent(note)}`;
}

/** FNV-1a, base 36: a short, stable tag per ETag for renamed ids (xs:ID-safe characters). */
function shortHash(s: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0).toString(36).padStart(7, '0');
}

interface Item {
  el: XmlElement;
  time: number;
  /** Rank of the publication, newest first; breaks timestamp ties deterministically. */
  pub: number;
  index: number;
  etag: string;
  /** Carries an xs:ID that must stay unique across the composite document. */
  identified: boolean;
}

function byNewest(a: Item, b: Item): number {
  return b.time - a.time || a.pub - b.pub || a.index - b.index;
}

function withId(el: XmlElement, id: string): XmlElement {
  const isId = (a: XmlAttr): boolean => a.local === 'id' && a.ns === '';
  const attrs = el.attrs.some(isId)
    ? el.attrs.map((a) => (isId(a) ? { ...a, value: id } : a))
    : [{ ns: '', local: 'id', prefix: '', value: id }, ...el.attrs];
  return { ...el, attrs };
}

/**
 * Compose all live publications of one presentity into one document (RFC 3903 §3 "event state
 * compositor", RFC 4479 data model): every tuple, top-level note and extension element (dm:person,
 * dm:device, RPID, unknown namespaces) is kept unchanged, under one <presence> whose entity is
 * `presentityUri`. Tuples and extensions are ordered newest first by their <timestamp> (else the
 * publication's receivedAt); ids that collide across publications get a suffix derived from
 * the ETag. Bodies that no longer parse are skipped. Inputs are not modified.
 */
export function composePidf(presentityUri: string, publications: ReadonlyArray<PidfPublication>): PidfDocument {
  const docs: Array<{ doc: PidfDocument; etag: string; receivedAt: number; order: number }> = [];
  publications.forEach((p, order) => {
    const doc = readPidf(p.body);
    if (typeof doc !== 'string') docs.push({ doc, etag: p.etag, receivedAt: p.receivedAt, order });
  });
  // Newest publication first; ETag then input position make equal receivedAt deterministic.
  docs.sort((a, b) => b.receivedAt - a.receivedAt || (a.etag < b.etag ? -1 : a.etag > b.etag ? 1 : 0) || a.order - b.order);

  const tuples: Item[] = [];
  const extensions: Item[] = [];
  const notes: XmlElement[] = [];
  const noteSeen = new Set<string>();
  docs.forEach(({ doc, etag, receivedAt }, pub) => {
    let index = 0;
    for (const el of doc.root.children) {
      if (!isXmlElement(el)) continue; // stray text in <presence> is not PIDF content
      index++;
      if (el.ns === PIDF_NS && el.local === 'tuple') {
        tuples.push({ el: withValidBasic(el), time: itemTimestamp(el) ?? receivedAt, pub, index, etag, identified: true });
      } else if (el.ns === PIDF_NS && el.local === 'note') {
        const key = noteKey(el);
        if (!noteSeen.has(key)) {
          noteSeen.add(key);
          notes.push(el);
        }
      } else {
        extensions.push({ el, time: itemTimestamp(el) ?? receivedAt, pub, index, etag, identified: isDmItem(el) });
      }
    }
  });
  tuples.sort(byNewest);
  extensions.sort(byNewest);

  // Rename only what collides, so a single device keeps its ids. Device references in the data
  // model go through <dm:deviceID> values, not these ids, so renaming breaks no link (RFC 4479).
  const seen = new Map<string, number>();
  const identified = [...tuples, ...extensions].filter((i) => i.identified);
  for (const i of identified) {
    const id = getAttr(i.el, 'id') ?? '';
    seen.set(id, (seen.get(id) ?? 0) + 1);
  }
  const used = new Set<string>(seen.keys());
  for (const i of identified) {
    const id = getAttr(i.el, 'id') ?? '';
    if (seen.get(id)! < 2) continue;
    let next = `${id || 'id'}-${shortHash(i.etag)}`;
    for (let n = 2; used.has(next); n++) next = `${id || 'id'}-${shortHash(i.etag)}-${n}`;
    used.add(next);
    i.el = withId(i.el, next);
  }

  // RFC 3863 §4.1 schema order: tuples, then notes, then extension elements.
  const root = xmlElement(PIDF_NS, 'presence', { entity: presentityUri }, [
    ...tuples.map((i) => i.el),
    ...notes,
    ...extensions.map((i) => i.el),
  ]);
  return { entity: presentityUri, root };
}

const XML_DECL_ENCODING = /^<\?xml[^>]*?encoding[ \t\r\n]*=[ \t\r\n]*["']([^"']*)["']/;

/**
 * Whether composePidf over this one document would only re-serialize it: entity already the presentity, schema order
 * (tuples, notes, extensions), each run already newest first, every <basic> open or closed, no repeated note, no
 * stray text, UTF-8. Then the body can be sent as published, as Kamailio does for a single publication, instead of
 * being parsed, composed and written again for the first watcher. A run whose items are partly timestamped is ordered
 * against the publication's arrival time, unknown here, so it does not qualify.
 */
export function composesAsIs(body: string, doc: PidfDocument, presentityUri: string): boolean {
  if (doc.entity !== presentityUri) return false;
  const decl = XML_DECL_ENCODING.exec(body);
  if (decl !== null && decl[1]!.toLowerCase() !== 'utf-8') return false;
  let stage = 0; // 0: tuples, 1: notes, 2: extensions
  let tuples: XmlElement[] | undefined;
  let extensions: XmlElement[] | undefined;
  let notes: Set<string> | undefined;
  for (const el of doc.root.children) {
    if (!isXmlElement(el)) {
      if (el.text.trim() !== '') return false;
      continue;
    }
    if (el.ns === PIDF_NS && el.local === 'tuple') {
      if (stage > 0 || withValidBasic(el) !== el) return false;
      (tuples ??= []).push(el);
    } else if (el.ns === PIDF_NS && el.local === 'note') {
      if (stage > 1) return false;
      stage = 1;
      const key = noteKey(el);
      if (notes?.has(key) === true) return false;
      (notes ??= new Set()).add(key);
    } else {
      stage = 2;
      (extensions ??= []).push(el);
    }
  }
  // A run of one is in order whatever its timestamp: the common document (a tuple and a person) parses no dates.
  return inOrder(tuples) && inOrder(extensions);
}

/** Newest first, all timestamped or none (see composesAsIs). */
function inOrder(run: XmlElement[] | undefined): boolean {
  if (run === undefined || run.length < 2) return true;
  let timed: boolean | undefined;
  let last = Infinity;
  for (const el of run) {
    const time = itemTimestamp(el);
    if (timed === undefined) timed = time !== undefined;
    else if (timed !== (time !== undefined)) return false;
    if (time !== undefined) {
      if (time > last) return false;
      last = time;
    }
  }
  return true;
}

/** Serialize a PIDF document deterministically (PIDF as default namespace, dm/rpid/... prefixes). */
export function serializePidf(doc: PidfDocument): string {
  return serializeXml(doc.root);
}

/** {@link composePidf}, serialized: the NOTIFY body for all live publications of a presentity. */
export function aggregatePidf(presentityUri: string, publications: ReadonlyArray<PidfPublication>): string {
  return serializeXml(composePidf(presentityUri, publications).root);
}

/**
 * The neutral document for a presentity with no usable state: one closed tuple. Used for
 * notify_offline_body and for polite blocking (RFC 5025 §3.2.1: a blocked watcher sees what an
 * offline presentity looks like).
 */
export function closedPidf(presentityUri: string): string {
  const status = xmlElement(PIDF_NS, 'status', {}, [xmlElement(PIDF_NS, 'basic', {}, ['closed'])]);
  const tuple = xmlElement(PIDF_NS, 'tuple', { id: 'offline' }, [status]);
  return serializeXml(xmlElement(PIDF_NS, 'presence', { entity: presentityUri }, [tuple]));
}

// ---------------------------------------------------------------------------------------------
// Read-outs for dashboards and metrics

/** The tuple as published, or a copy whose <status> lacks a <basic> that is neither open nor closed. */
function withValidBasic(tuple: XmlElement): XmlElement {
  const status = firstChild(tuple, PIDF_NS, 'status');
  const basic = status === undefined ? undefined : firstChild(status, PIDF_NS, 'basic');
  if (status === undefined || basic === undefined) return tuple;
  const v = textContent(basic).trim();
  if (v === 'open' || v === 'closed') return tuple;
  const cleanStatus: XmlElement = { ...status, children: status.children.filter((c) => c !== basic) };
  return { ...tuple, children: tuple.children.map((c) => (c === status ? cleanStatus : c)) };
}

function basicOf(root: XmlElement): PidfBasic {
  let closed = false;
  for (const t of root.children) {
    if (!isXmlElement(t) || t.ns !== PIDF_NS || t.local !== 'tuple') continue;
    const status = firstChild(t, PIDF_NS, 'status');
    const basic = status === undefined ? undefined : firstChild(status, PIDF_NS, 'basic');
    if (basic === undefined) continue;
    const v = textContent(basic).trim();
    if (v === 'open') return 'open'; // any reachable tuple makes the presentity reachable
    if (v === 'closed') closed = true;
  }
  return closed ? 'closed' : 'unknown';
}

/** 'open' if any tuple is open, 'closed' if some are and none is open, else 'unknown' (also for bad bodies). */
export function pidfBasicStatus(body: string | PidfDocument): PidfBasic {
  const doc = readPidf(body);
  return typeof doc === 'string' ? 'unknown' : basicOf(doc.root);
}

function collectActivities(el: XmlElement, out: string[]): void {
  for (const c of el.children) {
    if (!isXmlElement(c)) continue;
    if (c.ns === RPID_NS && c.local === 'activities') {
      for (const a of c.children) {
        if (isXmlElement(a) && a.ns === RPID_NS && !out.includes(a.local)) out.push(a.local);
      }
    } else {
      collectActivities(c, out);
    }
  }
}

function firstNote(root: XmlElement): string | undefined {
  const candidates: Array<XmlElement | undefined> = [];
  // The person's note is what users type as a status message (RFC 4479 person), so it wins over the
  // document-level note, which wins over per-tuple notes.
  for (const c of root.children) {
    if (isXmlElement(c) && c.ns === DM_NS && c.local === 'person') candidates.push(firstChild(c, DM_NS, 'note'));
  }
  candidates.push(firstChild(root, PIDF_NS, 'note'));
  for (const c of root.children) {
    if (isXmlElement(c) && c.ns === PIDF_NS && c.local === 'tuple') {
      candidates.push(firstChild(c, PIDF_NS, 'note'));
      // Some servers (ComSIPL) put the note inside <status>; still the best text there is.
      const status = firstChild(c, PIDF_NS, 'status');
      if (status !== undefined) candidates.push(firstChild(status, PIDF_NS, 'note'));
    }
  }
  for (const n of candidates) {
    if (n === undefined) continue;
    const text = textContent(n).trim();
    if (text !== '') return text;
  }
  return undefined;
}

/** Basic status, RPID activities and the most relevant note; bad bodies give 'unknown' and nothing else. */
export function pidfSummary(body: string | PidfDocument): PidfSummary {
  const doc = readPidf(body);
  if (typeof doc === 'string') return { basic: 'unknown', activities: [] };
  const activities: string[] = [];
  collectActivities(doc.root, activities);
  const note = firstNote(doc.root);
  return note === undefined ? { basic: basicOf(doc.root), activities } : { basic: basicOf(doc.root), activities, note };
}
