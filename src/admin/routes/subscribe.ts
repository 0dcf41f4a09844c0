/**
 * Subscribe on behalf of a watcher (OpenSIPS pua_subscribe): presenced holds the subscription as a SIP client,
 * keeps it refreshed, and reports every NOTIFY it receives as a `notify-in` event (SSE and webhooks).
 */
import { z } from 'zod';
import type { AdminContext } from '../context.js';
import { ApiError } from '../errors.js';
import { EventName, Limit, Offset, Uri } from '../inputs.js';
import type { OutboundOutcome, OutboundPort, OutboundSubscriptionInfo } from '../outbound-port.js';
import { errorResponses } from '../zod-route.js';

const MAX_EXPIRES = 86_400;

const SipUri = z
  .string()
  .min(1)
  .max(512, { error: 'URI longer than 512 characters' })
  .regex(/^sips?:[\x21-\x7e]+$/i, { error: 'expected a sip: or sips: URI' });

const MediaType = z
  .string()
  .max(128)
  .regex(/^[A-Za-z0-9!#$&^_.+-]+\/[A-Za-z0-9!#$&^_.+-]+$/, { error: 'expected a media type such as application/pidf+xml' });

const SubscribeBody = z.strictObject({
  presentity: SipUri.describe('The resource to subscribe to (Request-URI and To of the SUBSCRIBE).'),
  watcher: SipUri.describe('Who presenced subscribes as (From of the SUBSCRIBE).'),
  event: EventName.default('presence'),
  expires: z
    .number({ error: 'expected a number of seconds' })
    .int({ error: 'expected a whole number of seconds' })
    .min(1, { error: 'expected seconds >= 1' })
    .max(MAX_EXPIRES, { error: `expected seconds <= ${MAX_EXPIRES}` })
    .default(3600)
    .describe('Requested duration, seconds; refreshed before it ends, for as long as the subscription is kept.'),
  target: SipUri.optional().describe(
    'Next hop for every request of the subscription (sip:host:port, ;transport=tcp for TCP). Default: presenced itself for its own domains, else the presentity URI host.',
  ),
  accept: z.array(MediaType).max(8).optional().describe('Accept header values; default the package\'s usual body type.'),
});

const Dialog = z
  .object({
    callId: z.string(),
    localTag: z.string(),
    remoteTag: z.string(),
    remoteTarget: z.string().describe("The notifier's Contact: Request-URI of our refreshes."),
    routeSet: z.array(z.string()),
    localSeq: z.number().int(),
    remoteSeq: z.number().int().describe('CSeq of the last NOTIFY (-1: none yet).'),
  })
  .nullable()
  .describe('The current dialog (RFC 3261 section 12), null between attempts.');

export const OutboundView = z.object({
  id: z.string(),
  presentity: z.string(),
  watcher: z.string(),
  event: z.string(),
  target: z.string().nullable(),
  expires: z.number().int().describe('Requested duration, seconds.'),
  state: z
    .enum(['subscribing', 'pending', 'active', 'waiting', 'unsubscribing', 'terminated'])
    .describe(
      'subscribing: SUBSCRIBE sent, no NOTIFY yet; pending/active: as the last NOTIFY said; waiting: a new attempt is scheduled; unsubscribing: Expires 0 sent; terminated: refused for good, not retried.',
    ),
  reason: z.string().nullable().describe('Reason of the last Subscription-State.'),
  grantedExpires: z.number().int().nullable(),
  expiresAt: z.string().nullable(),
  createdAt: z.string(),
  notifies: z.number().int().describe('NOTIFYs received.'),
  lastNotifyAt: z.string().nullable(),
  lastError: z.string().nullable(),
  failures: z.number().int().describe('Failed attempts in a row (the back-off grows with them).'),
  dialog: Dialog,
});

const OutboundList = z.object({
  items: z.array(OutboundView),
  total: z.number().int(),
  limit: z.number().int(),
  offset: z.number().int(),
});

const iso = (ms: number | undefined): string | null => (ms === undefined ? null : new Date(ms).toISOString());

export function outboundView(s: OutboundSubscriptionInfo): z.infer<typeof OutboundView> {
  const d = s.dialog;
  return {
    id: s.id,
    presentity: s.presentity,
    watcher: s.watcher,
    event: s.event,
    target: s.target ?? null,
    expires: s.expires,
    state: s.state as z.infer<typeof OutboundView>['state'],
    reason: s.reason ?? null,
    grantedExpires: s.grantedExpires ?? null,
    expiresAt: iso(s.expiresAt),
    createdAt: new Date(s.createdAt).toISOString(),
    notifies: s.notifies,
    lastNotifyAt: iso(s.lastNotifyAt),
    lastError: s.lastError ?? null,
    failures: s.failures,
    dialog:
      d === undefined
        ? null
        : {
            callId: d.callId,
            localTag: d.localTag,
            remoteTag: d.remoteTag,
            remoteTarget: d.remoteTarget,
            routeSet: [...d.routeSet],
            localSeq: d.localSeq,
            remoteSeq: d.remoteSeq,
          },
  };
}

function refusal(r: Extract<OutboundOutcome, { ok: false }>): never {
  if (r.status === 400) throw new ApiError('API_ERR_BAD_REQUEST', r.reason);
  if (r.status === 429) throw new ApiError('API_ERR_TOO_MANY_SUBSCRIPTIONS', r.reason);
  if (r.status === 503) throw new ApiError('API_ERR_NOT_READY', r.reason);
  throw new ApiError('API_ERR_INTERNAL', r.reason);
}

const IdParams = z.strictObject({ id: z.string().min(1).max(128).describe('Outbound subscription id as returned by POST /api/subscribe.') });

export function subscribeRoutes(ctx: AdminContext): void {
  const port = (): OutboundPort => {
    if (ctx.outbound === undefined) throw new ApiError('API_ERR_NOT_READY', 'subscribing on behalf of watchers is not available in this server');
    return ctx.outbound;
  };

  ctx.route({
    method: 'POST',
    url: '/api/subscribe',
    operationId: 'subscribe',
    summary: 'Subscribe on behalf of a watcher (OpenSIPS pua_subscribe); each NOTIFY received becomes a notify-in event.',
    description:
      'presenced sends the SUBSCRIBE as a client (to itself over loopback when the presentity is one of its own, ' +
      'else to target), answers the NOTIFYs, refreshes before expiry and re-subscribes when the notifier ends the ' +
      'subscription (RFC 6665 section 4.1.3). Kept across restarts. 201 with the subscription; 200 with the existing ' +
      'one when the same presentity, watcher, event and target are already subscribed.',
    tags: ['subscriptions'],
    body: SubscribeBody,
    responses: {
      201: { description: 'Subscribing; follow notify-in events or GET it.', schema: OutboundView },
      200: { description: 'Already subscribed: the existing subscription.', schema: OutboundView },
      ...errorResponses(400, 401, 429, 503),
    },
    handler: async ({ body }, _request, reply) => {
      const r = await port().create({
        presentity: body.presentity,
        watcher: body.watcher,
        event: body.event,
        expires: body.expires,
        ...(body.target !== undefined && { target: body.target }),
        ...(body.accept !== undefined && { accept: body.accept }),
      });
      if (!r.ok) refusal(r);
      void reply.code(r.created ? 201 : 200);
      return outboundView(r.subscription);
    },
  });

  ctx.route({
    method: 'GET',
    url: '/api/subscribe',
    operationId: 'listOutboundSubscriptions',
    summary: 'Subscriptions held on behalf of watchers, optionally of one presentity, watcher, event or state.',
    tags: ['subscriptions'],
    querystring: z.strictObject({
      presentity: Uri.optional(),
      watcher: Uri.optional(),
      event: EventName.optional(),
      state: z.enum(['subscribing', 'pending', 'active', 'waiting', 'unsubscribing', 'terminated']).optional(),
      limit: Limit,
      offset: Offset,
    }),
    responses: { 200: { description: 'One page of outbound subscriptions.', schema: OutboundList }, ...errorResponses(400, 401, 503) },
    handler: ({ query }) => {
      const all = port()
        .list()
        .filter(
          (s) =>
            (query.presentity === undefined || s.presentity === query.presentity) &&
            (query.watcher === undefined || s.watcher === query.watcher) &&
            (query.event === undefined || s.event === query.event) &&
            (query.state === undefined || s.state === query.state),
        )
        .sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1));
      return {
        items: all.slice(query.offset, query.offset + query.limit).map(outboundView),
        total: all.length,
        limit: query.limit,
        offset: query.offset,
      };
    },
  });

  ctx.route({
    method: 'GET',
    url: '/api/subscribe/:id',
    operationId: 'getOutboundSubscription',
    summary: 'One subscription held on behalf of a watcher, with its dialog.',
    tags: ['subscriptions'],
    params: IdParams,
    responses: { 200: { description: 'The subscription.', schema: OutboundView }, ...errorResponses(400, 401, 404, 503) },
    handler: ({ params }) => {
      const s = port().get(params.id);
      if (s === undefined) throw new ApiError('API_ERR_NOT_FOUND', `no outbound subscription ${params.id}`);
      return outboundView(s);
    },
  });

  ctx.route({
    method: 'DELETE',
    url: '/api/subscribe/:id',
    operationId: 'unsubscribe',
    summary: 'Unsubscribe (SUBSCRIBE with Expires 0, RFC 6665 section 4.1.2.3) and forget the subscription.',
    tags: ['subscriptions'],
    params: IdParams,
    responses: {
      200: { description: 'Unsubscribing: state unsubscribing until the final NOTIFY, then gone.', schema: OutboundView },
      ...errorResponses(401, 404, 503),
    },
    handler: async ({ params }) => {
      const r = await port().remove(params.id);
      if (r === undefined) throw new ApiError('API_ERR_NOT_FOUND', `no outbound subscription ${params.id}`);
      if (!r.ok) refusal(r);
      return outboundView(r.subscription);
    },
  });
}
