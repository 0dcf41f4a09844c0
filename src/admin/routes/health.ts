/** Liveness, readiness, metrics and the OpenAPI document: open routes, for probes and scrapers. */
import { z } from 'zod';
import type { AdminContext } from '../context.js';
import { ApiError } from '../errors.js';
import { errorResponses } from '../zod-route.js';

const Health = z.object({ status: z.literal('ok'), uptime: z.number().describe('Seconds since the process started.') });
const Ready = z.object({ status: z.enum(['ready', 'not-ready']) });

export function healthRoutes(ctx: AdminContext): void {
  ctx.route({
    method: 'GET',
    url: '/health',
    operationId: 'health',
    summary: 'Liveness: the process answers HTTP.',
    tags: ['health'],
    open: true,
    responses: { 200: { description: 'Alive.', schema: Health } },
    handler: () => ({ status: 'ok' as const, uptime: Math.round(process.uptime()) }),
  });

  ctx.route({
    method: 'GET',
    url: '/ready',
    operationId: 'ready',
    summary: 'Readiness: the presence core has loaded its state and the SIP listeners are up.',
    tags: ['health'],
    open: true,
    responses: { 200: { description: 'Ready.', schema: Ready }, ...errorResponses(503) },
    handler: () => {
      if (!ctx.isReady()) throw new ApiError('API_ERR_NOT_READY', 'presenced is starting or stopping');
      return { status: 'ready' as const };
    },
  });

  ctx.route({
    method: 'GET',
    url: '/metrics',
    operationId: 'metrics',
    summary: 'Prometheus metrics (text exposition format 0.0.4).',
    tags: ['health'],
    open: true,
    responses: { 200: { description: 'Metrics.', contentType: 'text/plain' } },
    handler: async (_input, _req, reply) => {
      const text = await ctx.metrics.render();
      return reply.header('content-type', ctx.metrics.contentType).send(text);
    },
  });
}
