/**
 * A fast path for parseXml: one pass over the string for the documents event packages actually receive
 * (an optional XML declaration, elements, attributes, namespace declarations, character data with the
 * predefined entities and character references). It builds exactly the tree saxes would, or gives up.
 *
 * Giving up is always safe: parseXml then runs saxes, which decides. So this code only has to be right
 * about what it accepts (XML 1.0 5th ed. well-formedness and Namespaces in XML 1.0, for the subset below);
 * anything else — comments, processing instructions, CDATA, DOCTYPE, a BOM, XML 1.1, names outside ASCII,
 * unknown entities, any error, any limit reached — returns undefined. A PUBLISH body costs a few µs here
 * against 15-30 µs in saxes, which builds events, objects and position data we do not need.
 */
import type { XmlAttr, XmlElement, XmlNode } from './safe-xml.js';

const XML_NS = 'http://www.w3.org/XML/1998/namespace';
const XMLNS_NS = 'http://www.w3.org/2000/xmlns/';

// XML 1.0 §2.8: the declaration, version 1.0 only; §4.3.3 EncName; §2.9 SDDecl. Stricter than saxes is fine.
const XML_DECL =
  /^<\?xml[ \t\r\n]+version[ \t\r\n]*=[ \t\r\n]*(?:"1\.0"|'1\.0')(?:[ \t\r\n]+encoding[ \t\r\n]*=[ \t\r\n]*(?:"[A-Za-z][A-Za-z0-9._-]*"|'[A-Za-z][A-Za-z0-9._-]*'))?(?:[ \t\r\n]+standalone[ \t\r\n]*=[ \t\r\n]*(?:"(?:yes|no)"|'(?:yes|no)'))?[ \t\r\n]*\?>/;

const LT = 0x3c;
const GT = 0x3e;
const AMP = 0x26;
const SLASH = 0x2f;
const EQ = 0x3d;
const COLON = 0x3a;
const CR = 0x0d;
const LF = 0x0a;
const TAB = 0x09;
const SP = 0x20;
const DQ = 0x22;
const SQ = 0x27;
const RBRACKET = 0x5d;

function isS(c: number): boolean {
  return c === SP || c === LF || c === TAB || c === CR;
}

/** ASCII NCName start: letters and '_' (the non-ASCII rest of NameStartChar goes to saxes). */
function isNameStart(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || c === 0x5f;
}

