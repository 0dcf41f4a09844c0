/**
 * Composition of dialog-info NOTIFY bodies (RFC 4235 §4): merging the documents of several
 * publishers for one entity, the empty (idle) document, single-dialog mode for phones that cannot
 * take more than one <dialog>, and the per-watcher step (version counter, RFC 4235 §3.1 filters).
 *
 * The composite is built once per change with version="0"; the per-watcher step only splices the
 * subscription's version into that string (Kamailio's VERSION_HOLDER idea), so fan-out to many
 * watchers costs no XML work unless the watcher asked for a filter.
 */
import { unquote } from '../../sip/index.js';
import { isXmlElement, parseXml, serializeXml, xmlElement, XmlError, type XmlElement } from '../shared/index.js';
import {
  DIALOG_INFO_NS,
  dialogStateRank,
  parseDialogInfo,
  readDialogInfoTree,
  type DialogEntry,
  type DialogInfoDocument,
  type DialogState,
} from './dialog-info.js';

/** One live publication as the merge sees it. */
export interface DialogPublication {
  /** Stored body, or the document parseDialogInfo returned for it (saves a parse). */
  readonly body: string | DialogInfoDocument;
  /** When it was received (ms since the epoch): the newest publication wins a tie. */
  readonly receivedAt: number;
}

/** Upper bound on dialogs in one composite: beyond it, terminated dialogs go first, then the oldest. */
export const MAX_MERGED_DIALOGS = 256;

interface Slot {
  entry: DialogEntry;
  receivedAt: number;
  seq: number;
  /** Order of first appearance: a dialog keeps its place in the document as it changes state. */
  position: number;
}

/**
 * Merges several publishers' documents for one entity (RFC 3903 §3 composition): each dialog, by id,
 * appears once. Between two versions of one dialog the newest publication wins, except that a
 * dialog never moves backwards in the RFC 4235 §3.7.1 state machine (trying, proceeding, early,
 * confirmed, terminated): an "early" that arrives after "terminated" (PUBLISHes reordered on the way,
 * Kamailio #3192) cannot relight a lamp. Bodies that do not parse are skipped.
 */
export function mergeDialogs(publications: readonly DialogPublication[]): DialogEntry[] {
  const ordered = publications
    .map((p, seq) => ({ p, seq }))
    .sort((a, b) => a.p.receivedAt - b.p.receivedAt || a.seq - b.seq);
  const slots = new Map<string, Slot>();
  let seq = 0;
  for (const { p } of ordered) {
    let doc: DialogInfoDocument;
    if (typeof p.body === 'string') {
      const r = parseDialogInfo(p.body);
      if (!r.ok) continue;
      doc = r.doc;
    } else {
      doc = p.body;
    }
    for (const entry of doc.dialogs) {
      seq++;
      const old = slots.get(entry.id);
      if (old === undefined) {
        slots.set(entry.id, { entry, receivedAt: p.receivedAt, seq, position: slots.size });
        continue;
      }
      // Later in this loop means received later (or same time, later in the list): newer.
      if (dialogStateRank(entry.state) >= dialogStateRank(old.entry.state)) {
        old.entry = entry;
        old.receivedAt = p.receivedAt;
        old.seq = seq;
      }
    }
  }
  let list = [...slots.values()].sort((a, b) => a.position - b.position);
  if (list.length > MAX_MERGED_DIALOGS) {
    // Ended calls carry the least information for a lamp; drop them first, oldest first.
    const excess = list.length - MAX_MERGED_DIALOGS;
    const drop = new Set(
      [...list].sort((a, b) => Number(b.entry.state === 'terminated') - Number(a.entry.state === 'terminated') || a.seq - b.seq).slice(0, excess),
    );
    list = list.filter((s) => !drop.has(s));
  }
  return list.map((s) => s.entry);
}

/**
 * Kamailio force_single_dialog priority (least important first): terminated, trying, proceeding,
 * confirmed, early. Early beats confirmed because a ringing call can still be picked up.
 */
const SINGLE_PRIORITY: Readonly<Record<DialogState, number>> = {
  terminated: 0,
  trying: 1,
  proceeding: 2,
  confirmed: 3,
  early: 4,
};

/** The one dialog to show on a phone that cannot take several (Linksys SPA962, some Cisco SPA). */
export function pickSingleDialog(dialogs: readonly DialogEntry[]): DialogEntry | undefined {
  let best: DialogEntry | undefined;
  for (const d of dialogs) {
    // ">=": with equal priority the later (newer) dialog wins.
    if (best === undefined || SINGLE_PRIORITY[d.state] >= SINGLE_PRIORITY[best.state]) best = d;
  }
  return best;
}

/**
 * Prefixes for extension namespaces phones know by name: BLA's shared-appearance elements are
 * written `sa:` by every implementation of draft-anil-sipping-bla, so we keep that spelling.
 */
const PREFIXES: Record<string, string> = { 'urn:ietf:params:xml:ns:sa-dialog-info': 'sa' };

/** Serializes a dialog-info document for `entity` with the given dialog elements. */
export function composeDialogInfo(
  entity: string,
  dialogs: readonly XmlElement[],
  version = 0,
  state: 'full' | 'partial' = 'full',
): string {
  // Attribute order of the RFC 4235 examples (version, state, entity): some phone parsers are that literal.
  return serializeXml(xmlElement(DIALOG_INFO_NS, 'dialog-info', { version: String(version), state, entity }, dialogs), PREFIXES);
}

