/**
 * Management actions, the OpenSIPS MI equivalents: refreshWatchers, cleanup, pres_expose, pua_publish,
 * and the server statistics.
 */
import { z } from 'zod';
import type { AdminContext } from '../context.js';
import { CoreRejection } from '../core-port.js';
import { ApiError } from '../errors.js';
import { EventName, Uri } from '../inputs.js';
import { splitAor } from '../uri-pattern.js';
import { errorResponses } from '../zod-route.js';
import { UriParams } from './presentities.js';

const MAX_BODY = 64 * 1024;
const MAX_EXPIRES = 365 * 24 * 3600;

const MediaType = z
  .string()
  .max(128)
  .regex(/^[A-Za-z0-9!#$&^_.+-]+\/[A-Za-z0-9!#$&^_.+-]+( *; *[A-Za-z0-9!#$&^_.+-]+=("[^"\\\r\n]*"|[A-Za-z0-9!#$&^_.+-]+))*$/, {
    error: 'expected a media type such as application/pidf+xml',
  });

const PublishBody = z
  .strictObject({
    presentity: Uri,
    event: EventName.default('presence'),
    expires: z
      .number({ error: 'expected a number of seconds' })
      .int({ error: 'expected a whole number of seconds' })
      .min(0, { error: 'expected seconds >= 0' })
      .max(MAX_EXPIRES)
      .default(3600)
      .describe('Seconds; the server lowers it to its maximum (maxExpiresPublish). 0 removes the publication named by etag.'),
    contentType: MediaType.optional().describe('Required with a body.'),
    body: z.string().max(MAX_BODY, { error: `body larger than ${MAX_BODY} characters` }).optional(),
    etag: z
      .string()
      .min(1)
      .max(128)
      .regex(/^[\x21-\x7e]+$/, { error: 'expected an entity-tag as returned by a previous publish' })
      .optional()
      .describe('Entity-tag of the publication to refresh, modify or remove (RFC 3903 SIP-If-Match).'),
    sender: z
      .string()
      .max(512)
      .regex(/^sips?:[\x21-\x7e]+$/i, { error: 'expected a SIP URI such as sip:200@192.0.2.10' })
      .optional()
      .describe(
        'The publishing device, as a SIP PUBLISH\'s Sender header would name it (OpenSIPS pua_mi sender): dialog;sla does not notify the subscription whose Contact it is of its own change.',
      ),
  })
  .superRefine((b, ctx) => {
    // RFC 3903 section 4: initial = body without etag; refresh = etag without body; modify = both; remove = etag, expires 0.
    if (b.etag === undefined && b.body === undefined) {
      ctx.addIssue({ code: 'custom', path: ['body'], message: 'an initial publication needs a body (or give etag to refresh)' });
    }
    if (b.body !== undefined && b.contentType === undefined) {
      ctx.addIssue({ code: 'custom', path: ['contentType'], message: 'required with a body' });
    }
    if (b.expires === 0 && b.etag === undefined) {
      ctx.addIssue({ code: 'custom', path: ['etag'], message: 'expires 0 removes a publication: give its etag' });
    }
    if (b.expires === 0 && b.body !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['body'], message: 'a removal (expires 0) carries no body' });
    }
  });

function rejection(error: unknown): never {
  if (!(error instanceof CoreRejection)) throw error;
  const s = error.sipStatus;
  if (s === 412) throw new ApiError('API_ERR_ETAG_MISMATCH', error.message);
  if (s === 489) throw new ApiError('API_ERR_UNKNOWN_EVENT', `the event package does not accept publications (${error.message})`);
  if (s === 503) throw new ApiError('API_ERR_NOT_READY', error.message);
  if (s === 415) throw new ApiError('API_ERR_UNSUPPORTED_MEDIA_TYPE', error.message);
  if (s === 404) throw new ApiError('API_ERR_NOT_FOUND', error.message);
  if (s >= 400 && s < 500) throw new ApiError('API_ERR_BAD_REQUEST', error.message);
  throw new ApiError('API_ERR_INTERNAL', error.message, { cause: error });
}

