/**
 * TCP connections (RFC 3261 §18.3: framing by Content-Length) and listeners. Each connection owns a
 * StreamFramer; every connection is bounded: idle timeout, write-buffer cap, message size cap.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { StreamFramer, type FrameEvent } from '../sip/index.js';
import type { Logger } from '../observability/index.js';
import { isIPv6Address, normalizeAddress } from './address.js';
import type { TransportCounters } from './stats.js';

/** After our end(), how long the peer gets to close its side before the socket is destroyed. */
const LINGER_MS = 2_000;

export interface TcpConnectionOptions {
  readonly maxMessageSize: number;
  readonly idleTimeoutMs: number;
  readonly maxWriteBuffer: number;
  readonly counters: TransportCounters;
  readonly logger: Logger;
  readonly onFrame: (conn: TcpConnection, event: FrameEvent) => void;
  readonly onClose: (conn: TcpConnection) => void;
}

/** One TCP connection, known to the layers above as a flow (RFC 5626) by its id. */
export class TcpConnection {
  readonly id: string;
  /** True when we opened it (to send a request), false when a peer connected to a listener. */
  readonly outbound: boolean;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly localPort: number;
  readonly #socket: Socket;
  readonly #framer: StreamFramer;
  readonly #opts: TcpConnectionOptions;
  #ending = false;
  #closed = false;

  constructor(id: string, socket: Socket, outbound: boolean, opts: TcpConnectionOptions) {
    this.id = id;
    this.outbound = outbound;
    this.#socket = socket;
    this.#opts = opts;
    this.remoteAddress = normalizeAddress(socket.remoteAddress ?? '');
    this.remotePort = socket.remotePort ?? 0;
    this.localAddress = normalizeAddress(socket.localAddress ?? '');
    this.localPort = socket.localPort ?? 0;
    this.#framer = new StreamFramer({ maxMessageSize: opts.maxMessageSize });
    socket.setNoDelay(true);
    socket.setTimeout(opts.idleTimeoutMs);
    socket.on('data', this.#onData);
    socket.on('timeout', () => {
      if (!this.#ending) {
        opts.counters.tcpIdleClosed++;
        opts.logger.debug({ flow: this.id }, 'tcp connection idle, closing');
      }
      socket.destroy();
    });
    socket.on('error', (err) => opts.logger.debug({ flow: this.id, err: err.message }, 'tcp connection error'));
    // A FIN from the peer ends the flow (sockets are not half-open): SIP clients close connections whole,
    // and a response still due then goes over a new connection as §18.2.2 prescribes.
    socket.on('end', () => {
      this.#ending = true;
    });
    socket.on('close', () => {
      this.#closed = true;
      opts.onClose(this);
    });
  }

  get open(): boolean {
    return !this.#closed && !this.#ending && !this.#socket.destroyed;
  }

  readonly #onData = (chunk: Buffer): void => {
    const opts = this.#opts;
    opts.counters.tcpBytesIn += chunk.length;
    if (this.#ending) return;
    this.#framer.push(chunk);
    for (;;) {
      const event = this.#framer.next();
      if (event === undefined) break;
      if (event.kind === 'ping') {
        // RFC 5626 §3.5.1: a CRLFCRLF ping is answered with a single CRLF pong.
        opts.counters.pingsAnswered++;
        void this.write(CRLF).catch(() => {});
        continue;
      }
      if (event.kind === 'pong') {
        opts.counters.keepalivesIn++;
        continue;
      }
      opts.onFrame(this, event);
      if (event.kind === 'error') {
        // The byte stream can no longer be framed (RFC 3261 §18.3): close once the error reply is flushed.
        this.end();
        break;
      }
      if (this.#ending || this.#closed) break;
    }
  };

  /**
   * Queues bytes; resolves once handed to the kernel. A peer that stops reading is cut off once the
   * write buffer passes maxWriteBuffer rather than letting it grow without bound.
   */
  write(data: Buffer): Promise<void> {
    const socket = this.#socket;
    if (this.#closed || socket.destroyed || !socket.writable) {
      return Promise.reject(new Error(`flow ${this.id} is closed`));
    }
    if (socket.writableLength + data.length > this.#opts.maxWriteBuffer) {
      this.#opts.counters.tcpOverflowClosed++;
      this.#opts.logger.warn(
        { flow: this.id, buffered: socket.writableLength },
        'tcp write buffer over limit, closing connection',
      );
      socket.destroy();
      return Promise.reject(new Error(`flow ${this.id}: write buffer over limit`));
    }
    this.#opts.counters.tcpBytesOut += data.length;
    return new Promise((resolve, reject) => {
      socket.write(data, (err) => (err ? reject(err) : resolve()));
    });
  }

  /** Graceful close: flushes queued writes, sends FIN, destroys if the peer lingers. */
  end(): void {
    if (this.#ending || this.#closed) return;
    this.#ending = true;
    this.#socket.setTimeout(LINGER_MS);
    this.#socket.end();
  }

  destroy(): void {
    this.#socket.destroy();
  }
}

const CRLF = Buffer.from('\r\n');

export interface TcpListenerOptions {
  readonly host: string;
  readonly port: number;
  readonly logger: Logger;
  readonly onConnection: (listener: TcpListener, socket: Socket) => void;
}

export class TcpListener {
  readonly family: 4 | 6;
  address: string;
  port: number;
  readonly #opts: TcpListenerOptions;
  #server: Server | undefined;

  constructor(opts: TcpListenerOptions) {
    this.#opts = opts;
    this.address = normalizeAddress(opts.host);
    this.port = opts.port;
    this.family = isIPv6Address(opts.host) ? 6 : 4;
  }

  async start(): Promise<void> {
    const server = createServer({ noDelay: true });
    this.#server = server;
    server.on('connection', (socket) => this.#opts.onConnection(this, socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: this.address, port: this.port, ipv6Only: this.family === 6, backlog: 511 }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (err) => this.#opts.logger.warn({ err }, 'tcp listener error'));
    const bound = server.address();
    if (bound !== null && typeof bound === 'object') {
      this.address = normalizeAddress(bound.address);
      this.port = bound.port;
    }
  }

  /** Stops accepting; existing connections are closed by the layer. */
  async stop(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    if (server === undefined) return;
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
