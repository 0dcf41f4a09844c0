/**
 * Helpers for the admin tests: a small in-memory AdminCore (used until/unless the real core facade is wired),
 * a silent logger, PIDF bodies, and an SSE reader over a real socket on 127.0.0.1.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { pino } from 'pino';
import {
  CoreRejection,
  type AdminCore,
  type CoreEvent,
  type PresentityEntry,
  type PublicationInfo,
  type SubscriptionInfo,
} from '../../src/admin/index.js';
import type { Logger } from '../../src/observability/index.js';

export const silentLogger = (): Logger => pino({ level: 'silent' });

export function pidf(entity: string, basic: 'open' | 'closed', activity?: string, note?: string): string {
  const person =
    activity === undefined
      ? ''
      : `<dm:person id="p1"><rpid:activities><rpid:${activity}/></rpid:activities>${
          note === undefined ? '' : `<dm:note>${note}</dm:note>`
        }</dm:person>`;
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n<presence xmlns="urn:ietf:params:xml:ns:pidf" ` +
    `xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model" xmlns:rpid="urn:ietf:params:xml:ns:pidf:rpid" entity="${entity}">` +
    `<tuple id="t1"><status><basic>${basic}</basic></status></tuple>${person}</presence>`
  );
}

/** A fake core: publications by presentity and event, subscriptions by id, events on every change. */
export class FakeCore implements AdminCore {
  readonly pubs = new Map<string, PublicationInfo[]>();
  readonly subs = new Map<string, SubscriptionInfo>();
  readonly listeners = new Set<(e: CoreEvent) => void>();
  refreshCalls: Array<[string, string, number]> = [];
  cleanupCalls = 0;
  #etag = 0;

  constructor(readonly now: () => number = Date.now) {}

  eventPackages() {
    return [
      { name: 'presence', publishable: true },
      { name: 'presence.winfo', publishable: false },
      { name: 'dialog', publishable: true },
    ];
  }

