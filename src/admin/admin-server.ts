/**
 * The management HTTP server: JSON API, OpenAPI document, Prometheus metrics, event stream, webhooks and the
 * dashboard, on one fastify instance. It talks to the presence core only through the core facade.
 */
import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyReply } from 'fastify';
import swagger from '@fastify/swagger';
import type { Logger } from '../observability/index.js';
import { bearerChecker, hostChecker } from './auth.js';
import type { AdminContext } from './context.js';
import { bridgeDomainEvents, type AdminCore } from './core-port.js';
import { ApiError, errorBody } from './errors.js';
import { EventHub } from './event-hub.js';
import { createMetrics, type PresencedMetrics } from './metrics.js';
import { registerLayerMetrics, statsSnapshot, type StatsProviders } from './layer-metrics.js';
import { SseBroker, type SseOptions } from './sse.js';
import { WebhookDispatcher, type WebhookOptions, type WebhookTarget } from './webhooks.js';
import { zodRoutes } from './zod-route.js';
import { healthRoutes } from './routes/health.js';
import { presentityRoutes } from './routes/presentities.js';
import { subscriptionRoutes } from './routes/subscriptions.js';
import { actionRoutes } from './routes/actions.js';
import { eventRoutes } from './routes/events.js';
import { dashboardRoutes } from './dashboard/routes.js';
import { userRoutes, type AccountsAdmin } from './routes/users.js';
import { presRulesRoutes, type PresRulesDocuments } from './routes/pres-rules.js';
import { subscribeRoutes } from './routes/subscribe.js';
import { bridgeOutboundEvents, type OutboundPort } from './outbound-port.js';

const MAX_PARAM_LENGTH = 1024;

export interface AdminServerDeps {
  readonly core: AdminCore;
  readonly logger: Logger;
  readonly host: string;
  readonly port: number;
  /** Bearer tokens (config api.tokens); empty: no authentication. */
  readonly tokens: readonly string[];
  /** stats() of the lower layers, read at scrape time. */
  readonly stats?: StatsProviders;
  /** Pass one to share it with the composition root (store write latency); created otherwise. */
  readonly metrics?: PresencedMetrics;
  readonly webhooks?: readonly WebhookTarget[];
  readonly webhookOptions?: WebhookOptions;
  readonly sse?: SseOptions;
  /** Readiness of the rest of the server (the core has loaded, SIP listeners are bound). Default: always. */
  readonly ready?: () => boolean;
  /** Wall clock, Unix epoch milliseconds. */
  readonly now?: () => number;
  /** Version shown in the OpenAPI document. */
  readonly version?: string;
  /** Largest request body accepted, bytes. */
  readonly bodyLimit?: number;
  /** SIP users and registrations: serves /api/users and /api/registrations (routes/users.ts). */
  readonly accounts?: AccountsAdmin;
  /** pres-rules documents: serves the XCAP-style /xcap-root/pres-rules/... routes (routes/pres-rules.ts). */
  readonly presRules?: PresRulesDocuments;
  /** Subscriptions held on behalf of watchers: serves /api/subscribe and turns each NOTIFY into a notify-in event. */
  readonly outbound?: OutboundPort;
}

export interface AdminServer {
  /** Binds the listener; resolves with the base URL (http://HOST:PORT, the real port when 0 was asked). */
  start(): Promise<string>;
  /** Ends event streams and webhooks, closes the listener. Idempotent. */
  stop(): Promise<void>;
  /** Base URL once started; empty before. */
  readonly url: string;
  /** The fastify instance, for `inject()` in tests. */
  readonly app: FastifyInstance;
  readonly hub: EventHub;
  readonly metrics: PresencedMetrics;
  webhookStats(): ReturnType<WebhookDispatcher['stats']>;
}

