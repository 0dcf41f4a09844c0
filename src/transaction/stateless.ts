/**
 * Stateless error replies to requests that failed parsing or validation (RFC 3261 §8.1.1, §8.2.2.1,
 * §21.4.1): built from whatever header fields can be read, as long as the top Via parses, because that
 * Via is the only thing that says where a response goes (§18.2.2). Otherwise the request is dropped.
 */
import {
  createResponseMessage,
  formatVia,
  parseNameAddr,
  parseVia,
  SipParseError,
  type SipResponse,
} from '../sip/index.js';
import { stampVia, type RemoteEndpoint } from '../transport/index.js';

/** Only the head of a message is scanned for the fields a reply needs. */
const MAX_SCAN_BYTES = 16 * 1024;
const MAX_SCAN_LINES = 256;

const COMPACT: Record<string, string> = { v: 'via', f: 'from', t: 'to', i: 'call-id' };
const WANTED = new Set(['via', 'from', 'to', 'call-id', 'cseq']);

export interface ScannedHead {
  /** The start line, or '' when none was found. */
  readonly startLine: string;
  /** Lower-cased long names (via, from, to, call-id, cseq) with unfolded values, in message order. */
  readonly fields: Array<[string, string]>;
}

/**
 * Lenient line scan of raw bytes for the start line and the five fields a response copies. Used when the
 * parser rejected the message as a whole, so it must not depend on the rest being well-formed.
 */
export function scanHead(data: Buffer): ScannedHead {
  // RFC 3261 §7.5: CRLFs before the start line are ignored.
  const text = data.subarray(0, MAX_SCAN_BYTES).toString('latin1').replace(/^(?:\r?\n)+/, '');
  const end = text.search(/\r?\n\r?\n/);
  const lines = (end >= 0 ? text.slice(0, end) : text).split(/\r?\n/, MAX_SCAN_LINES);
  let i = 0;
  const startLine = lines[0] ?? '';
  const fields: Array<[string, string]> = [];
  let current: [string, string] | undefined;
  for (i++; i < lines.length; i++) {
    const line = lines[i];
    if (line.length > 0 && (line[0] === ' ' || line[0] === '\t')) {
      if (current !== undefined) current[1] += ' ' + line.trim();
      continue;
    }
    current = undefined;
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    let name = line.slice(0, colon).trim().toLowerCase();
    name = COMPACT[name] ?? name;
    if (!WANTED.has(name)) continue;
    current = [name, line.slice(colon + 1).trim()];
    fields.push(current);
  }
  return { startLine, fields };
}

/** Method of a request line of the shape `METHOD SP Request-URI SP SIP-Version`, else undefined. */
export function requestLineMethod(startLine: string): string | undefined {
  const m = /^([A-Za-z0-9.!%*_+`'~-]+) +\S+ +\S+\s*$/.exec(startLine);
  if (m === null || startLine.startsWith('SIP/')) return undefined;
  return m[1];
}

/** Splits a header value at top-level commas (outside quotes and <>), for multi-value Via lines. */
export function splitTopLevel(value: string): string[] {
  const out: string[] = [];
  let quoted = false;
  let angle = 0;
  let start = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    if (quoted) {
      if (c === '\\') i++;
      else if (c === '"') quoted = false;
    } else if (c === '"') quoted = true;
    else if (c === '<') angle++;
    else if (c === '>' && angle > 0) angle--;
    else if (c === ',' && angle === 0) {
      out.push(value.slice(start, i).trim());
      start = i + 1;
    }
  }
  out.push(value.slice(start).trim());
  return out.filter((v) => v !== '');
}

export interface StatelessReplyOptions {
  readonly status: number;
  readonly reason: string;
  readonly toTag: string;
  readonly serverHeader: string;
  readonly remote: RemoteEndpoint;
  readonly extraHeaders?: ReadonlyArray<[string, string]>;
}

/**
 * A response echoing Via (top one stamped with received/rport), From, To (+tag), Call-ID and CSeq from
 * `fields` (lower-cased names), or undefined when there is no parsable top Via to route it by.
 */
export function buildStatelessReply(
  fields: Iterable<[string, string]>,
  opts: StatelessReplyOptions,
): SipResponse | undefined {
  const vias: string[] = [];
  let from: string | undefined;
  let to: string | undefined;
  let callId: string | undefined;
  let cseq: string | undefined;
  for (const [rawName, value] of fields) {
    const name = rawName.toLowerCase();
    if (name === 'via' || name === 'v') {
      for (const v of splitTopLevel(value)) if (vias.length < 64) vias.push(v);
    } else if ((name === 'from' || name === 'f') && from === undefined) from = value;
    else if ((name === 'to' || name === 't') && to === undefined) to = value;
    else if ((name === 'call-id' || name === 'i') && callId === undefined) callId = value;
    else if (name === 'cseq' && cseq === undefined) cseq = value;
  }
  if (vias.length === 0) return undefined;
  const top = parseVia(vias[0]);
  if (top instanceof SipParseError || top.host === '') return undefined;
  vias[0] = formatVia(stampVia(top, opts.remote));
  const headers: Array<[string, string]> = vias.map((v) => ['Via', v]);
  if (from !== undefined) headers.push(['From', from]);
  if (to !== undefined) headers.push(['To', opts.status > 100 ? withTag(to, opts.toTag) : to]);
  if (callId !== undefined) headers.push(['Call-ID', callId]);
  if (cseq !== undefined) headers.push(['CSeq', cseq]);
  if (opts.serverHeader !== '') headers.push(['Server', opts.serverHeader]);
  if (opts.extraHeaders !== undefined) headers.push(...opts.extraHeaders);
  return createResponseMessage(opts.status, opts.reason, headers);
}

/** RFC 3261 §8.2.6.2: a To tag is added when the request had none. */
function withTag(to: string, tag: string): string {
  const na = parseNameAddr(to);
  if (na instanceof SipParseError) {
    // Unparsable To: echo it untouched rather than guess where parameters start.
    return to;
  }
  return na.params.has('tag') ? to : `${to};tag=${tag}`;
}