  #entries(): PresentityEntry[] {
    const out: PresentityEntry[] = [];
    for (const [k, pubs] of this.pubs) {
      const [presentity, event] = k.split('\n') as [string, string];
      const watchers = [...this.subs.values()].filter((s) => s.presentity === presentity && s.event === event).length;
      out.push({ presentity, event, publications: pubs, watchers });
    }
    return out.sort((a, b) => (a.presentity + a.event < b.presentity + b.event ? -1 : 1));
  }

  async listPresentities(q: Parameters<AdminCore['listPresentities']>[0]) {
    const all = this.#entries().filter(
      (e) =>
        (q.event === undefined || e.event === q.event) &&
        (q.domain === undefined || e.presentity.toLowerCase().endsWith('@' + q.domain)) &&
        (q.match === undefined || q.match(e.presentity)),
    );
    return { items: all.slice(q.offset, q.offset + q.limit), total: all.length };
  }

  async getPresentity(uri: string, event: string | undefined) {
    return this.#entries().filter((e) => e.presentity === uri && (event === undefined || e.event === event));
  }

  async listSubscriptions(q: Parameters<AdminCore['listSubscriptions']>[0]) {
    const all = [...this.subs.values()].filter(
      (s) =>
        (q.presentity === undefined || s.presentity === q.presentity) &&
        (q.event === undefined || s.event === q.event) &&
        (q.watcher === undefined || s.watcher === q.watcher) &&
        (q.status === undefined || s.status === q.status),
    );
    return { items: all.slice(q.offset, q.offset + q.limit), total: all.length };
  }

  async getSubscription(id: string) {
    return this.subs.get(id);
  }

  async publish(r: Parameters<AdminCore['publish']>[0]) {
    const k = `${r.presentity}\n${r.event}`;
    const list = this.pubs.get(k) ?? [];
    const now = this.now();
    let old: PublicationInfo | undefined;
    if (r.etag !== undefined) {
      old = list.find((p) => p.etag === r.etag);
      if (old === undefined) throw new CoreRejection(412, 'Conditional Request Failed');
      list.splice(list.indexOf(old), 1);
    }
    if (r.expires === 0) {
      if (list.length === 0) this.pubs.delete(k);
      this.#emit({ type: 'publication-removed', presentity: r.presentity, event: r.event, etag: r.etag!, reason: 'removed' });
      return { etag: r.etag!, expires: 0 };
    }
    if (r.contentType !== undefined && r.contentType !== 'application/pidf+xml' && r.event === 'presence') {
      throw new CoreRejection(415, 'Unsupported Media Type');
    }
    const pub: PublicationInfo = {
      etag: `e${++this.#etag}`,
      expiresAt: now + Math.min(r.expires, 3600) * 1000,
      receivedAt: now,
      contentType: r.contentType ?? old!.contentType,
      body: r.body ?? old!.body,
      sender: r.sender,
    };
    list.push(pub);
    this.pubs.set(k, list);
    this.#emit({ type: 'publication-changed', presentity: r.presentity, event: r.event, publication: pub, oldEtag: old?.etag, origin: 'api' });
    return { etag: pub.etag, expires: Math.min(r.expires, 3600) };
  }

  async refreshWatchers(presentity: string, event: string, type: 0 | 1) {
    this.refreshCalls.push([presentity, event, type]);
    return { notified: [...this.subs.values()].filter((s) => s.presentity === presentity && s.event === event).length };
  }

  async cleanup() {
    this.cleanupCalls++;
    return { publications: 0, subscriptions: 0 };
  }

  stats() {
    return { presentitiesByEvent: { presence: this.pubs.size }, subscriptionsByEvent: { presence: this.subs.size }, notifySent: 7 };
  }

  onEvent(listener: (e: CoreEvent) => void) {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  addSubscription(presentity: string, watcher: string, id = `sub-${this.subs.size + 1}`): SubscriptionInfo {
    const now = this.now();
    const s: SubscriptionInfo = {
      id,
      presentity,
      event: 'presence',
      eventId: undefined,
      watcher,
      status: 'active',
      reason: undefined,
      expiresAt: now + 600_000,
      createdAt: now,
      version: 1,
      accept: ['application/pidf+xml'],
      dialog: {
        callId: `${id}@127.0.0.1`,
        localTag: 'lt',
        remoteTag: 'rt',
        localUri: `<${presentity}>`,
        remoteUri: `<${watcher}>`,
        remoteTarget: 'sip:w@127.0.0.1:5070',
        routeSet: [],
        localSeq: 1,
        remoteSeq: 1,
        secure: false,
      },
      flow: { protocol: 'udp', address: '127.0.0.1', port: 5070, flowId: undefined, localAddress: '127.0.0.1', localPort: 5060 },
    };
    this.subs.set(id, s);
    this.#emit({ type: 'subscription-created', presentity, event: 'presence', id, watcher, status: 'active', expiresAt: s.expiresAt });
    return s;
  }

  #emit(e: CoreEvent): void {
    for (const l of this.listeners) l(e);
  }
}

/** A parsed SSE frame. */
export interface SseFrame {
  id: string | undefined;
  event: string;
  data: string;
}

/** Opens an SSE stream on a real socket; `next()` resolves with the next frame carrying data. */
export async function openSse(
  url: string,
  headers: Record<string, string> = {},
): Promise<{ res: IncomingMessage; next(timeoutMs?: number): Promise<SseFrame>; close(): void }> {
  const res = await new Promise<IncomingMessage>((resolve, reject) => {
    const req = httpRequest(url, { headers: { accept: 'text/event-stream', ...headers } }, resolve);
    req.on('error', reject);
    req.end();
  });
  res.setEncoding('utf8');
  let buf = '';
  const frames: SseFrame[] = [];
  const waiters: Array<(f: SseFrame) => void> = [];
  res.on('data', (chunk: string) => {
    buf += chunk;
    let cut: number;
    while ((cut = buf.indexOf('\n\n')) >= 0) {
      const raw = buf.slice(0, cut);
      buf = buf.slice(cut + 2);
      const f: SseFrame = { id: undefined, event: 'message', data: '' };
      for (const line of raw.split('\n')) {
        if (line.startsWith('id: ')) f.id = line.slice(4);
        else if (line.startsWith('event: ')) f.event = line.slice(7);
        else if (line.startsWith('data: ')) f.data += line.slice(6);
      }
      if (f.data === '' && f.event === 'message') continue;
      const w = waiters.shift();
      if (w) w(f);
      else frames.push(f);
    }
  });
  return {
    res,
    next(timeoutMs = 5000) {
      const f = frames.shift();
      if (f) return Promise.resolve(f);
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error('no SSE frame in time')), timeoutMs);
        waiters.push((frame) => {
          clearTimeout(t);
          resolve(frame);
        });
      });
    },
    close() {
      res.destroy();
    },
  };
}
