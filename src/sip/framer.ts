/**
 * StreamFramer: cuts a byte stream (TCP, TLS) into SIP messages by Content-Length (RFC 3261 §18.3),
 * and recognises RFC 5626 §3.5.1 keep-alives between messages. A pure state machine: the transport
 * pushes chunks and pulls events; no sockets or timers here.
 *
 * States: between messages (keep-alives allowed) -> reading headers (searching the empty line) ->
 * reading body (waiting for Content-Length bytes) -> between messages; any error is terminal, since
 * the stream can no longer be framed and the connection must be closed.
 */
import { SipParseError } from './errors.js';

export type FrameEvent =
  | { kind: 'message'; data: Buffer }
  /** CRLFCRLF: a keep-alive ping, to be answered with CRLF (RFC 5626 §3.5.1). */
  | { kind: 'ping' }
  /** A lone CRLF: the pong answering our ping. */
  | { kind: 'pong' }
  /**
   * Framing failed; close the connection after answering if possible. `headers` is the header block
   * when it could be read (parse it with parseMessage(headers, { ignoreBody: true }) to answer 413/400).
   */
  | { kind: 'error'; error: SipParseError; headers?: Buffer };

export interface StreamFramerOptions {
  /** Largest message accepted, header block and body together, in bytes. */
  maxMessageSize: number;
}

const LF_CRLF = Buffer.from('\n\r\n', 'latin1');
const LF_LF = Buffer.from('\n\n', 'latin1');
const PING: FrameEvent = Object.freeze({ kind: 'ping' });
const PONG: FrameEvent = Object.freeze({ kind: 'pong' });

/** Content-Length from a header block: >= 0, -1 when absent, -2 when malformed or repeated. */
function contentLengthOf(block: string): number {
  let found = -1;
  let pos = block.indexOf('\n') + 1;
  while (pos > 0 && pos < block.length) {
    let nl = block.indexOf('\n', pos);
    if (nl < 0) nl = block.length;
    const c0 = block.charCodeAt(pos) | 0x20;
    if (c0 === 0x6c /* l */ || c0 === 0x63 /* c */) {
      const colon = block.indexOf(':', pos);
      if (colon > 0 && colon < nl) {
        const name = block.slice(pos, colon).trim().toLowerCase();
        if (name === 'content-length' || name === 'l') {
          if (found !== -1) return -2;
          const v = block.slice(colon + 1, nl).trim();
          if (!/^\d{1,10}$/.test(v)) return -2;
          found = Number(v);
        }
      }
    }
    pos = nl + 1;
  }
  return found;
}

export class StreamFramer {
  readonly #max: number;
  #buf: Buffer = Buffer.alloc(0);
  #start = 0;
  #end = 0;
  /** Where the search for the end of the header block resumes (avoids rescanning a trickled stream). */
  #scan = 0;
  /** Total length of the message being read once its headers are known, else -1. */
  #need = -1;
  #failed = false;

  constructor(opts: StreamFramerOptions) {
    this.#max = Math.max(1, Math.floor(opts.maxMessageSize));
  }

  /** Bytes held and not yet returned. */
  get buffered(): number {
    return this.#end - this.#start;
  }

  /** True once an error was returned: the stream cannot be framed any more. */
  get failed(): boolean {
    return this.#failed;
  }

