/** Public surface of the admin layer: the management HTTP server and the pieces the composition root wires. */
export { createAdminServer, type AdminServer, type AdminServerDeps } from './admin-server.js';
export { adaptCoreFacade, type CoreFacade } from './core-adapter.js';
export {
  CoreRejection,
  type AdminCore,
  type CoreEvent,
  type CoreStatsView,
  type Page,
  type PresentityEntry,
  type PresentityQuery,
  type PublicationInfo,
  type PublishRequest,
  type StatusSummary,
  type SubscriptionInfo,
  type SubscriptionQuery,
} from './core-port.js';
export { API_ERRORS, ApiError, type ApiErrorCode } from './errors.js';
export { API_EVENT_TYPES, EventHub, type ApiEvent, type ApiEventType, type EventFilter } from './event-hub.js';
export { createMetrics, instrumentStoreWrites, type PresencedMetrics, type PolledMetric } from './metrics.js';
export type { StatsProviders, StatsRecord } from './layer-metrics.js';
export { webhookTarget, type WebhookConfig, type WebhookOptions, type WebhookStats, type WebhookTarget } from './webhooks.js';
export type { SseOptions } from './sse.js';
export type {
  OutboundOutcome,
  OutboundPort,
  OutboundPortEvent,
  OutboundSubscribeRequest,
  OutboundSubscriptionInfo,
} from './outbound-port.js';
export {
  presRulesRoutes,
  parseEntityTags,
  type PresRulesDocuments,
  type PresRulesPreconditions,
  type PresRulesRoutesOptions,
  type PresRulesWriteResult,
} from './routes/pres-rules.js';
export { userRoutes, type AccountsAdmin, type RegistrationItem, type UserItem } from './routes/users.js';
