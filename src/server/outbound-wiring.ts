/**
 * Wiring of the subscriptions presenced holds as a client (ua/outbound-subscriptions.ts, POST /api/subscribe):
 * where their SUBSCRIBEs go, the Contact they give, where their records are kept, and the NOTIFY handler of
 * the method router.
 *
 * Routing: with a `target`, every request goes there. Without one, a presentity of a domain we serve (any, when
 * no domain is configured) is subscribed at our own listener over loopback (UDP first): real SIP through the
 * transport, answered by the core like any other watcher's SUBSCRIBE. Any other presentity: its URI's host and
 * port (no DNS SRV lookup: give `target` for that).
 */
import { createResponse, type SipUri } from '../sip/index.js';
import { destinationOfUri } from '../dialog/index.js';
import { newTag, type Clock, type RequestSender, type ServerTransaction } from '../transaction/index.js';
import { hostForUri, normalizeAddress, type Destination } from '../transport/index.js';
import type { PresencedConfig } from '../config/index.js';
import type { Logger } from '../observability/index.js';
import { documentRecordStore, OutboundSubscriptions, type OutboundDocumentPort, type OutboundRoute } from '../ua/index.js';
import type { MethodHandler } from './method-router.js';

/** The transport as the wiring sees it (TransportLayer). */
export interface OutboundTransport {
  addresses(): ReadonlyArray<{ readonly protocol: 'udp' | 'tcp'; readonly address: string; readonly port: number }>;
  localSentBy(dest: Destination): { readonly protocol: string; readonly host: string; readonly port: number } | undefined;
}

export interface OutboundStartDeps {
  readonly config: PresencedConfig;
  readonly documents: OutboundDocumentPort;
  readonly transport: OutboundTransport;
  readonly sender: RequestSender;
  readonly clock: Clock;
}

/** An authentication gate as the method router calls it (src/auth AuthGate). */
export interface RequestCheck {
  check(tx: ServerTransaction): ServerTransaction | undefined;
}

export interface OutboundWiring {
  /** For the router's handler table: NOTIFYs go to the outbound subscriptions; 481 before they exist. */
  readonly notifyHandler: MethodHandler;
  /**
   * The gate, except for our own SUBSCRIBEs to our own listener: they carry no credentials (presenced holds no
   * user's secret) and are the API caller's, already authorized by the API's bearer token.
   */
  exemptOwnRequests(gate: RequestCheck): RequestCheck;
  /** Builds and starts them (after the core: the records live in its documents). */
  start(deps: OutboundStartDeps): Promise<OutboundSubscriptions>;
  stop(): Promise<void>;
}

function loopbackOf(address: string): string {
  const a = normalizeAddress(address);
  if (a === '0.0.0.0') return '127.0.0.1';
  if (a === '::') return '::1';
  return a;
}

function uriFor(protocol: 'udp' | 'tcp', host: string, port: number): string {
  return `sip:${hostForUri(host)}:${port}${protocol === 'tcp' ? ';transport=tcp' : ''}`;
}

/** The route function of OutboundSubscriptions for this server. */
export function outboundRouter(config: PresencedConfig, transport: OutboundTransport): (p: SipUri, t: SipUri | undefined) => OutboundRoute | undefined {
  const domains = new Set([...(config.domain !== undefined ? [config.domain] : []), ...config.domains].map((d) => d.toLowerCase()));
  const ours = (host: string): boolean => {
    const h = normalizeAddress(host);
    if (domains.size === 0 || domains.has(h)) return true;
    return transport.addresses().some((a) => normalizeAddress(a.address) === h);
  };
  const contactFor = (dest: Destination): string | undefined => {
    if (config.serverAddress !== undefined) return config.serverAddress;
    const sentBy = transport.localSentBy(dest);
    return sentBy === undefined ? undefined : uriFor(dest.protocol, sentBy.host, sentBy.port);
  };
  return (presentity, target) => {
    if (target !== undefined) {
      const destination = destinationOfUri(target);
      const contact = contactFor(destination);
      return contact === undefined ? undefined : { destination, contact };
    }
    if (ours(presentity.host)) {
      const bound = transport.addresses();
      const l = bound.find((a) => a.protocol === 'udp') ?? bound[0];
      if (l === undefined) return undefined;
      // Loopback both ways: our SUBSCRIBE reaches our listener, and the core's NOTIFYs come back the same way.
      const host = loopbackOf(l.address);
      return { destination: { protocol: l.protocol, address: host, port: l.port }, contact: uriFor(l.protocol, host, l.port) };
    }
    const destination = destinationOfUri(presentity);
    const contact = contactFor(destination);
    return contact === undefined ? undefined : { destination, contact };
  };
}

function isLoopback(address: string): boolean {
  const a = normalizeAddress(address);
  return a.startsWith('127.') || a === '::1';
}

export function outboundWiring(logger: Logger): OutboundWiring {
  let subs: OutboundSubscriptions | undefined;
  let transport: OutboundTransport | undefined;
  /**
   * One of our SUBSCRIBEs in flight (Call-ID and From tag of a current attempt, both random), arriving from our
   * own address: a peer that saw our SUBSCRIBE elsewhere cannot use its identifiers from outside.
   */
  const own = (tx: ServerTransaction): boolean => {
    if (subs === undefined || tx.request.method !== 'SUBSCRIBE') return false;
    const from = normalizeAddress(tx.inbound.remote.address);
    const local = isLoopback(from) || (transport?.addresses().some((a) => normalizeAddress(a.address) === from) ?? false);
    const tag = tx.core.from.params.get('tag');
    return local && subs.ownsRequest(tx.core.callId, typeof tag === 'string' ? tag : undefined);
  };
  return {
    exemptOwnRequests(gate) {
      return { check: (tx) => (own(tx) ? tx : gate.check(tx)) };
    },
    notifyHandler(tx: ServerTransaction): void {
      if (subs !== undefined) {
        subs.handleNotify(tx);
        return;
      }
      // No subscription of ours exists yet, so no NOTIFY can match a dialog (RFC 6665 §4.1.3).
      tx.respond(createResponse(tx.request, tx.core, 481, { toTag: newTag(), reason: 'Subscription Does Not Exist' }));
    },
    async start(deps) {
      const s = new OutboundSubscriptions({
        sender: deps.sender,
        clock: deps.clock,
        logger,
        store: documentRecordStore(deps.documents, (owner) => logger.warn({ owner }, 'unreadable outbound subscription record skipped')),
        route: outboundRouter(deps.config, deps.transport),
        userAgent: deps.config.userAgent,
      });
      transport = deps.transport;
      // Set before start(): restored subscriptions send their SUBSCRIBEs from within it.
      subs = s;
      await s.start();
      return s;
    },
    async stop() {
      // The table stays: a NOTIFY during shutdown is still answered 200, not 481 (which would end it at the
      // notifier); timers are off and nothing is sent.
      await subs?.stop();
    },
  };
}