  push(chunk: Buffer): void {
    if (this.#failed || chunk.length === 0) return;
    const live = this.#end - this.#start;
    if (this.#end + chunk.length > this.#buf.length) {
      const need = live + chunk.length;
      if (need <= this.#buf.length) {
        this.#buf.copy(this.#buf, 0, this.#start, this.#end);
      } else {
        const next = Buffer.allocUnsafe(Math.max(need, Math.min(this.#buf.length * 2, this.#max * 2 + 4096), 4096));
        this.#buf.copy(next, 0, this.#start, this.#end);
        this.#buf = next;
      }
      this.#scan -= this.#start;
      if (this.#scan < 0) this.#scan = 0;
      this.#start = 0;
      this.#end = live;
    }
    chunk.copy(this.#buf, this.#end);
    this.#end += chunk.length;
  }

  #fail(error: SipParseError, headers?: Buffer): FrameEvent {
    this.#failed = true;
    this.#buf = Buffer.alloc(0);
    this.#start = this.#end = this.#scan = 0;
    return headers === undefined ? { kind: 'error', error } : { kind: 'error', error, headers };
  }

  /** The next event, or undefined when more bytes are needed (or after an error). */
  next(): FrameEvent | undefined {
    if (this.#failed) return undefined;
    const buf = this.#buf;
    if (this.#need < 0) {
      // Between messages: keep-alives (RFC 5626 §3.5.1) and stray line ends (RFC 3261 §7.5).
      for (;;) {
        const avail = this.#end - this.#start;
        if (avail === 0) return undefined;
        const b0 = buf[this.#start];
        if (b0 === 10) {
          this.#start++; // a bare LF between messages carries nothing
          continue;
        }
        if (b0 !== 13) break;
        if (avail < 2) return undefined;
        if (buf[this.#start + 1] !== 10) {
          return this.#fail(new SipParseError('SIP_ERR_START_LINE', 'Bad start line: stray CR', { offset: 0 }));
        }
        if (avail >= 4 && buf[this.#start + 2] === 13 && buf[this.#start + 3] === 10) {
          this.#start += 4;
          this.#scan = this.#start;
          return PING;
        }
        // Three bytes CR LF CR may still become a ping; a lone CRLF with nothing after it is a pong.
        if (avail === 3 && buf[this.#start + 2] === 13) return undefined;
        this.#start += 2;
        this.#scan = this.#start;
        return PONG;
      }
      const live = buf.subarray(0, this.#end);
      const from = Math.max(this.#start, this.#scan);
      const a = live.indexOf(LF_CRLF, from);
      const b = live.indexOf(LF_LF, from);
      let headEnd: number;
      let bodyStart: number;
      if (b >= 0 && (a < 0 || b < a)) {
        headEnd = b + 1;
        bodyStart = b + 2;
      } else if (a >= 0) {
        headEnd = a + 1;
        bodyStart = a + 3;
      } else {
        if (this.#end - this.#start > this.#max) {
          return this.#fail(new SipParseError('SIP_ERR_TOO_LARGE', 'Message too large', { status: 513 }));
        }
        this.#scan = Math.max(this.#start, this.#end - 2);
        return undefined;
      }
      const headers = Buffer.from(buf.subarray(this.#start, bodyStart));
      if (bodyStart - this.#start > this.#max) {
        return this.#fail(new SipParseError('SIP_ERR_TOO_LARGE', 'Message too large', { status: 513 }), headers);
      }
      const cl = contentLengthOf(buf.toString('latin1', this.#start, headEnd));
      if (cl === -1) {
        // §18.3 / §20.14: Content-Length is mandatory on stream transports.
        return this.#fail(
          new SipParseError('SIP_ERR_CONTENT_LENGTH', 'Missing header: Content-Length', { header: 'Content-Length' }),
          headers,
        );
      }
      if (cl === -2) {
        return this.#fail(new SipParseError('SIP_ERR_CONTENT_LENGTH', 'Bad header Content-Length', { header: 'Content-Length' }), headers);
      }
      const total = bodyStart - this.#start + cl;
      if (total > this.#max) {
        return this.#fail(new SipParseError('SIP_ERR_TOO_LARGE', `Message too large: ${total} bytes`, { status: 413 }), headers);
      }
      this.#need = total;
    }
    if (this.#end - this.#start < this.#need) return undefined;
    const data = Buffer.from(buf.subarray(this.#start, this.#start + this.#need));
    this.#start += this.#need;
    this.#need = -1;
    if (this.#start === this.#end) this.#start = this.#end = 0;
    this.#scan = this.#start;
    return { kind: 'message', data };
  }
}
