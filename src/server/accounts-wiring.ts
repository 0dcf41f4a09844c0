/**
 * Wiring of the registrar side (src/auth, src/registrar, src/ua presence-from-registration and reg info, the
 * reg event package) into the server. Built before the router (the auth gate and the REGISTER handler are
 * handed to it at once), started after the core: users and bindings come from the same store snapshot the core
 * loads, and nothing passes the auth gate before the users are known (REGISTER answers 503 until then, PUBLISH
 * and SUBSCRIBE wait behind the core's own start-up gate, which opens after this has started).
 */
import { aorKey, createResponse, parseUri, SipParseError } from '../sip/index.js';
import type { PresencedConfig } from '../config/index.js';
import type { Logger } from '../observability/index.js';
import { newTag, type Clock, type ServerTransaction } from '../transaction/index.js';
import type { EventPackage, PresenceCore } from '../core/index.js';
import type { PresenceStore, StoreSnapshot } from '../store/index.js';
import { AuthGate, UserDirectory, type AuthStats } from '../auth/index.js';
import { LocationService, Registrar, type LocationStats, type RegistrarStats } from '../registrar/index.js';
import { createRegPackage } from '../packages/reg/index.js';
import { PresenceFromRegistration, RegInfoPublisher } from '../ua/index.js';
import type { AccountsAdmin } from '../admin/index.js';
import type { MethodHandler } from './method-router.js';

export interface AccountsStats {
  readonly auth: AuthStats;
  readonly registrar: RegistrarStats | undefined;
  readonly location: LocationStats;
}

/**
 * A store whose load() is read once and shared: the core and the accounts both need the snapshot at start-up,
 * and reading the whole database twice would double the start-up time.
 */
function sharedLoad(store: PresenceStore): PresenceStore {
  let loading: Promise<StoreSnapshot> | undefined;
  return {
    load: () => (loading ??= store.load()),
    write: (m) => store.write(m),
    close: () => store.close(),
    stats: () => store.stats(),
  };
}

export class AccountsWiring {
  readonly #config: PresencedConfig;
  readonly #log: Logger;
  readonly #clock: Clock;
  /** The store to give the core (load shared with us). */
  readonly store: PresenceStore;
  readonly users: UserDirectory;
  readonly location: LocationService;
  readonly gate: AuthGate;
  readonly registrar: Registrar | undefined;
  /** Packages this side adds (reg). */
  readonly packages: readonly EventPackage[];
  /** Option tags the registrar implements (RFC 3327 path, RFC 5626 outbound). */
  readonly supported: readonly string[];
  readonly handlers: ReadonlyArray<[string, MethodHandler]>;
  #ready = false;
  #presence: PresenceFromRegistration | undefined;
  #regInfo: RegInfoPublisher | undefined;
  #unwatchUsers: (() => void) | undefined;

