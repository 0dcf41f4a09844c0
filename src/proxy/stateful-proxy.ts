/**
 * A stateful proxy (RFC 3261 §16) for calls and messages between the registered users of our domains:
 * INVITE, ACK, BYE, CANCEL, UPDATE, INFO, MESSAGE, REFER, PRACK (and the NOTIFYs of a REFER's implicit
 * subscription, which follow the dialog's route). Initial requests are looked up in the location service
 * and forked to every binding over the flow it registered from (NAT), honouring Path; we Record-Route so
 * that in-dialog requests come back through us and can be routed to each side's real address. It is
 * not an open relay: initial requests go only to users of our domains, and those whose From claims one of
 * our users are authenticated first (407, caller-auth.ts). No media is touched.
 */
import {
  aorKey,
  createResponse,
  parseNameAddr,
  parseUri,
  serializeMessage,
  SipParseError,
  uriEquals,
  type NameAddr,
  type RequestCore,
  type ResponseCore,
  type SipRequest,
  type SipResponse,
  type SipUri,
} from '../sip/index.js';
import type { Logger } from '../observability/index.js';
import {
  newTag,
  TimerQueue,
  type Clock,
  type ClientTransactionOutcome,
  type InviteClientEvents,
  type InviteClientHandle,
  type ServerTransaction,
} from '../transaction/index.js';
import type { BoundAddress, Destination, InboundContext, SentBy } from '../transport/index.js';
import { CallTracker, type CallTrackerOptions } from './call-tracker.js';
import { needsCallerAuth, removeConsumedCredentials, type ProxyAuthenticator } from './caller-auth.js';
import { upstreamCopy } from './best-response.js';
import { branchCopy, firstRouteUri, preprocessRoutes, type PreprocessedRequest } from './forward-request.js';
import { InviteContext, type ProxyTarget } from './invite-context.js';
import { LocalUris } from './local-uris.js';
import type { ProxyBinding, ProxyLocation } from './location.js';
import { hasLooped, loopHash, proxyBranch } from './loop-detection.js';
import { systemResolver, uriDestination, uriTextDestination, type HostResolver, type NextHop } from './next-hop.js';
import { NonInviteContext } from './non-invite-context.js';
import type { OverloadProbe } from './overload.js';

/** Methods the proxy forwards (besides in-dialog NOTIFYs that follow our Record-Route). */
export const PROXIED_METHODS: readonly string[] = ['INVITE', 'ACK', 'BYE', 'CANCEL', 'UPDATE', 'INFO', 'MESSAGE', 'REFER', 'PRACK'];

/** Requests that create a dialog: we Record-Route them (§16.6 step 4) so the dialog's requests return to us. */
const DIALOG_CREATING = new Set(['INVITE', 'REFER']);

/** The part of the transaction layer the proxy uses. */
export interface ProxyTransactions {
  sendInvite(request: SipRequest, destination: Destination, events: InviteClientEvents, options: { branch: string; noMtuSwitch: boolean }): InviteClientHandle;
  sendRequest(request: SipRequest, destination: Destination, options: { branch: string; noMtuSwitch: boolean }): Promise<ClientTransactionOutcome>;
}

/** The part of the transport layer the proxy uses. */
export interface ProxyNetwork {
  addresses(): BoundAddress[];
  localSentBy(dest: Destination): SentBy | undefined;
  hasFlow(flowId: string): boolean;
  send(data: Buffer, dest: Destination): Promise<void>;
  sendResponse(response: SipResponse, inbound: InboundContext): Promise<void>;
}

