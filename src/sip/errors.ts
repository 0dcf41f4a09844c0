/**
 * The one error type of the syntax layer. Parsers return it instead of throwing (architecture.md §7.1),
 * so callers branch with `instanceof SipParseError` and answer with `status`.
 *
 * It deliberately does not extend Error: it is a returned value, never thrown, and capturing a stack
 * trace for every malformed datagram of a flood would cost more than the parse itself.
 */

/** Stable error codes (documented in docs/errors.md). */
export type SipErrorCode =
  | 'SIP_ERR_EMPTY'
  | 'SIP_ERR_START_LINE'
  | 'SIP_ERR_VERSION'
  | 'SIP_ERR_HEADER_SYNTAX'
  | 'SIP_ERR_MISSING_HEADER'
  | 'SIP_ERR_BAD_HEADER'
  | 'SIP_ERR_DUPLICATE_HEADER'
  | 'SIP_ERR_CSEQ_METHOD_MISMATCH'
  | 'SIP_ERR_CONTENT_LENGTH'
  | 'SIP_ERR_BODY_TRUNCATED'
  | 'SIP_ERR_TOO_LARGE'
  | 'SIP_ERR_URI'
  | 'SIP_ERR_UNSUPPORTED_URI_SCHEME';

/** Every code, for the documentation test. */
export const SIP_ERROR_CODES: readonly SipErrorCode[] = [
  'SIP_ERR_EMPTY',
  'SIP_ERR_START_LINE',
  'SIP_ERR_VERSION',
  'SIP_ERR_HEADER_SYNTAX',
  'SIP_ERR_MISSING_HEADER',
  'SIP_ERR_BAD_HEADER',
  'SIP_ERR_DUPLICATE_HEADER',
  'SIP_ERR_CSEQ_METHOD_MISMATCH',
  'SIP_ERR_CONTENT_LENGTH',
  'SIP_ERR_BODY_TRUNCATED',
  'SIP_ERR_TOO_LARGE',
  'SIP_ERR_URI',
  'SIP_ERR_UNSUPPORTED_URI_SCHEME',
];

function defaultStatus(code: SipErrorCode): number {
  switch (code) {
    case 'SIP_ERR_VERSION':
      return 505; // RFC 3261 §21.5.6
    case 'SIP_ERR_TOO_LARGE':
      return 413; // RFC 3261 §21.4.11
    case 'SIP_ERR_UNSUPPORTED_URI_SCHEME':
      return 416; // RFC 3261 §8.2.2.1
    default:
      return 400;
  }
}

const MAX_MESSAGE_CHARS = 120;

/**
 * Makes any text fit for a Reason-Phrase: printable ASCII only, one line, bounded length.
 * Message text often quotes attacker-controlled bytes.
 */
export function sanitizeReason(text: string): string {
  let out = '';
  for (let i = 0; i < text.length && out.length < MAX_MESSAGE_CHARS; i++) {
    const c = text.charCodeAt(i);
    out += c >= 0x20 && c < 0x7f ? text[i] : '?';
  }
  return text.length > MAX_MESSAGE_CHARS ? out + '...' : out;
}

export interface SipParseErrorOptions {
  readonly header?: string | undefined;
  readonly offset?: number | undefined;
  readonly status?: number | undefined;
}

export class SipParseError {
  readonly name = 'SipParseError';
  readonly code: SipErrorCode;
  /** One printable ASCII line, usable as a Reason-Phrase. */
  readonly message: string;
  /** Canonical name of the header at fault, when there is one. */
  readonly header: string | undefined;
  /** Byte or character offset of the fault, when known. */
  readonly offset: number | undefined;
  /** The SIP status to answer with (400, 413, 416, 505). */
  readonly status: number;

  constructor(code: SipErrorCode, message: string, opts?: SipParseErrorOptions) {
    this.code = code;
    this.message = sanitizeReason(message);
    this.header = opts?.header;
    this.offset = opts?.offset;
    this.status = opts?.status ?? defaultStatus(code);
  }

  /**
   * The same fault attributed to a header field: a URI or scheme problem inside From/To/Contact is a bad
   * header (400), not an unsupported Request-URI (416 is for the Request-URI only, RFC 3261 §8.2.2.1).
   */
  inHeader(header: string): SipParseError {
    const message = this.message.startsWith('Bad header ') ? this.message : `Bad header ${header}: ${this.message}`;
    const code: SipErrorCode = this.code === 'SIP_ERR_URI' || this.code === 'SIP_ERR_UNSUPPORTED_URI_SCHEME' ? 'SIP_ERR_BAD_HEADER' : this.code;
    return new SipParseError(code, message, { header, offset: this.offset, status: 400 });
  }

  toString(): string {
    return `${this.name} [${this.code}] ${this.message}`;
  }
}

export function isSipParseError(v: unknown): v is SipParseError {
  return v instanceof SipParseError;
}
