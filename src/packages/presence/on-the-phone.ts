/**
 * Presence mixed from calls (OpenSIPS presence_xml mix_dialog_presence): while the presentity has a confirmed or
 * early dialog, its presence document says so with the RPID activity `on-the-phone` (RFC 4480 §3.2) and the note
 * "On the phone" on the person (RFC 4479 §3.1), even when its phone published nothing of the kind, or nothing at all.
 *
 * Pure tree work on the composed document: tuples are left as published; the person element (the first one, or a
 * new one) gets the activity and the note, in the RFC 4479 schema order (extension elements, then notes, then the
 * timestamp).
 */
import { getAttr, isXmlElement, serializeXml, xmlElement, type XmlElement, type XmlNode } from '../shared/index.js';
import { DM_NS, PIDF_NS, RPID_NS } from './pidf.js';

export const ON_THE_PHONE_NOTE = 'On the phone';

function activities(): XmlElement {
  return xmlElement(RPID_NS, 'activities', {}, [xmlElement(RPID_NS, 'on-the-phone')]);
}

function note(): XmlElement {
  return xmlElement(DM_NS, 'note', {}, [ON_THE_PHONE_NOTE]);
}

function busyPerson(person: XmlElement): XmlElement {
  const others: XmlNode[] = [];
  const tail: XmlNode[] = [];
  for (const c of person.children) {
    if (!isXmlElement(c)) continue; // whitespace between elements carries nothing
    if (c.ns === RPID_NS && c.local === 'activities') continue; // replaced
    if (c.ns === DM_NS && c.local === 'note') continue; // replaced: one note that says why
    if (c.ns === DM_NS && c.local === 'timestamp') tail.push(c);
    else others.push(c);
  }
  return { ...person, children: [activities(), ...others, note(), ...tail] };
}

/** An id not used by the document's top-level elements (ids are xs:ID: unique in the document, RFC 3863 §4.1.2). */
function freeId(root: XmlElement | undefined, base: string): string {
  const used = new Set<string>();
  for (const c of root?.children ?? []) if (isXmlElement(c)) used.add(getAttr(c, 'id') ?? '');
  let id = base;
  for (let n = 2; used.has(id); n++) id = `${base}-${n}`;
  return id;
}

/**
 * The presence document of a presentity on the phone: `composed` (the composite of its publications, a
 * `{urn:ietf:params:xml:ns:pidf}presence` root) with the busy person, or, when nothing is published, a document
 * with one open tuple (the phone is in use, so the presentity is reachable by it) and the busy person.
 */
export function onThePhonePidf(presentity: string, composed: XmlElement | undefined): string {
  if (composed === undefined) {
    const tuple = xmlElement(PIDF_NS, 'tuple', { id: 't-on-the-phone' }, [
      xmlElement(PIDF_NS, 'status', {}, [xmlElement(PIDF_NS, 'basic', {}, ['open'])]),
    ]);
    const person = xmlElement(DM_NS, 'person', { id: 'p-on-the-phone' }, [activities(), note()]);
    return serializeXml(xmlElement(PIDF_NS, 'presence', { entity: presentity }, [tuple, person]));
  }
  let done = false;
  const children: XmlNode[] = [];
  for (const c of composed.children) {
    if (!done && isXmlElement(c) && c.ns === DM_NS && c.local === 'person') {
      children.push(busyPerson(c));
      done = true;
    } else {
      children.push(c);
    }
  }
  // RFC 3863 §4.1 order: extension elements (the person among them) come after tuples and notes: append.
  if (!done) children.push(xmlElement(DM_NS, 'person', { id: freeId(composed, 'p-on-the-phone') }, [activities(), note()]));
  return serializeXml({ ...composed, children });
}
