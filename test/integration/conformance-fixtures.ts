/**
 * Helpers for the RFC conformance probes (conformance-*.test.ts): fresh AORs, raw requests, arrival times of
 * server requests, and a TCP listener sharing a UDP client's port (for RFC 3261 §18.1.1, where the server moves a
 * large request to TCP towards the same address and port).
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { parseMessage, SipParseError, StreamFramer, type SipRequest } from '../../src/sip/index.js';
import { randomToken, tagOf, type ReceivedRequest, type SipTestClient } from '../support/sip-test-client.js';

export const PIDF = 'application/pidf+xml';

export function aor(tag: string, domain = 'example.com'): string {
  return `sip:${tag}-${randomToken(3)}@${domain}`;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A PIDF document from its inner XML (tuples, persons ...), with extra namespace declarations. */
export function pidfDoc(entity: string, inner: string, xmlns = ''): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<presence xmlns="urn:ietf:params:xml:ns:pidf"${xmlns} entity="${entity}">${inner}</presence>`;
}

/** Takes the next NOTIFY and records when it was taken (ms, monotonic). */
export async function timedNotify(c: SipTestClient, timeoutMs: number): Promise<{ n: ReceivedRequest; at: number }> {
  const n = await c.nextRequest('NOTIFY', timeoutMs);
  return { n, at: performance.now() };
}

/** The text of the top Via of a request the server sent. */
export function topVia(req: SipRequest): string {
  const v = req.headers.getAll('Via')[0];
  assert.ok(v !== undefined, 'a Via');
  return v;
}

/**
 * Asserts the headers every in-dialog NOTIFY must have (RFC 3261 §8.1.1, §12.2.1.1; RFC 6665 §8.2.1): Max-Forwards 70,
 * a top Via branch starting z9hG4bK, From with the dialog's local tag, To with the subscriber's tag, Contact, Event and
 * Subscription-State. Returns the branch.
 */
export function assertNotifyHeaders(req: SipRequest, dialog: { callId: string; fromTag: string; toTag: string | undefined }): string {
  assert.equal(req.method, 'NOTIFY');
  assert.equal(req.headers.get('Max-Forwards'), '70', 'Max-Forwards 70 (RFC 3261 §8.1.1.6)');
  const m = /;\s*branch=([^;,\s]+)/i.exec(topVia(req));
  assert.ok(m, 'a branch');
  assert.match(m[1], /^z9hG4bK./, 'branch with the magic cookie (RFC 3261 §8.1.1.7)');
  assert.equal(req.headers.get('Call-ID'), dialog.callId);
  assert.equal(tagOf(req.headers.get('To')), dialog.fromTag, 'To-tag = the subscriber tag');
  if (dialog.toTag !== undefined) assert.equal(tagOf(req.headers.get('From')), dialog.toTag, 'From-tag = our dialog tag');
  assert.ok(req.headers.get('Contact'), 'Contact (RFC 6665 §4.4.1)');
  assert.ok(req.headers.get('Event'), 'Event (RFC 6665 §8.2.1)');
  assert.ok(req.headers.get('Subscription-State'), 'Subscription-State (RFC 6665 §4.2.2)');
  return m[1];
}

/** A TCP listener on 127.0.0.1:port collecting the SIP requests it receives (with the socket to answer on). */
export class TcpSink {
  readonly requests: Array<{ request: SipRequest; socket: net.Socket }> = [];
  readonly #server: net.Server;
  readonly #sockets = new Set<net.Socket>();
  #waiters: Array<() => void> = [];

  private constructor(server: net.Server) {
    this.#server = server;
    server.on('connection', (s) => {
      this.#sockets.add(s);
      s.on('close', () => this.#sockets.delete(s));
      s.on('error', () => undefined);
      const framer = new StreamFramer({ maxMessageSize: 1024 * 1024 });
      s.on('data', (chunk: Buffer) => {
        framer.push(chunk);
        for (let ev = framer.next(); ev !== undefined; ev = framer.next()) {
          if (ev.kind !== 'message') continue;
          const msg = parseMessage(ev.data);
          if (msg instanceof SipParseError || msg.kind !== 'request') continue;
          this.requests.push({ request: msg, socket: s });
          for (const w of this.#waiters.splice(0)) w();
        }
      });
    });
  }

  /** Listens on `port` (the port number of a UDP client), or resolves undefined when it is taken. */
  static async listen(port: number): Promise<TcpSink | undefined> {
    const server = net.createServer();
    try {
      server.listen(port, '127.0.0.1');
      await Promise.race([once(server, 'listening'), once(server, 'error').then(([e]) => Promise.reject(e as Error))]);
    } catch {
      server.close();
      return undefined;
    }
    return new TcpSink(server);
  }

  async next(timeoutMs: number): Promise<{ request: SipRequest; socket: net.Socket }> {
    const deadline = performance.now() + timeoutMs;
    while (this.requests.length === 0) {
      const left = deadline - performance.now();
      if (left <= 0) throw new Error(`no request over TCP within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return this.requests.shift()!;
  }

  /** Answers a request on the connection it came over (RFC 3261 §18.2.2). */
  static respond(req: SipRequest, socket: net.Socket, status: number): void {
    const lines = [`SIP/2.0 ${status} OK`];
    for (const v of req.headers.getAll('Via')) lines.push(`Via: ${v}`);
    lines.push(`From: ${req.headers.get('From') ?? ''}`);
    const to = req.headers.get('To') ?? '';
    lines.push(`To: ${tagOf(to) === undefined ? `${to};tag=${randomToken(4)}` : to}`);
    lines.push(`Call-ID: ${req.headers.get('Call-ID') ?? ''}`, `CSeq: ${req.headers.get('CSeq') ?? ''}`, 'Content-Length: 0');
    socket.write(`${lines.join('\r\n')}\r\n\r\n`);
  }

  async close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((r) => this.#server.close(() => r()));
  }
}
