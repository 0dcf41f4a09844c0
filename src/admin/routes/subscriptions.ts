/** Watchers: list (OpenSIPS subs_phtable_list) and one subscription's dialog details. */
import { z } from 'zod';
import type { AdminContext } from '../context.js';
import { ApiError } from '../errors.js';
import { EventName, Limit, Offset, Uri } from '../inputs.js';
import { SubscriptionDetail, SubscriptionList, subscriptionDetail, subscriptionItem } from '../views.js';
import { errorResponses } from '../zod-route.js';

export function subscriptionRoutes(ctx: AdminContext): void {
  ctx.route({
    method: 'GET',
    url: '/api/subscriptions',
    operationId: 'listSubscriptions',
    summary: 'List subscriptions, optionally of one presentity, package, watcher or status.',
    tags: ['subscriptions'],
    querystring: z.strictObject({
      presentity: Uri.optional(),
      event: EventName.optional(),
      watcher: Uri.optional(),
      status: z.enum(['pending', 'active', 'terminated', 'waiting'], { error: 'expected pending, active, terminated or waiting' }).optional(),
      limit: Limit,
      offset: Offset,
    }),
    responses: { 200: { description: 'One page of subscriptions.', schema: SubscriptionList }, ...errorResponses(400, 401) },
    handler: async ({ query }) => {
      const page = await ctx.core.listSubscriptions({
        ...(query.presentity !== undefined && { presentity: query.presentity }),
        ...(query.event !== undefined && { event: query.event }),
        ...(query.watcher !== undefined && { watcher: query.watcher }),
        ...(query.status !== undefined && { status: query.status }),
        limit: query.limit,
        offset: query.offset,
      });
      const now = ctx.now();
      return {
        items: page.items.map((s) => subscriptionItem(s, now)),
        total: page.total,
        limit: query.limit,
        offset: query.offset,
      };
    },
  });

  ctx.route({
    method: 'GET',
    url: '/api/subscriptions/:id',
    operationId: 'getSubscription',
    summary: 'One subscription with its dialog state (RFC 3261 section 12) and delivery flow.',
    tags: ['subscriptions'],
    params: z.strictObject({
      id: z.string().min(1).max(1024).describe('Subscription id as listed (percent-encoded in the path).'),
    }),
    responses: {
      200: { description: 'The subscription.', schema: SubscriptionDetail },
      ...errorResponses(400, 401, 404),
    },
    handler: async ({ params }) => {
      const s = await ctx.core.getSubscription(params.id);
      if (s === undefined) throw new ApiError('API_ERR_NOT_FOUND', `no subscription ${params.id}`);
      return subscriptionDetail(s, ctx.now());
    },
  });
}
