/**
 * SipHeaders: the ordered header fields of a message (RFC 3261 §7.3). Names are matched
 * case-insensitively and compact forms (§7.3.3) are folded onto their long forms; values are kept as
 * text (unfolded, trimmed) and parsed only when someone asks (see parse.ts for the typed cache).
 */

import { trimWs } from './chars.js';

/** Canonical (RFC-capitalised) long forms of the headers we know by name. */
const CANONICAL = [
  'Accept', 'Accept-Contact', 'Accept-Encoding', 'Accept-Language', 'Accept-Resource-Priority', 'Alert-Info',
  'Allow', 'Allow-Events', 'Answer-Mode', 'Authentication-Info', 'Authorization', 'Call-ID', 'Call-Info',
  'Contact', 'Content-Disposition', 'Content-Encoding', 'Content-ID', 'Content-Language', 'Content-Length',
  'Content-Type', 'CSeq', 'Date', 'Error-Info', 'Event', 'Expires', 'Flow-Timer', 'From', 'History-Info',
  'Identity', 'Identity-Info', 'In-Reply-To', 'Join', 'Max-Forwards', 'MIME-Version', 'Min-Expires', 'Min-SE',
  'Organization', 'P-Asserted-Identity', 'P-Preferred-Identity', 'Path', 'Priority', 'Privacy',
  'Proxy-Authenticate', 'Proxy-Authorization', 'Proxy-Require', 'RAck', 'Reason', 'Record-Route',
  'Refer-Sub', 'Refer-To', 'Referred-By', 'Reject-Contact', 'Replaces', 'Reply-To', 'Request-Disposition',
  'Require', 'Resource-Priority', 'Retry-After', 'Route', 'RSeq', 'Security-Client', 'Security-Server',
  'Security-Verify', 'Server', 'Service-Route', 'Session-Expires', 'SIP-ETag', 'SIP-If-Match', 'Subject',
  'Subscription-State', 'Supported', 'Target-Dialog', 'Timestamp', 'To', 'Unsupported', 'User-Agent', 'Via',
  'Warning', 'WWW-Authenticate',
];

/** RFC 3261 §7.3.3 and the IANA registry of compact forms. */
const COMPACT: Record<string, string> = {
  i: 'call-id', f: 'from', t: 'to', v: 'via', m: 'contact', l: 'content-length', c: 'content-type',
  e: 'content-encoding', o: 'event', k: 'supported', s: 'subject', u: 'allow-events', r: 'refer-to',
  x: 'session-expires', y: 'identity', a: 'accept-contact', b: 'referred-by', j: 'reject-contact',
  d: 'request-disposition', n: 'identity-info',
};

/**
 * Headers whose grammar is a comma-separated list (`#element`), so that several values may share one
 * line (§7.3.1). getAll() splits these; other headers (WWW-Authenticate, Date, ...) carry commas inside
 * one value and are never split.
 */
const LIST_HEADERS = new Set([
  'accept', 'accept-contact', 'accept-encoding', 'accept-language', 'accept-resource-priority', 'alert-info',
  'allow', 'allow-events', 'call-info', 'contact', 'content-encoding', 'content-language', 'error-info',
  'history-info', 'in-reply-to', 'p-asserted-identity', 'p-preferred-identity', 'path', 'proxy-require',
  'reason', 'record-route', 'reject-contact', 'request-disposition', 'require', 'resource-priority', 'route',
  'security-client', 'security-server', 'security-verify', 'service-route', 'supported', 'unsupported', 'via',
  'warning',
]);

/** Any spelling (canonical, lower-case, compact in both cases) -> lower-case canonical key. */
const KEY_OF = new Map<string, string>();
/** Lower-case key -> canonical display name. */
const NAME_OF = new Map<string, string>();
for (const name of CANONICAL) {
  const key = name.toLowerCase();
  KEY_OF.set(name, key);
  KEY_OF.set(key, key);
  NAME_OF.set(key, name);
}
for (const [c, key] of Object.entries(COMPACT)) {
  KEY_OF.set(c, key);
  KEY_OF.set(c.toUpperCase(), key);
}