export interface StatefulProxyOptions {
  readonly transactions: ProxyTransactions;
  readonly network: ProxyNetwork;
  readonly location: ProxyLocation;
  readonly clock: Clock;
  readonly logger: Logger;
  /** SIP domains served; empty: any. Initial requests for other domains get 403 (no relaying). */
  readonly domains: readonly string[];
  /** Host names that also mean this server (advertised names, server_address host). */
  readonly localHosts?: readonly string[];
  /** Timer C (§16.6 step 11, > 3 min). Default 185 s. */
  readonly timerCMs?: number;
  /** Most bindings a request is forked to. Default 16. */
  readonly maxBranches?: number;
  /** Requests being proxied at once; beyond it 503. Default 20 000. */
  readonly maxContexts?: number;
  readonly resolver?: HostResolver;
  readonly calls?: Omit<CallTrackerOptions, 'clock' | 'timers' | 'logger'>;
  /** Authentication of callers claiming one of our users (§22.3); without it nobody is challenged. */
  readonly authenticator?: ProxyAuthenticator;
  /** While it says overloaded, new calls get 503 (overload.ts); without it every request is taken. */
  readonly overload?: OverloadProbe;
}

export interface ProxyStats {
  readonly forwarded: number;
  readonly acksForwarded: number;
  readonly rejected: Readonly<Record<string, number>>;
  readonly loops: number;
  /** Initial requests refused with 503 while the event loop was overloaded. */
  readonly shed: number;
  /** Responses matching no transaction of ours, forwarded statelessly (§16.7). */
  readonly strayForwarded: number;
  readonly contexts: number;
  readonly calls: number;
}

interface Reject {
  readonly status: number;
  readonly reason?: string;
  readonly headers?: Array<[string, string]>;
}

const MIN_TIMER_C_MS = 180_001;

const RELAY_FORBIDDEN = { ok: false, status: 403, reason: 'Relaying Forbidden' } as const;

export class StatefulProxy {
  readonly calls: CallTracker;
  readonly #tx: ProxyTransactions;
  readonly #net: ProxyNetwork;
  readonly #location: ProxyLocation;
  readonly #log: Logger;
  readonly #local: LocalUris;
  readonly #timers: TimerQueue;
  readonly #resolve: HostResolver;
  readonly #timerCMs: number;
  readonly #maxBranches: number;
  readonly #maxContexts: number;
  readonly #auth: ProxyAuthenticator | undefined;
  readonly #overload: OverloadProbe | undefined;
  readonly #isOurDomain = (host: string): boolean => this.#local.isOurDomain(host);
  #contexts = 0;
  #forwarded = 0;
  #acks = 0;
  #loops = 0;
  #shed = 0;
  #strayForwarded = 0;
  readonly #rejected: Record<string, number> = {};
  #stopped = false;

