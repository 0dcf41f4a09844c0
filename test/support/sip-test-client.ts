/**
 * A scripted SIP user agent for integration tests: real UDP or TCP sockets on the loopback interface,
 * requests written as raw text (so tests can send anything, malformed included), everything received
 * parsed with src/sip. Responses are matched by the top Via branch; requests the server originates
 * (NOTIFY) are queued and can be answered, or left unanswered to trigger the server's timeouts.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import {
  parseMessage,
  SipParseError,
  StreamFramer,
  type SipRequest,
  type SipResponse,
} from '../../src/sip/index.js';

export type TestTransport = 'udp' | 'tcp';

export interface ClientOptions {
  transport: TestTransport;
  serverPort: number;
  /** Server address; default 127.0.0.1. '::1' makes the client use IPv6 sockets. */
  serverHost?: string;
  /** Largest frame the client accepts on TCP (default 1 MiB). */
  maxMessageSize?: number;
}

export interface Remote {
  readonly address: string;
  readonly port: number;
}

export interface ReceivedRequest {
  readonly request: SipRequest;
  readonly raw: Buffer;
  readonly remote: Remote;
  /** For TCP: whether it came over the client's own outgoing connection (true) or a connection the server opened. */
  readonly overClientConnection: boolean;
  /** The TCP socket it arrived on, so a response can go back over it. */
  readonly socket: net.Socket | undefined;
}

export interface ReceivedResponse {
  readonly response: SipResponse;
  readonly raw: Buffer;
  readonly remote: Remote;
  /** Monotonic ms at arrival. */
  readonly at: number;
}

export interface RequestSpec {
  method: string;
  uri: string;
  /** From header value; default `<sip:tester@127.0.0.1>;tag=<random>`. */
  from?: string;
  /** To header value; default `<uri>`. */
  to?: string;
  callId?: string;
  cseq?: number;
  /** CSeq method when it must differ from the request method. */
  cseqMethod?: string;
  branch?: string;
  /** null omits the header. Default 70. */
  maxForwards?: number | null;
  /** Full Via value override (then `branch` is ignored unless it appears in it). null omits Via. */
  via?: string | null;
  /** Add `;rport` to the generated Via (default true). */
  rport?: boolean;
  /** Contact header value; null or undefined omits it. */
  contact?: string | null;
  /** Extra headers in order. */
  headers?: Array<[string, string]>;
  /** Header names (case-insensitive) to leave out of the generated defaults. */
  omit?: string[];
  body?: string | Buffer;
  contentType?: string;
  /** Override the Content-Length value (default: body length). null omits it. */
  contentLength?: number | null;
}

export interface BuiltRequest {
  readonly bytes: Buffer;
  readonly branch: string;
  readonly callId: string;
  readonly fromTag: string | undefined;
  readonly cseq: number;
}

export class TimeoutError extends Error {
  constructor(what: string, ms: number) {
    super(`timed out after ${ms} ms waiting for ${what}`);
  }
}

interface Waiter<T> {
  match(item: T): boolean;
  resolve(item: T): void;
}

export function randomToken(bytes = 6): string {
  return randomBytes(bytes).toString('hex');
}

export function newBranch(): string {
  return `z9hG4bK${randomToken(8)}`;
}

