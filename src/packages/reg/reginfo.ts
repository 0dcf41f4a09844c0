/**
 * application/reginfo+xml (RFC 3680 §5.3-5.4): model, parser/validator and deterministic composer.
 *
 * ```xml
 * <reginfo xmlns="urn:ietf:params:xml:ns:reginfo" version="0" state="full">
 *   <registration aor="sip:alice@example.com" id="r1a2b" state="active">
 *     <contact id="c9f0e" state="active" event="registered" duration-registered="0" expires="3600" q="0.5">
 *       <uri>sip:alice@192.0.2.7:5060</uri>
 *       <unknown-param name="+sip.instance">"&lt;urn:uuid:...&gt;"</unknown-param>
 *     </contact>
 *   </registration>
 * </reginfo>
 * ```
 */
import {
  childElements,
  firstChild,
  getAttr,
  parseXml,
  serializeXml,
  textContent,
  XmlError,
  xmlElement,
  type XmlElement,
} from '../shared/index.js';

export const REGINFO_NS = 'urn:ietf:params:xml:ns:reginfo';
export const REGINFO_CONTENT_TYPE = 'application/reginfo+xml';
/** Bounds on what a document may hold (hostile input, and NOTIFYs that must fit a datagram or two). */
export const MAX_REGISTRATIONS = 64;
export const MAX_CONTACTS_PER_REGISTRATION = 64;

export type RegistrationState = 'init' | 'active' | 'terminated';
export type RegContactState = 'active' | 'terminated';
/** RFC 3680 §5.3 contact events (the state machine transitions). */
export type RegContactEvent =
  | 'registered'
  | 'created'
  | 'refreshed'
  | 'shortened'
  | 'expired'
  | 'deactivated'
  | 'probation'
  | 'unregistered'
  | 'rejected';

const REGISTRATION_STATES: ReadonlySet<string> = new Set(['init', 'active', 'terminated']);
const CONTACT_STATES: ReadonlySet<string> = new Set(['active', 'terminated']);
const CONTACT_EVENTS: ReadonlySet<string> = new Set([
  'registered', 'created', 'refreshed', 'shortened', 'expired', 'deactivated', 'probation', 'unregistered', 'rejected',
]);

export interface RegContact {
  readonly id: string;
  readonly state: RegContactState;
  readonly event: RegContactEvent;
  readonly uri: string;
  readonly displayName?: string | undefined;
  /** Seconds since the contact was first registered. */
  readonly durationRegistered?: number | undefined;
  /** Seconds left. */
  readonly expires?: number | undefined;
  readonly retryAfter?: number | undefined;
  /** q as written ("0.5"). */
  readonly q?: string | undefined;
  readonly callId?: string | undefined;
  readonly cseq?: number | undefined;
  /** Contact header parameters the document carries as <unknown-param> (+sip.instance, reg-id, ...). */
  readonly unknownParams?: ReadonlyArray<readonly [name: string, value: string]> | undefined;
}

export interface Registration {
  readonly aor: string;
  readonly id: string;
  readonly state: RegistrationState;
  readonly contacts: readonly RegContact[];
}

export interface RegInfo {
  readonly version: number;
  readonly state: 'full' | 'partial';
  readonly registrations: readonly Registration[];
}

export type RegInfoParse = { readonly ok: true; readonly doc: RegInfo } | { readonly ok: false; readonly reason: string };

const NON_NEG = /^\d{1,10}$/;

function optInt(el: XmlElement, name: string): number | undefined | Error {
  const v = getAttr(el, name);
  if (v === undefined) return undefined;
  return NON_NEG.test(v) ? Number(v) : new Error(`bad ${name}`);
}

