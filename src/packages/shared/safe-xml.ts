/**
 * Safe XML for event-package bodies (PIDF, RPID, watcherinfo, dialog-info...).
 *
 * Parsing is built on saxes in namespace mode and yields a small namespace-qualified tree.
 * Hostile input is the normal case here: every PUBLISH body comes from the network, so the
 * parser never expands a DTD, never resolves an external entity, bounds size, depth and
 * element count, and reports every failure as a returned value instead of an exception.
 */
import { SaxesParser, type SaxesTagNS } from 'saxes';
import { parseXmlFast, pruneWhitespace } from './fast-xml.js';

const XML_NS = 'http://www.w3.org/XML/1998/namespace';
const XMLNS_NS = 'http://www.w3.org/2000/xmlns/';

/** An attribute; `ns` is '' for unprefixed attributes (namespaces never default onto attributes). */
export interface XmlAttr {
  ns: string;
  local: string;
  /** Prefix as written in the source; informative only, the serializer ignores it. */
  prefix: string;
  value: string;
}

/** An element identified by its expanded name `{ns}local`; `prefix` is informative only. */
export interface XmlElement {
  ns: string;
  local: string;
  prefix: string;
  attrs: XmlAttr[];
  children: XmlNode[];
}

export interface XmlText {
  text: string;
}

export type XmlNode = XmlElement | XmlText;

export type XmlErrorCode =
  | 'XML_MALFORMED'
  | 'XML_DTD_FORBIDDEN'
  | 'XML_TOO_LARGE'
  | 'XML_TOO_DEEP'
  | 'XML_TOO_MANY_ELEMENTS';

/**
 * A rejected document. Deliberately not an `Error`: it is returned, never thrown, and skipping
 * the stack capture keeps rejection of hostile bodies as cheap as acceptance.
 */
export class XmlError {
  readonly code: XmlErrorCode;
  readonly message: string;
  readonly line: number | undefined;
  readonly column: number | undefined;

  constructor(code: XmlErrorCode, message: string, line?: number, column?: number) {
    this.code = code;
    this.message = message;
    this.line = line;
    this.column = column;
  }
}

export interface XmlLimits {
  /** Maximum body size in UTF-8 bytes. Default 65536. */
  maxBytes?: number;
  /** Maximum element nesting depth, the root being depth 1. Default 32. */
  maxDepth?: number;
  /** Maximum number of elements in the document. Default 5000. */
  maxElements?: number;
}

export const DEFAULT_XML_LIMITS: Readonly<Required<XmlLimits>> = Object.freeze({
  maxBytes: 64 * 1024,
  maxDepth: 32,
  maxElements: 5000,
});

/** Thrown from inside saxes handlers to abort the parse; never escapes parseXml. */
class Abort {
  constructor(readonly error: XmlError) {}
}

const SAXES_POSITION = /^(\d+):(\d+): /;