export async function createAdminServer(deps: AdminServerDeps): Promise<AdminServer> {
  const logger = deps.logger.child({ layer: 'admin' });
  const now = deps.now ?? Date.now;
  const metrics = deps.metrics ?? createMetrics();
  const hub = new EventHub({
    now,
    onListenerError: (error) => logger.error({ err: error }, 'event listener failed'),
  });
  hub.subscribe((e) => metrics.countEvent(e.type, e.event));
  const sse = new SseBroker(hub, deps.sse);
  const webhooks = new WebhookDispatcher(hub, deps.webhooks ?? [], {
    ...deps.webhookOptions,
    userAgent: `presenced/${deps.version ?? '0'}`,
    onGiveUp: (info) => {
      logger.warn(info, 'webhook delivery given up');
      deps.webhookOptions?.onGiveUp?.(info);
    },
  });
  const own = { sse, webhooks, hub };
  const outboundPort = deps.outbound;
  const providers: StatsProviders = {
    ...deps.stats,
    ...(outboundPort !== undefined && { outbound: () => outboundPort.stats() }),
  };
  registerLayerMetrics(metrics, deps.core, providers, own);

  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    // Each request would otherwise log two info lines; errors are logged by the error handler.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: deps.bodyLimit ?? 256 * 1024,
    // Ends keep-alive connections on close so stop() does not wait for idle browsers.
    forceCloseConnections: true,
    return503OnClosing: true,
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: MAX_PARAM_LENGTH },
    // Errors raised before routing (bad percent-encoding, over-long parameters) in the API's own format.
    frameworkErrors: (error, _request, reply) => {
      const api =
        error.code === 'FST_ERR_MAX_PARAM_LENGTH'
          ? new ApiError('API_ERR_URI_TOO_LONG', `a path parameter is longer than ${MAX_PARAM_LENGTH} characters`)
          : new ApiError('API_ERR_BAD_REQUEST', 'malformed URL (check the percent-encoding)');
      void (reply as FastifyReply).status(api.status).type('application/json').send(errorBody(api.code, api.message));
    },
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'presenced management API',
        version: deps.version ?? '0.0.0',
        description:
          'Manage the presence server: inspect presentities and subscriptions, publish on behalf of a presentity, ' +
          're-notify watchers, run the expiry clean-up, and follow events.',
      },
      components: {
        securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer' } },
      },
      security: [{ bearerAuth: [] }],
      tags: [
        { name: 'presentities', description: 'Published state (OpenSIPS pres_phtable_list, pua_publish).' },
        { name: 'subscriptions', description: 'Watchers (OpenSIPS subs_phtable_list).' },
        { name: 'actions', description: 'refreshWatchers, cleanup, pres_expose.' },
        { name: 'events', description: 'Server-Sent Events stream.' },
        { name: 'users', description: 'SIP users (digest credentials) and registrations.' },
        { name: 'health', description: 'Probes, metrics and this document.' },
      ],
    },
  });

  // The API speaks JSON only; fastify's default text/plain parser would let a string reach the validators.
  app.removeContentTypeParser('text/plain');
  const routes = zodRoutes(app);
  const check = bearerChecker(deps.tokens);
  let started = false;
  let stopping = false;

  if (check === null) {
    const hostOk = hostChecker(deps.host);
    app.addHook('onRequest', async (request) => {
      if (!hostOk(request.headers.host)) {
        throw new ApiError(
          'API_ERR_FORBIDDEN_HOST',
          'this Host is accepted only with authentication: configure api.tokens, or use an IP address or localhost',
        );
      }
    });
  } else {
    app.addHook('onRequest', async (request, reply) => {
      const url = request.routeOptions.url;
      if (url !== undefined && routes.isOpen(request.method, url)) return;
      const result = check(request.headers.authorization);
      if (result === 'ok') return;
      void reply.header('www-authenticate', result === 'missing' ? 'Bearer' : 'Bearer error="invalid_token"');
      throw new ApiError(
        'API_ERR_UNAUTHORIZED',
        result === 'missing' ? 'a bearer token is required (Authorization: Bearer TOKEN)' : 'invalid bearer token',
      );
    });
  }

  app.setErrorHandler((error: FastifyError | ApiError, request, reply) => {
    const api = toApiError(error);
    if (api.status >= 500) logger.error({ err: error, url: request.url, method: request.method }, 'request failed');
    return reply.status(api.status).type('application/json').send(errorBody(api.code, api.message));
  });
  app.setNotFoundHandler((request, reply) =>
    reply
      .status(404)
      .type('application/json')
      .send(errorBody('API_ERR_NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0]}`)),
  );

  const ctx: AdminContext = {
    core: deps.core,
    outbound: deps.outbound,
    hub,
    metrics,
    sse,
    logger,
    now,
    isReady: () => started && !stopping && (deps.ready?.() ?? true),
    route: routes.route,
    statsSnapshot: () => statsSnapshot(deps.core, providers, own),
  };
  healthRoutes(ctx);
  presentityRoutes(ctx);
  subscriptionRoutes(ctx);
  actionRoutes(ctx);
  subscribeRoutes(ctx);
  eventRoutes(ctx);
  dashboardRoutes(ctx);
  if (deps.accounts !== undefined) userRoutes(ctx, deps.accounts);
  if (deps.presRules !== undefined) await app.register(presRulesRoutes, { documents: deps.presRules });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  routes.markOpen('GET', '/openapi.json');

  const unbridge = bridgeDomainEvents(deps.core, hub, now, (error) =>
    logger.error({ err: error }, 'domain event could not be mapped'),
  );
  const unbridgeOutbound = deps.outbound === undefined ? () => {} : bridgeOutboundEvents(deps.outbound, hub);

  let url = '';
  let stopped: Promise<void> | undefined;
  return {
    async start() {
      const address = await app.listen({ host: deps.host, port: deps.port });
      const addr = app.server.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : deps.port;
      const host = deps.host.includes(':') ? `[${deps.host}]` : deps.host;
      url = `http://${host}:${port}`;
      started = true;
      logger.info({ url: address }, 'HTTP API listening');
      return url;
    },
    stop() {
      stopped ??= (async () => {
        stopping = true;
        unbridge();
        unbridgeOutbound();
        webhooks.stop();
        sse.closeAll();
        await app.close();
      })();
      return stopped;
    },
    get url() {
      return url;
    },
    app,
    hub,
    metrics,
    webhookStats: () => webhooks.stats(),
  };
}

/** Maps anything thrown in a request to the API's error vocabulary. */
function toApiError(error: FastifyError | ApiError | Error): ApiError {
  if (error instanceof ApiError) return error;
  const fe = error as Partial<FastifyError>;
  switch (fe.code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new ApiError('API_ERR_UNSUPPORTED_MEDIA_TYPE', 'the request body must be application/json');
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new ApiError('API_ERR_PAYLOAD_TOO_LARGE', 'request body too large');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new ApiError('API_ERR_BAD_REQUEST', 'the request body is empty; a JSON object is expected');
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new ApiError('API_ERR_BAD_REQUEST', `invalid JSON: ${error.message}`);
    default:
      break;
  }
  const status = fe.statusCode ?? 500;
  if (status === 413) return new ApiError('API_ERR_PAYLOAD_TOO_LARGE', 'request body too large');
  if (status === 415) return new ApiError('API_ERR_UNSUPPORTED_MEDIA_TYPE', error.message);
  if (status >= 400 && status < 500) return new ApiError('API_ERR_BAD_REQUEST', error.message);
  return new ApiError('API_ERR_INTERNAL', 'internal error', { cause: error });
}
