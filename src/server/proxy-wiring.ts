/**
 * Wiring of the stateful proxy (src/proxy) and of presence from calls (src/ua, pua_dialoginfo) into the
 * server. The router needs the proxy's entry points before the transaction layer exists, and the proxy
 * needs the transaction layer to send: `route` is handed to the router at once and answers 503 until
 * `open()` has built the proxy (the same start-up gate the core has).
 */
import { aorKey, createResponse, parseUri, SipParseError, type RequestCore, type SipRequest } from '../sip/index.js';
import type { InboundContext } from '../transport/index.js';
import type { Logger } from '../observability/index.js';
import { newTag, type Clock, type ServerTransaction } from '../transaction/index.js';
import {
  LoopOverload,
  PROXIED_METHODS,
  StatefulProxy,
  type ProxyAuthenticator,
  type ProxyLocation,
  type ProxyNetwork,
  type ProxyStats,
  type ProxyTransactions,
} from '../proxy/index.js';
import { DialogInfoPublisher, type DialogInfoPublisherStats, type DialogPublishPort } from '../ua/index.js';
import type { ProxyRoute } from './method-router.js';

/** Requests and ACKs held until the proxy opens; beyond it they get 503 (ACKs are dropped). */
const MAX_EARLY = 5000;

type EarlyItem = { readonly tx: ServerTransaction } | { readonly ack: [SipRequest, RequestCore, InboundContext] };

export interface ProxySettings {
  /** Forward calls and messages between registered users (otherwise those methods get 405). */
  readonly enabled: boolean;
  /** Timer C, ms (RFC 3261 §16.6 step 11: more than 3 minutes). */
  readonly timerCMs?: number;
  /** A call with no BYE seen is ended after this long (no session timer negotiated), ms. */
  readonly callMaxDurationMs?: number;
  /** A call still trying or ringing after this long is ended, ms. */
  readonly callEarlyTimeoutMs?: number;
  /** Publish dialog-info for the caller and callee of each call (pua_dialoginfo). */
  readonly publishDialogs?: boolean;
  /** How long a call's terminated state stays published before the publication is removed, ms. */
  readonly dialogTerminatedLingerMs?: number;
  /** Event loop utilization (0..1, over 500 ms) from which new calls get 503 (src/proxy/overload.ts); 0: never. Default 0.95. */
  readonly overloadThreshold?: number;
}

export interface ProxyOpenDeps {
  readonly transactions: ProxyTransactions;
  readonly network: ProxyNetwork;
  readonly location: ProxyLocation;
  readonly clock: Clock;
  readonly core: DialogPublishPort;
  /** Served domains (empty: any). */
  readonly domains: readonly string[];
  /** Host names that also mean this server. */
  readonly localHosts: readonly string[];
  /** Digest check of callers claiming one of our users (AuthGate: 407 when auth.proxy is enforced). */
  readonly authenticator?: ProxyAuthenticator;
}

export interface ProxyWiringStats {
  readonly proxy: ProxyStats | undefined;
  readonly dialogPublications: DialogInfoPublisherStats | undefined;
}

export class ProxyWiring {
  readonly #settings: ProxySettings;
  readonly #log: Logger;
  #proxy: StatefulProxy | undefined;
  #publisher: DialogInfoPublisher | undefined;
  #overload: LoopOverload | undefined;
  /**
   * Requests and ACKs that arrived between the sockets opening and open() (the core's recovery after a
   * restart takes a moment): handled once the proxy exists rather than refused, so that the BYEs and ACKs of
   * calls that were up when presenced was killed go through. Undefined once opened or stopped.
   */
  #early: EarlyItem[] | undefined = [];
  /** Undefined when the proxy is disabled: the router then answers these methods 405 as before. */
  readonly route: ProxyRoute | undefined;

