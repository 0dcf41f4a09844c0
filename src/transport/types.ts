/**
 * What the transport layer tells the layers above about where a message came from and where one goes.
 * Plain data, so that a subscription can persist the flow its SUBSCRIBE arrived on.
 */

export type TransportProtocol = 'udp' | 'tcp';

/** The far end of a message as seen on the socket (RFC 3261 section 18.2.1: the source, not the Via). */
export interface RemoteEndpoint {
  readonly protocol: TransportProtocol;
  /** IP address without brackets ("::1", "127.0.0.1"). */
  readonly address: string;
  readonly port: number;
}

/** Where a message arrived: the listener it reached, and for TCP the connection (flow) it used. */
export interface InboundContext {
  readonly remote: RemoteEndpoint;
  readonly localAddress: string;
  readonly localPort: number;
  /** Identifies the TCP connection while it is open (RFC 5626 flow); undefined for UDP. */
  readonly flowId: string | undefined;
  /** Monotonic milliseconds at reception. */
  readonly receivedAt: number;
}

/**
 * A destination for a request we originate (NOTIFY). When flowId names a connection that is still open,
 * the message goes over it; otherwise a new connection is opened (TCP) or a datagram sent (UDP).
 */
export interface Destination {
  readonly protocol: TransportProtocol;
  readonly address: string;
  readonly port: number;
  readonly flowId?: string | undefined;
}