  constructor(config: PresencedConfig, deps: { store: PresenceStore; clock: Clock; logger: Logger }) {
    this.#config = config;
    this.#log = deps.logger.child({ layer: 'accounts' });
    this.#clock = deps.clock;
    this.store = sharedLoad(deps.store);
    const now = (): number => deps.clock.wallNow();
    this.users = new UserDirectory(this.store, now);
    const a = config.auth;
    this.gate = new AuthGate({
      users: this.users,
      mode: a.mode,
      methods: { REGISTER: a.register, PUBLISH: a.publish, SUBSCRIBE: a.subscribe },
      // Only meaningful when the proxy runs (it needs the registrar); otherwise nothing asks.
      proxy: a.proxy && config.proxy.enabled && config.registrar.enabled,
      trustedPublishers: a.trustedPublishers,
      algorithms: a.algorithms,
      nonceTtlSeconds: a.nonceTtl,
      maxTrackedNonces: 100_000,
      limiter: { maxFailures: a.maxFailures, windowSeconds: a.failureWindow, blockSeconds: a.blockTime, maxSources: 10_000 },
      now,
      logger: deps.logger.child({ layer: 'auth' }),
    });
    this.location = new LocationService({
      writer: this.store,
      now,
      timers: deps.clock,
      logger: deps.logger.child({ layer: 'registrar' }),
      sweepIntervalMs: 5000,
    });
    const domains = new Set([...(config.domain !== undefined ? [config.domain] : []), ...config.domains].map((d) => d.toLowerCase()));
    const r = config.registrar;
    this.registrar = r.enabled
      ? new Registrar({
          location: this.location,
          isLocalDomain: (host) => domains.size === 0 || domains.has(host.toLowerCase()),
          minExpires: r.minExpires,
          maxExpires: r.maxExpires,
          defaultExpires: r.defaultExpires,
          maxContacts: r.maxContacts,
          now,
          logger: deps.logger.child({ layer: 'registrar' }),
          retryAfter: 5,
        })
      : undefined;
    this.packages = r.enabled && r.regEvent ? [createRegPackage()] : [];
    this.supported = r.enabled ? ['path', 'outbound'] : [];
    const registrar = this.registrar;
    this.handlers = registrar === undefined ? [] : [['REGISTER', (tx) => (this.#ready ? registrar.handle(tx) : this.#unavailable(tx))]];
  }

  /** Loads users and bindings, says whether authentication is on, starts the publishers. After core.start(). */
  async start(core: PresenceCore): Promise<void> {
    const snapshot = await this.store.load();
    this.users.load(snapshot.users);
    const loaded = this.location.load(snapshot.bindings);
    this.location.start();
    this.#announce();
    this.#unwatchUsers = this.users.onChange((count) => {
      if (this.#config.auth.mode === 'auto' && count <= 1) {
        this.#log.info({ users: count }, count === 1 ? 'first SIP user added: authentication is now enforced' : 'no SIP users left: open mode');
      }
    });
    const clock = this.#clock;
    const now = (): number => clock.wallNow();
    if (this.registrar !== undefined && this.#config.registrar.regEvent) {
      this.#regInfo = new RegInfoPublisher({
        core,
        location: this.location,
        expires: this.#config.maxExpiresPublish,
        terminatedExpires: Math.max(this.#config.minExpires, 300),
        tombstoneMs: 300_000,
        timers: clock,
        now,
        logger: this.#log,
      });
      this.#regInfo.start();
    }
    const pfr = this.#config.presenceFromRegistration;
    if (pfr.enabled) {
      this.#presence = new PresenceFromRegistration({
        core,
        location: this.location,
        users: pfr.users,
        domains: pfr.domains,
        expires: this.#config.maxExpiresPublish,
        closedExpires: this.#config.maxExpiresPublish,
        timers: clock,
        now,
        logger: this.#log,
      });
      this.#presence.start();
    }
    this.#ready = true;
    this.#log.info(
      { users: this.users.size, bindings: loaded.loaded, expiredBindingsDropped: loaded.expired, registrar: this.registrar !== undefined },
      'users and registrations loaded',
    );
  }

  stop(): void {
    this.#ready = false;
    this.#unwatchUsers?.();
    this.#presence?.stop();
    this.#regInfo?.stop();
    this.location.stop();
  }

  /** Users and registrations for the management API (admin routes/users.ts). */
  adminPort(): AccountsAdmin {
    const all = Number.MAX_SAFE_INTEGER;
    return {
      listUsers: ({ domain, limit, offset }) => {
        const list = this.users.list({ ...(domain !== undefined && { domain }), limit: all, offset: 0 });
        return { items: list.slice(offset, offset + limit), total: list.length };
      },
      setUser: (aor, password) => this.users.set(aor, password),
      deleteUser: (aor) => this.users.remove(aor),
      listRegistrations: ({ aor, limit, offset }) => {
        let key: string | undefined;
        if (aor !== undefined) {
          const u = parseUri(aor);
          if (u instanceof SipParseError) return { items: [], total: 0 };
          key = aorKey(u);
        }
        const list = this.location.list({ ...(key !== undefined && { aor: key }), limit: all, offset: 0 });
        return { items: list.slice(offset, offset + limit), total: list.length };
      },
    };
  }

  /** stats() for the admin metrics (layer-metrics.ts AUTH and REGISTRAR tables, flat records). */
  metricsProviders(): { auth: () => AuthStats; registrar: () => RegistrarStats & LocationStats } {
    const zero: RegistrarStats = { accepted: 0, rejected: 0, queries: 0 };
    return {
      auth: () => this.gate.stats(),
      registrar: () => ({ ...(this.registrar?.stats() ?? zero), ...this.location.stats() }),
    };
  }

  stats(): AccountsStats {
    return { auth: this.gate.stats(), registrar: this.registrar?.stats(), location: this.location.stats() };
  }

  /** The start-up line about authentication: open mode is worth a warning (issue 5). */
  #announce(): void {
    const a = this.#config.auth;
    const guarded: string[] = (['REGISTER', 'PUBLISH', 'SUBSCRIBE'] as const).filter((m) => this.gate.requires(m));
    if (this.gate.proxyEnforced) guarded.push('proxied requests from our users (407)');
    if (a.mode === 'off') {
      this.#log.warn(
        'authentication is off (auth.mode off / --auth off): REGISTER, PUBLISH, SUBSCRIBE and calls through the proxy are accepted from anyone',
      );
    } else if (!this.gate.enforced) {
      this.#log.warn(
        'no SIP users: open mode, REGISTER, PUBLISH, SUBSCRIBE and calls through the proxy are accepted from anyone until a user is added (presenced user add)',
      );
    } else if (this.users.size === 0) {
      this.#log.warn({ methods: guarded }, 'auth.mode on and no SIP users: every request that needs authentication will be refused');
    } else {
      this.#log.info({ users: this.users.size, methods: guarded }, 'digest authentication enforced');
    }
  }

  #unavailable(tx: ServerTransaction): void {
    tx.respond(createResponse(tx.request, tx.core, 503, { toTag: newTag(), headers: [['Retry-After', '5']] }));
  }
}