/** Parses and validates a reginfo document; a reason (one printable line) when it is not one. */
export function parseRegInfo(text: string): RegInfoParse {
  const root = parseXml(text);
  if (root instanceof XmlError) return { ok: false, reason: `Invalid XML (${root.code})` };
  if (root.ns !== REGINFO_NS || root.local !== 'reginfo') return { ok: false, reason: 'Not a reginfo document' };
  const version = getAttr(root, 'version');
  const state = getAttr(root, 'state');
  if (version === undefined || !NON_NEG.test(version)) return { ok: false, reason: 'reginfo version missing or invalid' };
  if (state !== 'full' && state !== 'partial') return { ok: false, reason: 'reginfo state must be full or partial' };
  const regs = childElements(root, REGINFO_NS, 'registration');
  if (regs.length > MAX_REGISTRATIONS) return { ok: false, reason: 'Too many registrations' };
  const registrations: Registration[] = [];
  for (const r of regs) {
    const aor = getAttr(r, 'aor');
    const id = getAttr(r, 'id');
    const rstate = getAttr(r, 'state');
    if (aor === undefined || id === undefined || rstate === undefined || !REGISTRATION_STATES.has(rstate)) {
      return { ok: false, reason: 'registration needs aor, id and a valid state' };
    }
    const cs = childElements(r, REGINFO_NS, 'contact');
    if (cs.length > MAX_CONTACTS_PER_REGISTRATION) return { ok: false, reason: 'Too many contacts in a registration' };
    const contacts: RegContact[] = [];
    for (const c of cs) {
      const cid = getAttr(c, 'id');
      const cstate = getAttr(c, 'state');
      const event = getAttr(c, 'event');
      const uriEl = firstChild(c, REGINFO_NS, 'uri');
      if (cid === undefined || cstate === undefined || !CONTACT_STATES.has(cstate) || event === undefined || !CONTACT_EVENTS.has(event)) {
        return { ok: false, reason: 'contact needs id, a valid state and a valid event' };
      }
      if (uriEl === undefined) return { ok: false, reason: 'contact needs a uri' };
      const ints = ['duration-registered', 'expires', 'retry-after', 'cseq'].map((n) => optInt(c, n));
      if (ints.some((v) => v instanceof Error)) return { ok: false, reason: 'contact has a malformed number' };
      const [durationRegistered, expires, retryAfter, cseq] = ints as Array<number | undefined>;
      const q = getAttr(c, 'q');
      if (q !== undefined && !/^(0(\.\d{0,3})?|1(\.0{0,3})?)$/.test(q)) return { ok: false, reason: 'contact has a malformed q' };
      const dn = firstChild(c, REGINFO_NS, 'display-name');
      const unknownParams: Array<[string, string]> = [];
      for (const u of childElements(c, REGINFO_NS, 'unknown-param')) {
        const name = getAttr(u, 'name');
        if (name === undefined) return { ok: false, reason: 'unknown-param needs a name' };
        unknownParams.push([name, textContent(u)]);
      }
      contacts.push({
        id: cid,
        state: cstate as RegContactState,
        event: event as RegContactEvent,
        uri: textContent(uriEl).trim(),
        displayName: dn === undefined ? undefined : textContent(dn),
        durationRegistered,
        expires,
        retryAfter,
        q,
        callId: getAttr(c, 'callid'),
        cseq,
        unknownParams,
      });
    }
    registrations.push({ aor, id, state: rstate as RegistrationState, contacts });
  }
  return { ok: true, doc: { version: Number(version), state, registrations } };
}

function contactElement(c: RegContact): XmlElement {
  const attrs: Record<string, string> = { id: c.id, state: c.state, event: c.event };
  if (c.durationRegistered !== undefined) attrs['duration-registered'] = String(c.durationRegistered);
  if (c.expires !== undefined) attrs['expires'] = String(c.expires);
  if (c.retryAfter !== undefined) attrs['retry-after'] = String(c.retryAfter);
  if (c.q !== undefined) attrs['q'] = c.q;
  if (c.callId !== undefined) attrs['callid'] = c.callId;
  if (c.cseq !== undefined) attrs['cseq'] = String(c.cseq);
  const children: XmlElement[] = [xmlElement(REGINFO_NS, 'uri', {}, [c.uri])];
  if (c.displayName !== undefined) children.push(xmlElement(REGINFO_NS, 'display-name', {}, [c.displayName]));
  for (const [name, value] of c.unknownParams ?? []) children.push(xmlElement(REGINFO_NS, 'unknown-param', { name }, [value]));
  return xmlElement(REGINFO_NS, 'contact', attrs, children);
}

/** Serialises a document (attribute and element order as RFC 3680 §5.4's schema lists them). */
export function composeRegInfo(doc: RegInfo): string {
  const regs = doc.registrations.map((r) =>
    xmlElement(REGINFO_NS, 'registration', { aor: r.aor, id: r.id, state: r.state }, r.contacts.map(contactElement)),
  );
  return serializeXml(xmlElement(REGINFO_NS, 'reginfo', { version: String(doc.version), state: doc.state }, regs));
}

/**
 * A short stable identifier for a string (registration and contact ids, RFC 3680 §5.3: unique and stable
 * within the document's scope): 32-bit FNV-1a, hex. Not a secret, only a name.
 */
export function stableId(prefix: string, text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return prefix + h.toString(16).padStart(8, '0');
}

/** The registration id of an AOR (the same from the publisher and from emptyBody). */
export function registrationId(aor: string): string {
  return stableId('r', aor);
}

