/**
 * Subscribe on behalf (POST /api/subscribe, OpenSIPS pua_subscribe) on the real server over real sockets on
 * 127.0.0.1: presenced subscribes to one of its own presentities over loopback (real SIP, answered by its core),
 * a PUBLISH over SIP turns into a notify-in event on the SSE stream and at a webhook from the configuration,
 * the subscription survives a restart, DELETE unsubscribes; SIP metrics by method and code; invalid input.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../../src/config/index.js';
import { createLogger } from '../../src/observability/index.js';
import { startServer, type RunningServer } from '../../src/server/index.js';
import { SipTestClient, pidf } from '../support/sip-test-client.js';
import { publish, WatcherDialog } from '../support/presence-ua.js';
import { openSse, type SseFrame } from './admin-fixtures.js';
import { ctl } from '../../src/cli/ctl.js';
import type { CliIo } from '../../src/cli/serve.js';

interface Hook {
  server: Server;
  url: string;
  bodies: Array<{ event: string | undefined; json: Record<string, unknown> }>;
  next(timeoutMs?: number): Promise<Record<string, unknown>>;
}

/** A webhook receiver on 127.0.0.1 recording every POST. */
async function hookServer(): Promise<Hook> {
  const bodies: Hook['bodies'] = [];
  const waiters: Array<(j: Record<string, unknown>) => void> = [];
  const server = createServer((req: IncomingMessage, res) => {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (text += c));
    req.on('end', () => {
      const json = JSON.parse(text) as Record<string, unknown>;
      bodies.push({ event: req.headers['x-presenced-event'] as string | undefined, json });
      res.writeHead(204).end();
      waiters.shift()?.(json);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  let seen = 0;
  return {
    server,
    url: `http://127.0.0.1:${port}/hook`,
    bodies,
    next(timeoutMs = 5000) {
      if (seen < bodies.length) return Promise.resolve(bodies[seen++]!.json);
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error('no webhook POST')), timeoutMs);
        waiters.push((j) => {
          clearTimeout(t);
          seen++;
          resolve(j);
        });
      });
    },
  };
}

const silent = createLogger({ level: 'warn', destination: { write: () => undefined } });

async function start(
  dir: string,
  webhook: string,
  port = 0,
  extra: Record<string, unknown> = {},
): Promise<{ server: RunningServer; base: string; sipPort: number }> {
  const config = parseConfig({
    ...extra,
    listen: [`udp:127.0.0.1:${port}`, `tcp:127.0.0.1:${port}`],
    db: `sqlite:${join(dir, 'presenced.db')}`,
    http: '127.0.0.1:0',
    logLevel: 'warn',
    domains: ['example.com'],
    api: { webhooks: [{ url: webhook, types: ['notify-in'] }] },
  });
  const server = await startServer(config, silent);
  const a = server.addresses();
  return { server, base: `http://127.0.0.1:${a.find((x) => x.transport === 'http')!.port}`, sipPort: a.find((x) => x.transport === 'udp')!.port };
}

