/**
 * The composition root: builds every layer from the validated configuration, wires them by constructor
 * injection, registers the event packages, and starts and stops them in the order that keeps state safe.
 * No SIP or presence logic lives here.
 */
import { networkInterfaces } from 'node:os';
import type { PresencedConfig } from '../config/index.js';
import type { Logger } from '../observability/index.js';
import { openStore, type PresenceStore } from '../store/index.js';
import { TransportLayer, normalizeAddress, hostForUri } from '../transport/index.js';
import { TransactionLayer, systemClock } from '../transaction/index.js';
import { PresenceCore, type CoreConfig, type EventPackage } from '../core/index.js';
import { createEventPackages } from './packages.js';
import { adaptCoreFacade, createAdminServer, createMetrics, instrumentStoreWrites, type AdminServer } from '../admin/index.js';
import { presencedVersion } from '../config/index.js';
import { MethodRouter, type MethodHandler } from './method-router.js';
import { AccountsWiring } from './accounts-wiring.js';
import { StartupGate } from './startup-gate.js';
import { ProxyWiring, proxyLocation } from './proxy-wiring.js';
import { outboundWiring } from './outbound-wiring.js';
import { webhookTarget } from '../admin/index.js';

/** What startServer returns: the CLI and tests only need to stop it and learn where it listens. */
export interface RunningServer {
  stop(): Promise<void>;
  addresses(): Array<{ transport: string; host: string; port: number }>;
}

export type StartServer = (config: PresencedConfig, logger: Logger) => Promise<RunningServer>;

/** Option tags of extensions we implement (RFC 3261 §20.37); a Require naming another gets 420. */
const SUPPORTED_OPTION_TAGS: readonly string[] = [];

/** A stop() step that hangs must not keep the process from exiting: each gets this long. */
const STOP_STEP_MS = 3000;

function isWildcard(host: string): boolean {
  const h = normalizeAddress(host);
  return h === '0.0.0.0' || h === '::';
}

function firstInterfaceAddress(): string {
  for (const list of Object.values(networkInterfaces())) {
    for (const ni of list ?? []) if (!ni.internal && ni.family === 'IPv4') return ni.address;
  }
  return '127.0.0.1';
}

/**
 * Contact of our 2xx to SUBSCRIBE and of NOTIFYs (server_address). Configured: as is. Otherwise, when the first
 * listener is bound to a specific address, the core derives it per subscription from the listener the SUBSCRIBE
 * reached (with ;transport=tcp for TCP), which is always reachable by that subscriber. A wildcard listener has
 * no address of its own to advertise: then sip:<first interface address>:<port> of the first listener.
 */
export function defaultServerAddress(
  config: PresencedConfig,
  bound: ReadonlyArray<{ protocol: string; address: string; port: number }>,
): string | undefined {
  if (config.serverAddress !== undefined) return config.serverAddress;
  const first = bound[0];
  if (first === undefined || !isWildcard(first.address)) return undefined;
  return `sip:${hostForUri(firstInterfaceAddress())}:${first.port}`;
}

export function coreConfig(config: PresencedConfig, serverAddress: string | undefined): Partial<CoreConfig> {
  const domains = [...(config.domain !== undefined ? [config.domain] : []), ...config.domains];
  return {
    cleanPeriod: config.cleanPeriod,
    expiresOffset: config.expiresOffset,
    maxExpiresSubscribe: config.maxExpiresSubscribe,
    maxExpiresPublish: config.maxExpiresPublish,
    minExpires: config.minExpires,
    serverAddress,
    endSubOnTimeout: config.endSubOnTimeout,
    subscribeReplyCode: config.subscribeReplyCode,
    forceActive: config.forceActive,
    notifyRecoveryRate: config.notifyRecoveryRate,
    notifyMinIntervalMs: config.notifyMinInterval,
    domains: [...new Set(domains)],
  };
}

/** The host of a configured server_address, which also names this server (Route and Request-URI checks). */
function serverAddressHost(serverAddress: string | undefined): string[] {
  const m = serverAddress === undefined ? null : /^sips?:(?:[^@]*@)?(\[[^\]]+\]|[^:;>]+)/i.exec(serverAddress);
  return m === null ? [] : [m[1]];
}

