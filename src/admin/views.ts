/**
 * The JSON the API returns, as zod schemas (documentation in /openapi.json) and the functions that build it
 * from the core port's records. Times are ISO 8601 strings; `expires` fields are seconds left.
 */
import { z } from 'zod';
import type { PresentityEntry, PublicationInfo, SubscriptionInfo } from './core-port.js';
import { splitAor } from './uri-pattern.js';

export const Summary = z
  .object({
    basic: z.enum(['open', 'closed', 'unknown']),
    activities: z.array(z.string()).describe('RPID activities (RFC 4480), e.g. on-the-phone, away.'),
    note: z.string().optional(),
  })
  .describe('Presence summary from the aggregated PIDF, when the event package provides one.');

export const Publication = z.object({
  etag: z.string(),
  expires: z.number().int().describe('Seconds left.'),
  expiresAt: z.string(),
  receivedAt: z.string(),
  contentType: z.string(),
  body: z.string().optional().describe('Left out of lists unless bodies=true.'),
  sender: z.string().nullable(),
});

export const PresentityItem = z.object({
  uri: z.string(),
  user: z.string(),
  domain: z.string(),
  event: z.string(),
  watchers: z.number().int(),
  publications: z.array(Publication),
  summary: Summary.optional(),
});

export const PresentityList = z.object({
  items: z.array(PresentityItem),
  total: z.number().int(),
  limit: z.number().int(),
  offset: z.number().int(),
});

export const PresentityDetail = z.object({
  uri: z.string(),
  user: z.string(),
  domain: z.string(),
  events: z.array(
    z.object({
      event: z.string(),
      watchers: z.number().int(),
      publications: z.array(Publication),
      state: z
        .object({ contentType: z.string(), body: z.string() })
        .nullable()
        .describe('The composed state watchers are sent (all publications merged), null when nothing is published.'),
      summary: Summary.optional(),
    }),
  ),
});

export const SubscriptionItem = z.object({
  id: z.string(),
  presentity: z.string(),
  event: z.string(),
  eventId: z.string().nullable(),
  watcher: z.string(),
  status: z.enum(['pending', 'active', 'terminated', 'waiting']),
  reason: z.string().nullable(),
  expires: z.number().int(),
  expiresAt: z.string(),
  createdAt: z.string(),
  version: z.number().int().optional().describe('Body version counter of packages that count (watcherinfo, dialog-info).'),
});

export const SubscriptionList = z.object({
  items: z.array(SubscriptionItem),
  total: z.number().int(),
  limit: z.number().int(),
  offset: z.number().int(),
});

export const SubscriptionDetail = SubscriptionItem.extend({
  notifyFailures: z.number().int().optional().describe('NOTIFYs that failed in a row.'),
  accept: z.array(z.string()).optional(),
  dialog: z
    .object({
      callId: z.string(),
      remoteTarget: z.string().describe("The watcher's Contact: Request-URI of our NOTIFYs."),
      localSeq: z.number().int().describe('CSeq of the last NOTIFY.'),
      localTag: z.string().optional(),
      remoteTag: z.string().optional(),
      localUri: z.string().optional(),
      remoteUri: z.string().optional(),
      routeSet: z.array(z.string()).optional(),
      remoteSeq: z.number().int().optional(),
      secure: z.boolean().optional(),
    })
    .describe('Dialog state (RFC 3261 section 12).'),
  flow: z
    .object({ protocol: z.enum(['udp', 'tcp']), address: z.string(), port: z.number().int() })
    .describe('Where NOTIFYs go: the source of the last SUBSCRIBE.'),
});

const iso = (ms: number): string => new Date(ms).toISOString();
const left = (ms: number, now: number): number => Math.max(0, Math.round((ms - now) / 1000));

export function publicationView(p: PublicationInfo, now: number, withBody: boolean): z.infer<typeof Publication> {
  const view: z.infer<typeof Publication> = {
    etag: p.etag,
    expires: left(p.expiresAt, now),
    expiresAt: iso(p.expiresAt),
    receivedAt: iso(p.receivedAt),
    contentType: p.contentType,
    sender: p.sender ?? null,
  };
  if (withBody) view.body = p.body;
  return view;
}

export function presentityItem(e: PresentityEntry, now: number, withBody: boolean): z.infer<typeof PresentityItem> {
  const item: z.infer<typeof PresentityItem> = {
    uri: e.presentity,
    ...splitAor(e.presentity),
    event: e.event,
    watchers: e.watchers,
    publications: e.publications.map((p) => publicationView(p, now, withBody)),
  };
  if (e.summary !== undefined) item.summary = { ...e.summary, activities: [...e.summary.activities] };
  return item;
}

export function presentityDetail(uri: string, entries: readonly PresentityEntry[], now: number): z.infer<typeof PresentityDetail> {
  return {
    uri,
    ...splitAor(uri),
    events: entries.map((e) => {
      const out: z.infer<typeof PresentityDetail>['events'][number] = {
        event: e.event,
        watchers: e.watchers,
        publications: e.publications.map((p) => publicationView(p, now, true)),
        state: e.composite === undefined ? null : { contentType: e.composite.contentType, body: e.composite.body },
      };
      if (e.summary !== undefined) out.summary = { ...e.summary, activities: [...e.summary.activities] };
      return out;
    }),
  };
}

export function subscriptionItem(s: SubscriptionInfo, now: number): z.infer<typeof SubscriptionItem> {
  const item: z.infer<typeof SubscriptionItem> = {
    id: s.id,
    presentity: s.presentity,
    event: s.event,
    eventId: s.eventId ?? null,
    watcher: s.watcher,
    status: s.status,
    reason: s.reason ?? null,
    expires: left(s.expiresAt, now),
    expiresAt: iso(s.expiresAt),
    createdAt: iso(s.createdAt),
  };
  if (s.version !== undefined) item.version = s.version;
  return item;
}

export function subscriptionDetail(s: SubscriptionInfo, now: number): z.infer<typeof SubscriptionDetail> {
  const d = s.dialog;
  const detail: z.infer<typeof SubscriptionDetail> = {
    ...subscriptionItem(s, now),
    dialog: {
      callId: d.callId,
      remoteTarget: d.remoteTarget,
      localSeq: d.localSeq,
      ...(d.localTag !== undefined && { localTag: d.localTag }),
      ...(d.remoteTag !== undefined && { remoteTag: d.remoteTag }),
      ...(d.localUri !== undefined && { localUri: d.localUri }),
      ...(d.remoteUri !== undefined && { remoteUri: d.remoteUri }),
      ...(d.routeSet !== undefined && { routeSet: [...d.routeSet] }),
      ...(d.remoteSeq !== undefined && { remoteSeq: d.remoteSeq }),
      ...(d.secure !== undefined && { secure: d.secure }),
    },
    flow: { protocol: s.flow.protocol, address: s.flow.address, port: s.flow.port },
  };
  if (s.notifyFailures !== undefined) detail.notifyFailures = s.notifyFailures;
  if (s.accept !== undefined) detail.accept = [...s.accept];
  return detail;
}
