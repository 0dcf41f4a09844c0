/**
 * The privacy filter of RFC 5025 §3.3: a PIDF document (RFC 3863, data model RFC 4479, RPID RFC 4480) reduced to
 * what one set of permissions gives. A pure tree -> tree function on the namespace-qualified tree of
 * packages/shared, so matching never depends on prefixes and the output, serialized by serializeXml, declares
 * every namespace it uses.
 *
 * What is kept:
 * - <presence> with its attributes, always (RFC 5025 §3.3: with no permission at all, the watcher gets only it);
 * - a <tuple>, <dm:person> or <dm:device> only when provide-services, provide-persons or provide-devices selects
 *   it (§3.3.1; no such permission: none of that kind);
 * - in a given element, its identity and the data-model core: the id attribute, a tuple's <status> with <basic>
 *   (always, so an allowed service shows whether it is open), <contact> (the service URI the selection matches on),
 *   <timestamp>, and a device's <deviceID> (§3.3.2: "always included");
 * - each presence attribute only with its permission (§3.3.2): <note> (provide-note, also the <presence>-level one),
 *   <rpid:activities>, <rpid:mood>, <rpid:place-is>, <rpid:place-type>, <rpid:sphere>, <rpid:time-offset> in a
 *   person; <rpid:class> and <rpid:user-input> in all three; <rpid:privacy> and <rpid:status-icon> in persons and
 *   tuples; <rpid:relationship> and a tuple's <dm:deviceID> in tuples;
 * - every other element of a tuple, person, device, of a tuple's <status>, or beside them under <presence>
 *   (CIPID, capabilities RFC 5196, service-class, vendor extensions) only with provide-unknown-attribute naming its
 *   namespace and name, or provide-all-attributes.
 */
import { getAttr, isXmlElement, textContent, type XmlAttr, type XmlElement, type XmlNode } from '../shared/index.js';
import { unknownKey, USER_INPUT_VALUE, type AttributePermission, type Permissions, type Selection } from './transformations.js';

export const PIDF_NS = 'urn:ietf:params:xml:ns:pidf';
export const DM_NS = 'urn:ietf:params:xml:ns:pidf:data-model';
export const RPID_NS = 'urn:ietf:params:xml:ns:pidf:rpid';

type Component = 'tuple' | 'person' | 'device';

/** RPID elements with a permission of their own, per component (RFC 5025 §3.3.2). */
const RPID_PERMISSION: Readonly<Record<Component, ReadonlyMap<string, AttributePermission | 'user-input'>>> = {
  person: new Map<string, AttributePermission | 'user-input'>([
    ['activities', 'activities'],
    ['class', 'class'],
    ['mood', 'mood'],
    ['place-is', 'place-is'],
    ['place-type', 'place-type'],
    ['privacy', 'privacy'],
    ['sphere', 'sphere'],
    ['status-icon', 'status-icon'],
    ['time-offset', 'time-offset'],
    ['user-input', 'user-input'],
  ]),
  tuple: new Map<string, AttributePermission | 'user-input'>([
    ['class', 'class'],
    ['privacy', 'privacy'],
    ['relationship', 'relationship'],
    ['status-icon', 'status-icon'],
    ['user-input', 'user-input'],
  ]),
  device: new Map<string, AttributePermission | 'user-input'>([
    ['class', 'class'],
    ['user-input', 'user-input'],
  ]),
};

function rpidClass(el: XmlElement): string | undefined {
  for (const c of el.children) if (isXmlElement(c) && c.ns === RPID_NS && c.local === 'class') return textContent(c).trim();
  return undefined;
}

function childText(el: XmlElement, ns: string, local: string): string | undefined {
  for (const c of el.children) if (isXmlElement(c) && c.ns === ns && c.local === local) return textContent(c).trim();
  return undefined;
}

/** The scheme of a URI, lower-cased, or undefined when the text has none. */
function schemeOf(uri: string): string | undefined {
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(uri);
  return m === null ? undefined : m[1]!.toLowerCase();
}

/** RFC 5025 §3.3.1: whether `sel` gives this tuple, person or device. */
function selected(el: XmlElement, kind: Component, sel: Selection): boolean {
  if (sel.all) return true;
  const id = getAttr(el, 'id');
  if (id !== undefined && sel.ids.includes(id.trim())) return true;
  if (sel.classes.length > 0) {
    const cls = rpidClass(el);
    if (cls !== undefined && sel.classes.includes(cls)) return true;
  }
  if (kind === 'tuple' && (sel.uris.length > 0 || sel.schemes.length > 0)) {
    // The service URI is the tuple's <contact> (RFC 4479 §3.3); a tuple without one has no URI to match.
    const contact = childText(el, PIDF_NS, 'contact');
    if (contact !== undefined && contact !== '') {
      if (sel.uris.includes(contact)) return true;
      const scheme = schemeOf(contact);
      if (scheme !== undefined && sel.schemes.includes(scheme)) return true;
    }
  }
  if (kind === 'device' && sel.deviceIds.length > 0) {
    const d = childText(el, DM_NS, 'deviceID');
    if (d !== undefined && sel.deviceIds.includes(d.toLowerCase())) return true;
  }
  return false;
}

