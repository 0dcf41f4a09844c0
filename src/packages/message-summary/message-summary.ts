/**
 * application/simple-message-summary (RFC 3842 §5): parsing, validation and canonical serialization.
 *
 * The body is header-like text, so the grammar is checked by hand rather than with a regex over the
 * whole body: every failure names the line and the rule it breaks, and no input can make the
 * parser backtrack. Pure functions: no I/O, no clock.
 */

/** Message context classes of RFC 3458 §4.2 that RFC 3842 §5.2 allows on summary lines. */
export type MessageContextClass =
  | 'voice-message'
  | 'fax-message'
  | 'pager-message'
  | 'multimedia-message'
  | 'text-message'
  | 'none';

const CLASSES: ReadonlyMap<string, MessageContextClass> = new Map([
  ['voice-message', 'voice-message'],
  ['fax-message', 'fax-message'],
  ['pager-message', 'pager-message'],
  ['multimedia-message', 'multimedia-message'],
  ['text-message', 'text-message'],
  ['none', 'none'],
]);

/** Spelling used on output: the capitalised form of the RFC 3842 examples ("Voice-Message"). */
const CLASS_LABEL: Readonly<Record<MessageContextClass, string>> = {
  'voice-message': 'Voice-Message',
  'fax-message': 'Fax-Message',
  'pager-message': 'Pager-Message',
  'multimedia-message': 'Multimedia-Message',
  'text-message': 'Text-Message',
  none: 'None',
};

/** One `msg-summary-line`: `Voice-Message: 2/8 (0/2)`. */
export interface MessageClassCount {
  readonly messageClass: MessageContextClass;
  readonly newCount: number;
  readonly oldCount: number;
  /** Present only when the line carried the optional "(new-urgent/old-urgent)" part. */
  readonly urgent: { readonly newCount: number; readonly oldCount: number } | undefined;
}

export interface ExtensionHeader {
  readonly name: string;
  readonly value: string;
}

/** A parsed simple-message-summary body. */
export interface MessageSummary {
  /** `Messages-Waiting: yes|no`. */
  readonly waiting: boolean;
  /** `Message-Account` URI, when given. */
  readonly account: string | undefined;
  /** Summary lines in body order, one per class at most. */
  readonly counts: readonly MessageClassCount[];
  /** `opt-msg-headers` (after the blank line) and unknown header lines, in order. */
  readonly headers: readonly ExtensionHeader[];
}

export type MessageSummaryValidation =
  | { readonly ok: true; readonly summary: MessageSummary }
  | { readonly ok: false; readonly reason: string };

/** Bounds: a summary is a handful of lines; anything bigger is not a voicemail notification. */
export const MESSAGE_SUMMARY_LIMITS = Object.freeze({ maxBytes: 16 * 1024, maxLines: 200, maxLineLength: 1000 });

/** RFC 3842 §5.2: msg-count MUST NOT exceed 2^32-1. */
const MAX_COUNT = 0xffffffff;

