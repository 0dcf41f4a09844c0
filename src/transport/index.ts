/** Public surface of the transport layer (RFC 3261 §18, RFC 3581, RFC 5626 keep-alives). */
export type { TransportProtocol, RemoteEndpoint, InboundContext, Destination } from './types.js';
export {
  TransportLayer,
  type TransportOptions,
  type ListenerConfig,
  type BoundAddress,
  type SentBy,
  type LocalBinding,
  type MessageHandler,
  type ParseErrorHandler,
} from './transport-layer.js';
export type { TransportStats } from './stats.js';
export { stampVia, responseDestination } from './response-routing.js';
export { normalizeAddress, hostForUri } from './address.js';
