/**
 * One UDP listener (RFC 3261 §18): a bound dgram socket that delivers datagrams upward and sends from
 * its own address, so responses leave from the address:port the request reached.
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { lookup as dnsLookup, type LookupOneOptions } from 'node:dns';
import { isIP } from 'node:net';
import type { Logger } from '../observability/index.js';
import { isIPv6Address, normalizeAddress } from './address.js';

export interface UdpListenerOptions {
  readonly host: string;
  readonly port: number;
  readonly receiveBufferBytes: number;
  readonly sendBufferBytes: number;
  readonly logger: Logger;
  readonly onDatagram: (listener: UdpListener, data: Buffer, rinfo: RemoteInfo) => void;
  /** A datagram given to post() could not be sent. */
  readonly onPostError: (err: Error) => void;
}

export class UdpListener {
  readonly family: 4 | 6;
  /** Bound address and port (known after start()). */
  address: string;
  port: number;
  readonly #opts: UdpListenerOptions;
  #socket: Socket | undefined;

  constructor(opts: UdpListenerOptions) {
    this.#opts = opts;
    this.address = normalizeAddress(opts.host);
    this.port = opts.port;
    this.family = isIPv6Address(opts.host) ? 6 : 4;
  }

  async start(): Promise<void> {
    // ipv6Only, so that "::" and "0.0.0.0" (or ::1 and 127.0.0.1) can be bound to the same port side by side.
    const socket = createSocket({ type: this.family === 6 ? 'udp6' : 'udp4', ipv6Only: this.family === 6, lookup: literalFirstLookup });
    this.#socket = socket;
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      socket.once('error', onError);
      socket.bind({ address: this.address, port: this.port, exclusive: true }, () => {
        socket.off('error', onError);
        resolve();
      });
    });
    this.#setBuffers(socket);
    const bound = socket.address();
    this.address = normalizeAddress(bound.address);
    this.port = bound.port;
    socket.on('error', (err) => {
      // ICMP-triggered errors surface here on some platforms; never fatal for a listener.
      this.#opts.logger.warn({ err, listener: `${this.address}:${this.port}` }, 'udp socket error');
    });
    socket.on('message', (data, rinfo) => this.#opts.onDatagram(this, data, rinfo));
  }

  #setBuffers(socket: Socket): void {
    // A burst of PUBLISH/SUBSCRIBE refreshes must not overflow the default ~200 KiB kernel buffer.
    // The kernel may cap the value (net.core.rmem_max); report what we actually got.
    try {
      socket.setRecvBufferSize(this.#opts.receiveBufferBytes);
      socket.setSendBufferSize(this.#opts.sendBufferBytes);
      const rcv = socket.getRecvBufferSize();
      if (rcv < this.#opts.receiveBufferBytes) {
        this.#opts.logger.info(
          { requested: this.#opts.receiveBufferBytes, granted: rcv },
          'udp receive buffer capped by the kernel (raise net.core.rmem_max)',
        );
      }
    } catch (err) {
      this.#opts.logger.warn({ err }, 'could not size udp socket buffers');
    }
  }

  /** Sends one datagram; rejects on a socket error (e.g. EMSGSIZE, unreachable host). */
  send(data: Buffer, port: number, address: string): Promise<void> {
    const socket = this.#socket;
    if (socket === undefined) return Promise.reject(new Error('udp listener not started'));
    return new Promise((resolve, reject) => {
      this.#enqueue(data, port, address, (err) => (err ? reject(err) : resolve()));
    });
  }

  /**
   * Datagrams given during one event-loop turn, sent together when it ends (setImmediate). Sending to a peer
   * whose process sleeps costs the sender its wake-up (~30 us on a VM against ~6 for a send to a busy one);
   * sent as they were made, the replies to the requests of one turn each paid it, sent back to back only the
   * first does. Flat [data, port, address, callback, ...] so that queuing allocates nothing per datagram.
   */
  #queue: Array<Buffer | number | string | SendCallback> = [];
  #flushScheduled = false;

  #enqueue(data: Buffer, port: number, address: string, cb: SendCallback): void {
    this.#queue.push(data, port, address, cb);
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      setImmediate(this.#flush);
    }
  }

  readonly #flush = (): void => {
    this.#flushScheduled = false;
    const q = this.#queue;
    this.#queue = [];
    const socket = this.#socket;
    for (let i = 0; i < q.length; i += 4) {
      const cb = q[i + 3] as SendCallback;
      if (socket === undefined) {
        cb(new Error('udp listener stopped'));
        continue;
      }
      try {
        socket.send(q[i] as Buffer, q[i + 1] as number, q[i + 2] as string, cb);
      } catch (err) {
        // dgram throws at once for what it refuses to try (a bad port): that datagram fails, not the others.
        cb(err instanceof Error ? err : new Error(String(err)));
      }
    }
  };

  /**
   * Sends one datagram without waiting: failures go to onPostError. Responses and retransmissions are
   * sent this way, since nobody waits for them, and a promise (with its closures) per datagram is ~0.8 KB
   * of garbage at thousands of datagrams per second.
   */
  post(data: Buffer, port: number, address: string): void {
    const socket = this.#socket;
    if (socket === undefined) {
      this.#opts.onPostError(new Error('udp listener not started'));
      return;
    }
    this.#enqueue(data, port, address, this.#afterPost);
  }

  readonly #afterPost = (err: Error | null): void => {
    if (err) this.#opts.onPostError(err);
  };

  async stop(): Promise<void> {
    const socket = this.#socket;
    this.#socket = undefined;
    if (socket === undefined) return;
    await new Promise<void>((resolve) => {
      try {
        socket.close(() => resolve());
      } catch {
        resolve();
      }
    });
  }
}

type SendCallback = (err: Error | null) => void;

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string, family: number) => void;

/**
 * dgram resolves the destination of every send, and for an IP literal Node's default lookup answers on the
 * next tick: a closure and a tick per datagram. Our destinations are almost always literals (Via received,
 * flows), so they are answered at once; names still go to dns.lookup.
 */
function literalFirstLookup(hostname: string, options: LookupOneOptions, callback: LookupCallback): void {
  const family = isIP(hostname);
  if (family !== 0) {
    callback(null, hostname, family);
    return;
  }
  dnsLookup(hostname, options, callback);
}