// RFC 3261 §25.1 token characters (header names of extension-header lines).
const TOKEN = /^[A-Za-z0-9\-.!%*_+`'~]+$/;
// An Account-URI is a SIP/SIPS URI or an absoluteURI (RFC 3986 scheme ":" ...): no spaces or controls.
const ABSOLUTE_URI = /^[A-Za-z][A-Za-z0-9+.-]*:[^\s<>"]+$/;

function phrase(s: string): string {
  const clean = s.replace(/[^\x20-\x7e]/g, '?');
  return clean.length > 200 ? `${clean.slice(0, 197)}...` : clean;
}

function show(s: string): string {
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

function fail(reason: string): MessageSummaryValidation {
  return { ok: false, reason: phrase(reason) };
}

/** Splits "name HCOLON value" (HCOLON = *(SP/HTAB) ":" SWS); undefined when there is no colon. */
function splitHeader(line: string): { name: string; value: string } | undefined {
  const colon = line.indexOf(':');
  if (colon <= 0) return undefined;
  return { name: line.slice(0, colon).replace(/[ \t]+$/, ''), value: line.slice(colon + 1).trim() };
}

function parseCount(s: string): number | undefined {
  if (!/^[0-9]{1,10}$/.test(s)) return undefined;
  const n = Number(s);
  return n <= MAX_COUNT ? n : undefined;
}

// newmsgs SLASH oldmsgs [LPAREN new-urgentmsgs SLASH old-urgentmsgs RPAREN], SLASH/LPAREN/RPAREN
// allowing surrounding whitespace (SWS) as RFC 3261 §25.1 defines them.
const COUNTS = /^([0-9]+)[ \t]*\/[ \t]*([0-9]+)(?:[ \t]*\([ \t]*([0-9]+)[ \t]*\/[ \t]*([0-9]+)[ \t]*\))?$/;

function parseCounts(cls: MessageContextClass, value: string): MessageClassCount | string {
  const m = COUNTS.exec(value);
  if (m === null) return `${CLASS_LABEL[cls]} line "${show(value)}" is not new/old [(urgent-new/urgent-old)]`;
  const newCount = parseCount(m[1]!);
  const oldCount = parseCount(m[2]!);
  if (newCount === undefined || oldCount === undefined) return `${CLASS_LABEL[cls]} count exceeds 2^32-1`;
  if (m[3] === undefined) return { messageClass: cls, newCount, oldCount, urgent: undefined };
  const un = parseCount(m[3]!);
  const uo = parseCount(m[4]!);
  if (un === undefined || uo === undefined) return `${CLASS_LABEL[cls]} urgent count exceeds 2^32-1`;
  // Urgent messages are a subset of the new/old ones (RFC 3842 §5.2 prose).
  if (un > newCount || uo > oldCount) return `${CLASS_LABEL[cls]} has more urgent than total messages`;
  return { messageClass: cls, newCount, oldCount, urgent: { newCount: un, oldCount: uo } };
}

/**
 * Parses and validates a body (RFC 3842 §5.2). Accepted leniencies, all seen from real voicemail
 * servers: LF-only line ends, a missing final line end, and extension headers without the blank
 * line that should introduce them. Rejected: a first line other than `Messages-Waiting: yes|no`,
 * a malformed or repeated class line, a second Message-Account, oversized input.
 */
export function parseMessageSummary(body: string): MessageSummaryValidation {
  if (typeof body !== 'string') return fail('message-summary body is not text');
  if (body.length > MESSAGE_SUMMARY_LIMITS.maxBytes || Buffer.byteLength(body, 'utf8') > MESSAGE_SUMMARY_LIMITS.maxBytes) {
    return fail(`message-summary body exceeds ${MESSAGE_SUMMARY_LIMITS.maxBytes} bytes`);
  }
  const lines = body.split(/\r?\n/);
  // A trailing line end leaves one empty element; more than that is blank padding we tolerate.
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  if (lines.length === 0) return fail('message-summary body is empty');
  if (lines.length > MESSAGE_SUMMARY_LIMITS.maxLines) return fail(`message-summary body has more than ${MESSAGE_SUMMARY_LIMITS.maxLines} lines`);

  // RFC 3842 §5.2: the status line comes first.
  const first = splitHeader(lines[0]!);
  if (first === undefined || first.name.toLowerCase() !== 'messages-waiting') {
    return fail('message-summary body must start with Messages-Waiting');
  }
  const status = first.value.toLowerCase();
  if (status !== 'yes' && status !== 'no') return fail(`Messages-Waiting must be yes or no, not "${show(first.value)}"`);

  let account: string | undefined;
  const counts: MessageClassCount[] = [];
  const headers: ExtensionHeader[] = [];
  let inExtensions = false;
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.length > MESSAGE_SUMMARY_LIMITS.maxLineLength) return fail(`message-summary line ${i + 1} is too long`);
    if (/[\x00-\x08\x0a-\x1f\x7f]/.test(line)) return fail(`message-summary line ${i + 1} contains control characters`);
    if (line.trim() === '') {
      // opt-msg-headers = CRLF 1*(extension-header CRLF): the blank line starts them.
      inExtensions = true;
      continue;
    }
    if (/^[ \t]/.test(line)) {
      // Header folding (RFC 3261 §7.3.1) only makes sense inside extension headers.
      const last = headers[headers.length - 1];
      if (!inExtensions || last === undefined) return fail(`message-summary line ${i + 1} starts with whitespace`);
      headers[headers.length - 1] = { name: last.name, value: `${last.value} ${line.trim()}` };
      continue;
    }
    const h = splitHeader(line);
    if (h === undefined || !TOKEN.test(h.name)) return fail(`message-summary line ${i + 1} is not "name: value"`);
    const lname = h.name.toLowerCase();
    if (!inExtensions && lname === 'message-account') {
      if (account !== undefined) return fail('message-summary has more than one Message-Account');
      if (counts.length > 0) return fail('Message-Account must precede the summary lines');
      if (!ABSOLUTE_URI.test(h.value)) return fail(`Message-Account "${show(h.value)}" is not a URI`);
      account = h.value;
      continue;
    }
    const cls = inExtensions ? undefined : CLASSES.get(lname);
    if (cls !== undefined) {
      if (counts.some((c) => c.messageClass === cls)) return fail(`message-summary repeats ${CLASS_LABEL[cls]}`);
      const parsed = parseCounts(cls, h.value);
      if (typeof parsed === 'string') return fail(parsed);
      counts.push(parsed);
      continue;
    }
    if (!inExtensions && lname === 'messages-waiting') return fail('message-summary repeats Messages-Waiting');
    headers.push({ name: h.name, value: h.value });
  }
  return { ok: true, summary: { waiting: status === 'yes', account, counts, headers } };
}

/**
 * Canonical text of a summary: CRLF line ends, the RFC 3842 spellings, the account, the class
 * lines in the given order (urgent counts only when known), then extension headers after a blank line.
 */
export function serializeMessageSummary(summary: MessageSummary): string {
  let out = `Messages-Waiting: ${summary.waiting ? 'yes' : 'no'}\r\n`;
  if (summary.account !== undefined) out += `Message-Account: ${summary.account}\r\n`;
  for (const c of summary.counts) {
    out += `${CLASS_LABEL[c.messageClass]}: ${c.newCount}/${c.oldCount}`;
    if (c.urgent !== undefined) out += ` (${c.urgent.newCount}/${c.urgent.oldCount})`;
    out += '\r\n';
  }
  if (summary.headers.length > 0) {
    out += '\r\n';
    for (const h of summary.headers) out += `${h.name}: ${h.value}\r\n`;
  }
  return out;
}

/**
 * The neutral summary ("no messages"): the state a subscriber sees before any voicemail system
 * published, or when politely blocked.
 */
export function emptyMessageSummary(account?: string): string {
  return serializeMessageSummary({ waiting: false, account, counts: [], headers: [] });
}

/** Total new messages over all classes (for dashboards and lamps). */
export function newMessageCount(summary: MessageSummary): number {
  let n = 0;
  for (const c of summary.counts) n += c.newCount;
  return n;
}
