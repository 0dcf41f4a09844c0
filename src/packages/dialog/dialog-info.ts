/**
 * application/dialog-info+xml (RFC 4235 §4): reading, validation and normalisation.
 *
 * Everything is matched by expanded name ({namespace}local), so the prefix a publisher picked does
 * not matter. A valid document is returned with each <dialog> rebuilt in schema order (RFC 4235 §4.2:
 * state, duration, replaces, referred-by, route-set, local, remote, then extensions) and its state
 * value normalised: what we forward to phones is always schema-shaped, whatever order the publisher
 * wrote. Extension elements (BLA's sa: namespace, vendor data) are carried untouched.
 */
import {
  firstChild,
  getAttr,
  isXmlElement,
  parseXml,
  textContent,
  XmlError,
  type XmlAttr,
  type XmlElement,
  type XmlNode,
} from '../shared/index.js';

export const DIALOG_INFO_NS = 'urn:ietf:params:xml:ns:dialog-info';
export const DIALOG_INFO_CONTENT_TYPE = 'application/dialog-info+xml';

/** RFC 4235 §3.7.1 dialog states, in the order the state machine moves through them. */
export type DialogState = 'trying' | 'proceeding' | 'early' | 'confirmed' | 'terminated';
export type DialogDirection = 'initiator' | 'recipient';

export const DIALOG_STATES: readonly DialogState[] = ['trying', 'proceeding', 'early', 'confirmed', 'terminated'];

/** Position of a state in the RFC 4235 §3.7.1 state machine: a dialog only ever moves to a higher rank. */
export function dialogStateRank(state: DialogState): number {
  return DIALOG_STATES.indexOf(state);
}

const STATE_SET: ReadonlySet<string> = new Set(DIALOG_STATES);
// RFC 4235 §4.1.2 values of the <state event="..."> attribute.
const STATE_EVENTS: ReadonlySet<string> = new Set([
  'cancelled',
  'rejected',
  'replaced',
  'local-bye',
  'remote-bye',
  'error',
  'timeout',
]);

/** Identity and target of one side of a dialog (RFC 4235 §4.1.6), as far as the publication gave them. */
export interface DialogParticipant {
  readonly identity: string | undefined;
  readonly display: string | undefined;
  readonly target: string | undefined;
}

/** One <dialog>: its identifiers and state, plus the normalised element carried into NOTIFYs. */
export interface DialogEntry {
  readonly id: string;
  readonly callId: string | undefined;
  readonly localTag: string | undefined;
  readonly remoteTag: string | undefined;
  readonly direction: DialogDirection | undefined;
  readonly state: DialogState;
  readonly local: DialogParticipant | undefined;
  readonly remote: DialogParticipant | undefined;
  /** The <dialog> element, schema-ordered. Treat as immutable: merged documents share it. */
  readonly element: XmlElement;
}

export interface DialogInfoDocument {
  readonly version: number;
  readonly state: 'full' | 'partial';
  readonly entity: string;
  readonly dialogs: readonly DialogEntry[];
}

export type DialogInfoParse = { readonly ok: true; readonly doc: DialogInfoDocument } | { readonly ok: false; readonly reason: string };

/** Dialogs per document: a phone has a few lines; a PBX publishing hundreds for one entity is a fault. */
export const MAX_DIALOGS_PER_DOCUMENT = 128;

function phrase(s: string): string {
  const clean = s.replace(/[^\x20-\x7e]/g, '?');
  return clean.length > 200 ? `${clean.slice(0, 197)}...` : clean;
}