/** A known header name: its exact usual spelling, the lower-case form to match, key and display name. */
interface KnownName {
  readonly exact: string;
  readonly match: string;
  readonly key: string;
  readonly name: string;
  readonly next: KnownName | undefined;
}

const SLOTS = 1024;
const TABLE: Array<KnownName | undefined> = new Array<KnownName | undefined>(SLOTS).fill(undefined);

/**
 * Cheap case-insensitive hash of a header name s[from, to): its length and first and last characters.
 * The parser computes it without scanning the name; a hit is then confirmed by comparison.
 */
export function nameHash(s: string, from: number, to: number): number {
  const len = to - from;
  if (len <= 0) return 0;
  return (len * 961 + (s.charCodeAt(from) | 0x20) * 31 + (s.charCodeAt(to - 1) | 0x20)) & (SLOTS - 1);
}

function addKnown(exact: string, key: string): void {
  const match = exact.toLowerCase();
  const slot = nameHash(match, 0, match.length);
  TABLE[slot] = { exact, match, key, name: NAME_OF.get(key) ?? key, next: TABLE[slot] };
}
for (const [key, name] of NAME_OF) addKnown(name, key);
for (const [c, key] of Object.entries(COMPACT)) addKnown(c, key);

/**
 * Looks up the header name s[from, to) without slicing it out of the header block: the parser's hot
 * path. The usual spelling is matched with one native comparison, other casings character by character.
 * Undefined for names we do not know.
 */
export function knownName(s: string, from: number, to: number): { key: string; name: string } | undefined {
  const len = to - from;
  for (let e = TABLE[nameHash(s, from, to)]; e !== undefined; e = e.next) {
    const m = e.match;
    if (m.length !== len) continue;
    if (s.startsWith(e.exact, from)) return e;
    let i = 0;
    // | 0x20 folds ASCII letters; the match strings hold only letters, digits and "-", which no other
    // token character folds onto.
    while (i < len && (s.charCodeAt(from + i) | 0x20) === m.charCodeAt(i)) i++;
    if (i === len) return e;
  }
  return undefined;
}

/** Lower-case canonical key for any spelling of a header name. */
export function headerKey(name: string): string {
  const k = KEY_OF.get(name);
  if (k !== undefined) return k;
  const lower = name.toLowerCase();
  return KEY_OF.get(lower) ?? lower;
}

/** Canonical display name for a header name (unknown names keep their spelling). */
export function canonicalHeaderName(name: string): string {
  const k = KEY_OF.get(name) ?? KEY_OF.get(name.toLowerCase());
  if (k === undefined) return name;
  return NAME_OF.get(k) ?? name;
}

/** Canonical display name for a lower-case key, or undefined for headers we do not know by name. */
export function nameForKey(key: string): string | undefined {
  return NAME_OF.get(key);
}

export function isListHeader(name: string): boolean {
  return LIST_HEADERS.has(headerKey(name));
}

/**
 * Splits a header value at top-level commas: commas inside quoted strings (with \-escapes) and inside
 * < > do not split. Empty elements are dropped. Returns [value] unchanged when there is no comma.
 */
export function splitList(value: string): string[] {
  if (value.indexOf(',') < 0) {
    const t = trimWs(value);
    return t.length === 0 ? [] : [t];
  }
  const out: string[] = [];
  let start = 0;
  let inQuote = false;
  let inAngle = false;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (inQuote) {
      if (c === 92) i++;
      else if (c === 34) inQuote = false;
    } else if (c === 34) inQuote = true;
    else if (c === 60) inAngle = true;
    else if (c === 62) inAngle = false;
    else if (c === 44 && !inAngle) {
      const part = trimWs(value.slice(start, i));
      if (part.length > 0) out.push(part);
      start = i + 1;
    }
  }
  const last = trimWs(value.slice(start));
  if (last.length > 0) out.push(last);
  return out;
}

