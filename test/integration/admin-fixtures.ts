/**
 * Helpers for the admin tests: a real presence core behind the admin port, a silent logger, PIDF bodies,
 * and an SSE reader over a real socket on 127.0.0.1.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { pino } from 'pino';
import {
  adaptCoreFacade,
  createAdminServer,
  createMetrics,
  type AdminServer,
  type AdminServerDeps,
} from '../../src/admin/index.js';
import type { Logger } from '../../src/observability/index.js';
import { makeCore, type Harness } from '../unit/core/support.js';

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

/** A real core (MemoryStore, manual clock, NOTIFYs recorded and answered 200) behind an admin server. */
export async function adminOnRealCore(
  deps: Partial<Omit<AdminServerDeps, 'core' | 'now'>> = {},
): Promise<{ h: Harness; admin: AdminServer; stop(): Promise<void> }> {
  const h = await makeCore({ config: { cleanPeriod: 1_000_000 } });
  const now = (): number => h.clock.wallNow();
  const admin = await createAdminServer({
    core: adaptCoreFacade(h.core, now),
    logger: silentLogger(),
    host: '127.0.0.1',
    port: 0,
    tokens: [],
    metrics: createMetrics({ defaultMetrics: false }),
    ...deps,
    now,
  });
  return {
    h,
    admin,
    async stop() {
      await admin.stop();
      await h.core.stop();
    },
  };
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
