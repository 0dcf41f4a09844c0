/** GET /events: the Server-Sent Events stream of API events, filterable. */
import { z } from 'zod';
import type { AdminContext } from '../context.js';
import { ApiError } from '../errors.js';
import type { EventFilter } from '../event-hub.js';
import { commaList, EventName, EventType, UriGlob } from '../inputs.js';
import { globMatcher } from '../uri-pattern.js';
import { errorResponses } from '../zod-route.js';

const LastId = z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

export function eventRoutes(ctx: AdminContext): void {
  ctx.route({
    method: 'GET',
    url: '/events',
    operationId: 'events',
    summary: 'Server-Sent Events: publish, unpublish, exposed, subscription-created, subscription-terminated, notify-failed.',
    description:
      'Each frame has `id` (use as Last-Event-ID to resume), `event` (the type) and `data` (the event as JSON). ' +
      'A `resync` event means events were missed: reload state.',
    tags: ['events'],
    querystring: z.strictObject({
      type: commaList(EventType).optional().describe('Comma-separated event types; all when absent.'),
      event: commaList(EventName).optional().describe('Comma-separated event packages; all when absent.'),
      presentity: UriGlob.optional(),
      lastEventId: LastId.optional().describe('Resume after this id (same as the Last-Event-ID header).'),
    }),
    responses: {
      200: { description: 'The event stream.', contentType: 'text/event-stream' },
      ...errorResponses(400, 401, 429),
    },
    handler: (input, request, reply) => {
      const q = input.query;
      const filter: EventFilter = {
        types: q.type === undefined || q.type.length === 0 ? null : new Set(q.type),
        events: q.event === undefined || q.event.length === 0 ? null : new Set(q.event),
        presentity: q.presentity === undefined ? null : globMatcher(q.presentity),
      };
      let lastId = q.lastEventId;
      const header = request.headers['last-event-id'];
      if (lastId === undefined && typeof header === 'string' && header !== '') {
        const parsed = LastId.safeParse(header);
        if (!parsed.success) throw new ApiError('API_ERR_BAD_REQUEST', 'Last-Event-ID: expected an event id');
        lastId = parsed.data;
      }
      if (!ctx.sse.hasRoom()) {
        throw new ApiError('API_ERR_TOO_MANY_STREAMS', 'too many event streams are open; try again later');
      }
      // The broker owns the response from here on.
      reply.hijack();
      ctx.sse.open(request.raw, reply.raw, filter, lastId);
    },
  });
}
