/**
 * Events of the management API over real sockets on 127.0.0.1: the Server-Sent Events stream (filters,
 * resume with Last-Event-ID, stream limit, shutdown) and webhooks (retries with back-off, final errors,
 * signatures, the bounded queue).
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AdminServer } from '../../src/admin/index.js';
import { adminOnRealCore, openSse, pidf } from './admin-fixtures.js';

const BOB = 'sip:bob@example.com';

async function publish(admin: AdminServer, presentity: string, basic: 'open' | 'closed', token?: string) {
  const res = await admin.app.inject({
    method: 'POST',
    url: '/api/publish',
    payload: { presentity, contentType: 'application/pidf+xml', body: pidf(presentity, basic) },
    ...(token !== undefined && { headers: { authorization: `Bearer ${token}` } }),
  });
  assert.equal(res.statusCode, 200, res.body);
  return res.json() as { etag: string; expires: number };
}

describe('GET /events (Server-Sent Events)', () => {
  let admin: AdminServer;
  let base: string;
  let stop: () => Promise<void>;
  before(async () => {
    ({ admin, stop } = await adminOnRealCore({ tokens: ['tok'], sse: { maxStreams: 3 } }));
    base = await admin.start();
  });
  after(() => stop());

  test('delivers a publish event with id, type and the publication', async () => {
    const sse = await openSse(`${base}/events`, { authorization: 'Bearer tok' });
    assert.equal(sse.res.statusCode, 200);
    assert.match(String(sse.res.headers['content-type']), /^text\/event-stream/);
    const { etag } = await publish(admin, BOB, 'open', 'tok');
    const frame = await sse.next();
    assert.equal(frame.event, 'publish');
    const data = JSON.parse(frame.data);
    assert.equal(frame.id, String(data.id));
    assert.equal(data.type, 'publish');
    assert.equal(data.presentity, BOB);
    assert.equal(data.user, 'bob');
    assert.equal(data.domain, 'example.com');
    assert.equal(data.event, 'presence');
    assert.equal(data.etag, etag);
    assert.match(data.body, /<basic>open<\/basic>/);
    assert.equal(data.expires, 3600);
    sse.close();
  });

  test('filters by type and presentity', async () => {
    const sse = await openSse(`${base}/events?type=unpublish,exposed&presentity=${encodeURIComponent('sip:carol@*')}`, {
      authorization: 'Bearer tok',
    });
    const bob = await publish(admin, BOB, 'closed', 'tok');
    const carol = await publish(admin, 'sip:carol@example.com', 'open', 'tok');
    for (const [uri, etag] of [[BOB, bob.etag], ['sip:carol@example.com', carol.etag]] as const) {
      await admin.app.inject({
        method: 'POST',
        url: '/api/publish',
        headers: { authorization: 'Bearer tok' },
        payload: { presentity: uri, etag, expires: 0 },
      });
    }
    const frame = await sse.next();
    assert.equal(frame.event, 'unpublish');
    const data = JSON.parse(frame.data);
    assert.equal(data.presentity, 'sip:carol@example.com', 'publishes and bob were filtered out');
    assert.equal(data.reason, 'removed');
    sse.close();
  });

  test('resumes after Last-Event-ID with the events missed', async () => {
    const first = await openSse(`${base}/events?type=publish`, { authorization: 'Bearer tok' });
    await publish(admin, 'sip:r1@example.com', 'open', 'tok');
    const seen = await first.next();
    first.close();
    await publish(admin, 'sip:r2@example.com', 'open', 'tok');
    await publish(admin, 'sip:r3@example.com', 'open', 'tok');
    const resumed = await openSse(`${base}/events?type=publish`, { authorization: 'Bearer tok', 'last-event-id': seen.id! });
    const a = JSON.parse((await resumed.next()).data);
    const b = JSON.parse((await resumed.next()).data);
    assert.deepEqual([a.presentity, b.presentity], ['sip:r2@example.com', 'sip:r3@example.com']);
    resumed.close();
  });

  test('an id from an earlier run asks the client to resync', async () => {
    const sse = await openSse(`${base}/events`, { authorization: 'Bearer tok', 'last-event-id': '999999' });
    const frame = await sse.next();
    assert.equal(frame.event, 'resync');
    sse.close();
  });

  test('400 for a bad filter, 401 without token, 429 beyond the stream limit', async () => {
    const bad = await fetch(`${base}/events?type=weather`, { headers: { authorization: 'Bearer tok' } });
    assert.equal(bad.status, 400);
    assert.match(((await bad.json()) as { error: { message: string } }).error.message, /query parameter type: "weather": expected one of publish/);
    const anon = await fetch(`${base}/events`);
    assert.equal(anon.status, 401);
    const open = await Promise.all([1, 2, 3].map(() => openSse(`${base}/events`, { authorization: 'Bearer tok' })));
    // Streams closed by earlier tests may take a moment to be noticed; wait (bounded) for the broker to count 3.
    for (let i = 0; i < 100 && (await statsOpen(admin)) > 3; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(await statsOpen(admin), 3);
    const fourth = await fetch(`${base}/events`, { headers: { authorization: 'Bearer tok' } });
    assert.equal(fourth.status, 429);
    assert.equal(((await fourth.json()) as { error: { code: string } }).error.code, 'API_ERR_TOO_MANY_STREAMS');
    for (const s of open) s.close();
  });
});

async function statsOpen(admin: AdminServer): Promise<number> {
  const res = await admin.app.inject({ method: 'GET', url: '/api/stats', headers: { authorization: 'Bearer tok' } });
  return res.json().api.sse.open as number;
}

test('stop() ends open event streams', async () => {
  const { admin, stop } = await adminOnRealCore();
  const base = await admin.start();
  const sse = await openSse(`${base}/events`);
  const ended = new Promise<void>((resolve) => sse.res.on('close', () => resolve()));
  await stop();
  await ended;
  assert.equal(sse.res.complete, true, 'the stream ended cleanly');
});

/** A webhook receiver on 127.0.0.1 that answers with the statuses given, in order (then 200). */
async function receiver(statuses: number[], opts: { hang?: boolean } = {}) {
  const hits: Array<{ headers: IncomingMessage['headers']; body: string }> = [];
  const waiters: Array<() => void> = [];
  const server: Server = createServer((req, res: ServerResponse) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      hits.push({ headers: req.headers, body });
      waiters.splice(0).forEach((w) => w());
      if (opts.hang) return;
      res.statusCode = statuses.shift() ?? 200;
      res.end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  return {
    url,
    hits,
    async waitFor(n: number): Promise<void> {
      while (hits.length < n) await new Promise<void>((resolve) => waiters.push(resolve));
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe('webhooks', () => {
  test('retries 5xx with back-off until delivered, and signs each POST', async () => {
    const hook = await receiver([500, 503]);
    const { admin, stop } = await adminOnRealCore({
      webhooks: [{ url: hook.url, secret: 'shh' }],
      webhookOptions: { baseDelayMs: 5, maxDelayMs: 20 },
    });
    try {
      const { etag } = await publish(admin, BOB, 'open');
      await hook.waitFor(3);
      const deadline = Date.now() + 2000;
      while (admin.webhookStats().delivered < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      const stats = admin.webhookStats();
      assert.equal(stats.delivered, 1);
      assert.equal(stats.retries, 2);
      assert.equal(stats.failed, 0);
      assert.equal(hook.hits.length, 3);
      const last = hook.hits[2]!;
      const event = JSON.parse(last.body);
      assert.equal(event.type, 'publish');
      assert.equal(event.etag, etag);
      assert.equal(last.headers['content-type'], 'application/json');
      assert.equal(last.headers['x-presenced-event'], 'publish');
      assert.equal(last.headers['x-presenced-delivery'], String(event.id));
      const ts = String(last.headers['x-presenced-timestamp']);
      const expected = 'sha256=' + createHmac('sha256', 'shh').update(`${ts}.${last.body}`).digest('hex');
      assert.equal(last.headers['x-presenced-signature'], expected);
      assert.equal(hook.hits[0]!.body, last.body, 'a retry sends the same event');
    } finally {
      await stop();
      await hook.close();
    }
  });

  test('a 4xx answer is final; after maxAttempts a 5xx target is given up', async () => {
    const hook = await receiver([400, 500, 500]);
    const gaveUp: Array<{ attempts: number; lastError: string }> = [];
    const { admin, stop } = await adminOnRealCore({
      webhooks: [{ url: hook.url }],
      webhookOptions: { baseDelayMs: 2, maxAttempts: 2, onGiveUp: (i) => gaveUp.push(i) },
    });
    try {
      await publish(admin, BOB, 'open');
      await publish(admin, 'sip:carol@example.com', 'open');
      await hook.waitFor(3);
      const deadline = Date.now() + 2000;
      while (admin.webhookStats().failed < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      assert.equal(admin.webhookStats().failed, 2);
      assert.equal(admin.webhookStats().delivered, 0);
      assert.equal(hook.hits.length, 3, 'one POST for the 400, two for the 500s');
      assert.deepEqual(gaveUp.map((g) => g.lastError), ['HTTP 400', 'HTTP 500']);
    } finally {
      await stop();
      await hook.close();
    }
  });

  test('a target that does not answer fills its bounded queue; the oldest waiting events are dropped and counted', async () => {
    const hook = await receiver([], { hang: true });
    const { admin, stop } = await adminOnRealCore({
      webhooks: [{ url: hook.url }],
      webhookOptions: { maxQueue: 3, timeoutMs: 60_000 },
    });
    try {
      for (let i = 0; i < 10; i++) await publish(admin, `sip:u${i}@example.com`, 'open');
      await hook.waitFor(1);
      const stats = admin.webhookStats();
      assert.equal(stats.queued, 3, 'the queue holds its bound (in-flight event included)');
      assert.equal(stats.dropped, 7);
      const metrics = (await admin.app.inject({ method: 'GET', url: '/metrics' })).body;
      assert.match(metrics, /^presenced_webhook_dropped_total 7$/m);
    } finally {
      await stop();
      await hook.close();
    }
    assert.equal(admin.webhookStats().queued, 0, 'stop() discards the queue');
  });
});