export function actionRoutes(ctx: AdminContext): void {
  // Whether a package takes publications is the core's decision (489 from publish, mapped to 422).
  const knownEvent = (event: string): void => {
    if (!ctx.core.eventPackages().includes(event)) {
      throw new ApiError('API_ERR_UNKNOWN_EVENT', `unknown event package ${event} (known: ${ctx.core.eventPackages().join(', ')})`);
    }
  };

  ctx.route({
    method: 'POST',
    url: '/api/presentities/:uri/refresh',
    operationId: 'refreshWatchers',
    summary: "Re-send NOTIFY to a presentity's watchers (OpenSIPS refreshWatchers).",
    description:
      'type 0: the authorization rules changed, so each watcher is re-authorized before its NOTIFY; ' +
      'type 1: the stored state changed behind the server\'s back, so the state is recomposed and sent.',
    tags: ['actions'],
    params: UriParams,
    body: z.strictObject({
      event: EventName.default('presence'),
      type: z.union([z.literal(0), z.literal(1)], { error: 'expected 0 (rules changed) or 1 (state changed)' }).default(1),
    }),
    responses: {
      200: { description: 'Watchers notified.', schema: z.object({ notified: z.number().int() }) },
      ...errorResponses(400, 401, 422),
    },
    handler: async ({ params, body }) => {
      knownEvent(body.event);
      try {
        const r = await ctx.core.refreshWatchers(params.uri, body.event, body.type);
        return { notified: r.notified };
      } catch (error) {
        rejection(error);
      }
    },
  });

  ctx.route({
    method: 'POST',
    url: '/api/cleanup',
    operationId: 'cleanup',
    summary: 'Run the expiry clean-up now (OpenSIPS cleanup).',
    tags: ['actions'],
    responses: {
      200: {
        description: 'What was removed.',
        schema: z.object({ publications: z.number().int(), subscriptions: z.number().int() }),
      },
      ...errorResponses(401),
    },
    handler: async () => {
      const r = await ctx.core.cleanup();
      return { publications: r.publications, subscriptions: r.subscriptions };
    },
  });

  ctx.route({
    method: 'POST',
    url: '/api/expose',
    operationId: 'expose',
    summary: 'Emit an `exposed` event for every publication whose presentity URI matches (OpenSIPS pres_expose).',
    tags: ['actions'],
    body: z.strictObject({
      event: EventName.default('presence'),
      filter: z
        .string()
        .max(256, { error: 'filter longer than 256 characters' })
        .optional()
        .describe('Regular expression (JavaScript syntax, case-insensitive) tested against presentity URIs; all when absent.'),
    }),
    responses: {
      200: { description: 'Events emitted.', schema: z.object({ exposed: z.number().int() }) },
      ...errorResponses(400, 401, 422),
    },
    handler: async ({ body }) => {
      knownEvent(body.event);
      let re: RegExp | undefined;
      if (body.filter !== undefined) {
        // A quantified group that itself contains a quantifier ((a+)+, (x|x*)*) can backtrack exponentially
        // on a long URI and stall the event loop; such patterns are never needed to select URIs.
        if (/\((?:[^()\\]|\\.)*(?:[+*]|\{\d)(?:[^()\\]|\\.)*\)(?:[+*]|\{\d+,)/.test(body.filter)) {
          throw new ApiError('API_ERR_BAD_REQUEST', 'body.filter: nested quantifiers such as (a+)+ are not accepted');
        }
        try {
          re = new RegExp(body.filter, 'i');
        } catch (error) {
          throw new ApiError('API_ERR_BAD_REQUEST', `body.filter: ${(error as Error).message}`);
        }
      }
      const match = re === undefined ? undefined : (uri: string): boolean => re.test(uri);
      let exposed = 0;
      const pageSize = 500;
      // Bounded walk: the core's own presentity count bounds the pages.
      for (let offset = 0; ; offset += pageSize) {
        const page = await ctx.core.listPresentities({ event: body.event, ...(match && { match }), limit: pageSize, offset });
        const now = ctx.now();
        for (const entry of page.items) {
          for (const p of entry.publications) {
            ctx.hub.emit({
              type: 'exposed',
              presentity: entry.presentity,
              event: entry.event,
              ...splitAor(entry.presentity),
              etag: p.etag,
              expires: Math.max(0, Math.round((p.expiresAt - now) / 1000)),
              expiresAt: new Date(p.expiresAt).toISOString(),
              contentType: p.contentType,
              body: p.body,
              sender: p.sender ?? null,
            });
            exposed++;
          }
        }
        if (page.items.length < pageSize || offset + pageSize >= page.total) break;
      }
      return { exposed };
    },
  });

  ctx.route({
    method: 'POST',
    url: '/api/publish',
    operationId: 'publish',
    summary: 'Publish on behalf of a presentity (OpenSIPS pua_publish): stored and notified exactly as a SIP PUBLISH.',
    description:
      'Without etag: an initial publication (body and contentType required). With etag: refresh (no body), ' +
      'modify (body), or remove (expires 0). Answers the new entity-tag, to pass as etag next time (RFC 3903).',
    tags: ['presentities'],
    body: PublishBody,
    responses: {
      200: {
        description: 'Accepted; the entity-tag and granted expiry.',
        schema: z.object({ etag: z.string(), expires: z.number().int() }),
      },
      ...errorResponses(400, 401, 412, 415, 422),
    },
    handler: async ({ body }) => {
      knownEvent(body.event);
      try {
        const r = await ctx.core.publish({
          presentity: body.presentity,
          event: body.event,
          expires: body.expires,
          contentType: body.contentType,
          body: body.body,
          etag: body.etag,
          sender: body.sender,
        });
        return { etag: r.etag, expires: r.expires };
      } catch (error) {
        rejection(error);
      }
    },
  });

  ctx.route({
    method: 'GET',
    url: '/api/stats',
    operationId: 'stats',
    summary: 'Server statistics: core, transport, transactions, store, and the API itself.',
    tags: ['actions'],
    responses: {
      200: { description: 'Counters by layer.', schema: z.record(z.string(), z.unknown()) },
      ...errorResponses(401),
    },
    handler: () => ctx.statsSnapshot(),
  });
}