function utf8Length(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

/**
 * Parse `text` into a namespace-qualified tree.
 *
 * Whitespace-only text between elements is dropped (no DTD means no notion of ignorable
 * whitespace, but our documents are data, and indentation must not reach aggregated output).
 * Comments and processing instructions are dropped. CDATA becomes ordinary text.
 */
export function parseXml(text: string, limits?: XmlLimits): XmlElement | XmlError {
  if (typeof text !== 'string') return new XmlError('XML_MALFORMED', 'XML input is not a string');
  const maxBytes = limits?.maxBytes ?? DEFAULT_XML_LIMITS.maxBytes;
  const maxDepth = limits?.maxDepth ?? DEFAULT_XML_LIMITS.maxDepth;
  const maxElements = limits?.maxElements ?? DEFAULT_XML_LIMITS.maxElements;

  // A UTF-16 code unit encodes to 1-3 UTF-8 bytes (a surrogate pair to 4 for 2 units), so the
  // exact count is only needed in the band where the cheap bounds disagree.
  if (text.length > maxBytes || (text.length * 3 > maxBytes && utf8Length(text) > maxBytes)) {
    return new XmlError('XML_TOO_LARGE', `XML document exceeds ${maxBytes} bytes`);
  }
  // The common well-formed document takes the one-pass path (fast-xml.ts); anything it is not sure of,
  // including every error, is decided by saxes below, so both paths accept and build the same.
  return parseXmlFast(text, maxDepth, maxElements) ?? parseWithSaxes(text, maxDepth, maxElements);
}

/** parseXml without the fast path: the reference the fast path is tested against. */
export function parseXmlReference(text: string, limits?: XmlLimits): XmlElement | XmlError {
  if (typeof text !== 'string') return new XmlError('XML_MALFORMED', 'XML input is not a string');
  const maxBytes = limits?.maxBytes ?? DEFAULT_XML_LIMITS.maxBytes;
  if (text.length > maxBytes || (text.length * 3 > maxBytes && utf8Length(text) > maxBytes)) {
    return new XmlError('XML_TOO_LARGE', `XML document exceeds ${maxBytes} bytes`);
  }
  return parseWithSaxes(text, limits?.maxDepth ?? DEFAULT_XML_LIMITS.maxDepth, limits?.maxElements ?? DEFAULT_XML_LIMITS.maxElements);
}

function parseWithSaxes(text: string, maxDepth: number, maxElements: number): XmlElement | XmlError {
  const parser = new SaxesParser({ xmlns: true });
  const stack: XmlElement[] = [];
  // Parallel to `stack`: whether the element has an element child, so whitespace-only text
  // can be pruned on close without rescanning the children.
  const hasElementChild: boolean[] = [];
  let root: XmlElement | undefined;
  let count = 0;

  const onText = (t: string): void => {
    const top = stack[stack.length - 1];
    if (top === undefined) return; // whitespace around the root; saxes rejects anything else
    const children = top.children;
    const last = children[children.length - 1];
    if (last !== undefined && !('children' in last)) last.text += t;
    else children.push({ text: t });
  };

  parser.on('doctype', () => {
    // PIDF and friends never need a DTD; refusing it outright rules out entity expansion
    // (billion laughs) and external entities (XXE) without relying on the parser's defaults.
    throw new Abort(
      new XmlError('XML_DTD_FORBIDDEN', 'DOCTYPE declarations are not allowed', parser.line, parser.column),
    );
  });
  parser.on('opentag', (tag: SaxesTagNS) => {
    count++;
    if (count > maxElements) {
      throw new Abort(
        new XmlError('XML_TOO_MANY_ELEMENTS', `XML document has more than ${maxElements} elements`, parser.line, parser.column),
      );
    }
    if (stack.length >= maxDepth) {
      throw new Abort(
        new XmlError('XML_TOO_DEEP', `XML elements nested deeper than ${maxDepth} levels`, parser.line, parser.column),
      );
    }
    const attrs: XmlAttr[] = [];
    const source = tag.attributes;
    for (const name in source) {
      const a = source[name]!;
      if (a.uri === XMLNS_NS) continue; // declarations live in the expanded names, not as data
      attrs.push({ ns: a.uri, local: a.local, prefix: a.prefix, value: a.value });
    }
    const el: XmlElement = { ns: tag.uri, local: tag.local, prefix: tag.prefix, attrs, children: [] };
    const parent = stack[stack.length - 1];
    if (parent === undefined) root = el;
    else {
      parent.children.push(el);
      hasElementChild[stack.length - 1] = true;
    }
    stack.push(el);
    hasElementChild.push(false);
  });
  parser.on('closetag', () => {
    const el = stack.pop();
    const mixed = hasElementChild.pop();
    if (el !== undefined && mixed === true) pruneWhitespace(el);
  });
  parser.on('text', onText);
  parser.on('cdata', onText);

  try {
    parser.write(text).close();
  } catch (e: unknown) {
    if (e instanceof Abort) return e.error;
    const raw = e instanceof Error ? e.message : String(e);
    const m = SAXES_POSITION.exec(raw);
    if (m !== null) {
      const line = Number(m[1]);
      const column = Number(m[2]);
      return new XmlError('XML_MALFORMED', `malformed XML at line ${line}, column ${column}: ${raw.slice(m[0].length)}`, line, column);
    }
    return new XmlError('XML_MALFORMED', `malformed XML: ${raw}`);
  }
  if (root === undefined) return new XmlError('XML_MALFORMED', 'malformed XML: no root element');
  return root;
}


// ---------------------------------------------------------------------------------------------
// Escaping

// Characters outside the XML 1.0 Char production cannot be written even as references, so
// they are replaced by U+FFFD rather than producing a document no peer can parse.
const TEXT_SPECIAL = /[&<>\r\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/;
const TEXT_SPECIAL_G = /[&<>\r\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g;
const ATTR_SPECIAL = /[&<>"\t\n\r\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/;
const ATTR_SPECIAL_G = /[&<>"\t\n\r\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g;

function escapeChar(c: string): string {
  switch (c) {
    case '&':
      return '&amp;';
    case '<':
      return '&lt;';
    case '>':
      return '&gt;'; // also keeps "]]>" out of text
    case '"':
      return '&quot;';
    // Line ends and tabs are written as references: a parser normalises literal CR (text) and
    // TAB/LF/CR (attribute values), so only references survive a round trip (XML 1.0 §2.11, §3.3.3).
    case '\r':
      return '&#13;';
    case '\n':
      return '&#10;';
    case '\t':
      return '&#9;';
    default:
      return '\uFFFD';
  }
}

/** Escape character data for use between tags. */
export function escapeXmlText(s: string): string {
  return TEXT_SPECIAL.test(s) ? s.replace(TEXT_SPECIAL_G, escapeChar) : s;
}

/** Escape an attribute value for use inside double quotes. */
export function escapeXmlAttr(s: string): string {
  return ATTR_SPECIAL.test(s) ? s.replace(ATTR_SPECIAL_G, escapeChar) : s;
}

// ---------------------------------------------------------------------------------------------
// Serialization

/** Prefixes used on output, by namespace URI. The root element's namespace is always the default one. */
export const WELL_KNOWN_PREFIXES: Readonly<Record<string, string>> = Object.freeze({
  'urn:ietf:params:xml:ns:pidf': 'pidf',
  'urn:ietf:params:xml:ns:pidf:data-model': 'dm',
  'urn:ietf:params:xml:ns:pidf:rpid': 'rpid',
  'urn:ietf:params:xml:ns:pidf:cipid': 'cipid',
  'urn:ietf:params:xml:ns:pidf:caps': 'caps',
  'urn:ietf:params:xml:ns:pidf:status:rpid': 'c',
  'urn:ietf:params:xml:ns:pidf:timed-status': 'ts',
  'urn:ietf:params:xml:ns:pidf:geopriv10': 'gp',
  'urn:ietf:params:xml:ns:watcherinfo': 'wi',
  'urn:ietf:params:xml:ns:dialog-info': 'dlg',
  'urn:ietf:params:xml:ns:rlmi': 'rlmi',
  'urn:ietf:params:xml:ns:pres-rules': 'pr',
  'urn:ietf:params:xml:ns:common-policy': 'cp',
  'urn:oma:xml:prs:pidf:oma-pres': 'op',
});

interface NsScope {
  /** Namespace URI -> prefix, for every namespace needing a prefix. */
  prefixOf: Map<string, string>;
  /** Declarations to write on the root, in first-use order. */
  decls: string;
}

function assignPrefixes(root: XmlElement, overrides: Record<string, string> | undefined): NsScope {
  const prefixOf = new Map<string, string>();
  const taken = new Set<string>(['xml', 'xmlns']);
  let decls = '';
  let counter = 0;
  const need = (ns: string): void => {
    if (prefixOf.has(ns)) return;
    let p = overrides?.[ns];
    if (p === undefined || p === '' || taken.has(p)) p = WELL_KNOWN_PREFIXES[ns];
    if (p === undefined || taken.has(p)) {
      do p = `ns${++counter}`;
      while (taken.has(p));
    }
    taken.add(p);
    prefixOf.set(ns, p);
    decls += ` xmlns:${p}="${escapeXmlAttr(ns)}"`;
  };
  const walk = (el: XmlElement): void => {
    if (el.ns !== '' && el.ns !== root.ns) need(el.ns);
    for (const a of el.attrs) {
      // Attributes never take the default namespace, so a namespaced attribute always needs
      // a prefix, even for the root's namespace.
      if (a.ns !== '' && a.ns !== XML_NS) need(a.ns);
    }
    for (const c of el.children) if ('children' in c) walk(c);
  };
  walk(root);
  return { prefixOf, decls };
}

/**
 * Serialize a tree deterministically: XML declaration, the root's namespace as the default
 * namespace, every other namespace declared once on the root with a prefix from `prefixes`
 * (namespace URI -> prefix), else {@link WELL_KNOWN_PREFIXES}, else ns1, ns2... Source prefixes
 * are ignored, so equal trees always give equal bytes.
 */
export function serializeXml(root: XmlElement, prefixes?: Record<string, string>): string {
  const scope = assignPrefixes(root, prefixes);
  let rootDecl = root.ns === '' ? '' : ` xmlns="${escapeXmlAttr(root.ns)}"`;
  rootDecl += scope.decls;
  return `<?xml version="1.0" encoding="UTF-8"?>\n${writeElement(root, scope.prefixOf, root.ns, root.ns, rootDecl)}`;
}

function writeElement(
  el: XmlElement,
  prefixOf: Map<string, string>,
  defaultNs: string,
  inScopeDefault: string,
  extra: string,
): string {
  let name: string;
  let decl = extra;
  let childDefault = inScopeDefault;
  if (el.ns === defaultNs || el.ns === '') {
    name = el.local;
    // An element in no namespace below a default namespace (or the reverse) must re-bind the
    // default: the only way to express it without a prefix.
    if (el.ns !== inScopeDefault) {
      decl += ` xmlns="${escapeXmlAttr(el.ns)}"`;
      childDefault = el.ns;
    }
  } else {
    name = `${prefixOf.get(el.ns)!}:${el.local}`;
  }
  let out = `<${name}${decl}`;
  for (const a of el.attrs) {
    const aname = a.ns === '' ? a.local : `${a.ns === XML_NS ? 'xml' : prefixOf.get(a.ns)!}:${a.local}`;
    out += ` ${aname}="${escapeXmlAttr(a.value)}"`;
  }
  const children = el.children;
  if (children.length === 0) return `${out}/>`;
  out += '>';
  for (const c of children) {
    out += 'children' in c ? writeElement(c, prefixOf, defaultNs, childDefault, '') : escapeXmlText(c.text);
  }
  return `${out}</${name}>`;
}

// ---------------------------------------------------------------------------------------------
// Tree helpers

export function isXmlElement(node: XmlNode): node is XmlElement {
  return 'children' in node;
}

/**
 * Build an element. `attrs` are unqualified attributes (the usual case); string children
 * become text nodes.
 */
export function xmlElement(
  ns: string,
  local: string,
  attrs: Record<string, string> = {},
  children: ReadonlyArray<XmlNode | string> = [],
): XmlElement {
  const list: XmlAttr[] = [];
  for (const k of Object.keys(attrs)) list.push({ ns: '', local: k, prefix: '', value: attrs[k]! });
  return {
    ns,
    local,
    prefix: '',
    attrs: list,
    children: children.map((c) => (typeof c === 'string' ? { text: c } : c)),
  };
}

/** Direct child elements named `{ns}local`. */
export function childElements(el: XmlElement, ns: string, local: string): XmlElement[] {
  const out: XmlElement[] = [];
  for (const c of el.children) if ('children' in c && c.local === local && c.ns === ns) out.push(c);
  return out;
}

/** First direct child element named `{ns}local`. */
export function firstChild(el: XmlElement, ns: string, local: string): XmlElement | undefined {
  for (const c of el.children) if ('children' in c && c.local === local && c.ns === ns) return c;
  return undefined;
}

/** Concatenated text of all descendants, as the XPath string-value. */
export function textContent(el: XmlElement): string {
  let s = '';
  for (const c of el.children) s += 'children' in c ? textContent(c) : c.text;
  return s;
}

/** Attribute value by local name and namespace ('' = unqualified, the common case). */
export function getAttr(el: XmlElement, local: string, ns = ''): string | undefined {
  for (const a of el.attrs) if (a.local === local && a.ns === ns) return a.value;
  return undefined;
}
