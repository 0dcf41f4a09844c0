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

/*
 * Scratch space shared by every call (parsing is synchronous, so calls never interleave). Arrays grown by push
 * get 17 slots at their first element; built per element, the attribute and child lists cost more than the
 * tree itself (7.7 KB for a 10-element PIDF). Here they are collected on these stacks and each element receives
 * an exact-size slice once its content is known. Counters, not `.length` truncation: that is a runtime call.
 */
const rawQName: string[] = [];
const rawColon: number[] = [];
const rawValue: string[] = [];
const attrScratch: XmlAttr[] = [];
/** The children of every open element, depth after depth: element d's start at childStart[d]. */
const childScratch: XmlNode[] = [];
const childStart: number[] = [];
const openElements: XmlElement[] = [];
const openQNames: string[] = [];
const hasElementChild: boolean[] = [];
const bindPrefix: string[] = [];
const bindUri: string[] = [];
const marks: number[] = [];
const NO_CHILDREN_YET: XmlNode[] = [];

/** The children gathered for the element open at `depth`, as its own array, popped off the scratch stack. */
function takeChildren(depth: number, top: number): XmlNode[] {
  const start = childStart[depth]!;
  return start === top ? [] : childScratch.slice(start, top);
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
  let depth = 0;
  let kids = 0;
  // In-scope namespace bindings, innermost last, the first nb in use; marks[d] is nb before element d's
  // declarations.
  let nb = 0;
  let root: XmlElement | undefined;
  let count = 0;

  while (i < n) {
    const c = s.charCodeAt(i);
    if (c !== LT) {
      if (depth === 0) {
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
      // Whitespace-only text beside element children is dropped, so it is not even materialized.
      if (nonWs || !hasElementChild[depth - 1]) {
        text += s.slice(start, j);
        if (text !== '') childScratch[kids++] = { text };
      }
      i = j;
      continue;
    }

    const c1 = s.charCodeAt(i + 1);
    if (c1 === SLASH) {
      // End tag (§3.1): ETag ::= '</' Name S? '>', the name of the element it closes.
      if (depth === 0) return undefined;
      const end = scanQName(s, i + 2);
      if (end < 0 || !sameName(s, i + 2, end, openQNames[depth - 1]!)) return undefined;
      let k = end;
      while (isS(s.charCodeAt(k))) k++;
      if (s.charCodeAt(k) !== GT) return undefined;
      i = k + 1;
      depth--;
      openElements[depth]!.children = takeChildren(depth, kids);
      kids = childStart[depth]!;
      nb = marks[depth]!;
      continue;
    }
    // Comments, CDATA, DOCTYPE and processing instructions are saxes' business.
    if (root !== undefined && depth === 0) return undefined; // a second root
    const nameEnd = scanQName(s, i + 1);
    if (nameEnd < 0) return undefined;
    const qname = s.slice(i + 1, nameEnd);
    let k = nameEnd;
    let nRaw = 0;
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
      rawQName[nRaw] = aName;
      rawColon[nRaw] = aName.indexOf(':');
      rawValue[nRaw] = value;
      nRaw++;
    }
    i = k;

    count++;
    if (count > maxElements || depth >= maxDepth) return undefined;
    // Namespace declarations of this element first: they apply to its own name and attributes.
    const mark = nb;
    for (let a = 0; a < nRaw; a++) {
      const aName = rawQName[a]!;
      let prefix: string;
      if (aName === 'xmlns') prefix = '';
      else if (rawColon[a] === 5 && aName.startsWith('xmlns:')) prefix = aName.slice(6);
      else continue;
      // saxes trims declared URIs; empty prefixed ones (XML 1.0 cannot undeclare) and the reserved
      // prefixes and namespaces (Namespaces §3) are errors or corner cases left to it.
      const uri = rawValue[a]!.trim();
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
    const ns = resolveNs(prefix, nb);
    if (ns === undefined) return undefined;
    let nAttrs = 0;
    for (let a = 0; a < nRaw; a++) {
      const aName = rawQName[a]!;
      const aColon = rawColon[a]!;
      // §3.1 (and Namespaces §6.3): no two attributes with the same name, or the same expanded name.
      for (let b = 0; b < a; b++) if (rawQName[b] === aName) return undefined;
      if (aName === 'xmlns' || (aColon === 5 && aName.startsWith('xmlns:'))) continue;
      if (aColon < 0) {
        attrScratch[nAttrs++] = { ns: '', local: aName, prefix: '', value: rawValue[a]! };
        continue;
      }
      const aPrefix = aName.slice(0, aColon);
      const aNs = resolveNs(aPrefix, nb);
      if (aNs === undefined || aNs === '') return undefined;
      const local = aName.slice(aColon + 1);
      for (let o = 0; o < nAttrs; o++) if (attrScratch[o]!.ns === aNs && attrScratch[o]!.local === local) return undefined;
      attrScratch[nAttrs++] = { ns: aNs, local, prefix: aPrefix, value: rawValue[a]! };
    }
    const el: XmlElement = {
      ns,
      local: colon < 0 ? qname : qname.slice(colon + 1),
      prefix,
      attrs: nAttrs === 0 ? [] : attrScratch.slice(0, nAttrs),
      children: selfClosing ? [] : NO_CHILDREN_YET,
    };
    if (depth === 0) root = el;
    else {
      if (!hasElementChild[depth - 1]) {
        // The first element child: a whitespace-only text before it goes (later ones are never added).
        const first = childStart[depth - 1]!;
        if (kids > first && WS_ONLY.test((childScratch[kids - 1] as { text: string }).text)) kids--;
        hasElementChild[depth - 1] = true;
      }
      childScratch[kids++] = el;
    }
    if (selfClosing) {
      nb = mark;
    } else {
      openElements[depth] = el;
      openQNames[depth] = qname;
      hasElementChild[depth] = false;
      marks[depth] = mark;
      childStart[depth] = kids;
      depth++;
    }
  }
  return depth === 0 ? root : undefined;
}

/** The namespace bound to `prefix` among the first nb bindings, innermost first. */
function resolveNs(prefix: string, nb: number): string | undefined {
  for (let k = nb - 1; k >= 0; k--) if (bindPrefix[k] === prefix) return bindUri[k];
  if (prefix === 'xml') return XML_NS;
  return prefix === '' ? '' : undefined;
}

/** Whether s[from, to) is `name`, without slicing it out. */
function sameName(s: string, from: number, to: number, name: string): boolean {
  if (to - from !== name.length) return false;
  for (let k = 0; k < name.length; k++) if (s.charCodeAt(from + k) !== name.charCodeAt(k)) return false;
  return true;
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