  constructor(opts: StatefulProxyOptions) {
    this.#tx = opts.transactions;
    this.#net = opts.network;
    this.#location = opts.location;
    this.#log = opts.logger;
    this.#local = new LocalUris(() => opts.network.addresses(), opts.domains, opts.localHosts ?? []);
    this.#timers = new TimerQueue(opts.clock, (err) => opts.logger.error({ err }, 'proxy timer callback threw'));
    this.#resolve = opts.resolver ?? systemResolver;
    this.#timerCMs = Math.max(MIN_TIMER_C_MS, opts.timerCMs ?? 185_000);
    this.#maxBranches = opts.maxBranches ?? 16;
    this.#maxContexts = opts.maxContexts ?? 20_000;
    this.#auth = opts.authenticator;
    this.#overload = opts.overload;
    this.calls = new CallTracker({ ...opts.calls, clock: opts.clock, timers: this.#timers, logger: opts.logger });
  }

  stats(): ProxyStats {
    return {
      forwarded: this.#forwarded,
      acksForwarded: this.#acks,
      rejected: { ...this.#rejected },
      loops: this.#loops,
      shed: this.#shed,
      strayForwarded: this.#strayForwarded,
      contexts: this.#contexts,
      calls: this.calls.size,
    };
  }

  stop(): void {
    this.#stopped = true;
    this.calls.stop();
    this.#timers.stop();
  }

  /**
   * Whether a request is ours to forward rather than the presence server's to answer: the proxied methods,
   * and a NOTIFY inside a dialog we record-routed (a REFER's implicit subscription, RFC 3515).
   */
  isProxied(req: SipRequest, core: RequestCore): boolean {
    if (PROXIED_METHODS.includes(req.method)) return true;
    if (req.method !== 'NOTIFY' || (core.to.params.get('tag') ?? '') === '') return false;
    const route = req.headers.get('Route');
    if (route === undefined) return false;
    const na = parseNameAddr(route);
    return !(na instanceof SipParseError) && this.#local.isProxyUri(na.uri);
  }

  /** Handles a new request (the TU entry point); every outcome is answered through tx. Never rejects. */
  async handle(tx: ServerTransaction): Promise<void> {
    const req = tx.request;
    const core = tx.core;
    // §16.3 steps 4-6 need no lookup: a request refused there is answered before any 100 Trying.
    const invalid = this.#validate(req, core);
    if (invalid !== undefined) {
      this.#reject(tx, invalid);
      return;
    }
    let consumed: readonly string[] = [];
    if (this.#auth !== undefined && this.#auth.proxyEnforced && needsCallerAuth(req, core, this.#isOurDomain)) {
      const passed = this.#auth.checkProxied(tx);
      if (passed === undefined) return; // answered: 407, 403 or 400
      consumed = passed.consumed;
    }
    const isInvite = req.method === 'INVITE';
    let cancelledEarly = false;
    if (isInvite) {
      // §16.2 / §17.2.1: a proxy answers 100 Trying at once, so the caller stops retransmitting.
      tx.respond(createResponse(req, core, 100));
      // A CANCEL during the location lookup (before any branch exists) is answered 487 here.
      tx.setCancelHandler?.(() => {
        cancelledEarly = true;
        tx.respond(createResponse(req, core, 487, { toTag: newTag() }));
      });
    }
    try {
      const r = await this.#route(tx, consumed);
      if (cancelledEarly) return;
      if ('status' in r) {
        this.#reject(tx, r);
        return;
      }
      this.#start(tx, r.targets, r.initial, r.calleeUri);
    } catch (err) {
      this.#log.error({ err, method: req.method, callId: core.callId }, 'proxy failed');
      if (!cancelledEarly) this.#reject(tx, { status: 500, reason: 'Server Internal Error' });
    }
  }

  /**
   * A response that matched none of our client transactions (§16.7: processed "as a stateless proxy",
   * §16.11): our Via on top is removed and the response goes where the next Via says (§18.2.2: received and
   * rport, which we stamped on the request). This is what carries a callee's retransmitted 2xx to the caller
   * once our INVITE transaction is over, and after a restart (kill -9), so that calls answered meanwhile are
   * still ACKed instead of timing out. A response whose top Via is not ours is dropped.
   */
  onStrayResponse(res: SipResponse, core: ResponseCore): void {
    if (this.#stopped) return;
    const top = core.via[0];
    const next = core.via[1];
    if (top === undefined || next === undefined || !this.#local.isOurSentBy(top.host, top.port)) return;
    const protocol = next.transport === 'UDP' ? 'udp' : next.transport === 'TCP' ? 'tcp' : undefined;
    if (protocol === undefined) return;
    const up = upstreamCopy(res);
    if (up === undefined) return;
    const port = typeof next.rport === 'number' ? next.rport : (next.port ?? 5060);
    const dest: Destination = { protocol, address: next.received ?? next.host, port };
    this.#strayForwarded++;
    void this.#net.send(serializeMessage(up), dest).catch((err: unknown) => this.#log.debug({ err }, 'stray response not forwarded'));
  }

  /** An ACK for a 2xx (its own transaction): forwarded statelessly along the dialog's route (§16.7, §16.11). */
  onAck(req: SipRequest, core: RequestCore, inbound: InboundContext): void {
    void inbound;
    void this.#forwardAck(req, core).catch((err: unknown) => this.#log.debug({ err }, 'ACK not forwarded'));
  }

  async #forwardAck(req: SipRequest, core: RequestCore): Promise<void> {
    if (this.#stopped || hasLooped(req, core, (h, p) => this.#local.isOurSentBy(h, p))) return;
    const pre = this.#preprocess(req, core);
    if ((core.to.params.get('tag') ?? '') === '') return;
    const viaUs = pre.poppedOwnRoutes > 0 || pre.requestUri !== req.uri;
    if (!viaUs) return;
    const hop = await this.#inDialogHop(pre, core);
    if (!hop.ok) return;
    const copy = branchCopy(pre, req, core, { requestUri: pre.requestUri, recordRoute: [], preloadedRoutes: [] });
    const sentBy = this.#net.localSentBy(hop.dest);
    if (sentBy === undefined) return;
    copy.headers.prepend('Via', `SIP/2.0/${sentBy.protocol.toUpperCase()} ${sentBy.host}:${sentBy.port};branch=${proxyBranch(loopHash(req, core))};rport`);
    this.#acks++;
    await this.#net.send(serializeMessage(copy), hop.dest);
  }

  // ---------------------------------------------------------------- routing

  #preprocess(req: SipRequest, core: RequestCore): PreprocessedRequest {
    return preprocessRoutes(req, core.requestUri, (u) => this.#local.isProxyUri(u));
  }

  /** The request validation of §16.3 that precedes authentication (step 6): overload, steps 4 and 5. */
  #validate(req: SipRequest, core: RequestCore): Reject | undefined {
    if (this.#stopped) return { status: 503, reason: 'Service Unavailable' };
    if (this.#contexts >= this.#maxContexts) return { status: 503, reason: 'Service Unavailable', headers: [['Retry-After', '5']] };
    // Overloaded: new calls wait, the calls already set up (To tag: BYE, re-INVITE, ...) go on (overload.ts).
    if (this.#overload !== undefined && (core.to.params.get('tag') ?? '') === '' && this.#overload.overloaded()) {
      this.#shed++;
      return { status: 503, reason: 'Service Unavailable', headers: [['Retry-After', '2']] };
    }
    // §16.3 step 5: we support no option tag as a proxy.
    const proxyRequire = req.headers.getAll('Proxy-Require').map((t) => t.trim()).filter((t) => t !== '');
    if (proxyRequire.length > 0) return { status: 420, headers: [['Unsupported', proxyRequire.join(', ')]] };
    // §16.3 step 4.
    if (hasLooped(req, core, (h, p) => this.#local.isOurSentBy(h, p))) {
      this.#loops++;
      return { status: 482, reason: 'Loop Detected' };
    }
    return undefined;
  }

  /** @param consumed our Proxy-Authorization values, which the forwarded copies do not carry */
  async #route(
    tx: ServerTransaction,
    consumed: readonly string[],
  ): Promise<Reject | { targets: ProxyTarget[]; initial: boolean; calleeUri: NameAddr | undefined }> {
    const req = tx.request;
    const core = tx.core;
    const pre = this.#preprocess(req, core);
    removeConsumedCredentials(pre.headers, consumed);
    const inDialog = (core.to.params.get('tag') ?? '') !== '';
    const viaUs = pre.poppedOwnRoutes > 0 || pre.requestUri !== req.uri;
    const hash = loopHash(req, core, consumed);

    if (inDialog || pre.routes.length > 0) {
      // In a dialog we record-routed, or loose routing through us. Anything else would make us a relay for
      // requests we never saw the dialog of (§16.4 leaves the policy to the proxy).
      if (!viaUs) return inDialog ? { status: 481, reason: 'Call/Transaction Does Not Exist' } : { status: 403, reason: 'Relaying Forbidden' };
      if (!inDialog && pre.routes.length > 0) return { status: 403, reason: 'Relaying Forbidden' };
      const hop = await this.#inDialogHop(pre, core);
      if (!hop.ok) return { status: hop.status, reason: hop.reason };
      const request = branchCopy(pre, req, core, { requestUri: pre.requestUri, recordRoute: [], preloadedRoutes: [] });
      return { targets: [{ request, dest: hop.dest, branch: proxyBranch(hash) }], initial: false, calleeUri: undefined };
    }

    // An initial request: for a user of ours (§16.5), looked up in the location service.
    const uri = pre.requestUri === req.uri ? core.requestUri : parseUri(pre.requestUri);
    if (uri instanceof SipParseError) return { status: 400, reason: 'Bad Request-URI' };
    if (uri.scheme === 'tel') return { status: 404, reason: 'Not Found' };
    // RFC 3261 §26.2.2: a SIPS request must travel over TLS on every hop, which this proxy does not offer.
    if (uri.scheme === 'sips') return { status: 416, reason: 'Unsupported URI Scheme' };
    if (!this.#local.isOurDomain(uri.host)) return { status: 403, reason: 'Relaying Forbidden' };
    if (uri.user === undefined) return { status: 404, reason: 'Not Found' };
    const bindings = await this.#location.lookup(aorKey(uri));
    if (bindings === undefined) return { status: 404, reason: 'Not Found' };
    if (bindings.length === 0) return { status: 480, reason: 'Temporarily Unavailable' };
    const ordered = [...bindings].sort((a, b) => (b.q ?? 1) - (a.q ?? 1)).slice(0, this.#maxBranches);
    const targets: ProxyTarget[] = [];
    for (const b of ordered) {
      const t = await this.#bindingTarget(tx, pre, b, hash);
      if (t !== undefined) targets.push(t);
    }
    if (targets.length === 0) return { status: 480, reason: 'Temporarily Unavailable' };
    const calleeUri = parseNameAddr(`<${pre.requestUri}>`);
    return { targets, initial: true, calleeUri: calleeUri instanceof SipParseError ? undefined : calleeUri };
  }

  /** One branch towards a binding (§16.5-16.6): its contact as Request-URI, its Path as routes, its flow as next hop. */
  async #bindingTarget(tx: ServerTransaction, pre: PreprocessedRequest, b: ProxyBinding, hash: string): Promise<ProxyTarget | undefined> {
    const req = tx.request;
    let hop: NextHop;
    if (b.path.length > 0) {
      const first = firstRouteUri(b.path);
      hop = first === undefined ? { ok: false, status: 503, reason: 'Bad Path' } : await uriTextDestination(first, this.#resolve);
    } else {
      const flow = this.#flowDestination(b);
      hop = flow !== undefined ? { ok: true, dest: flow } : await uriTextDestination(b.uri, this.#resolve);
    }
    if (!hop.ok) {
      this.#log.debug({ contact: b.uri, reason: hop.reason }, 'binding not reachable');
      return undefined;
    }
    const recordRoute = DIALOG_CREATING.has(req.method) ? this.#recordRoute(tx.inbound, hop.dest) : [];
    const request = branchCopy(pre, req, tx.core, { requestUri: b.uri, recordRoute, preloadedRoutes: b.path });
    return { request, dest: hop.dest, branch: proxyBranch(hash) };
  }

  /** The registering flow of a binding, when it can still carry a request (a TCP connection must be open). */
  #flowDestination(b: ProxyBinding): Destination | undefined {
    const f = b.flow;
    if (f === undefined) return undefined;
    if (f.protocol === 'udp') return { protocol: 'udp', address: f.address, port: f.port };
    if (f.flowId !== undefined && this.#net.hasFlow(f.flowId)) return { protocol: 'tcp', address: f.address, port: f.port, flowId: f.flowId };
    return undefined;
  }

  /**
   * Next hop of an in-dialog (or loose-routed) request: the first remaining Route; else the remote target,
   * reached at the address the call tracker saw that side at (its NAT source), or the flow of the binding it
   * registered, or the URI itself. Only for dialogs we know of: a call we track, or a request towards a
   * registered contact of one of our users (which also covers dialogs from before a restart and REFER's
   * NOTIFYs). Anything else would make a Route naming us a free relay to anywhere.
   */
  async #inDialogHop(pre: PreprocessedRequest, core: RequestCore): Promise<NextHop> {
    const known = this.calls.destinationFor(core);
    const route = firstRouteUri(pre.routes);
    if (route !== undefined) {
      if (known === undefined && !(await this.#hasBindings(core.to.uri))) return RELAY_FORBIDDEN;
      return uriTextDestination(route, this.#resolve);
    }
    if (known !== undefined && (known.protocol === 'udp' || known.flowId === undefined || this.#net.hasFlow(known.flowId))) {
      return { ok: true, dest: known };
    }
    const target = parseUri(pre.requestUri);
    if (target instanceof SipParseError) return { ok: false, status: 400, reason: 'Bad Request-URI' };
    const binding = await this.#bindingFor(core.to.uri, target);
    if (binding === undefined && known === undefined) return RELAY_FORBIDDEN;
    const flow = binding === undefined ? undefined : this.#flowDestination(binding);
    if (flow !== undefined) return { ok: true, dest: flow };
    return uriDestination(target, this.#resolve);
  }

  /** The binding of `to` (one of our users) whose contact is `target`. */
  async #bindingFor(to: SipUri, target: SipUri): Promise<ProxyBinding | undefined> {
    if (to.scheme === 'tel' || to.user === undefined || !this.#local.isOurDomain(to.host)) return undefined;
    const bindings = await this.#location.lookup(aorKey(to));
    for (const b of bindings ?? []) {
      const u = parseUri(b.uri);
      if (!(u instanceof SipParseError) && uriEquals(u, target)) return b;
    }
    return undefined;
  }

  async #hasBindings(to: SipUri): Promise<boolean> {
    if (to.scheme === 'tel' || to.user === undefined || !this.#local.isOurDomain(to.host)) return false;
    const bindings = await this.#location.lookup(aorKey(to));
    return bindings !== undefined && bindings.length > 0;
  }

  /**
   * Our Record-Route (§16.6 step 4, with ;lr): the address facing the callee on top. When the two sides use
   * different transports or listeners, one value per side (double record-routing, RFC 5658 §3.2), so each
   * side's in-dialog requests reach the listener it can use.
   */
  #recordRoute(inbound: InboundContext, out: Destination): string[] {
    const r = inbound.remote;
    const inSide = this.#net.localSentBy({ protocol: r.protocol, address: r.address, port: r.port, flowId: inbound.flowId });
    const outSide = this.#net.localSentBy(out);
    const fmt = (s: SentBy): string => `<sip:${s.host}:${s.port}${s.protocol === 'tcp' ? ';transport=tcp' : ''};lr>`;
    if (inSide === undefined && outSide === undefined) return [];
    if (inSide === undefined || outSide === undefined) return [fmt((outSide ?? inSide) as SentBy)];
    const a = fmt(outSide);
    const b = fmt(inSide);
    return a === b ? [a] : [a, b];
  }

  // ---------------------------------------------------------------- forwarding

  #start(tx: ServerTransaction, targets: ProxyTarget[], initial: boolean, calleeUri: NameAddr | undefined): void {
    const req = tx.request;
    const core = tx.core;
    this.#forwarded++;
    this.#contexts++;
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      this.#contexts--;
    };
    if (req.method === 'BYE') this.calls.inDialogRequest(req, core);
    if (req.method === 'INVITE') {
      if (initial) this.calls.inviteForwarded(req, core, tx.inbound, calleeUri);
      const destOf = new Map(targets.map((t) => [t.branch, t.dest]));
      const ctx = new InviteContext(
        tx,
        {
          transactions: this.#tx,
          sendResponse: (r, i) => this.#net.sendResponse(r, i),
          timers: this.#timers,
          logger: this.#log,
          timerCMs: this.#timerCMs,
        },
        {
          onBranchResponse: (r, target) => {
            if (initial) this.calls.inviteResponse(r, destOf.get(target.branch));
            else this.calls.inDialogResponse(core, r);
          },
          onRejected: (status, cancelled) => {
            if (initial) this.calls.inviteRejected(core.callId, core.from.params.get('tag') ?? '', status, cancelled);
          },
          onDone: release,
        },
      );
      ctx.start(targets);
      return;
    }
    const ctx = new NonInviteContext(tx, { transactions: this.#tx }, {
      onFinal: (status, response) => {
        release();
        if (response !== undefined && req.method === 'UPDATE') this.calls.inDialogResponse(core, response);
        void status;
      },
    });
    ctx.start(targets);
  }

  #reject(tx: ServerTransaction, r: Reject): void {
    const key = String(r.status);
    this.#rejected[key] = (this.#rejected[key] ?? 0) + 1;
    tx.respond(
      createResponse(tx.request, tx.core, r.status, {
        toTag: newTag(),
        ...(r.reason !== undefined ? { reason: r.reason } : {}),
        ...(r.headers !== undefined ? { headers: r.headers } : {}),
      }),
    );
  }
}