function unknownAllowed(el: XmlElement, p: Permissions): boolean {
  return p.allAttributes || (p.unknown.size > 0 && p.unknown.has(unknownKey(el.ns, el.local)));
}

/**
 * RFC 5025 §3.3.2 provide-user-input: bare keeps only the value (active/idle), thresholds adds idle-threshold,
 * full adds last-input. Undefined: not given at all.
 */
function userInput(el: XmlElement, p: Permissions): XmlElement | undefined {
  const level = p.allAttributes ? 'full' : p.userInput;
  if (level === 'false') return undefined;
  if (level === 'full') return el;
  const drop = (a: XmlAttr): boolean =>
    a.ns === '' && (a.local === 'last-input' || (a.local === 'idle-threshold' && USER_INPUT_VALUE[level] < USER_INPUT_VALUE.thresholds));
  if (!el.attrs.some(drop)) return el;
  return { ...el, attrs: el.attrs.filter((a) => !drop(a)) };
}

/** A tuple's <status>: <basic> always, its extensions as unknown attributes. */
function status(el: XmlElement, p: Permissions): XmlElement {
  if (p.allAttributes) return el;
  return keepChildren(el, (c) => ((c.ns === PIDF_NS && c.local === 'basic') || unknownAllowed(c, p) ? c : undefined));
}

/** A child of a given tuple, person or device: itself, a reduced copy, or undefined (not given). */
function attribute(c: XmlElement, kind: Component, p: Permissions): XmlElement | undefined {
  if (c.ns === PIDF_NS || c.ns === DM_NS) {
    // The note of a tuple is pidf:note; of a person or device dm:note.
    if (c.local === 'note') return p.allAttributes || p.attributes.has('note') ? c : undefined;
    if (c.local === 'timestamp') return c;
    if (kind === 'tuple' && c.ns === PIDF_NS) {
      if (c.local === 'status') return status(c, p);
      if (c.local === 'contact') return c;
    }
    if (c.local === 'deviceID' && c.ns === DM_NS) {
      // §3.3.2 provide-deviceID: the deviceID of a tuple (which device runs the service); a device's own is its identity.
      if (kind === 'device') return c;
      if (kind === 'tuple') return p.allAttributes || p.attributes.has('deviceID') ? c : undefined;
    }
  } else if (c.ns === RPID_NS) {
    const perm = RPID_PERMISSION[kind].get(c.local);
    if (perm === 'user-input') return userInput(c, p);
    if (perm !== undefined) return p.allAttributes || p.attributes.has(perm) ? c : undefined;
  }
  return unknownAllowed(c, p) ? c : undefined;
}

function keepChildren(el: XmlElement, keep: (c: XmlElement) => XmlElement | undefined): XmlElement {
  let children: XmlNode[] | undefined;
  const list = el.children;
  for (let i = 0; i < list.length; i++) {
    const c = list[i]!;
    const out = isXmlElement(c) ? keep(c) : c;
    if (out === c && children === undefined) continue;
    // Copy on the first change only: unchanged subtrees are shared with the input (never mutated).
    children ??= list.slice(0, i);
    if (out !== undefined) children.push(out);
  }
  return children === undefined ? el : { ...el, children };
}

function component(el: XmlElement, kind: Component, p: Permissions): XmlElement {
  if (p.allAttributes) return el;
  return keepChildren(el, (c) => attribute(c, kind, p));
}

/**
 * The document `root` (a PIDF <presence>) as a watcher with permissions `p` may see it. The input is not modified;
 * unchanged subtrees are shared with it. A root that is not PIDF <presence> yields undefined (nothing to give).
 */
export function filterPresence(root: XmlElement, p: Permissions): XmlElement | undefined {
  if (root.ns !== PIDF_NS || root.local !== 'presence') return undefined;
  if (p.unrestricted) return root;
  return keepChildren(root, (c) => {
    if (c.ns === PIDF_NS && c.local === 'tuple') return selected(c, 'tuple', p.services) ? component(c, 'tuple', p) : undefined;
    if (c.ns === DM_NS && c.local === 'person') return selected(c, 'person', p.persons) ? component(c, 'person', p) : undefined;
    if (c.ns === DM_NS && c.local === 'device') return selected(c, 'device', p.devices) ? component(c, 'device', p) : undefined;
    if (c.ns === PIDF_NS && c.local === 'note') return p.allAttributes || p.attributes.has('note') ? c : undefined;
    return unknownAllowed(c, p) ? c : undefined;
  });
}