  constructor(settings: ProxySettings, logger: Logger) {
    this.#settings = settings;
    this.#log = logger;
    this.route = settings.enabled
      ? {
          methods: PROXIED_METHODS,
          isProxied: (req, core) =>
            this.#proxy !== undefined ? this.#proxy.isProxied(req, core) : PROXIED_METHODS.includes(req.method),
          handle: (tx) => this.#handle(tx),
          onAck: (req, core, inbound) => {
            if (this.#proxy !== undefined) this.#proxy.onAck(req, core, inbound);
            else if (this.#early !== undefined && this.#early.length < MAX_EARLY) this.#early.push({ ack: [req, core, inbound] });
          },
          onStrayResponse: (res, core) => this.#proxy?.onStrayResponse(res, core),
        }
      : undefined;
  }

  get proxy(): StatefulProxy | undefined {
    return this.#proxy;
  }

  /** Builds the proxy (and the dialog publisher) once the transport is bound and the core runs. */
  open(deps: ProxyOpenDeps): void {
    if (!this.#settings.enabled || this.#proxy !== undefined) return;
    const threshold = this.#settings.overloadThreshold ?? 0.95;
    if (threshold > 0) {
      this.#overload = new LoopOverload({ clock: deps.clock, threshold });
      this.#overload.start();
    }
    const proxy = new StatefulProxy({
      transactions: deps.transactions,
      network: deps.network,
      location: deps.location,
      clock: deps.clock,
      logger: this.#log,
      domains: deps.domains,
      localHosts: deps.localHosts,
      ...(deps.authenticator !== undefined ? { authenticator: deps.authenticator } : {}),
      ...(this.#overload !== undefined ? { overload: this.#overload } : {}),
      ...(this.#settings.timerCMs !== undefined ? { timerCMs: this.#settings.timerCMs } : {}),
      calls: {
        ...(this.#settings.callMaxDurationMs !== undefined ? { maxDurationMs: this.#settings.callMaxDurationMs } : {}),
        ...(this.#settings.callEarlyTimeoutMs !== undefined ? { earlyTimeoutMs: this.#settings.callEarlyTimeoutMs } : {}),
      },
    });
    if (this.#settings.publishDialogs !== false) {
      const domains = new Set(deps.domains.map((d) => d.toLowerCase()));
      const publisher = new DialogInfoPublisher({
        core: deps.core,
        clock: deps.clock,
        logger: this.#log,
        // Only our users get dialog state: a caller from elsewhere is not a presentity of ours.
        isLocal: (aor) => domains.size === 0 || domains.has(domainOf(aor)),
        ...(this.#settings.dialogTerminatedLingerMs !== undefined ? { terminatedLingerMs: this.#settings.dialogTerminatedLingerMs } : {}),
      });
      publisher.attach(proxy.calls);
      this.#publisher = publisher;
    }
    this.#proxy = proxy;
    const early = this.#early ?? [];
    this.#early = undefined;
    for (const item of early) {
      if ('tx' in item) void Promise.resolve(proxy.handle(item.tx)).catch((err: unknown) => this.#log.error({ err }, 'proxy failed'));
      else proxy.onAck(...item.ack);
    }
  }

  /** Removes live dialog publications (before the core stops), then stops the proxy's timers. */
  async stop(): Promise<void> {
    const early = this.#early ?? [];
    this.#early = undefined;
    for (const item of early) if ('tx' in item) this.#unavailable(item.tx);
    await this.#publisher?.stop();
    this.#proxy?.stop();
    this.#overload?.stop();
  }

  stats(): ProxyWiringStats {
    return { proxy: this.#proxy?.stats(), dialogPublications: this.#publisher?.stats() };
  }

  /** Flat numbers for the metrics (src/admin PROXY table); empty before open(). */
  metricsStats(): Record<string, unknown> {
    const p = this.#proxy?.stats();
    if (p === undefined) return {};
    return {
      ...p,
      ...(this.#overload !== undefined ? { loopUtilization: this.#overload.utilization() } : {}),
      ...(this.#publisher !== undefined ? { dialogPublications: this.#publisher.stats().published } : {}),
    };
  }

  #handle(tx: ServerTransaction): Promise<void> | void {
    const p = this.#proxy;
    if (p !== undefined) return p.handle(tx);
    if (this.#early !== undefined && this.#early.length < MAX_EARLY) {
      this.#early.push({ tx });
      return;
    }
    this.#unavailable(tx);
  }

  /** Stopping, or too many waiting for the start: the same answer the core's gate gives. */
  #unavailable(tx: ServerTransaction): void {
    tx.respond(createResponse(tx.request, tx.core, 503, { toTag: newTag(), headers: [['Retry-After', '1']] }));
  }
}

function domainOf(aor: string): string {
  const u = parseUri(aor);
  return u instanceof SipParseError ? '' : u.host.toLowerCase();
}

/** Adapter from the registrar's location service and user list to what the proxy needs (404 vs 480). */
export function proxyLocation(
  lookup: (aor: string) => ReadonlyArray<{
    readonly uri: string;
    readonly path: readonly string[];
    readonly q: number | undefined;
    readonly flow: { readonly protocol: 'udp' | 'tcp'; readonly address: string; readonly port: number; readonly flowId: string | undefined };
  }>,
  /** Whether a user exists; undefined when there is no user list (open mode). */
  userExists: (aor: string) => boolean | undefined,
): ProxyLocation {
  return {
    lookup(aor) {
      const bindings = lookup(aor);
      if (bindings.length > 0) return bindings;
      // With a user list, a known user with nothing registered is 480; anyone else 404. Without one
      // (open mode) nothing tells a user from a typo: 404, as Kamailio's lookup() does.
      return userExists(aorKeyOf(aor)) === true ? [] : undefined;
    },
  };
}

function aorKeyOf(aor: string): string {
  const u = parseUri(aor);
  return u instanceof SipParseError ? aor : aorKey(u);
}
