/** Published state: list (OpenSIPS pres_phtable_list) and one presentity's live publications. */
import { z } from 'zod';
import type { AdminContext } from '../context.js';
import { ApiError } from '../errors.js';
import { Domain, EventName, Limit, Offset, QueryBool, Uri, UriGlob } from '../inputs.js';
import { globMatcher } from '../uri-pattern.js';
import { PresentityDetail, PresentityList, presentityDetail, presentityItem } from '../views.js';
import { errorResponses } from '../zod-route.js';

export const UriParams = z.strictObject({ uri: Uri });

export function presentityRoutes(ctx: AdminContext): void {
  ctx.route({
    method: 'GET',
    url: '/api/presentities',
    operationId: 'listPresentities',
    summary: 'List presentities with live publications, one item per presentity and event package.',
    tags: ['presentities'],
    querystring: z.strictObject({
      event: EventName.optional(),
      domain: Domain.optional(),
      uri: UriGlob.optional(),
      bodies: QueryBool.default(false).describe('Include publication bodies.'),
      limit: Limit,
      offset: Offset,
    }),
    responses: { 200: { description: 'One page of presentities.', schema: PresentityList }, ...errorResponses(400, 401) },
    handler: async ({ query }) => {
      const page = await ctx.core.listPresentities({
        ...(query.event !== undefined && { event: query.event }),
        ...(query.domain !== undefined && { domain: query.domain }),
        ...(query.uri !== undefined && { match: globMatcher(query.uri) }),
        limit: query.limit,
        offset: query.offset,
      });
      const now = ctx.now();
      return {
        items: page.items.map((e) => presentityItem(e, now, query.bodies)),
        total: page.total,
        limit: query.limit,
        offset: query.offset,
      };
    },
  });

  ctx.route({
    method: 'GET',
    url: '/api/presentities/:uri',
    operationId: 'getPresentity',
    summary: 'One presentity: its live publications (bodies, ETags, expiry) per event package.',
    tags: ['presentities'],
    params: UriParams,
    querystring: z.strictObject({ event: EventName.optional() }),
    responses: {
      200: { description: 'The presentity.', schema: PresentityDetail },
      ...errorResponses(400, 401, 404),
    },
    handler: async ({ params, query }) => {
      const entries = await ctx.core.getPresentity(params.uri, query.event);
      if (entries.length === 0) {
        const what = query.event === undefined ? '' : ` in event package ${query.event}`;
        throw new ApiError('API_ERR_NOT_FOUND', `no presentity ${params.uri}${what}`);
      }
      return presentityDetail(params.uri, entries, ctx.now());
    },
  });
}
