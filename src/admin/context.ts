/** What every route module receives: the collaborators of the admin server, nothing global. */
import type { Logger } from '../observability/index.js';
import type { AdminCore } from './core-port.js';
import type { EventHub } from './event-hub.js';
import type { OutboundPort } from './outbound-port.js';
import type { PresencedMetrics } from './metrics.js';
import type { SseBroker } from './sse.js';
import type { RouteSpec } from './zod-route.js';
import type { z } from 'zod';

export interface AdminContext {
  readonly core: AdminCore;
  /** Subscriptions held on behalf of watchers (POST /api/subscribe); absent when the server has none. */
  readonly outbound: OutboundPort | undefined;
  readonly hub: EventHub;
  readonly metrics: PresencedMetrics;
  readonly sse: SseBroker;
  readonly logger: Logger;
  /** Wall clock, Unix epoch milliseconds. */
  readonly now: () => number;
  isReady(): boolean;
  /** Every layer's stats() for GET /api/stats. */
  statsSnapshot(): Record<string, unknown>;
  route<P extends z.ZodType, Q extends z.ZodType, B extends z.ZodType>(spec: RouteSpec<P, Q, B>): void;
}