function show(s: string): string {
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

/** A validation failure inside the recursive readers; becomes a returned reason, never escapes. */
class Invalid {
  constructor(readonly reason: string) {}
}

const NON_NEG = /^[0-9]+$/;

function readNonNegative(v: string, what: string): number {
  const t = v.trim(); // xs:nonNegativeInteger collapses whitespace
  if (!NON_NEG.test(t) || !Number.isSafeInteger(Number(t))) throw new Invalid(`${what} "${show(v)}" is not a non-negative integer`);
  return Number(t);
}

function own(el: XmlElement): XmlElement[] {
  const out: XmlElement[] = [];
  for (const c of el.children) {
    if (!isXmlElement(c)) {
      if (c.text.trim() !== '') throw new Invalid(`unexpected text in <${el.local}>`);
      continue;
    }
    out.push(c);
  }
  return out;
}

const PARTICIPANT_ORDER = ['identity', 'target', 'session-description', 'cseq'];

function readParticipant(el: XmlElement, dialogId: string): { element: XmlElement; participant: DialogParticipant } {
  const known = new Map<string, XmlElement>();
  const others: XmlElement[] = [];
  for (const c of own(el)) {
    if (c.ns !== DIALOG_INFO_NS) {
      others.push(c);
      continue;
    }
    if (!PARTICIPANT_ORDER.includes(c.local)) throw new Invalid(`dialog ${show(dialogId)}: unexpected <${c.local}> in <${el.local}>`);
    if (known.has(c.local)) throw new Invalid(`dialog ${show(dialogId)}: <${el.local}> has more than one <${c.local}>`);
    known.set(c.local, c);
  }
  const identityEl = known.get('identity');
  const targetEl = known.get('target');
  let identity: string | undefined;
  if (identityEl !== undefined) {
    identity = textContent(identityEl).trim();
    if (identity === '') throw new Invalid(`dialog ${show(dialogId)}: empty <identity> in <${el.local}>`);
  }
  let target: string | undefined;
  if (targetEl !== undefined) {
    target = getAttr(targetEl, 'uri');
    // RFC 4235 §4.1.6.2: <target> carries its URI in the required uri attribute.
    if (target === undefined || target.trim() === '') throw new Invalid(`dialog ${show(dialogId)}: <target> without uri`);
  }
  const cseq = known.get('cseq');
  if (cseq !== undefined) readNonNegative(textContent(cseq), `dialog ${show(dialogId)} cseq`);
  const ordered: XmlElement[] = [];
  for (const name of PARTICIPANT_ORDER) {
    const k = known.get(name);
    if (k !== undefined) ordered.push(k);
  }
  return {
    element: { ...el, children: [...ordered, ...others] },
    participant: { identity, display: identityEl === undefined ? undefined : getAttr(identityEl, 'display'), target },
  };
}

const DIALOG_ORDER = ['state', 'duration', 'replaces', 'referred-by', 'route-set', 'local', 'remote'];
const DIALOG_ATTR_ORDER = ['id', 'call-id', 'local-tag', 'remote-tag', 'direction'];

function orderAttrs(attrs: readonly XmlAttr[]): XmlAttr[] {
  const rank = (a: XmlAttr): number => {
    const i = a.ns === '' ? DIALOG_ATTR_ORDER.indexOf(a.local) : -1;
    return i < 0 ? DIALOG_ATTR_ORDER.length : i;
  };
  return [...attrs].sort((a, b) => rank(a) - rank(b));
}

function readDialog(el: XmlElement): DialogEntry {
  const id = getAttr(el, 'id');
  if (id === undefined || id.trim() === '') throw new Invalid('<dialog> without id attribute');
  const dirRaw = getAttr(el, 'direction');
  let direction: DialogDirection | undefined;
  if (dirRaw !== undefined) {
    const d = dirRaw.trim();
    if (d !== 'initiator' && d !== 'recipient') throw new Invalid(`dialog ${show(id)}: direction "${show(dirRaw)}" is not initiator or recipient`);
    direction = d;
  }
  const known = new Map<string, XmlElement>();
  const others: XmlElement[] = [];
  for (const c of own(el)) {
    if (c.ns !== DIALOG_INFO_NS) {
      others.push(c);
      continue;
    }
    if (!DIALOG_ORDER.includes(c.local)) throw new Invalid(`dialog ${show(id)}: unexpected element <${c.local}>`);
    if (known.has(c.local)) throw new Invalid(`dialog ${show(id)}: more than one <${c.local}>`);
    known.set(c.local, c);
  }

  // RFC 4235 §4.1.2: exactly one <state>, one of the five values; event and code are optional.
  const stateEl = known.get('state');
  if (stateEl === undefined) throw new Invalid(`dialog ${show(id)} has no <state>`);
  const stateText = textContent(stateEl).trim().toLowerCase();
  if (!STATE_SET.has(stateText)) throw new Invalid(`dialog ${show(id)}: state "${show(textContent(stateEl).trim())}" is not an RFC 4235 state`);
  const state = stateText as DialogState;
  const event = getAttr(stateEl, 'event');
  if (event !== undefined && !STATE_EVENTS.has(event.trim())) throw new Invalid(`dialog ${show(id)}: state event "${show(event)}" is not defined`);
  const code = getAttr(stateEl, 'code');
  if (code !== undefined) {
    // xs:positiveInteger; in practice the SIP response code that ended the dialog.
    if (readNonNegative(code, `dialog ${show(id)} state code`) < 1) throw new Invalid(`dialog ${show(id)}: state code must be positive`);
  }
  known.set('state', { ...stateEl, children: [{ text: state }] });

  const duration = known.get('duration');
  if (duration !== undefined) readNonNegative(textContent(duration), `dialog ${show(id)} duration`);
  const replaces = known.get('replaces');
  if (replaces !== undefined) {
    for (const a of ['call-id', 'local-tag', 'remote-tag']) {
      if (getAttr(replaces, a) === undefined) throw new Invalid(`dialog ${show(id)}: <replaces> without ${a}`);
    }
  }

  let local: DialogParticipant | undefined;
  let remote: DialogParticipant | undefined;
  const localEl = known.get('local');
  if (localEl !== undefined) {
    const r = readParticipant(localEl, id);
    known.set('local', r.element);
    local = r.participant;
  }
  const remoteEl = known.get('remote');
  if (remoteEl !== undefined) {
    const r = readParticipant(remoteEl, id);
    known.set('remote', r.element);
    remote = r.participant;
  }

  const ordered: XmlNode[] = [];
  for (const name of DIALOG_ORDER) {
    const k = known.get(name);
    if (k !== undefined) ordered.push(k);
  }
  for (const o of others) ordered.push(o);
  const element: XmlElement = { ns: el.ns, local: el.local, prefix: el.prefix, attrs: orderAttrs(el.attrs), children: ordered };
  return {
    id,
    callId: getAttr(el, 'call-id'),
    localTag: getAttr(el, 'local-tag'),
    remoteTag: getAttr(el, 'remote-tag'),
    direction,
    state,
    local,
    remote,
    element,
  };
}

function readDocument(root: XmlElement): DialogInfoDocument {
  // RFC 4235 §4.1: <dialog-info> with required version, state and entity.
  if (root.ns !== DIALOG_INFO_NS || root.local !== 'dialog-info') {
    throw new Invalid(`root element must be {${DIALOG_INFO_NS}}dialog-info, not {${show(root.ns)}}${show(root.local)}`);
  }
  const versionRaw = getAttr(root, 'version');
  if (versionRaw === undefined) throw new Invalid('dialog-info has no version attribute');
  const version = readNonNegative(versionRaw, 'dialog-info version');
  const stateRaw = getAttr(root, 'state');
  const state = stateRaw?.trim();
  if (state !== 'full' && state !== 'partial') throw new Invalid('dialog-info state must be full or partial');
  const entity = getAttr(root, 'entity')?.trim();
  if (entity === undefined || entity === '') throw new Invalid('dialog-info has no entity attribute');
  const dialogs: DialogEntry[] = [];
  const ids = new Set<string>();
  for (const c of own(root)) {
    if (c.ns !== DIALOG_INFO_NS) continue; // schema: any ##other after the dialogs
    if (c.local !== 'dialog') throw new Invalid(`unexpected element <${c.local}> in dialog-info`);
    if (dialogs.length >= MAX_DIALOGS_PER_DOCUMENT) throw new Invalid(`dialog-info has more than ${MAX_DIALOGS_PER_DOCUMENT} dialogs`);
    const d = readDialog(c);
    // The id is what a partial notification updates by (RFC 4235 §4.1.1), so it must be unique.
    if (ids.has(d.id)) throw new Invalid(`dialog id "${show(d.id)}" appears twice`);
    ids.add(d.id);
    dialogs.push(d);
  }
  return { version, state, entity, dialogs };
}

function xmlReason(e: XmlError): string {
  switch (e.code) {
    case 'XML_DTD_FORBIDDEN':
      return 'dialog-info body must not contain a DOCTYPE';
    case 'XML_MALFORMED':
      return `dialog-info body is not well-formed XML: ${e.message}`;
    default:
      return `dialog-info body rejected: ${e.message}`;
  }
}

/**
 * Parses and validates a dialog-info document (RFC 4235 §4). On failure the reason is one short
 * ASCII line, fit for a 400 reason phrase. Leniencies: state text is trimmed and lower-cased, and
 * children given out of schema order are accepted and reordered.
 */
export function parseDialogInfo(body: string): DialogInfoParse {
  const root = parseXml(body);
  if (root instanceof XmlError) return { ok: false, reason: phrase(xmlReason(root)) };
  try {
    return { ok: true, doc: readDocument(root) };
  } catch (e: unknown) {
    if (e instanceof Invalid) return { ok: false, reason: phrase(e.reason) };
    throw e;
  }
}

/** Reads the dialogs of an already-parsed tree (our own composites); undefined when it is not dialog-info. */
export function readDialogInfoTree(root: XmlElement): DialogInfoDocument | undefined {
  try {
    return readDocument(root);
  } catch (e: unknown) {
    if (e instanceof Invalid) return undefined;
    throw e;
  }
}

/** The <state> text of a normalised dialog element (used after merges that only kept elements). */
export function stateOfElement(el: XmlElement): DialogState | undefined {
  const s = firstChild(el, DIALOG_INFO_NS, 'state');
  if (s === undefined) return undefined;
  const t = textContent(s).trim().toLowerCase();
  return STATE_SET.has(t) ? (t as DialogState) : undefined;
}