/** A PIDF document with one tuple (RFC 3863 §4.1). */
export function pidf(entity: string, tupleId: string, basic: 'open' | 'closed', note?: string): string {
  const n = note === undefined ? '' : `<note>${note}</note>`;
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\r\n` +
    `<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="${entity}">` +
    `<tuple id="${tupleId}"><status><basic>${basic}</basic></status>${n}</tuple></presence>`
  );
}

/** Parses the tag parameter out of a From/To header value. */
export function tagOf(headerValue: string | undefined): string | undefined {
  if (headerValue === undefined) return undefined;
  const m = /;\s*tag=([^;>\s,]+)/i.exec(headerValue.replace(/<[^>]*>/, ''));
  return m ? m[1] : undefined;
}

export class SipTestClient {
  readonly transport: TestTransport;
  readonly serverHost: string;
  readonly serverPort: number;
  /** Local address of the client (127.0.0.1 or ::1). */
  readonly host: string;
  /** The port in our Via sent-by and Contact: the UDP socket, or the TCP listener. */
  port = 0;
  /** TCP: local port of our outgoing connection (the source port the server sees). */
  connectionPort = 0;
  /** Every response received, in order. */
  readonly responses: ReceivedResponse[] = [];
  /** Lone CRLF keep-alive answers (RFC 5626 §3.5.1) received on the TCP connection. */
  pongs = 0;
  /** Frames or datagrams that did not parse. */
  readonly garbage: Buffer[] = [];
  /** TCP: set when the server closed our outgoing connection. */
  connectionClosed = false;

  readonly #maxMessageSize: number;
  #udp: dgram.Socket | undefined;
  #tcp: net.Socket | undefined;
  #listener: net.Server | undefined;
  readonly #inbound = new Set<net.Socket>();
  readonly #requests: ReceivedRequest[] = [];
  readonly #responseWaiters = new Set<Waiter<ReceivedResponse>>();
  readonly #requestWaiters = new Set<Waiter<ReceivedRequest>>();
  readonly #closeWaiters: Array<() => void> = [];
  #seq = 1;

  private constructor(opts: ClientOptions) {
    this.transport = opts.transport;
    this.serverHost = opts.serverHost ?? '127.0.0.1';
    this.serverPort = opts.serverPort;
    this.host = net.isIPv6(this.serverHost) ? '::1' : '127.0.0.1';
    this.#maxMessageSize = opts.maxMessageSize ?? 1024 * 1024;
  }

  static async open(opts: ClientOptions): Promise<SipTestClient> {
    const c = new SipTestClient(opts);
    await c.#open();
    return c;
  }

  async #open(): Promise<void> {
    if (this.transport === 'udp') {
      const sock = dgram.createSocket({ type: net.isIPv6(this.host) ? 'udp6' : 'udp4' });
      sock.on('message', (data, rinfo) => this.#onData(data, { address: rinfo.address, port: rinfo.port }, undefined, false));
      sock.on('error', () => undefined);
      sock.bind(0, this.host);
      await once(sock, 'listening');
      this.#udp = sock;
      this.port = sock.address().port;
      return;
    }
    // TCP: a listener for connections the server opens (NOTIFY after its flow is gone), plus our own connection.
    const listener = net.createServer((s) => {
      this.#inbound.add(s);
      s.on('close', () => this.#inbound.delete(s));
      this.#attachStream(s, false);
    });
    listener.listen(0, this.host);
    await once(listener, 'listening');
    this.#listener = listener;
    this.port = (listener.address() as net.AddressInfo).port;
    await this.connect();
  }

  /** TCP: (re)opens the outgoing connection to the server. */
  async connect(): Promise<void> {
    if (this.transport !== 'tcp') return;
    if (this.#tcp && !this.#tcp.destroyed) this.#tcp.destroy();
    const s = net.connect({ host: this.serverHost, port: this.serverPort, noDelay: true });
    s.on('error', () => undefined);
    await once(s, 'connect');
    this.connectionClosed = false;
    s.on('close', () => {
      if (this.#tcp === s) {
        this.connectionClosed = true;
        for (const w of this.#closeWaiters.splice(0)) w();
      }
    });
    this.#tcp = s;
    this.connectionPort = s.localPort ?? 0;
    this.#attachStream(s, true);
  }

  #attachStream(s: net.Socket, own: boolean): void {
    const framer = new StreamFramer({ maxMessageSize: this.#maxMessageSize });
    const remote = { address: s.remoteAddress ?? '', port: s.remotePort ?? 0 };
    s.setNoDelay(true);
    s.on('error', () => undefined);
    s.on('data', (chunk: Buffer) => {
      framer.push(chunk);
      for (let ev = framer.next(); ev !== undefined; ev = framer.next()) {
        if (ev.kind === 'message') this.#onData(ev.data, remote, s, own);
        else if (ev.kind === 'pong') this.pongs++;
        else if (ev.kind === 'error') {
          this.garbage.push(Buffer.from(ev.error.message));
          s.destroy();
          return;
        }
      }
    });
  }

  #onData(data: Buffer, remote: Remote, socket: net.Socket | undefined, own: boolean): void {
    const msg = parseMessage(data);
    if (msg instanceof SipParseError) {
      this.garbage.push(data);
      return;
    }
    if (msg.kind === 'response') {
      const item: ReceivedResponse = { response: msg, raw: data, remote, at: performance.now() };
      this.responses.push(item);
      for (const w of this.#responseWaiters) {
        if (w.match(item)) {
          this.#responseWaiters.delete(w);
          w.resolve(item);
        }
      }
      return;
    }
    const item: ReceivedRequest = { request: msg, raw: data, remote, overClientConnection: own, socket };
    for (const w of this.#requestWaiters) {
      if (w.match(item)) {
        this.#requestWaiters.delete(w);
        w.resolve(item);
        return;
      }
    }
    this.#requests.push(item);
  }

  /** Via transport token for our requests. */
  get viaTransport(): string {
    return this.transport.toUpperCase();
  }

  /** host:port of our sent-by / contact (IPv6 bracketed). */
  get hostPort(): string {
    return `${net.isIPv6(this.host) ? `[${this.host}]` : this.host}:${this.port}`;
  }

  /** A Contact URI that reaches this client. */
  contactUri(user = 'tester'): string {
    return `sip:${user}@${this.hostPort}${this.transport === 'tcp' ? ';transport=tcp' : ''}`;
  }

  /** host:port of the server as used in Request-URIs. */
  get serverHostPort(): string {
    return `${net.isIPv6(this.serverHost) ? `[${this.serverHost}]` : this.serverHost}:${this.serverPort}`;
  }

  nextCSeq(): number {
    return this.#seq++;
  }

  build(spec: RequestSpec): BuiltRequest {
    const branch = spec.branch ?? newBranch();
    const callId = spec.callId ?? `${randomToken(8)}@test`;
    const fromTag = randomToken(4);
    const from = spec.from ?? `<sip:tester@127.0.0.1>;tag=${fromTag}`;
    const to = spec.to ?? `<${spec.uri}>`;
    const cseq = spec.cseq ?? this.nextCSeq();
    const omit = new Set((spec.omit ?? []).map((h) => h.toLowerCase()));
    const lines: string[] = [`${spec.method} ${spec.uri} SIP/2.0`];
    const add = (name: string, value: string): void => {
      if (!omit.has(name.toLowerCase())) lines.push(`${name}: ${value}`);
    };
    if (spec.via !== null) {
      add('Via', spec.via ?? `SIP/2.0/${this.viaTransport} ${this.hostPort};branch=${branch}${spec.rport === false ? '' : ';rport'}`);
    }
    add('From', from);
    add('To', to);
    add('Call-ID', callId);
    add('CSeq', `${cseq} ${spec.cseqMethod ?? spec.method}`);
    if (spec.maxForwards !== null) add('Max-Forwards', String(spec.maxForwards ?? 70));
    if (spec.contact !== undefined && spec.contact !== null) add('Contact', spec.contact);
    for (const [n, v] of spec.headers ?? []) lines.push(`${n}: ${v}`);
    const body = spec.body === undefined ? Buffer.alloc(0) : Buffer.isBuffer(spec.body) ? spec.body : Buffer.from(spec.body);
    if (spec.contentType !== undefined) add('Content-Type', spec.contentType);
    if (spec.contentLength !== null) add('Content-Length', String(spec.contentLength ?? body.length));
    const head = Buffer.from(`${lines.join('\r\n')}\r\n\r\n`);
    return {
      bytes: Buffer.concat([head, body]),
      branch,
      callId,
      fromTag: tagOf(from),
      cseq,
    };
  }

  /** Sends raw bytes to the server over the client's socket / connection. */
  sendRaw(bytes: Buffer | string): void {
    const buf = typeof bytes === 'string' ? Buffer.from(bytes) : bytes;
    if (this.#udp) this.#udp.send(buf, this.serverPort, this.serverHost);
    else if (this.#tcp) this.#tcp.write(buf);
  }

  /** Sends a datagram from this client's UDP socket to an arbitrary port (e.g. a response to a NOTIFY). */
  sendTo(bytes: Buffer, remote: Remote): void {
    if (!this.#udp) throw new Error('sendTo needs UDP');
    this.#udp.send(bytes, remote.port, remote.address);
  }

  send(spec: RequestSpec): BuiltRequest {
    const built = this.build(spec);
    this.sendRaw(built.bytes);
    return built;
  }

  /** Resolves with the next response for `branch` (final only unless `provisional`). */
  waitResponse(branch: string, timeoutMs = 2000, provisional = false): Promise<SipResponse> {
    return this.waitReceivedResponse(branch, timeoutMs, provisional).then((r) => r.response);
  }

  waitReceivedResponse(branch: string, timeoutMs = 2000, provisional = false): Promise<ReceivedResponse> {
    const match = (r: ReceivedResponse): boolean =>
      branchOf(r.response) === branch && (provisional || r.response.status >= 200);
    const already = this.responses.find(match);
    if (already) return Promise.resolve(already);
    return this.#wait(this.#responseWaiters, match, timeoutMs, `a response to branch ${branch}`);
  }

  /** All responses received so far for `branch`. */
  responsesFor(branch: string): SipResponse[] {
    return this.responses.filter((r) => branchOf(r.response) === branch).map((r) => r.response);
  }

  /** Sends a request and awaits its final response. */
  async request(spec: RequestSpec, timeoutMs = 2000): Promise<SipResponse> {
    const built = this.send(spec);
    return this.waitResponse(built.branch, timeoutMs);
  }

  /** Takes the next server-originated request of `method` (any when undefined) from the queue. */
  nextRequest(method?: string, timeoutMs = 2000): Promise<ReceivedRequest> {
    const match = (r: ReceivedRequest): boolean => method === undefined || r.request.method === method;
    const i = this.#requests.findIndex(match);
    if (i >= 0) return Promise.resolve(this.#requests.splice(i, 1)[0]);
    return this.#wait(this.#requestWaiters, match, timeoutMs, `a ${method ?? 'request'} from the server`);
  }

  /** Fails if a request of `method` arrives within `ms` (consuming it); resolves when none came. */
  async expectNoRequest(method: string, ms: number): Promise<void> {
    try {
      const r = await this.nextRequest(method, ms);
      throw new Error(`unexpected ${method}: ${r.raw.toString('latin1').split('\r\n')[0]}`);
    } catch (err) {
      if (!(err instanceof TimeoutError)) throw err;
    }
  }

  /** Empties the queue of server requests (unanswered), returning what it held. */
  drainRequests(): ReceivedRequest[] {
    return this.#requests.splice(0);
  }

  /** Requests queued and not yet taken. */
  pendingRequests(): readonly ReceivedRequest[] {
    return this.#requests;
  }

  /** Resolves when the server closes our TCP connection, or rejects after `timeoutMs`. */
  waitClosed(timeoutMs = 2000): Promise<void> {
    if (this.connectionClosed) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new TimeoutError('the connection to close', timeoutMs)), timeoutMs);
      this.#closeWaiters.push(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  /**
   * Answers a request the server sent us (RFC 3261 §8.2.6.2: Via, From, Call-ID, CSeq copied; To gets a tag
   * when it had none). Goes back where the request came from (same TCP connection, or UDP source address).
   */
  respond(received: ReceivedRequest, status: number, reason = 'Reply', extra: Array<[string, string]> = []): void {
    const req = received.request;
    const lines = [`SIP/2.0 ${status} ${reason}`];
    for (const v of req.headers.getAll('Via')) lines.push(`Via: ${v}`);
    lines.push(`From: ${req.headers.get('From') ?? ''}`);
    const to = req.headers.get('To') ?? '';
    lines.push(`To: ${tagOf(to) === undefined ? `${to};tag=${randomToken(4)}` : to}`);
    lines.push(`Call-ID: ${req.headers.get('Call-ID') ?? ''}`);
    lines.push(`CSeq: ${req.headers.get('CSeq') ?? ''}`);
    for (const [n, v] of extra) lines.push(`${n}: ${v}`);
    lines.push('Content-Length: 0');
    const bytes = Buffer.from(`${lines.join('\r\n')}\r\n\r\n`);
    if (received.socket) received.socket.write(bytes);
    else if (this.#udp) this.#udp.send(bytes, received.remote.port, received.remote.address);
  }

  /** Takes the next NOTIFY and answers it 200. */
  async acceptNotify(timeoutMs = 2000): Promise<ReceivedRequest> {
    const n = await this.nextRequest('NOTIFY', timeoutMs);
    this.respond(n, 200, 'OK');
    return n;
  }

  #wait<T>(set: Set<Waiter<T>>, match: (item: T) => boolean, timeoutMs: number, what: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const waiter: Waiter<T> = {
        match,
        resolve: (item) => {
          clearTimeout(timer);
          resolve(item);
        },
      };
      const timer = setTimeout(() => {
        set.delete(waiter);
        reject(new TimeoutError(what, timeoutMs));
      }, timeoutMs);
      set.add(waiter);
    });
  }

  async close(): Promise<void> {
    if (this.#udp) {
      const u = this.#udp;
      this.#udp = undefined;
      await new Promise<void>((r) => u.close(() => r()));
    }
    if (this.#tcp) {
      this.#tcp.destroy();
      this.#tcp = undefined;
    }
    for (const s of this.#inbound) s.destroy();
    if (this.#listener) {
      const l = this.#listener;
      this.#listener = undefined;
      await new Promise<void>((r) => l.close(() => r()));
    }
  }
}

/** The branch of a message's top Via, read without trusting the server's formatting beyond the RFC grammar. */
export function branchOf(msg: SipRequest | SipResponse): string | undefined {
  const top = msg.headers.getAll('Via')[0];
  if (top === undefined) return undefined;
  const m = /;\s*branch\s*=\s*([^;,\s]+)/i.exec(top);
  return m ? m[1] : undefined;
}

/** Reads a parameter of the top Via (`received`, `rport`); null when present without value. */
export function topViaParam(msg: SipRequest | SipResponse, name: string): string | null | undefined {
  const top = msg.headers.getAll('Via')[0];
  if (top === undefined) return undefined;
  const re = new RegExp(`;\\s*${name}(?:\\s*=\\s*([^;,\\s]+))?(?=\\s*(?:;|,|$))`, 'i');
  const m = re.exec(top);
  if (!m) return undefined;
  return m[1] ?? null;
}

/** `Subscription-State: active;expires=60` -> {state: 'active', params}. */
export function subscriptionState(req: SipRequest): { state: string; params: Map<string, string> } {
  const raw = req.headers.get('Subscription-State') ?? '';
  const [state, ...rest] = raw.split(';').map((s) => s.trim());
  const params = new Map<string, string>();
  for (const p of rest) {
    const eq = p.indexOf('=');
    if (eq < 0) params.set(p.toLowerCase(), '');
    else params.set(p.slice(0, eq).trim().toLowerCase(), p.slice(eq + 1).trim());
  }
  return { state: (state ?? '').toLowerCase(), params };
}

/** CSeq number of a message. */
export function cseqOf(msg: SipRequest | SipResponse): number {
  return Number.parseInt((msg.headers.get('CSeq') ?? '').trim().split(/\s+/)[0] ?? 'NaN', 10);
}
