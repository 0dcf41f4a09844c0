/**
 * The transport layer (RFC 3261 §18): UDP and TCP listeners on any number of IPv4/IPv6 addresses,
 * message framing, response routing (§18.2.2, RFC 3581), keep-alives (RFC 5626) and connection reuse
 * for requests we originate. It hands whole, parsed messages up and never interprets them further.
 */
import { connect, type Socket } from 'node:net';
import type { RemoteInfo } from 'node:dgram';
import { performance } from 'node:perf_hooks';
import {
  parseMessage,
  parseVia,
  serializeMessage,
  SipParseError,
  type FrameEvent,
  type SipMessage,
  type SipResponse,
} from '../sip/index.js';
import type { Logger } from '../observability/index.js';
import {
  defaultInterfaceAddress,
  endpointKey,
  hostForUri,
  isIPv6Address,
  isWildcard,
  normalizeAddress,
} from './address.js';
import { FlowTable } from './flow-table.js';
import { responseDestination } from './response-routing.js';
import { TransportCounters, type TransportStats } from './stats.js';
import { isStunMessage, stunBindingResponse } from './stun.js';
import { TcpConnection, TcpListener } from './tcp.js';
import type { Destination, InboundContext, TransportProtocol } from './types.js';
import { UdpListener } from './udp.js';

export interface ListenerConfig {
  readonly transport: TransportProtocol;
  /** IP address to bind ("0.0.0.0", "::", "127.0.0.1", "::1" ...). */
  readonly host: string;
  /** 0 picks a free port (see addresses()). */
  readonly port: number;
  /** Host to put in our Via sent-by instead of the bound address (e.g. a public name behind NAT). */
  readonly advertise?: string | undefined;
}

export interface TransportOptions {
  readonly listen: readonly ListenerConfig[];
  readonly logger: Logger;
  /** Largest message accepted, either transport. Default 64 KiB. */
  readonly maxMessageSize?: number;
  /** A TCP connection with no traffic either way for this long is closed. Default 600 s. */
  readonly tcpIdleTimeoutMs?: number;
  /** Bound on establishing an outgoing TCP connection. Default 5 s. */
  readonly tcpConnectTimeoutMs?: number;
  /** All TCP connections, inbound and outbound. Default 10 000. */
  readonly maxConnections?: number;
  /** Inbound TCP connections from one IP address. Default 100. */
  readonly maxConnectionsPerSource?: number;
  /** Per-connection write buffer bound; a peer that does not read past it is disconnected. Default 1 MiB. */
  readonly maxWriteBuffer?: number;
  /** SO_RCVBUF / SO_SNDBUF of UDP sockets. Default 4 MiB. */
  readonly udpReceiveBuffer?: number;
  readonly udpSendBuffer?: number;
  /** Monotonic milliseconds for InboundContext.receivedAt (tests inject the transaction clock). */
  readonly now?: () => number;
}

export interface BoundAddress {
  readonly protocol: TransportProtocol;
  readonly address: string;
  readonly port: number;
}

/** Our own address to write into a Via sent-by for a request to some destination. */
export interface SentBy {
  readonly protocol: TransportProtocol;
  /** URI host form (IPv6 in brackets). */
  readonly host: string;
  readonly port: number;
}

/** The local socket a response should leave from (the listener the request reached). */
export interface LocalBinding {
  readonly address: string;
  readonly port: number;
}

export type MessageHandler = (message: SipMessage, inbound: InboundContext) => void;
/**
 * A message that could not be parsed or framed. `data` is the datagram, the frame, or for a stream framing
 * error the header block when it could be read (empty otherwise). After a stream framing error the
 * connection is closed as soon as the handler returns and any reply it wrote synchronously is flushed.
 */
export type ParseErrorHandler = (error: SipParseError, data: Buffer, inbound: InboundContext) => void;

const KiB = 1024;
const MiB = 1024 * KiB;