function isNameChar(c: number): boolean {
  return isNameStart(c) || (c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x2e;
}

/** End of an ASCII QName (NCName or NCName:NCName) starting at i, or -1 if there is none. */
function scanQName(s: string, i: number): number {
  if (!isNameStart(s.charCodeAt(i))) return -1;
  i++;
  let colon = false;
  for (;;) {
    const c = s.charCodeAt(i);
    if (isNameChar(c)) i++;
    else if (c === COLON && !colon && isNameStart(s.charCodeAt(i + 1))) {
      colon = true;
      i += 2;
    } else return i;
  }
}

/** XML 1.0 §2.2 Char, for a code point. */
function isCharCode(n: number): boolean {
  return n === TAB || n === LF || n === CR || (n >= SP && n <= 0xd7ff) || (n >= 0xe000 && n <= 0xfffd) || (n >= 0x10000 && n <= 0x10ffff);
}

/**
 * A reference starting at s[i] === '&' (§4.1, §4.6): [replacement, index after ';'], or undefined for anything
 * but the five predefined entities and well-formed character references (saxes reports those).
 */
function reference(s: string, i: number): [string, number] | undefined {
  const semi = s.indexOf(';', i + 1);
  if (semi < 0 || semi - i > 12) return undefined;
  const name = s.slice(i + 1, semi);
  switch (name) {
    case 'lt':
      return ['<', semi + 1];
    case 'gt':
      return ['>', semi + 1];
    case 'amp':
      return ['&', semi + 1];
    case 'quot':
      return ['"', semi + 1];
    case 'apos':
      return ["'", semi + 1];
    default:
  }
  let n: number;
  // Lower-case x only, as the grammar (and saxes) say: CharRef ::= '&#' [0-9]+ ';' | '&#x' [0-9a-fA-F]+ ';'.
  if (/^#x[0-9a-fA-F]{1,8}$/.test(name)) n = parseInt(name.slice(2), 16);
  else if (/^#[0-9]{1,9}$/.test(name)) n = parseInt(name.slice(1), 10);
  else return undefined;
  return isCharCode(n) ? [String.fromCodePoint(n), semi + 1] : undefined;
}

interface RawAttr {
  qname: string;
  colon: number;
  value: string;
}

/**
 * The tree for `s`, as parseXml's saxes path builds it (whitespace-only text pruned in elements that have
 * element children, CR/CRLF read as LF, references resolved, namespace declarations out of `attrs`), or
 * undefined when the document is outside the fast subset or not well-formed.
 */
export function parseXmlFast(s: string, maxDepth: number, maxElements: number): XmlElement | undefined {
  const n = s.length;
  let i = 0;
  if (s.charCodeAt(0) === LT && s.charCodeAt(1) === 0x3f) {
    const m = XML_DECL.exec(s);
    if (m === null) return undefined;
    i = m[0].length;
  }
  const stack: XmlElement[] = [];
  const qnames: string[] = [];
  const hasElementChild: boolean[] = [];
  // In-scope namespace bindings, innermost last, the first nb in use; marks[d] is nb before element d's
  // declarations. (Counters, not array truncation: setting .length is a slow runtime call.)
  const bindPrefix: string[] = [];
  const bindUri: string[] = [];
  const marks: number[] = [];
  let nb = 0;
  let root: XmlElement | undefined;
  let count = 0;

  const resolve = (prefix: string): string | undefined => {
    for (let k = nb - 1; k >= 0; k--) if (bindPrefix[k] === prefix) return bindUri[k];
    if (prefix === 'xml') return XML_NS;
    return prefix === '' ? '' : undefined;
  };

  while (i < n) {
    const c = s.charCodeAt(i);
    if (c !== LT) {
      if (stack.length === 0) {
        // Outside the root only white space may appear (§2.1 Misc); a reference there is an error.
        if (!isS(c)) return undefined;
        i++;
        continue;
      }
      // Character data up to the next '<'.
      let text = '';
      let start = i;
      let j = i;
      // Whether the text has more than white space (whitespace-only text among element children is dropped).
      let nonWs = false;
      for (; j < n; j++) {
        const d = s.charCodeAt(j);
        if (d === LT) break;
        if (d !== SP && d !== LF && d !== TAB && d !== CR && d !== AMP) nonWs = true;
        if (d === AMP) {
          const ref = reference(s, j);
          if (ref === undefined) return undefined;
          const r = ref[0];
          nonWs ||= r.length !== 1 || !isS(r.charCodeAt(0));
          text += s.slice(start, j) + r;
          j = ref[1] - 1;
          start = ref[1];
        } else if (d === CR) {
          // §2.11: CR LF and a lone CR are read as LF.
          text += `${s.slice(start, j)}\n`;
          if (s.charCodeAt(j + 1) === LF) j++;
          start = j + 1;
        } else if (d < SP) {
          if (d !== LF && d !== TAB) return undefined;
        } else if (d === GT) {
          // §2.4: "]]>" may not appear literally in content.
          if (j - 2 >= start && s.charCodeAt(j - 1) === RBRACKET && s.charCodeAt(j - 2) === RBRACKET) return undefined;
        } else if (d >= 0xd800) {
          if (d <= 0xdbff) {
            const lo = s.charCodeAt(j + 1);
            if (!(lo >= 0xdc00 && lo <= 0xdfff)) return undefined;
            j++;
          } else if (d <= 0xdfff || d > 0xfffd) return undefined;
        }
      }
      text += s.slice(start, j);
      i = j;
      if (text !== '' && (nonWs || !hasElementChild[stack.length - 1])) stack[stack.length - 1]!.children.push({ text });
      continue;
    }

    const c1 = s.charCodeAt(i + 1);
    if (c1 === SLASH) {
      // End tag (§3.1): ETag ::= '</' Name S? '>', the name of the element it closes.
      const depth = stack.length;
      if (depth === 0) return undefined;
      const end = scanQName(s, i + 2);
      if (end < 0 || s.slice(i + 2, end) !== qnames[depth - 1]) return undefined;
      let k = end;
      while (isS(s.charCodeAt(k))) k++;
      if (s.charCodeAt(k) !== GT) return undefined;
      i = k + 1;
      qnames.pop();
      stack.pop();
      hasElementChild.pop();
      nb = marks.pop()!;
      continue;
    }
    // Comments, CDATA, DOCTYPE and processing instructions are saxes' business.
    if (root !== undefined && stack.length === 0) return undefined; // a second root
    const nameEnd = scanQName(s, i + 1);
    if (nameEnd < 0) return undefined;
    const qname = s.slice(i + 1, nameEnd);
    let k = nameEnd;
    const raw: RawAttr[] = [];
    let selfClosing = false;
    for (;;) {
      const ws = k;
      while (isS(s.charCodeAt(k))) k++;
      const d = s.charCodeAt(k);
      if (d === GT) {
        k++;
        break;
      }
      if (d === SLASH) {
        if (s.charCodeAt(k + 1) !== GT) return undefined;
        k += 2;
        selfClosing = true;
        break;
      }
      // Attribute ::= Name Eq AttValue, separated from what precedes by white space (§3.1).
      if (k === ws) return undefined;
      const aEnd = scanQName(s, k);
      if (aEnd < 0) return undefined;
      const aName = s.slice(k, aEnd);
      k = aEnd;
      while (isS(s.charCodeAt(k))) k++;
      if (s.charCodeAt(k) !== EQ) return undefined;
      k++;
      while (isS(s.charCodeAt(k))) k++;
      const q = s.charCodeAt(k);
      if (q !== DQ && q !== SQ) return undefined;
      k++;
      // §3.3.3 for CDATA attributes (no DTD): references resolved, each literal TAB/LF/CR (CRLF once) a space.
      let value = '';
      let start = k;
      for (;;) {
        if (k >= n) return undefined;
        const v = s.charCodeAt(k);
        if (v === q) break;
        if (v === LT) return undefined;
        if (v === AMP) {
          const ref = reference(s, k);
          if (ref === undefined) return undefined;
          value += s.slice(start, k) + ref[0];
          k = ref[1];
          start = k;
          continue;
        }
        if (v < SP) {
          if (v !== TAB && v !== LF && v !== CR) return undefined;
          value += `${s.slice(start, k)} `;
          if (v === CR && s.charCodeAt(k + 1) === LF) k++;
          start = k + 1;
        } else if (v >= 0xd800) {
          if (v <= 0xdbff) {
            const lo = s.charCodeAt(k + 1);
            if (!(lo >= 0xdc00 && lo <= 0xdfff)) return undefined;
            k++;
          } else if (v <= 0xdfff || v > 0xfffd) return undefined;
        }
        k++;
      }
      value += s.slice(start, k);
      k++;
      raw.push({ qname: aName, colon: aName.indexOf(':'), value });
    }
    i = k;

    count++;
    if (count > maxElements || stack.length >= maxDepth) return undefined;
    // Namespace declarations of this element first: they apply to its own name and attributes.
    const mark = nb;
    for (const a of raw) {
      let prefix: string;
      if (a.qname === 'xmlns') prefix = '';
      else if (a.colon === 5 && a.qname.startsWith('xmlns:')) prefix = a.qname.slice(6);
      else continue;
      // saxes trims declared URIs; empty prefixed ones (XML 1.0 cannot undeclare) and the reserved
      // prefixes and namespaces (Namespaces §3) are errors or corner cases left to it.
      const uri = a.value.trim();
      if ((prefix !== '' && uri === '') || prefix === 'xml' || prefix === 'xmlns' || uri === XML_NS || uri === XMLNS_NS) {
        return undefined;
      }
      bindPrefix[nb] = prefix;
      bindUri[nb] = uri;
      nb++;
    }
    const colon = qname.indexOf(':');
    const prefix = colon < 0 ? '' : qname.slice(0, colon);
    if (prefix === 'xml' || prefix === 'xmlns') return undefined;
    const ns = resolve(prefix);
    if (ns === undefined) return undefined;
    const attrs: XmlAttr[] = [];
    for (let a = 0; a < raw.length; a++) {
      const r = raw[a]!;
      // §3.1 (and Namespaces §6.3): no two attributes with the same name, or the same expanded name.
      for (let b = 0; b < a; b++) if (raw[b]!.qname === r.qname) return undefined;
      if (r.qname === 'xmlns' || (r.colon === 5 && r.qname.startsWith('xmlns:'))) continue;
      if (r.colon < 0) {
        attrs.push({ ns: '', local: r.qname, prefix: '', value: r.value });
        continue;
      }
      const aPrefix = r.qname.slice(0, r.colon);
      const aNs = resolve(aPrefix);
      if (aNs === undefined || aNs === '') return undefined;
      const local = r.qname.slice(r.colon + 1);
      for (const o of attrs) if (o.ns === aNs && o.local === local) return undefined;
      attrs.push({ ns: aNs, local, prefix: aPrefix, value: r.value });
    }
    const el: XmlElement = { ns, local: colon < 0 ? qname : qname.slice(colon + 1), prefix, attrs, children: [] as XmlNode[] };
    const parent = stack[stack.length - 1];
    if (parent === undefined) root = el;
    else {
      const siblings = parent.children;
      if (!hasElementChild[stack.length - 1]) {
        // The first element child: a whitespace-only text before it goes (later ones are never added).
        const last = siblings[siblings.length - 1];
        if (last !== undefined && WS_ONLY.test((last as { text: string }).text)) siblings.pop();
        hasElementChild[stack.length - 1] = true;
      }
      siblings.push(el);
    }
    if (selfClosing) {
      nb = mark;
    } else {
      stack.push(el);
      qnames.push(qname);
      hasElementChild.push(false);
      marks.push(mark);
    }
  }
  return stack.length === 0 ? root : undefined;
}

const WS_ONLY = /^[ \t\r\n]*$/;

/** Drops whitespace-only text among element children (the same rule as the saxes path). */
export function pruneWhitespace(el: XmlElement): void {
  const children = el.children;
  let w = 0;
  for (let r = 0; r < children.length; r++) {
    const c = children[r]!;
    if (!('children' in c) && WS_ONLY.test(c.text)) continue;
    children[w++] = c;
  }
  children.length = w;
}
