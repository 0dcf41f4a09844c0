/**
 * Where a response goes (RFC 3261 §18.2.2 with RFC 3581) and what the server writes into the top Via
 * of a request it receives (RFC 3261 §18.2.1, RFC 3581 §4). Pure functions: the one place both rules live.
 */
import type { Via } from '../sip/index.js';
import { normalizeAddress } from './address.js';
import type { Destination, InboundContext, RemoteEndpoint } from './types.js';

const DEFAULT_SIP_PORT = 5060;

/**
 * The top Via as the server must see it: `received` when the sent-by host is not the source address
 * (§18.2.1), and with RFC 3581 `rport` requested, `rport=<source port>` plus `received` even when equal
 * (RFC 3581 §4). Returns the same object when nothing changes.
 */
export function stampVia(via: Via, remote: RemoteEndpoint): Via {
  const source = normalizeAddress(remote.address);
  const wantsRport = via.rport !== undefined;
  const hostDiffers = normalizeAddress(via.host) !== source;
  if (!wantsRport && !hostDiffers) {
    // A client-supplied received that does not match the source would misroute; it cannot be legitimate here.
    if (via.received === undefined) return via;
  }
  const params = new Map(via.params);
  let received: string | undefined;
  if (wantsRport || hostDiffers) {
    params.set('received', source);
    received = source;
  } else {
    params.delete('received');
  }
  let rport = via.rport;
  if (wantsRport) {
    params.set('rport', String(remote.port));
    rport = remote.port;
  }
  return { ...via, params, received, rport };
}

/**
 * Destination of a response to a request that arrived as described by `inbound`, given the (stamped)
 * top Via. Addresses always come from the socket, never from a Via parameter a client could forge.
 */
export function responseDestination(via: Via, inbound: InboundContext): Destination {
  const remote = inbound.remote;
  if (remote.protocol === 'tcp') {
    // §18.2.2: the same connection while it is open; otherwise a new one to received + sent-by port.
    return { protocol: 'tcp', address: remote.address, port: via.port ?? DEFAULT_SIP_PORT, flowId: inbound.flowId };
  }
  // RFC 3581 §4: with rport, back to the source port. maddr is deliberately not honoured: it would let any
  // sender aim our responses at a third party (reflection), and no client we serve relies on multicast.
  const port = via.rport !== undefined ? remote.port : (via.port ?? DEFAULT_SIP_PORT);
  return { protocol: 'udp', address: remote.address, port, flowId: undefined };
}
