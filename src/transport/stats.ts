/** Transport counters: plain numbers, incremented in place on the hot path and copied out by stats(). */
export class TransportCounters {
  udpDatagramsIn = 0;
  udpDatagramsOut = 0;
  udpBytesIn = 0;
  udpBytesOut = 0;
  tcpBytesIn = 0;
  tcpBytesOut = 0;
  tcpMessagesIn = 0;
  tcpMessagesOut = 0;
  /** CRLF keep-alives received on UDP and lone CRLF "pongs" on TCP. */
  keepalivesIn = 0;
  /** CRLFCRLF pings answered with CRLF (RFC 5626 §3.5.1). */
  pingsAnswered = 0;
  /** STUN Binding requests answered on UDP (RFC 5626 §3.5.2). */
  stunAnswered = 0;
  parseErrors = 0;
  framingErrors = 0;
  droppedOversize = 0;
  /** Messages received before any onMessage handler was registered. */
  droppedNoHandler = 0;
  tcpConnectionsAccepted = 0;
  tcpConnectionsOutbound = 0;
  tcpConnectionsRefused = 0;
  tcpConnectFailures = 0;
  tcpIdleClosed = 0;
  /** Connections closed because their write buffer passed the bound (a peer not reading). */
  tcpOverflowClosed = 0;
  sendErrors = 0;
}

export interface TransportStats {
  readonly udpDatagramsIn: number;
  readonly udpDatagramsOut: number;
  readonly udpBytesIn: number;
  readonly udpBytesOut: number;
  readonly tcpBytesIn: number;
  readonly tcpBytesOut: number;
  readonly tcpMessagesIn: number;
  readonly tcpMessagesOut: number;
  readonly keepalivesIn: number;
  readonly pingsAnswered: number;
  readonly stunAnswered: number;
  readonly parseErrors: number;
  readonly framingErrors: number;
  readonly droppedOversize: number;
  readonly droppedNoHandler: number;
  readonly tcpConnectionsOpen: number;
  readonly tcpConnectionsAccepted: number;
  readonly tcpConnectionsOutbound: number;
  readonly tcpConnectionsRefused: number;
  readonly tcpConnectFailures: number;
  readonly tcpIdleClosed: number;
  readonly tcpOverflowClosed: number;
  readonly sendErrors: number;
}