let versionOf: (h: SipHeaders) => number;
let memoOf: (h: SipHeaders) => unknown;
let setMemoOf: (h: SipHeaders, v: unknown) => void;
let singleOf: (h: SipHeaders, key: string) => string | number;
let adoptOf: (names: string[], keys: string[], values: string[]) => SipHeaders;

/**
 * Ordered header fields. Each entry is one header line as received (or added); list headers are split into
 * elements by getAll(), and get() returns the first element of a list header (e.g. the top Via).
 */
export class SipHeaders implements Iterable<[string, string]> {
  #names: string[];
  #keys: string[];
  #values: string[];
  #version = 0;
  /** One slot for validate.ts's cached result (a WeakMap per message costs far more under GC). */
  #memo: unknown = undefined;

  static {
    versionOf = (h) => h.#version;
    memoOf = (h) => h.#memo;
    setMemoOf = (h, v) => {
      h.#memo = v;
    };
    adoptOf = (names, keys, values) => {
      const h = new SipHeaders();
      h.#names = names;
      h.#keys = keys;
      h.#values = values;
      return h;
    };
    singleOf = (h, key) => {
      const keys = h.#keys;
      let found = -1;
      for (let i = 0; i < keys.length; i++) {
        if (keys[i] !== key) continue;
        if (found >= 0) return 2;
        found = i;
      }
      return found < 0 ? 0 : h.#values[found];
    };
  }

  constructor(init?: Iterable<readonly [string, string]>) {
    this.#names = [];
    this.#keys = [];
    this.#values = [];
    if (init !== undefined) for (const [n, v] of init) this.append(n, v);
  }


  /** Number of header lines. */
  get size(): number {
    return this.#keys.length;
  }

  /** First value: the first line's value, or for a list header its first element. */
  get(name: string): string | undefined {
    const key = headerKey(name);
    const keys = this.#keys;
    for (let i = 0; i < keys.length; i++) {
      if (keys[i] === key) {
        const v = this.#values[i];
        if (LIST_HEADERS.has(key) && v.indexOf(',') >= 0) return splitList(v)[0];
        return v;
      }
    }
    return undefined;
  }

  /** All values in order; list headers are split into one value per comma-separated element. */
  getAll(name: string): string[] {
    const key = headerKey(name);
    const list = LIST_HEADERS.has(key);
    const out: string[] = [];
    const keys = this.#keys;
    for (let i = 0; i < keys.length; i++) {
      if (keys[i] !== key) continue;
      const v = this.#values[i];
      if (list && v.indexOf(',') >= 0) {
        for (const part of splitList(v)) out.push(part);
      } else if (!list || v.length > 0) out.push(v);
    }
    return out;
  }

