/**
 * The SIP side of presenced composed for proxy tests: real UDP/TCP listeners on 127.0.0.1, the transaction
 * layer, the method router with the stateful proxy, the presence core (memory store) with the presence and
 * dialog packages, and the dialog-info publisher. The location service is a map the test fills (the
 * registrar's bindings), so calls can be tested without REGISTER.
 */
import { pino } from 'pino';
import { PresenceCore } from '../../src/core/index.js';
import { createDialogPackage } from '../../src/packages/dialog/index.js';
import { createPresencePackage } from '../../src/packages/presence/index.js';
import type { ProxyBinding, ProxyLocation } from '../../src/proxy/index.js';
import { MethodRouter, type MethodHandler } from '../../src/server/index.js';
import { ProxyWiring, type ProxySettings } from '../../src/server/proxy-wiring.js';
import { MemoryStore } from '../../src/store/index.js';
import { systemClock, TransactionLayer } from '../../src/transaction/index.js';
import { TransportLayer } from '../../src/transport/index.js';

export const DOMAIN = 'example.com';

export interface ProxyStack {
  readonly udpPort: number;
  readonly tcpPort: number;
  /** AOR ("sip:bob@example.com") -> bindings; edit freely. */
  readonly bindings: Map<string, ProxyBinding[]>;
  /** Known users without bindings answer 480, unknown ones 404. */
  readonly users: Set<string>;
  readonly wiring: ProxyWiring;
  readonly transactions: TransactionLayer;
  readonly core: PresenceCore;
  stop(): Promise<void>;
}

export async function startProxyStack(settings: Partial<ProxySettings> = {}, domains: readonly string[] = [DOMAIN]): Promise<ProxyStack> {
  const logger = pino({ level: process.env['PRESENCED_TEST_LOG'] ?? 'silent' });
  const transport = new TransportLayer({
    listen: [
      { transport: 'udp', host: '127.0.0.1', port: 0 },
      { transport: 'tcp', host: '127.0.0.1', port: 0 },
    ],
    logger,
  });
  const wiring = new ProxyWiring({ enabled: true, publishDialogs: true, dialogTerminatedLingerMs: 300, ...settings }, logger);
  let core: PresenceCore | undefined;
  const unavailable: MethodHandler = () => {
    throw new Error('core not started');
  };
  const handlers = new Map<string, MethodHandler>([
    ['PUBLISH', (tx) => (core === undefined ? unavailable(tx) : core.handlePublish(tx))],
    ['SUBSCRIBE', (tx) => (core === undefined ? unavailable(tx) : core.handleSubscribe(tx))],
  ]);
  const router = new MethodRouter({
    handlers,
    allowEvents: () => core?.allowEvents() ?? [],
    acceptedTypes: () => core?.acceptedTypes() ?? [],
    supported: [],
    logger,
    ...(wiring.route !== undefined ? { proxy: wiring.route } : {}),
  });
  const transactions = new TransactionLayer(transport, router, { logger, serverHeader: 'presenced/test', supported: [], clock: systemClock });
  await transport.start();
  const bound = transport.addresses();
  const udpPort = bound.find((a) => a.protocol === 'udp')!.port;
  const tcpPort = bound.find((a) => a.protocol === 'tcp')!.port;
  core = new PresenceCore({
    store: new MemoryStore(),
    sender: transactions,
    clock: systemClock,
    logger,
    config: { domains: [...domains], serverAddress: `sip:127.0.0.1:${udpPort}` },
    packages: [createPresencePackage({}), createDialogPackage()],
  });
  await core.start();
  const bindings = new Map<string, ProxyBinding[]>();
  const users = new Set<string>();
  const location: ProxyLocation = {
    lookup: (aor) => {
      const b = bindings.get(aor);
      if (b !== undefined && b.length > 0) return b;
      return users.has(aor) ? [] : undefined;
    },
  };
  const c = core;
  wiring.open({ transactions, network: transport, location, clock: systemClock, core: c, domains, localHosts: [] });
  return {
    udpPort,
    tcpPort,
    bindings,
    users,
    wiring,
    transactions,
    core: c,
    async stop() {
      await wiring.stop();
      await c.stop();
      transactions.stop();
      await transport.stop();
    },
  };
}