async function api(base: string, method: string, path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(base + path, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

/** The next notify-in frame whose data satisfies `pred` (bounded). */
async function nextNotify(next: (ms?: number) => Promise<SseFrame>, pred: (d: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> {
  for (let i = 0; i < 20; i++) {
    const f = await next(5000);
    if (f.event !== 'notify-in') continue;
    const d = JSON.parse(f.data) as Record<string, unknown>;
    if (pred(d)) return d;
  }
  throw new Error('no matching notify-in event');
}

describe('subscribe on behalf over real SIP', () => {
  const dir = mkdtempSync(join(tmpdir(), 'presenced-subscribe-'));
  let hook: Hook;
  let s: Awaited<ReturnType<typeof start>>;
  let ua: SipTestClient;
  let id = '';

  before(async () => {
    hook = await hookServer();
    s = await start(dir, hook.url);
    ua = await SipTestClient.open({ transport: 'udp', serverPort: s.sipPort });
  });
  after(async () => {
    await ua?.close().catch(() => undefined);
    await s?.server.stop();
    await new Promise<void>((r) => hook.server.close(() => r()));
    rmSync(dir, { recursive: true, force: true });
  });

  test('the server subscribes to its own presentity; a PUBLISH over SIP becomes a notify-in event (SSE and webhook)', async () => {
    const sse = await openSse(`${s.base}/events?type=notify-in`);
    try {
      const created = await api(s.base, 'POST', '/api/subscribe', { presentity: 'sip:alice@example.com', watcher: 'sip:bob@example.com', expires: 600 });
      assert.equal(created.status, 201, JSON.stringify(created.json));
      id = created.json['id'] as string;
      assert.equal(created.json['presentity'], 'sip:alice@example.com');
      const first = await nextNotify(sse.next, (d) => d['subscription'] === id);
      assert.equal(first['state'], 'active');
      assert.equal(first['watcher'], 'sip:bob@example.com');

      const body = pidf('sip:alice@example.com', 't1', 'open', 'Lunch at 1');
      assert.equal((await publish(ua, { aor: 'sip:alice@example.com', body, expires: 600 })).status, 200);
      const n = await nextNotify(sse.next, (d) => typeof d['body'] === 'string' && (d['body'] as string).includes('Lunch at 1'));
      assert.equal(n['presentity'], 'sip:alice@example.com');
      assert.equal(n['event'], 'presence');
      assert.equal(n['contentType'], 'application/pidf+xml');
      assert.equal(n['state'], 'active');
      assert.ok(typeof n['expires'] === 'number' && (n['expires'] as number) > 0);

      // The same events reach the configured webhook (api.webhooks with types [notify-in]).
      let hooked: Record<string, unknown> | undefined;
      for (let i = 0; i < 10 && hooked === undefined; i++) {
        const j = await hook.next();
        if (typeof j['body'] === 'string' && (j['body'] as string).includes('Lunch at 1')) hooked = j;
      }
      assert.ok(hooked, 'the webhook got the notify-in with the published body');
      assert.ok(hook.bodies.every((b) => b.event === 'notify-in'), 'only the types asked for');
    } finally {
      sse.close();
    }
  });

  test('GET /api/subscribe lists it with its dialog; the core sees presenced as an ordinary watcher', async () => {
    const list = await api(s.base, 'GET', '/api/subscribe');
    assert.equal(list.status, 200);
    const items = list.json['items'] as Array<Record<string, unknown>>;
    assert.equal(list.json['total'], 1);
    assert.equal(items[0]!['id'], id);
    assert.equal(items[0]!['state'], 'active');
    assert.ok((items[0]!['notifies'] as number) >= 2);
    const dialog = items[0]!['dialog'] as Record<string, unknown>;
    assert.ok(dialog !== null && typeof dialog['callId'] === 'string');
    const one = await api(s.base, 'GET', `/api/subscribe/${id}`);
    assert.equal(one.status, 200);
    assert.equal(one.json['id'], id);
    const watchers = await api(s.base, 'GET', `/api/subscriptions?presentity=${encodeURIComponent('sip:alice@example.com')}`);
    const w = watchers.json['items'] as Array<Record<string, unknown>>;
    assert.equal(w.length, 1);
    assert.equal(w[0]!['watcher'], 'sip:bob@example.com');
    assert.equal(w[0]!['status'], 'active');
  });

  test('/metrics counts SIP requests and responses by method and code, both directions', async () => {
    const text = await (await fetch(`${s.base}/metrics`)).text();
    const value = (re: RegExp): number => Number(re.exec(text)?.[1] ?? NaN);
    assert.ok(value(/^presenced_sip_requests_received_total\{method="SUBSCRIBE"\} (\d+)$/m) >= 1, 'our SUBSCRIBE reached our listener');
    assert.ok(value(/^presenced_sip_requests_received_total\{method="NOTIFY"\} (\d+)$/m) >= 2);
    assert.ok(value(/^presenced_sip_requests_received_total\{method="PUBLISH"\} (\d+)$/m) >= 1);
    assert.ok(value(/^presenced_sip_requests_sent_total\{method="NOTIFY"\} (\d+)$/m) >= 2);
    assert.ok(value(/^presenced_sip_requests_sent_total\{method="SUBSCRIBE"\} (\d+)$/m) >= 1);
    assert.ok(value(/^presenced_sip_responses_sent_total\{method="PUBLISH",code="200"\} (\d+)$/m) >= 1);
    assert.ok(value(/^presenced_sip_responses_received_total\{method="SUBSCRIBE",code="200"\} (\d+)$/m) >= 1);
    assert.ok(value(/^presenced_sip_responses_received_total\{method="NOTIFY",code="200"\} (\d+)$/m) >= 2);
    assert.equal(value(/^presenced_outbound_subscriptions\{state="active"\} (\d+)$/m), 1);
    assert.ok(value(/^presenced_outbound_notifies_received_total (\d+)$/m) >= 2);
  });

  test('the subscription survives a restart (re-subscribed with a new dialog) and gets the stored state', async () => {
    const before = (await api(s.base, 'GET', `/api/subscribe/${id}`)).json['dialog'] as Record<string, unknown>;
    await ua.close();
    await s.server.stop();
    // Same ports: the restored notifier-side subscription of the old dialog NOTIFYs us, gets 481 and ends.
    s = await start(dir, hook.url, s.sipPort);
    ua = await SipTestClient.open({ transport: 'udp', serverPort: s.sipPort });
    const sse = await openSse(`${s.base}/events?type=notify-in&lastEventId=0`);
    try {
      const n = await nextNotify(sse.next, (d) => d['subscription'] === id && typeof d['body'] === 'string' && (d['body'] as string).includes('Lunch at 1'));
      assert.equal(n['state'], 'active');
      const after = (await api(s.base, 'GET', `/api/subscribe/${id}`)).json;
      assert.equal(after['state'], 'active');
      assert.notEqual((after['dialog'] as Record<string, unknown>)['callId'], before['callId'], 'a new dialog');
    } finally {
      sse.close();
    }
  });

  test('DELETE unsubscribes (Expires 0): the core ends the subscription and the entry goes', async () => {
    const del = await api(s.base, 'DELETE', `/api/subscribe/${id}`);
    assert.equal(del.status, 200);
    let gone = false;
    for (let i = 0; i < 50 && !gone; i++) {
      gone = (await api(s.base, 'GET', `/api/subscribe/${id}`)).status === 404;
      if (!gone) await new Promise((r) => setTimeout(r, 20));
    }
    assert.ok(gone, 'gone once the final NOTIFY came');
    // The core ends its side once our 200 to its final NOTIFY arrives (RFC 6665 §4.2.2): poll briefly.
    let remaining = -1;
    for (let i = 0; i < 50 && remaining !== 0; i++) {
      const watchers = await api(s.base, 'GET', `/api/subscriptions?presentity=${encodeURIComponent('sip:alice@example.com')}`);
      remaining = watchers.json['total'] as number;
      if (remaining !== 0) await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(remaining, 0, 'the core no longer has the watcher (neither the old dialog from before the restart nor the new one)');
    assert.equal((await api(s.base, 'DELETE', `/api/subscribe/${id}`)).status, 404);
  });

  test('presenced ctl subscribe, list-outbound, show-outbound, unsubscribe', async () => {
    const run = async (args: string[]): Promise<{ code: number; out: string; err: string }> => {
      let out = '';
      let err = '';
      const io: CliIo = { env: { PRESENCED_URL: s.base }, cwd: process.cwd(), stdout: (t) => (out += t), stderr: (t) => (err += t) };
      return { code: await ctl(args, io), out, err };
    };
    const sub = await run(['subscribe', '--presentity', 'sip:carol@example.com', '--watcher', 'sip:dan@example.com', '--expires', '300']);
    assert.equal(sub.code, 0, sub.err);
    const m = /^subscription (\S+): sip:dan@example\.com -> sip:carol@example\.com \(presence\) subscribing\n$/.exec(sub.out);
    assert.ok(m, sub.out);
    const list = await run(['list-outbound', '--watcher', 'sip:dan@example.com']);
    assert.equal(list.code, 0, list.err);
    assert.match(list.out, /^WATCHER\s+PRESENTITY\s+EVENT\s+STATE\s+NOTIFIES\s+ID\n/);
    assert.match(list.out, new RegExp(`sip:dan@example\\.com\\s+sip:carol@example\\.com\\s+presence\\s+\\w+\\s+\\d+\\s+${m[1]}`));
    const show = await run(['show-outbound', m[1]!, '--json']);
    assert.equal(JSON.parse(show.out).id, m[1]);
    const missing = await run(['subscribe', '--presentity', 'sip:carol@example.com']);
    assert.equal(missing.code, 2);
    const un = await run(['unsubscribe', m[1]!]);
    assert.equal(un.code, 0, un.err);
    assert.equal(un.out, `unsubscribing ${m[1]}\n`);
  });

  test('a remote notifier (target): dialog from its 2xx, its NOTIFYs answered and reported; rejected ends it for good', async () => {
    // A scripted notifier on its own UDP port; presenced is told to send the subscription there.
    const notifier = await SipTestClient.open({ transport: 'udp', serverPort: s.sipPort });
    const sse = await openSse(`${s.base}/events?type=notify-in`);
    try {
      const created = await api(s.base, 'POST', '/api/subscribe', {
        presentity: 'sip:200@pbx.example.net',
        watcher: 'sip:presenced@example.com',
        event: 'dialog',
        expires: 120,
        target: `sip:127.0.0.1:${notifier.port}`,
      });
      assert.equal(created.status, 201, JSON.stringify(created.json));
      const rid = created.json['id'] as string;
      const sub = await notifier.nextRequest('SUBSCRIBE', 3000);
      const req = sub.request;
      assert.equal(req.uri, 'sip:200@pbx.example.net');
      assert.equal(req.headers.get('Event'), 'dialog');
      assert.equal(req.headers.get('Accept'), 'application/dialog-info+xml');
      assert.equal(req.headers.get('Expires'), '120');
      const contact = /<([^>]+)>/.exec(req.headers.get('Contact') ?? '')?.[1];
      assert.ok(contact?.startsWith('sip:127.0.0.1:'), `a Contact we can reach: ${contact}`);
      const head = (status: number, reason: string, extra: string[]): Buffer =>
        Buffer.from(
          [
            `SIP/2.0 ${status} ${reason}`,
            ...req.headers.getAll('Via').map((v) => `Via: ${v}`),
            `From: ${req.headers.get('From')}`,
            `To: ${req.headers.get('To')};tag=ntf1`,
            `Call-ID: ${req.headers.get('Call-ID')}`,
            `CSeq: ${req.headers.get('CSeq')}`,
            ...extra,
            'Content-Length: 0',
            '',
            '',
          ].join('\r\n'),
        );
      notifier.sendTo(head(200, 'OK', [`Contact: <sip:pbx@127.0.0.1:${notifier.port}>`, 'Expires: 120']), sub.remote);
      const body = '<?xml version="1.0"?><dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" version="0" state="full" entity="sip:200@pbx.example.net"/>';
      const notify = (cseq: number, state: string, b?: string, tag = 'ntf1'): Promise<number> => {
        const built = notifier.send({
          method: 'NOTIFY',
          uri: contact!,
          from: `${req.headers.get('To')};tag=${tag}`,
          to: req.headers.get('From')!,
          callId: req.headers.get('Call-ID')!,
          cseq,
          contact: `<sip:pbx@127.0.0.1:${notifier.port}>`,
          headers: [['Event', 'dialog'], ['Subscription-State', state]],
          ...(b !== undefined && { body: b, contentType: 'application/dialog-info+xml' }),
        });
        return notifier.waitResponse(built.branch, 3000).then((r) => r.status);
      };
      assert.equal(await notify(1, 'active;expires=120', body), 200);
      const n = await nextNotify(sse.next, (d) => d['subscription'] === rid);
      assert.equal(n['presentity'], 'sip:200@pbx.example.net');
      assert.equal(n['event'], 'dialog');
      assert.equal(n['body'], body);
      const info = (await api(s.base, 'GET', `/api/subscribe/${rid}`)).json;
      assert.equal(info['state'], 'active');
      assert.equal((info['dialog'] as Record<string, unknown>)['remoteTag'], 'ntf1');
      assert.equal((info['dialog'] as Record<string, unknown>)['remoteTarget'], `sip:pbx@127.0.0.1:${notifier.port}`);
      assert.equal(await notify(2, 'active', undefined, 'other-fork'), 481, 'a second fork is refused');
      assert.equal(await notify(3, 'terminated;reason=rejected'), 200);
      const ended = (await api(s.base, 'GET', `/api/subscribe/${rid}`)).json;
      assert.equal(ended['state'], 'terminated');
      assert.equal(ended['reason'], 'rejected');
      await notifier.expectNoRequest('SUBSCRIBE', 300);
      assert.equal((await api(s.base, 'DELETE', `/api/subscribe/${rid}`)).status, 200);
      assert.equal((await api(s.base, 'GET', `/api/subscribe/${rid}`)).status, 404, 'a terminated one is forgotten at once');
    } finally {
      sse.close();
      await notifier.close();
    }
  });

  test('invalid input: 400 with the field named; unknown ids 404', async () => {
    const bad = await api(s.base, 'POST', '/api/subscribe', { presentity: 'alice', watcher: 'sip:bob@example.com' });
    assert.equal(bad.status, 400);
    assert.equal((bad.json['error'] as Record<string, unknown>)['code'], 'API_ERR_BAD_REQUEST');
    assert.match((bad.json['error'] as Record<string, unknown>)['message'] as string, /body\.presentity/);
    const noWatcher = await api(s.base, 'POST', '/api/subscribe', { presentity: 'sip:alice@example.com' });
    assert.equal(noWatcher.status, 400);
    const longExpires = await api(s.base, 'POST', '/api/subscribe', { presentity: 'sip:alice@example.com', watcher: 'sip:bob@example.com', expires: 10 ** 9 });
    assert.equal(longExpires.status, 400);
    const extra = await api(s.base, 'POST', '/api/subscribe', { presentity: 'sip:alice@example.com', watcher: 'sip:bob@example.com', nope: 1 });
    assert.equal(extra.status, 400);
    assert.equal((await api(s.base, 'GET', '/api/subscribe/unknown-id')).status, 404);
    assert.equal((await api(s.base, 'GET', '/api/subscribe?state=sleeping')).status, 400);
  });
});

describe('subscribe on behalf with digest authentication enforced for SUBSCRIBE', () => {
  test('our own SUBSCRIBE to our own presentity passes the gate; a stranger without credentials is challenged', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'presenced-subscribe-auth-'));
    const s = await start(dir, 'http://127.0.0.1:9/unused', 0, { auth: { mode: 'on', subscribe: true } });
    const stranger = await SipTestClient.open({ transport: 'udp', serverPort: s.sipPort });
    const sse = await openSse(`${s.base}/events?type=notify-in`);
    try {
      const w = new WatcherDialog(stranger, { presentity: 'sip:alice@example.com', watcher: 'sip:mallory@example.com' });
      assert.equal((await w.subscribe(600)).status, 401, 'the gate is on for SUBSCRIBE');
      const created = await api(s.base, 'POST', '/api/subscribe', { presentity: 'sip:alice@example.com', watcher: 'sip:bob@example.com' });
      assert.equal(created.status, 201);
      const n = await nextNotify(sse.next, (d) => d['subscription'] === created.json['id']);
      assert.equal(n['state'], 'active');
    } finally {
      sse.close();
      await stranger.close();
      await s.server.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