  /** Number of header lines with this name (not split): used to detect duplicated single-valued headers. */
  countLines(name: string): number {
    const key = headerKey(name);
    let n = 0;
    for (const k of this.#keys) if (k === key) n++;
    return n;
  }

  has(name: string): boolean {
    return this.#keys.indexOf(headerKey(name)) >= 0;
  }

  /** Replaces every line of this name by the given value(s), at the position of the first one. */
  set(name: string, value: string | string[]): void {
    const key = headerKey(name);
    const values = typeof value === 'string' ? [value] : value;
    let at = this.#keys.indexOf(key);
    if (values.length === 1 && (at < 0 || this.#keys.indexOf(key, at + 1) < 0)) {
      // One line (or none) replaced by one: in place or appended, without the remove-and-splice below
      // (the transaction layer stamps the top Via of nearly every request).
      const display = NAME_OF.get(key) ?? name;
      const v = cleanValue(values[0]);
      if (at < 0) {
        this.#names.push(display);
        this.#keys.push(key);
        this.#values.push(v);
      } else {
        this.#names[at] = display;
        this.#values[at] = v;
      }
      this.#version++;
      return;
    }
    this.#remove(key);
    if (at < 0 || at > this.#keys.length) at = this.#keys.length;
    const display = NAME_OF.get(key) ?? name;
    const n = values.length;
    this.#names.splice(at, 0, ...new Array<string>(n).fill(display));
    this.#keys.splice(at, 0, ...new Array<string>(n).fill(key));
    this.#values.splice(at, 0, ...values.map(cleanValue));
    this.#version++;
  }

  append(name: string, value: string): void {
    const key = headerKey(name);
    this.#names.push(NAME_OF.get(key) ?? name);
    this.#keys.push(key);
    this.#values.push(cleanValue(value));
    this.#version++;
  }

  /** Inserts a line before all others of the same name (e.g. a new top Via), or at the end. */
  prepend(name: string, value: string): void {
    const key = headerKey(name);
    let at = this.#keys.indexOf(key);
    if (at < 0) at = this.#keys.length;
    this.#names.splice(at, 0, NAME_OF.get(key) ?? name);
    this.#keys.splice(at, 0, key);
    this.#values.splice(at, 0, cleanValue(value));
    this.#version++;
  }

  delete(name: string): void {
    if (this.#remove(headerKey(name))) this.#version++;
  }

  #remove(key: string): boolean {
    let w = 0;
    const keys = this.#keys;
    const len = keys.length;
    for (let r = 0; r < len; r++) {
      if (keys[r] === key) continue;
      this.#names[w] = this.#names[r];
      keys[w] = keys[r];
      this.#values[w] = this.#values[r];
      w++;
    }
    this.#names.length = w;
    keys.length = w;
    this.#values.length = w;
    return w !== len;
  }

  /** A deep copy (values are strings, so copying the arrays suffices). */
  clone(): SipHeaders {
    return adoptOf(this.#names.slice(), this.#keys.slice(), this.#values.slice());
  }

  *[Symbol.iterator](): Iterator<[string, string]> {
    for (let i = 0; i < this.#keys.length; i++) yield [this.#names[i], this.#values[i]];
  }

  /** Header lines as [name, value] pairs: what JSON.stringify and loggers see. */
  toJSON(): Array<[string, string]> {
    return [...this];
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `SipHeaders(${this.#keys.length}) ${JSON.stringify(this.toJSON())}`;
  }

  /** Calls fn for each line without allocating an iterator (serialisation hot path). */
  forEachLine(fn: (name: string, value: string, key: string) => void): void {
    for (let i = 0; i < this.#keys.length; i++) fn(this.#names[i], this.#values[i], this.#keys[i]);
  }
}

/**
 * Builds headers from parallel arrays already canonicalised by the parser, without copying them.
 * Module-internal: the arrays must agree (display name, lower-case key, value per line).
 */
export function adoptParsedHeaders(names: string[], keys: string[], values: string[]): SipHeaders {
  return adoptOf(names, keys, values);
}

/**
 * The value of a header that must appear on exactly one line, else the number of lines (0 or 2 for
 * "more than one"). `key` is the lower-case canonical key. Module-internal.
 */
export function singleLine(h: SipHeaders, key: string): string | number {
  return singleOf(h, key);
}

/** The validation memo slot (module-internal, not part of the public API). */
export function headersMemo(h: SipHeaders): unknown {
  return memoOf(h);
}

export function setHeadersMemo(h: SipHeaders, v: unknown): void {
  setMemoOf(h, v);
}

/** Mutation counter, so that cached parse results can notice a header change. Not part of the public API. */
export function headersVersion(h: SipHeaders): number {
  return versionOf(h);
}

/**
 * Values set by code must not smuggle a line break into the message (header injection): CR/LF and
 * other controls become spaces.
 */
function cleanValue(v: string): string {
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c < 32 && c !== 9) return trimWs(v.replace(/[\x00-\x08\x0a-\x1f]+/g, ' '));
  }
  return trimWs(v);
}
