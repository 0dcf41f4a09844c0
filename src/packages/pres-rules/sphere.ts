/**
 * The presentity's current sphere (RFC 4480 §3.8 <rpid:sphere>) read from a PIDF body, for
 * sphere conditions (RFC 4745 §7.2, enable_sphere_check). The person element's sphere wins over
 * one found elsewhere, as the person is what the sphere describes (RFC 4479 §3.1).
 */
import { firstChild, isXmlElement, parseXml, textContent, XmlError, type XmlElement } from '../shared/index.js';

const PIDF_NS = 'urn:ietf:params:xml:ns:pidf';
const DM_NS = 'urn:ietf:params:xml:ns:pidf:data-model';
const RPID_NS = 'urn:ietf:params:xml:ns:pidf:rpid';

function sphereValue(el: XmlElement): string | undefined {
  // <rpid:sphere><rpid:work/></rpid:sphere> names the sphere by element; free text is the other form.
  for (const c of el.children) if (isXmlElement(c)) return c.local;
  const t = textContent(el).trim();
  return t === '' ? undefined : t;
}

function findSphere(el: XmlElement, depth: number): XmlElement | undefined {
  if (depth > 8) return undefined;
  for (const c of el.children) {
    if (!isXmlElement(c)) continue;
    if (c.ns === RPID_NS && c.local === 'sphere') return c;
    const inner = findSphere(c, depth + 1);
    if (inner !== undefined) return inner;
  }
  return undefined;
}

/** The sphere a PIDF document declares, or undefined (none, or not PIDF). */
export function sphereOfPidf(body: string): string | undefined {
  const root = parseXml(body);
  return root instanceof XmlError ? undefined : sphereOfPresence(root);
}

/** {@link sphereOfPidf} of a parsed document. */
export function sphereOfPresence(root: XmlElement): string | undefined {
  if (root.ns !== PIDF_NS || root.local !== 'presence') return undefined;
  for (const c of root.children) {
    if (!isXmlElement(c) || c.ns !== DM_NS || c.local !== 'person') continue;
    const s = firstChild(c, RPID_NS, 'sphere');
    if (s !== undefined) return sphereValue(s);
  }
  const any = findSphere(root, 0);
  return any === undefined ? undefined : sphereValue(any);
}