export interface AggregateOptions {
  /** Put only the most interesting dialog in the document (Kamailio force_single_dialog). */
  readonly singleDialog?: boolean;
}

/**
 * The composite NOTIFY body for all live publications of `entity`: full state, version 0 (the
 * per-watcher step sets the real version), entity set to the presentity whatever the publishers wrote.
 * With no dialogs left this is the empty document, which phones show as an idle lamp.
 */
export function aggregateDialogInfo(
  entity: string,
  publications: readonly DialogPublication[],
  options: AggregateOptions = {},
): string {
  let dialogs = mergeDialogs(publications);
  if (options.singleDialog === true && dialogs.length > 1) {
    const one = pickSingleDialog(dialogs);
    dialogs = one === undefined ? [] : [one];
  }
  return composeDialogInfo(
    entity,
    dialogs.map((d) => d.element),
  );
}

/** The idle document: full state with no dialog (RFC 4235 §4.1: nothing known means no dialogs). */
export function emptyDialogInfo(entity: string, version = 0): string {
  return composeDialogInfo(entity, [], version);
}

// ---------------------------------------------------------------------------------------------
// Per watcher

/** RFC 4235 §3.1 Event header parameters of a subscription. */
export interface DialogWatcherOptions {
  readonly callId?: string | undefined;
  readonly toTag?: string | undefined;
  readonly fromTag?: string | undefined;
  readonly includeSessionDescription?: boolean;
}

/** Reads the RFC 4235 §3.1 parameters from Event header parameters (values may be quoted strings). */
export function dialogWatcherOptions(eventParams: ReadonlyMap<string, string | null>): DialogWatcherOptions {
  const value = (k: string): string | undefined => {
    const v = eventParams.get(k);
    return v === undefined || v === null ? undefined : (unquote(v) ?? undefined);
  };
  return {
    callId: value('call-id'),
    toTag: value('to-tag'),
    fromTag: value('from-tag'),
    includeSessionDescription: eventParams.has('include-session-description'),
  };
}

function hasFilter(o: DialogWatcherOptions): boolean {
  return o.callId !== undefined || o.toTag !== undefined || o.fromTag !== undefined;
}

/**
 * RFC 4235 §3.1: the call-id is matched against the dialog's Call-ID, the to-tag against its local
 * tag and the from-tag against its remote tag; each parameter present narrows the set, and a dialog
 * that does not state the identifier cannot be shown to match.
 */
function matches(d: DialogEntry, o: DialogWatcherOptions): boolean {
  if (o.callId !== undefined && d.callId !== o.callId) return false;
  if (o.toTag !== undefined && d.localTag !== o.toTag) return false;
  if (o.fromTag !== undefined && d.remoteTag !== o.fromTag) return false;
  return true;
}

function withoutSessionDescription(el: XmlElement): XmlElement {
  let changed = false;
  const children = el.children.map((c) => {
    if (!isXmlElement(c) || c.ns !== DIALOG_INFO_NS || (c.local !== 'local' && c.local !== 'remote')) return c;
    const kept = c.children.filter((g) => !(isXmlElement(g) && g.ns === DIALOG_INFO_NS && g.local === 'session-description'));
    if (kept.length === c.children.length) return c;
    changed = true;
    return { ...c, children: kept };
  });
  return changed ? { ...el, children } : el;
}

const COMPOSITE_PREFIX = `<?xml version="1.0" encoding="UTF-8"?>\n<dialog-info xmlns="${DIALOG_INFO_NS}"`;

/** Rewrites version="..." in the root start tag of one of our composites; undefined if not ours. */
function spliceVersion(composite: string, version: number): string | undefined {
  if (!composite.startsWith(COMPOSITE_PREFIX)) return undefined;
  // Our serializer escapes ">" and '"' in attribute values, so the first ">" ends the start tag
  // and ' version="' inside it can only be the attribute.
  const tagEnd = composite.indexOf('>', COMPOSITE_PREFIX.length);
  const at = composite.indexOf(' version="', COMPOSITE_PREFIX.length);
  if (tagEnd < 0 || at < 0 || at > tagEnd) return undefined;
  const valueStart = at + 10;
  const valueEnd = composite.indexOf('"', valueStart);
  return `${composite.slice(0, valueStart)}${version}${composite.slice(valueEnd)}`;
}

/**
 * The body one watcher gets: the composite with its own version (RFC 4235 §4.1: 0 for the first
 * document of the subscription, +1 for each one after), reduced to the dialogs its Event
 * parameters select, without session descriptions unless it asked for them (RFC 4235 §3.1).
 * Always full state: the composite is the entity's whole state. A composite that is not
 * dialog-info is returned as is.
 */
export function dialogInfoForWatcher(composite: string, version: number, options: DialogWatcherOptions = {}): string {
  const stripSdp = options.includeSessionDescription !== true && composite.includes('session-description');
  if (!hasFilter(options) && !stripSdp) {
    const fast = spliceVersion(composite, version);
    if (fast !== undefined) return fast;
  }
  const root = parseXml(composite);
  if (root instanceof XmlError) return composite;
  const doc = readDialogInfoTree(root);
  if (doc === undefined) return composite;
  const dialogs: XmlElement[] = [];
  for (const d of doc.dialogs) {
    if (!matches(d, options)) continue;
    dialogs.push(stripSdp ? withoutSessionDescription(d.element) : d.element);
  }
  return composeDialogInfo(doc.entity, dialogs, version, doc.state);
}