export class TransportLayer {
  readonly #logger: Logger;
  readonly #maxMessageSize: number;
  readonly #idleTimeoutMs: number;
  readonly #connectTimeoutMs: number;
  readonly #maxConnections: number;
  readonly #maxPerSource: number;
  readonly #maxWriteBuffer: number;
  readonly #now: () => number;
  readonly #counters = new TransportCounters();
  readonly #udp: UdpListener[] = [];
  readonly #tcp: TcpListener[] = [];
  readonly #advertise = new Map<UdpListener | TcpListener, string>();
  readonly #flows = new FlowTable<TcpConnection>();
  readonly #connecting = new Map<string, Promise<TcpConnection>>();
  #onMessage: MessageHandler | undefined;
  #onParseError: ParseErrorHandler | undefined;
  readonly #onFlowClosed: Array<(flowId: string) => void> = [];
  #state: 'new' | 'started' | 'stopped' = 'new';

  constructor(opts: TransportOptions) {
    this.#logger = opts.logger;
    this.#maxMessageSize = opts.maxMessageSize ?? 64 * KiB;
    this.#idleTimeoutMs = opts.tcpIdleTimeoutMs ?? 600_000;
    this.#connectTimeoutMs = opts.tcpConnectTimeoutMs ?? 5_000;
    this.#maxConnections = opts.maxConnections ?? 10_000;
    this.#maxPerSource = opts.maxConnectionsPerSource ?? 100;
    this.#maxWriteBuffer = opts.maxWriteBuffer ?? 1 * MiB;
    this.#now = opts.now ?? (() => performance.now());
    const rcv = opts.udpReceiveBuffer ?? 4 * MiB;
    const snd = opts.udpSendBuffer ?? rcv;
    if (opts.listen.length === 0) throw new Error('TransportLayer: at least one listener is required');
    for (const l of opts.listen) {
      const listener =
        l.transport === 'udp'
          ? new UdpListener({
              host: l.host,
              port: l.port,
              receiveBufferBytes: rcv,
              sendBufferBytes: snd,
              logger: this.#logger,
              onDatagram: this.#onDatagram,
              onPostError: this.#onPostError,
            })
          : new TcpListener({ host: l.host, port: l.port, logger: this.#logger, onConnection: this.#onConnection });
      if (listener instanceof UdpListener) this.#udp.push(listener);
      else this.#tcp.push(listener);
      if (l.advertise !== undefined) this.#advertise.set(listener, l.advertise);
    }
  }

  /** Binds every listener; rejects (and unbinds what was bound) if any fails. */
  async start(): Promise<void> {
    if (this.#state !== 'new') throw new Error('TransportLayer: start() called twice');
    this.#state = 'started';
    try {
      for (const l of [...this.#udp, ...this.#tcp]) await l.start();
    } catch (err) {
      await this.stop();
      throw err;
    }
    this.#logger.info({ addresses: this.addresses() }, 'transport listening');
  }

  /** Stops accepting, closes sockets and connections. */
  async stop(): Promise<void> {
    if (this.#state === 'stopped') return;
    this.#state = 'stopped';
    const closing = this.#tcp.map((l) => l.stop());
    for (const flow of [...this.#flows.values()]) flow.destroy();
    await Promise.all([...closing, ...this.#udp.map((l) => l.stop())]);
  }

  addresses(): BoundAddress[] {
    return [
      ...this.#udp.map((l) => ({ protocol: 'udp' as const, address: l.address, port: l.port })),
      ...this.#tcp.map((l) => ({ protocol: 'tcp' as const, address: l.address, port: l.port })),
    ];
  }

  onMessage(handler: MessageHandler): void {
    this.#onMessage = handler;
  }

  onParseError(handler: ParseErrorHandler): void {
    this.#onParseError = handler;
  }

  /** Called when a TCP flow closes, for layers that bound state (subscriptions) to it. */
  onFlowClosed(handler: (flowId: string) => void): void {
    this.#onFlowClosed.push(handler);
  }

  hasFlow(flowId: string): boolean {
    return this.#flows.get(flowId)?.open === true;
  }

  stats(): TransportStats {
    return { ...this.#counters, tcpConnectionsOpen: this.#flows.size };
  }

  // ---------------------------------------------------------------- sending

  /**
   * Sends bytes (a request we originate, or a response already routed). UDP: one datagram from the
   * listener of the destination's family (or `local` when given). TCP: the flow `dest.flowId` if open,
   * else an open connection to address:port, else a new connection (bounded by tcpConnectTimeoutMs).
   * Rejects on any failure so the transaction layer can report 503 (RFC 3261 §17.1.4).
   */
  send(data: Buffer, dest: Destination, local?: LocalBinding): Promise<void> {
    const p = dest.protocol === 'udp' ? this.#sendUdp(data, dest, local) : this.#sendTcp(data, dest);
    return p.catch((err: unknown) => {
      this.#counters.sendErrors++;
      throw err;
    });
  }

  /**
   * Sends bytes nobody waits for (responses, retransmissions): like send(), but a failure is only counted
   * and logged, and a UDP datagram costs no promise.
   */
  post(data: Buffer, dest: Destination, local?: LocalBinding): void {
    if (dest.protocol !== 'udp') {
      this.#sendTcp(data, dest).catch(this.#onPostError);
      return;
    }
    const listener = this.#udpListener(dest, local, data.length);
    if (typeof listener === 'string') {
      this.#onPostError(new Error(listener));
      return;
    }
    this.#counters.udpDatagramsOut++;
    this.#counters.udpBytesOut += data.length;
    listener.post(data, dest.port, normalizeAddress(dest.address));
  }

  readonly #onPostError = (err: unknown): void => {
    this.#counters.sendErrors++;
    // RFC 3261 §17.2.4: nothing to retry for a response; the client retransmits its request.
    this.#logger.debug({ err }, 'send failed');
  };

  /**
   * Sends a response to the request that arrived as `inbound` (RFC 3261 §18.2.2, RFC 3581 §4), routed by
   * its top Via (which must already carry received/rport: see stampVia). Synchronous up to the socket
   * write, so a reply written from a parse-error handler precedes the connection close.
   */
  sendResponse(response: SipResponse, inbound: InboundContext): Promise<void> {
    const top = response.headers.get('via');
    const via = top === undefined ? undefined : parseVia(top);
    if (via === undefined || via instanceof SipParseError) {
      this.#counters.sendErrors++;
      return Promise.reject(new Error('response has no usable top Via'));
    }
    const dest = responseDestination(via, inbound);
    return this.send(serializeMessage(response), dest, { address: inbound.localAddress, port: inbound.localPort });
  }

  /**
   * Our sent-by for a request to `dest` (RFC 3261 §18.1.1: the address and port where we want responses):
   * the listener of the same transport and address family, its advertised name if configured.
   */
  localSentBy(dest: Destination): SentBy | undefined {
    const family = isIPv6Address(dest.address) ? 6 : 4;
    const pool: Array<UdpListener | TcpListener> = dest.protocol === 'udp' ? this.#udp : this.#tcp;
    const listener = pool.find((l) => l.family === family) ?? pool[0];
    if (listener === undefined) return undefined;
    const advertised = this.#advertise.get(listener);
    let host = advertised ?? listener.address;
    if (advertised === undefined && isWildcard(host)) {
      const flow = dest.flowId === undefined ? undefined : this.#flows.get(dest.flowId);
      host = flow !== undefined && !flow.outbound ? flow.localAddress : defaultInterfaceAddress(listener.family);
    }
    return { protocol: dest.protocol, host: hostForUri(host), port: listener.port };
  }

  #sendUdp(data: Buffer, dest: Destination, local: LocalBinding | undefined): Promise<void> {
    const listener = this.#udpListener(dest, local, data.length);
    if (typeof listener === 'string') return Promise.reject(new Error(listener));
    this.#counters.udpDatagramsOut++;
    this.#counters.udpBytesOut += data.length;
    return listener.send(data, dest.port, normalizeAddress(dest.address));
  }

  /** The listener to send `data` to `dest` from (`local` when given), or why there is none. */
  #udpListener(dest: Destination, local: LocalBinding | undefined, size: number): UdpListener | string {
    const family = isIPv6Address(dest.address) ? 6 : 4;
    // Loops, not find() with closures: this runs for every datagram we send.
    const udp = this.#udp;
    let listener: UdpListener | undefined;
    if (local !== undefined) {
      const addr = normalizeAddress(local.address);
      for (let i = 0; i < udp.length && listener === undefined; i++) {
        if (udp[i]!.port === local.port && udp[i]!.address === addr) listener = udp[i];
      }
    }
    for (let i = 0; i < udp.length && listener === undefined; i++) if (udp[i]!.family === family) listener = udp[i];
    if (listener === undefined) return `no UDP listener for IPv${family}`;
    if (size > this.#maxMessageSize) return `message of ${size} bytes exceeds maxMessageSize`;
    return listener;
  }

  #sendTcp(data: Buffer, dest: Destination): Promise<void> {
    let flow = dest.flowId === undefined ? undefined : this.#flows.get(dest.flowId);
    if (flow === undefined || !flow.open) flow = this.#flows.findByRemote(dest.address, dest.port);
    if (flow !== undefined && flow.open) {
      this.#counters.tcpMessagesOut++;
      return flow.write(data);
    }
    return this.#connect(dest.address, dest.port).then((conn) => {
      this.#counters.tcpMessagesOut++;
      return conn.write(data);
    });
  }

  /** One connection attempt per address:port at a time; concurrent senders share it. */
  #connect(address: string, port: number): Promise<TcpConnection> {
    const key = endpointKey(address, port);
    const pending = this.#connecting.get(key);
    if (pending !== undefined) return pending;
    if (this.#state !== 'started') return Promise.reject(new Error('transport not started'));
    if (this.#flows.size + this.#connecting.size >= this.#maxConnections) {
      return Promise.reject(new Error('connection limit reached'));
    }
    const host = normalizeAddress(address);
    const family = isIPv6Address(host) ? 6 : 4;
    // Leave from our listening address when it is specific, so the peer sees the address our Via names.
    const bindTo = this.#tcp.find((l) => l.family === family && !isWildcard(l.address))?.address;
    const attempt = new Promise<TcpConnection>((resolve, reject) => {
      const socket = connect({ host, port, family, localAddress: bindTo, noDelay: true });
      const fail = (err: Error): void => {
        this.#counters.tcpConnectFailures++;
        socket.destroy();
        reject(err);
      };
      socket.setTimeout(this.#connectTimeoutMs, () => fail(new Error(`connect to ${host}:${port} timed out`)));
      socket.once('error', fail);
      socket.once('connect', () => {
        socket.off('error', fail);
        socket.setTimeout(0);
        socket.removeAllListeners('timeout');
        if (this.#state !== 'started') {
          socket.destroy();
          reject(new Error('transport stopped'));
          return;
        }
        this.#counters.tcpConnectionsOutbound++;
        resolve(this.#adopt(socket, true));
      });
    });
    this.#connecting.set(key, attempt);
    const clear = (): void => {
      this.#connecting.delete(key);
    };
    attempt.then(clear, clear);
    return attempt;
  }

  // ---------------------------------------------------------------- receiving

  readonly #onDatagram = (listener: UdpListener, data: Buffer, rinfo: RemoteInfo): void => {
    const c = this.#counters;
    c.udpDatagramsIn++;
    c.udpBytesIn += data.length;
    if (isKeepAlive(data)) {
      // RFC 5626 §4.4.1 allows CRLF keep-alives on UDP too: nothing to answer.
      c.keepalivesIn++;
      return;
    }
    const remoteAddress = normalizeAddress(rinfo.address);
    if (data[0] < 0x20 && isStunMessage(data)) {
      const reply = stunBindingResponse(data, remoteAddress, rinfo.port);
      if (reply !== undefined) {
        c.stunAnswered++;
        listener.send(reply, rinfo.port, remoteAddress).catch(() => {
          c.sendErrors++;
        });
      }
      return;
    }
    const inbound: InboundContext = {
      remote: { protocol: 'udp', address: remoteAddress, port: rinfo.port },
      localAddress: listener.address,
      localPort: listener.port,
      flowId: undefined,
      receivedAt: this.#now(),
    };
    if (data.length > this.#maxMessageSize) {
      // Dropped; the handler may still answer 413 if the header block is readable (best effort).
      c.droppedOversize++;
      const err = new SipParseError(
        'SIP_ERR_TOO_LARGE',
        `Message too large: ${data.length} bytes exceeds ${this.#maxMessageSize}`,
      );
      this.#emitParseError(err, data, inbound);
      return;
    }
    const msg = parseMessage(data);
    if (msg instanceof SipParseError) {
      c.parseErrors++;
      this.#emitParseError(msg, data, inbound);
      return;
    }
    this.#emitMessage(msg, inbound);
  };

  readonly #onConnection = (listener: TcpListener, socket: Socket): void => {
    const c = this.#counters;
    const remote = normalizeAddress(socket.remoteAddress ?? '');
    if (this.#state !== 'started' || remote === '') {
      socket.destroy();
      return;
    }
    if (
      this.#flows.size + this.#connecting.size >= this.#maxConnections ||
      this.#flows.sourceCount(remote) >= this.#maxPerSource
    ) {
      // Refused without reading a byte: the cheapest answer to a connection flood.
      c.tcpConnectionsRefused++;
      this.#logger.debug({ remote, listener: listener.port }, 'tcp connection refused (limit)');
      socket.on('error', () => {});
      socket.destroy();
      return;
    }
    c.tcpConnectionsAccepted++;
    this.#adopt(socket, false);
  };

  #adopt(socket: Socket, outbound: boolean): TcpConnection {
    const conn = new TcpConnection(this.#flows.newId(), socket, outbound, {
      maxMessageSize: this.#maxMessageSize,
      idleTimeoutMs: this.#idleTimeoutMs,
      maxWriteBuffer: this.#maxWriteBuffer,
      counters: this.#counters,
      logger: this.#logger,
      onFrame: this.#onFrame,
      onClose: this.#onClose,
    });
    this.#flows.add(conn);
    return conn;
  }

  readonly #onClose = (conn: TcpConnection): void => {
    this.#flows.remove(conn);
    for (const h of this.#onFlowClosed) {
      try {
        h(conn.id);
      } catch (err) {
        this.#logger.error({ err }, 'flow-closed handler threw');
      }
    }
  };

  readonly #onFrame = (conn: TcpConnection, event: FrameEvent): void => {
    const inbound: InboundContext = {
      remote: { protocol: 'tcp', address: conn.remoteAddress, port: conn.remotePort },
      localAddress: conn.localAddress,
      localPort: conn.localPort,
      flowId: conn.id,
      receivedAt: this.#now(),
    };
    if (event.kind === 'message') {
      this.#counters.tcpMessagesIn++;
      const msg = parseMessage(event.data);
      if (msg instanceof SipParseError) {
        // Framing held (Content-Length was readable): report and keep the connection.
        this.#counters.parseErrors++;
        this.#emitParseError(msg, event.data, inbound);
        return;
      }
      this.#emitMessage(msg, inbound);
    } else if (event.kind === 'error') {
      this.#counters.framingErrors++;
      if (event.error.code === 'SIP_ERR_TOO_LARGE') this.#counters.droppedOversize++;
      this.#emitParseError(event.error, event.headers ?? EMPTY, inbound);
    }
  };

  #emitMessage(msg: SipMessage, inbound: InboundContext): void {
    const h = this.#onMessage;
    if (h === undefined) {
      this.#counters.droppedNoHandler++;
      return;
    }
    try {
      h(msg, inbound);
    } catch (err) {
      // A bug above must not take the listener down with it.
      this.#logger.error({ err }, 'message handler threw');
    }
  }

  #emitParseError(err: SipParseError, data: Buffer, inbound: InboundContext): void {
    const h = this.#onParseError;
    if (h === undefined) return;
    try {
      h(err, data, inbound);
    } catch (e) {
      this.#logger.error({ err: e }, 'parse-error handler threw');
    }
  }
}

const EMPTY = Buffer.alloc(0);

/** A datagram made only of CR and LF bytes: an RFC 5626 keep-alive. */
function isKeepAlive(data: Buffer): boolean {
  if (data.length === 0 || data.length > 8) return data.length === 0;
  for (let i = 0; i < data.length; i++) if (data[i] !== 0x0d && data[i] !== 0x0a) return false;
  return true;
}