async function bounded(what: string, p: Promise<unknown>, logger: Logger): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), STOP_STEP_MS);
  });
  try {
    const r = await Promise.race([p.then(() => 'done' as const), timeout]);
    if (r === 'timeout') logger.warn({ step: what, timeoutMs: STOP_STEP_MS }, 'shutdown step did not finish in time');
  } catch (err) {
    logger.error({ err, step: what }, 'shutdown step failed');
  } finally {
    clearTimeout(timer);
  }
}

export async function startServer(config: PresencedConfig, logger: Logger): Promise<RunningServer> {
  const log = logger.child({ layer: 'server' });
  // Metrics exist only with the HTTP listener that serves them; the store wrapper times every write for them.
  const metrics = config.http !== null ? createMetrics() : undefined;
  const opened: PresenceStore = await openStore(config.db);
  const store: PresenceStore = metrics === undefined ? opened : instrumentStoreWrites(opened, metrics);
  let transport: TransportLayer | undefined;
  let transactions: TransactionLayer | undefined;
  let core: PresenceCore | undefined;
  let admin: AdminServer | undefined;
  // Subscriptions presenced holds as a client for API callers (outbound-wiring.ts); its NOTIFY handler is routed now.
  const outbound = outboundWiring(logger.child({ layer: 'ua' }));
  // Users, registrar, presence from registration and reg event (accounts-wiring.ts); the core gets its store.
  const accounts = new AccountsWiring(config, { store, clock: systemClock, logger });
  const supportedTags = [...SUPPORTED_OPTION_TAGS, ...accounts.supported];
  // Calls between registered users (proxy-wiring.ts): needs the registrar's location service.
  const proxy = new ProxyWiring(
    {
      enabled: config.proxy.enabled && accounts.registrar !== undefined,
      timerCMs: config.proxy.timerC * 1000,
      overloadThreshold: config.proxy.overloadThreshold / 100,
      publishDialogs: config.calls.publishDialogs,
      callMaxDurationMs: config.calls.maxDuration * 1000,
      callEarlyTimeoutMs: config.calls.earlyTimeout * 1000,
    },
    logger.child({ layer: 'proxy' }),
  );
  try {
    transport = new TransportLayer({
      listen: config.listen.map((l) => ({ transport: l.transport, host: l.host, port: l.port })),
      logger: logger.child({ layer: 'transport' }),
      maxMessageSize: config.maxMessageSize,
      tcpIdleTimeoutMs: config.tcpIdleTimeout * 1000,
      maxConnections: config.maxConnections,
      maxConnectionsPerSource: config.maxConnectionsPerSource,
      udpReceiveBuffer: config.udpReceiveBuffer,
    });

    // The router needs the core's handlers, the core needs the transaction layer as its sender, and the
    // transaction layer needs the router: the gate breaks the cycle and answers 503 until the core is loaded.
    const gate = new StartupGate<PresenceCore>();
    const handlers = new Map<string, MethodHandler>([
      ['PUBLISH', (tx) => gate.run(tx, (c: PresenceCore) => c.handlePublish(tx))],
      ['SUBSCRIBE', (tx) => gate.run(tx, (c: PresenceCore) => c.handleSubscribe(tx))],
      ['NOTIFY', outbound.notifyHandler],
      ...accounts.handlers,
    ]);
    // The event packages this build serves (packages.ts: adding a package means adding it there, rule 4).
    const ext = createEventPackages(config, { now: () => systemClock.wallNow() });
    const packages: readonly EventPackage[] = [...ext.packages, ...accounts.packages];
    const router = new MethodRouter({
      handlers,
      allowEvents: () => core?.allowEvents() ?? packages.map((p) => p.name),
      acceptedTypes: () => core?.acceptedTypes() ?? [...new Set(packages.flatMap((p) => p.contentTypes))],
      supported: supportedTags,
      logger: logger.child({ layer: 'router' }),
      // Our own SUBSCRIBEs to our own presentities (subscribe on behalf) carry no credentials.
      auth: outbound.exemptOwnRequests(accounts.gate),
      ...(proxy.route !== undefined ? { proxy: proxy.route } : {}),
    });
    transactions = new TransactionLayer(transport, router, {
      logger: logger.child({ layer: 'transaction' }),
      serverHeader: config.userAgent,
      supported: supportedTags,
      clock: systemClock,
    });

    // Sockets first: recovery NOTIFYs sent by core.start() need a running transport, and with port 0
    // the Contact we advertise depends on the bound ports.
    await transport.start();
    const bound = transport.addresses();
    const serverAddress = defaultServerAddress(config, bound);
    core = new PresenceCore({
      store: accounts.store,
      sender: transactions,
      clock: systemClock,
      logger: logger.child({ layer: 'core' }),
      config: { ...coreConfig(config, serverAddress), ...ext.coreConfig },
      packages,
    });
    const presRules = ext.attach(core);
    await core.start();
    // Users before the gate opens: until they are loaded, auth mode "auto" would look open.
    await accounts.start(core);
    gate.open(core);
    const users = accounts.users;
    const location = accounts.location;
    proxy.open({
      transactions,
      network: transport,
      // With users, an unknown one is 404 and a known one with nothing registered 480.
      location: proxyLocation((aor) => location.lookup(aor), (aor) => (users.size === 0 ? undefined : users.get(aor) !== undefined)),
      clock: systemClock,
      core,
      domains: coreConfig(config, serverAddress).domains ?? [],
      localHosts: serverAddressHost(serverAddress),
      // Callers claiming one of our users prove it (407, auth.proxy); the gate shares nonces and brute-force limits.
      authenticator: accounts.gate,
    });
    // After the gate: SUBSCRIBEs to our own presentities are answered by the core over loopback.
    const outboundSubs = await outbound.start({ config, documents: core, transport, sender: transactions, clock: systemClock });

    // The management API last: it reports ready only once SIP is served.
    const httpAddress: Array<{ transport: string; host: string; port: number }> = [];
    if (config.http !== null) {
      const t = transport;
      const tx = transactions;
      admin = await createAdminServer({
        core: adaptCoreFacade(core),
        logger,
        host: config.http.host,
        port: config.http.port,
        tokens: config.api.tokens,
        ...(metrics !== undefined && { metrics }),
        stats: {
          transport: () => t.stats(),
          transaction: () => tx.stats(),
          store: () => store.stats(),
          proxy: () => proxy.metricsStats(),
          ...accounts.metricsProviders(),
        },
        version: presencedVersion(),
        presRules,
        outbound: outboundSubs,
        webhooks: config.api.webhooks.map(webhookTarget),
        accounts: accounts.adminPort(),
      });
      await admin.start();
      httpAddress.push({ transport: 'http', host: config.http.host, port: Number(new URL(admin.url).port) });
    }

    const addresses = (): Array<{ transport: string; host: string; port: number }> => [
      ...(transport?.addresses() ?? []).map((a) => ({ transport: a.protocol, host: a.address, port: a.port })),
      ...httpAddress,
    ];
    log.info(
      {
        listeners: addresses(),
        addresses: addresses(),
        db: config.db,
        domains: [...(config.domain !== undefined ? [config.domain] : []), ...config.domains],
        serverAddress: serverAddress ?? '(per listener)',
        packages: packages.map((p) => p.name),
      },
      'presenced listening',
    );

    let stopping: Promise<void> | undefined;
    const t = transport;
    const tx = transactions;
    const c = core;
    const a = admin;
    return {
      addresses,
      stop(): Promise<void> {
        stopping ??= (async () => {
          // The API first: event streams end and /ready turns 503 before SIP stops.
          if (a !== undefined) await bounded('admin', a.stop(), log);
          await bounded('outbound subscriptions', outbound.stop(), log);
          // Calls' dialog publications are removed while the core still runs.
          await bounded('proxy', proxy.stop(), log);
          // New requests get 503 from here on; requests already in the core finish and commit.
          gate.close();
          accounts.stop();
          // The core first: it stops its timers and waits for its store writes.
          await bounded('core', c.stop(), log);
          // Then the store, before any transaction is aborted: aborting a NOTIFY still in flight reports a local
          // 503 to the core, which must not turn into a durable "subscription ended" (subscriptions survive
          // restarts). With the store closed such a write is refused and the subscription stays on disk.
          await bounded('store', store.close(), log);
          tx.stop();
          await bounded('transport', t.stop(), log);
          log.info('presenced stopped');
        })();
        return stopping;
      },
    };
  } catch (err) {
    // Release what was acquired, in reverse order, then report the original error.
    if (admin) await admin.stop().catch(() => undefined);
    await outbound.stop().catch(() => undefined);
    await proxy.stop().catch(() => undefined);
    accounts.stop();
    if (core) await core.stop().catch(() => undefined);
    transactions?.stop();
    if (transport) await transport.stop().catch(() => undefined);
    await store.close().catch(() => undefined);
    throw err;
  }
}
