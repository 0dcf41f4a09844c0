/**
 * The management API through fastify inject() against the real presence core (MemoryStore, manual clock,
 * NOTIFYs recorded): every endpoint with valid and invalid input, authentication, the error format, and the
 * OpenAPI document.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { adaptCoreFacade, createAdminServer, createMetrics, type AdminServer, type ApiEvent } from '../../src/admin/index.js';
import { makeCore, Watcher, type Harness } from '../unit/core/support.js';
import { pidf, silentLogger } from './admin-fixtures.js';

const ALICE = 'sip:alice@example.com';
const enc = encodeURIComponent;

async function server(h: Harness, tokens: string[] = []): Promise<AdminServer> {
  const now = (): number => h.clock.wallNow();
  return createAdminServer({
    core: adaptCoreFacade(h.core, now),
    logger: silentLogger(),
    host: '127.0.0.1',
    port: 0,
    tokens,
    now,
    metrics: createMetrics({ defaultMetrics: false }),
    version: '0.1.0-test',
  });
}

/** A real core whose sweeper does not run by itself (so POST /api/cleanup has something to do). */
const realCore = (): Promise<Harness> => makeCore({ config: { cleanPeriod: 1_000_000 } });

describe('admin API (inject, real core)', () => {
  let h: Harness;
  let admin: AdminServer;
  const events: ApiEvent[] = [];

  before(async () => {
    h = await realCore();
    admin = await server(h);
    admin.hub.subscribe((e) => events.push(e));
    await admin.app.ready();
  });
  after(async () => {
    await admin.stop();
    await h.core.stop();
  });

  const inject = (method: 'GET' | 'POST', url: string, payload?: unknown) =>
    admin.app.inject({ method, url, ...(payload !== undefined && { payload: payload as object }) });

  describe('publish (pua_publish)', () => {
    test('an initial publication returns an entity-tag and the granted expiry', async () => {
      const res = await inject('POST', '/api/publish', {
        presentity: ALICE,
        contentType: 'application/pidf+xml',
        body: pidf(ALICE, 'open'),
        expires: 7200,
      });
      assert.equal(res.statusCode, 200, res.body);
      const json = res.json();
      assert.match(json.etag, /^[\x21-\x7e]{8,}$/);
      assert.equal(json.expires, 3600, 'the core lowered the expiry to maxExpiresPublish');
      const publish = events.find((e) => e.type === 'publish');
      assert.ok(publish && publish.type === 'publish');
      assert.equal(publish.user, 'alice');
      assert.equal(publish.domain, 'example.com');
      assert.equal(publish.etag, json.etag);
      assert.match(publish.body, /<basic>open<\/basic>/);
      const stored = await inject('GET', `/api/presentities/${enc(ALICE)}?event=presence`);
      assert.equal(stored.json().events[0].publications[0].etag, json.etag, 'stored as a SIP PUBLISH would be');
    });

    test('notifies watchers exactly as a SIP PUBLISH would', async () => {
      const w = new Watcher({ presentity: 'sip:notified@example.com', watcher: 'sip:wn@example.com' });
      assert.equal((await w.subscribe(h.core, 600)).status, 200);
      const before = h.sender.notifies().length;
      const res = await inject('POST', '/api/publish', {
        presentity: 'sip:notified@example.com',
        contentType: 'application/pidf+xml',
        body: pidf('sip:notified@example.com', 'open', 'on-the-phone'),
      });
      assert.equal(res.statusCode, 200);
      await new Promise((r) => setImmediate(r));
      const notifies = h.sender.notifies().slice(before);
      assert.equal(notifies.length, 1);
      assert.match(notifies[0]!.request.body.toString(), /on-the-phone/);
    });

    test('refresh with the entity-tag gets a new one; a stale entity-tag gets 412', async () => {
      const first = (await inject('POST', '/api/publish', { presentity: 'sip:r@example.com', contentType: 'application/pidf+xml', body: pidf('sip:r@example.com', 'open') })).json();
      const refreshed = await inject('POST', '/api/publish', { presentity: 'sip:r@example.com', etag: first.etag });
      assert.equal(refreshed.statusCode, 200);
      assert.notEqual(refreshed.json().etag, first.etag);
      const event = events.find((e) => e.type === 'publish' && e.etag === refreshed.json().etag);
      assert.ok(event && event.type === 'publish');
      assert.equal(event.oldEtag, first.etag);
      assert.match(event.body, /<basic>open/, 'a refresh event still carries the body');
      const stale = await inject('POST', '/api/publish', { presentity: 'sip:r@example.com', etag: first.etag });
      assert.equal(stale.statusCode, 412);
      assert.equal(stale.json().error.code, 'API_ERR_ETAG_MISMATCH');
    });

    test('removal with expires 0 and the entity-tag', async () => {
      const first = (await inject('POST', '/api/publish', { presentity: 'sip:gone@example.com', contentType: 'application/pidf+xml', body: pidf('sip:gone@example.com', 'open') })).json();
      const res = await inject('POST', '/api/publish', { presentity: 'sip:gone@example.com', etag: first.etag, expires: 0 });
      assert.equal(res.statusCode, 200);
      assert.equal(res.json().expires, 0);
      assert.equal((await inject('GET', `/api/presentities/${enc('sip:gone@example.com')}`)).statusCode, 404);
    });

    const invalid: Array<[string, unknown, RegExp]> = [
      ['no body and no etag', { presentity: ALICE }, /body: an initial publication needs a body/],
      ['a body without contentType', { presentity: ALICE, body: 'x' }, /body.contentType: required with a body/],
      ['a URI that is not SIP', { presentity: 'http://x', body: 'x', contentType: 'text/plain' }, /body.presentity: expected a URI/],
      ['negative expires', { presentity: ALICE, etag: 'e1', expires: -1 }, /body.expires/],
      ['fractional expires', { presentity: ALICE, etag: 'e1', expires: 1.5 }, /body.expires: expected a whole number/],
      ['expires 0 without etag', { presentity: ALICE, expires: 0, body: 'x', contentType: 'text/plain' }, /body.etag: expires 0 removes/],
      ['an unknown field', { presentity: ALICE, etag: 'e1', colour: 'red' }, /body: Unrecognized key: "colour"/],
      ['a malformed media type', { presentity: ALICE, body: 'x', contentType: 'pidf' }, /body.contentType: expected a media type/],
      ['a bad event name', { presentity: ALICE, etag: 'e1', event: 'pres ence' }, /body.event: expected an event package name/],
      ['an etag with spaces', { presentity: ALICE, etag: 'a b' }, /body.etag/],
    ];
    for (const [name, payload, message] of invalid) {
      test(`400 for ${name}`, async () => {
        const res = await inject('POST', '/api/publish', payload);
        assert.equal(res.statusCode, 400);
        const json = res.json();
        assert.equal(json.error.code, 'API_ERR_BAD_REQUEST');
        assert.match(json.error.message, message);
      });
    }

    test('422 for an event package the server does not serve', async () => {
      const unknown = await inject('POST', '/api/publish', { presentity: ALICE, event: 'weather', body: 'x', contentType: 'text/plain' });
      assert.equal(unknown.statusCode, 422);
      assert.equal(unknown.json().error.code, 'API_ERR_UNKNOWN_EVENT');
      assert.match(unknown.json().error.message, /known: presence/);
    });

    test('415 when the package refuses the media type, 400 when it refuses the body', async () => {
      const res = await inject('POST', '/api/publish', { presentity: ALICE, body: 'hi', contentType: 'text/plain' });
      assert.equal(res.statusCode, 415);
      assert.equal(res.json().error.code, 'API_ERR_UNSUPPORTED_MEDIA_TYPE');
      const bad = await inject('POST', '/api/publish', { presentity: ALICE, body: '<presence', contentType: 'application/pidf+xml' });
      assert.equal(bad.statusCode, 400);
      assert.match(bad.json().error.message, /^400 /);
    });

    test('bodies that are not JSON: 415 for another media type, 400 for broken JSON, 413 when too large', async () => {
      const text = await admin.app.inject({ method: 'POST', url: '/api/publish', payload: 'x', headers: { 'content-type': 'text/plain' } });
      assert.equal(text.statusCode, 415);
      assert.equal(text.json().error.code, 'API_ERR_UNSUPPORTED_MEDIA_TYPE');
      const broken = await admin.app.inject({ method: 'POST', url: '/api/publish', payload: '{"presentity":', headers: { 'content-type': 'application/json' } });
      assert.equal(broken.statusCode, 400);
      assert.equal(broken.json().error.code, 'API_ERR_BAD_REQUEST');
      const huge = await admin.app.inject({
        method: 'POST',
        url: '/api/publish',
        payload: JSON.stringify({ presentity: ALICE, body: 'x'.repeat(300 * 1024), contentType: 'text/plain' }),
        headers: { 'content-type': 'application/json' },
      });
      assert.equal(huge.statusCode, 413);
      assert.equal(huge.json().error.code, 'API_ERR_PAYLOAD_TOO_LARGE');
    });
  });

  describe('presentities (pres_phtable_list)', () => {
    before(async () => {
      for (const [uri, basic] of [
        ['sip:bob@example.com', 'closed'],
        ['sip:carol@example.org', 'open'],
        ['sip:dave@example.org', 'open'],
      ] as const) {
        await inject('POST', '/api/publish', { presentity: uri, contentType: 'application/pidf+xml', body: pidf(uri, basic) });
      }
    });

    test('lists with totals, without bodies unless asked', async () => {
      const res = await inject('GET', '/api/presentities?limit=1000');
      assert.equal(res.statusCode, 200);
      const json = res.json();
      assert.equal(json.total, json.items.length);
      assert.ok(json.total >= 4);
      const carol = json.items.find((i: { uri: string }) => i.uri === 'sip:carol@example.org');
      assert.equal(carol.domain, 'example.org');
      assert.equal(carol.user, 'carol');
      assert.equal(carol.publications.length, 1);
      assert.equal(carol.publications[0].body, undefined);
      const withBodies = (await inject('GET', '/api/presentities?bodies=true&uri=sip:carol@*')).json();
      assert.match(withBodies.items[0].publications[0].body, /<basic>open<\/basic>/);
    });

    test('filters by event, domain and URI pattern', async () => {
      const presence = (await inject('GET', '/api/presentities?event=presence&limit=1000')).json();
      assert.ok(presence.items.some((i: { uri: string }) => i.uri === 'sip:bob@example.com'));
      const none = (await inject('GET', '/api/presentities?event=dialog')).json();
      assert.deepEqual(none, { items: [], total: 0, limit: 100, offset: 0 });
      const org = (await inject('GET', '/api/presentities?domain=EXAMPLE.org')).json();
      assert.deepEqual(org.items.map((i: { uri: string }) => i.uri).sort(), ['sip:carol@example.org', 'sip:dave@example.org']);
      const glob = (await inject('GET', '/api/presentities?uri=' + enc('sip:?ave@*'))).json();
      assert.deepEqual(glob.items.map((i: { uri: string }) => i.uri), ['sip:dave@example.org']);
    });

    test('paginates with limit and offset', async () => {
      const all = (await inject('GET', '/api/presentities')).json();
      const p1 = (await inject('GET', '/api/presentities?limit=2&offset=0')).json();
      const p2 = (await inject('GET', '/api/presentities?limit=2&offset=2')).json();
      assert.equal(p1.items.length, 2);
      assert.equal(p1.total, all.total);
      assert.equal(p1.limit, 2);
      assert.equal(p2.offset, 2);
      assert.deepEqual([...p1.items, ...p2.items].map((i: { uri: string }) => i.uri), all.items.slice(0, 4).map((i: { uri: string }) => i.uri));
    });

    for (const [query, message] of [
      ['limit=0', /query parameter limit: expected a number between 1 and 1000/],
      ['limit=abc', /query parameter limit/],
      ['offset=-1', /query parameter offset/],
      ['event=a%20b', /query parameter event/],
      ['bodies=maybe', /query parameter bodies: expected true or false/],
      ['domain=exa%2Fmple', /query parameter domain/],
      ['colour=red', /Unrecognized key/],
      ['uri=' + 'x'.repeat(300), /query parameter uri: pattern longer than 256/],
    ] as const) {
      test(`400 for ?${query.slice(0, 30)}`, async () => {
        const res = await inject('GET', `/api/presentities?${query}`);
        assert.equal(res.statusCode, 400);
        assert.match(res.json().error.message, message);
      });
    }

    test('one presentity: publications with bodies and entity-tags, and the composed state', async () => {
      const res = await inject('GET', `/api/presentities/${enc('sip:bob@example.com')}`);
      assert.equal(res.statusCode, 200);
      const json = res.json();
      assert.equal(json.uri, 'sip:bob@example.com');
      assert.equal(json.user, 'bob');
      assert.deepEqual(json.events.map((e: { event: string }) => e.event), ['presence']);
      const presence = json.events[0];
      assert.match(presence.publications[0].body, /closed/);
      assert.equal(typeof presence.publications[0].etag, 'string');
      assert.equal(presence.publications[0].expires, 3600);
      assert.equal(presence.state.contentType, 'application/pidf+xml');
      assert.match(presence.state.body, /<basic>closed<\/basic>/);
      const only = await inject('GET', `/api/presentities/${enc('sip:bob@example.com')}?event=presence`);
      assert.equal(only.statusCode, 200);
      assert.equal((await inject('GET', `/api/presentities/${enc('sip:bob@example.com')}?event=dialog`)).statusCode, 404);
    });

    test('404 for an unknown presentity, 400 for a malformed URI', async () => {
      const missing = await inject('GET', `/api/presentities/${enc('sip:nobody@example.com')}`);
      assert.equal(missing.statusCode, 404);
      assert.deepEqual(missing.json(), { error: { code: 'API_ERR_NOT_FOUND', message: 'no presentity sip:nobody@example.com' } });
      const bad = await inject('GET', `/api/presentities/${enc('not a uri')}`);
      assert.equal(bad.statusCode, 400);
      assert.match(bad.json().error.message, /path parameter uri/);
    });
  });

  describe('subscriptions (subs_phtable_list)', () => {
    const ids: Record<string, string> = {};
    before(async () => {
      for (const [presentity, watcher] of [
        ['sip:bob@example.com', 'sip:w1@example.com'],
        ['sip:bob@example.com', 'sip:w2@example.com'],
        ['sip:carol@example.org', 'sip:w1@example.com'],
      ] as const) {
        const w = new Watcher({ presentity, watcher });
        assert.equal((await w.subscribe(h.core, 600)).status, 200);
      }
      const list = (await inject('GET', '/api/subscriptions?limit=1000')).json();
      for (const s of list.items) ids[`${s.presentity} ${s.watcher}`] = s.id;
    });

    test('lists and filters by presentity, watcher and status', async () => {
      const bob = (await inject('GET', `/api/subscriptions?presentity=${enc('sip:bob@example.com')}`)).json();
      assert.deepEqual(bob.items.map((s: { watcher: string }) => s.watcher).sort(), ['sip:w1@example.com', 'sip:w2@example.com']);
      assert.equal(bob.total, 2);
      const w1 = (await inject('GET', `/api/subscriptions?watcher=${enc('sip:w1@example.com')}&status=active`)).json();
      assert.equal(w1.total, 2);
      assert.equal(w1.items[0].status, 'active');
      assert.equal(w1.items[0].event, 'presence');
      assert.equal(w1.items[0].expires, 600);
      assert.equal(w1.items[0].dialog, undefined, 'the list leaves dialog details out');
      const pending = (await inject('GET', '/api/subscriptions?status=pending')).json();
      assert.equal(pending.total, 0);
      const page = (await inject('GET', '/api/subscriptions?limit=1&offset=1')).json();
      assert.equal(page.items.length, 1);
      assert.ok(page.total >= 3);
    });

    test('one subscription with its dialog and flow, by percent-encoded id', async () => {
      const id = ids['sip:bob@example.com sip:w2@example.com']!;
      const res = await inject('GET', `/api/subscriptions/${enc(id)}`);
      assert.equal(res.statusCode, 200);
      const json = res.json();
      assert.equal(json.id, id);
      assert.equal(json.watcher, 'sip:w2@example.com');
      assert.match(json.dialog.callId, /@test$/);
      assert.equal(json.dialog.remoteTarget, 'sip:bob@192.0.2.10:5070');
      assert.ok(json.dialog.localSeq >= 1, 'the initial NOTIFY used a CSeq');
      assert.deepEqual(json.flow, { protocol: 'udp', address: '192.0.2.10', port: 5070 });
      // The whole dialog (RFC 3261 section 12) from the facade's getSubscription.
      assert.equal(typeof json.dialog.localTag, 'string');
      assert.equal(typeof json.dialog.remoteTag, 'string');
      assert.match(json.dialog.localUri, /sip:bob@example\.com/);
      assert.match(json.dialog.remoteUri, /sip:w2@example\.com/);
      assert.deepEqual(json.dialog.routeSet, []);
      assert.equal(json.dialog.remoteSeq, 1);
      assert.equal(json.dialog.secure, false);
      assert.deepEqual(json.accept, ['application/pidf+xml']);
    });

    test('filters compare watcher AORs (parameters and host case do not matter)', async () => {
      const w1 = (await inject('GET', `/api/subscriptions?watcher=${enc('sip:w1@EXAMPLE.com;transport=tcp')}`)).json();
      assert.equal(w1.total, 2);
    });

    test('404 for an unknown id, 400 for bad filters', async () => {
      const missing = await inject('GET', '/api/subscriptions/nope');
      assert.equal(missing.statusCode, 404);
      assert.equal(missing.json().error.code, 'API_ERR_NOT_FOUND');
      const bad = await inject('GET', '/api/subscriptions?status=sleeping');
      assert.equal(bad.statusCode, 400);
      assert.match(bad.json().error.message, /query parameter status: expected pending, active, terminated or waiting/);
      assert.equal((await inject('GET', '/api/subscriptions?presentity=bob')).statusCode, 400);
      const long = await inject('GET', `/api/subscriptions/${'x'.repeat(1100)}`);
      assert.equal(long.statusCode, 414);
      assert.deepEqual(long.json(), { error: { code: 'API_ERR_URI_TOO_LONG', message: 'a path parameter is longer than 1024 characters' } });
      const badEscape = await inject('GET', '/api/subscriptions/%E0%A4%A');
      assert.equal(badEscape.statusCode, 400);
      assert.equal(badEscape.json().error.code, 'API_ERR_BAD_REQUEST');
    });
  });

  describe('actions', () => {
    test('refreshWatchers re-sends NOTIFY to every watcher (type 0 and 1, default 1)', async () => {
      const before = h.sender.notifies().length;
      const res = await inject('POST', `/api/presentities/${enc('sip:bob@example.com')}/refresh`, { event: 'presence', type: 0 });
      assert.equal(res.statusCode, 200);
      assert.deepEqual(res.json(), { notified: 2 });
      const again = await inject('POST', `/api/presentities/${enc('sip:bob@example.com')}/refresh`, {});
      assert.deepEqual(again.json(), { notified: 2 });
      await new Promise((r) => setImmediate(r));
      const sent = h.sender.notifies().slice(before);
      assert.equal(sent.length, 4);
      assert.ok(sent.every((n) => /<basic>closed<\/basic>/.test(n.request.body.toString())));
      const nobody = await inject('POST', `/api/presentities/${enc('sip:nobody@example.com')}/refresh`, {});
      assert.deepEqual(nobody.json(), { notified: 0 });
    });

    test('refreshWatchers: 400 for type 2, 422 for an unknown package', async () => {
      const t2 = await inject('POST', `/api/presentities/${enc(ALICE)}/refresh`, { event: 'presence', type: 2 });
      assert.equal(t2.statusCode, 400);
      assert.match(t2.json().error.message, /body.type: expected 0 \(rules changed\) or 1 \(state changed\)/);
      const unknown = await inject('POST', `/api/presentities/${enc(ALICE)}/refresh`, { event: 'weather' });
      assert.equal(unknown.statusCode, 422);
    });

    test('cleanup removes what expired, now', async () => {
      assert.deepEqual((await inject('POST', '/api/cleanup')).json(), { publications: 0, subscriptions: 0 });
      const short = await inject('POST', '/api/publish', {
        presentity: 'sip:brief@example.com',
        contentType: 'application/pidf+xml',
        body: pidf('sip:brief@example.com', 'open'),
        expires: 60,
      });
      assert.equal(short.json().expires, 60);
      // Past its expiry, but the periodic sweep has not run (cleanPeriod is huge here).
      h.clock.advance(61_000);
      const res = await inject('POST', '/api/cleanup');
      assert.equal(res.statusCode, 200);
      assert.equal(res.json().publications, 1);
      assert.equal((await inject('GET', `/api/presentities/${enc('sip:brief@example.com')}`)).statusCode, 404);
      assert.ok(events.some((e) => e.type === 'unpublish' && e.presentity === 'sip:brief@example.com' && e.reason === 'expired'));
    });

    test('expose emits one exposed event per matching publication', async () => {
      const seen: ApiEvent[] = [];
      const off = admin.hub.subscribe((e) => seen.push(e));
      const res = await inject('POST', '/api/expose', { event: 'presence', filter: '@example\\.org$' });
      off();
      assert.equal(res.statusCode, 200);
      assert.equal(res.json().exposed, 2);
      assert.deepEqual(seen.map((e) => e.type), ['exposed', 'exposed']);
      assert.deepEqual(seen.map((e) => e.presentity).sort(), ['sip:carol@example.org', 'sip:dave@example.org']);
      const e = seen[0]!;
      assert.ok(e.type === 'exposed' && e.body.includes('<basic>open</basic>') && e.etag.length > 0);
      const all = (await inject('POST', '/api/expose', {})).json();
      assert.ok(all.exposed >= 4, 'no filter: every presence publication');
    });

    test('expose: 400 for an invalid regular expression, 422 for an unknown package', async () => {
      const bad = await inject('POST', '/api/expose', { event: 'presence', filter: '(' });
      assert.equal(bad.statusCode, 400);
      assert.match(bad.json().error.message, /body.filter: Invalid regular expression/);
      assert.equal((await inject('POST', '/api/expose', { event: 'weather' })).statusCode, 422);
      for (const filter of ['(a+)+$', '(x|x*)*', '(\\w{2,})+']) {
        const nested = await inject('POST', '/api/expose', { event: 'presence', filter });
        assert.equal(nested.statusCode, 400, filter);
        assert.match(nested.json().error.message, /nested quantifiers/);
      }
      const optionalGroup = await inject('POST', '/api/expose', { event: 'presence', filter: '^sip:(\\w+)?@example\\.org$' });
      assert.equal(optionalGroup.statusCode, 200, 'an optional group is fine');
      assert.equal(optionalGroup.json().exposed, 2);
    });

    test('without tokens, a Host that is not an address or localhost is refused (DNS rebinding)', async () => {
      const evil = await admin.app.inject({ method: 'GET', url: '/api/stats', headers: { host: 'evil.example:8080' } });
      assert.equal(evil.statusCode, 403);
      assert.equal(evil.json().error.code, 'API_ERR_FORBIDDEN_HOST');
      for (const host of ['127.0.0.1:8080', '[::1]:8080', 'localhost', 'app.localhost:3000']) {
        const ok = await admin.app.inject({ method: 'GET', url: '/api/stats', headers: { host } });
        assert.equal(ok.statusCode, 200, host);
      }
    });

    test('stats reports the core and the API', async () => {
      const res = await inject('GET', '/api/stats');
      assert.equal(res.statusCode, 200);
      const json = res.json();
      assert.ok(json.core.notifySent > 0);
      assert.equal(json.core.presentitiesByEvent.presence, json.core.detail.events.presence.presentities);
      assert.ok(json.api.events.published > 0);
      assert.equal(json.api.sse.open, 0);
    });
  });

  test('unknown routes answer a JSON 404', async () => {
    const res = await inject('GET', '/api/nothing?x=1');
    assert.equal(res.statusCode, 404);
    assert.deepEqual(res.json(), { error: { code: 'API_ERR_NOT_FOUND', message: 'no route GET /api/nothing' } });
  });

  test('health is always 200; ready is 503 until the server has started', async () => {
    assert.equal((await inject('GET', '/health')).json().status, 'ok');
    const ready = await inject('GET', '/ready');
    assert.equal(ready.statusCode, 503);
    assert.equal(ready.json().error.code, 'API_ERR_NOT_READY');
  });

  test('the dashboard page and its assets are served with a strict CSP', async () => {
    const page = await inject('GET', '/');
    assert.equal(page.statusCode, 200);
    assert.match(String(page.headers['content-type']), /text\/html/);
    assert.match(String(page.headers['content-security-policy']), /script-src 'self'/);
    assert.match(page.body, /<script type="module" src="\/dashboard\/app.js">/);
    const js = await inject('GET', '/dashboard/app.js');
    assert.match(String(js.headers['content-type']), /javascript/);
    assert.doesNotMatch(js.body, /innerHTML/);
    const again = await admin.app.inject({ method: 'GET', url: '/dashboard/app.js', headers: { 'if-none-match': String(js.headers.etag) } });
    assert.equal(again.statusCode, 304);
  });
});

describe('authentication', () => {
  let admin: AdminServer;
  let h: Harness;
  before(async () => {
    h = await realCore();
    admin = await server(h, ['s3cret', 'other-token']);
    await admin.app.ready();
  });
  after(async () => {
    await admin.stop();
    await h.core.stop();
  });

  test('API routes need a configured bearer token', async () => {
    const none = await admin.app.inject({ method: 'GET', url: '/api/presentities' });
    assert.equal(none.statusCode, 401);
    assert.equal(none.headers['www-authenticate'], 'Bearer');
    assert.equal(none.json().error.code, 'API_ERR_UNAUTHORIZED');
    const wrong = await admin.app.inject({ method: 'GET', url: '/api/presentities', headers: { authorization: 'Bearer nope' } });
    assert.equal(wrong.statusCode, 401);
    assert.match(String(wrong.headers['www-authenticate']), /invalid_token/);
    const basic = await admin.app.inject({ method: 'GET', url: '/api/presentities', headers: { authorization: 'Basic czNjcmV0' } });
    assert.equal(basic.statusCode, 401);
    for (const token of ['s3cret', 'other-token']) {
      const ok = await admin.app.inject({ method: 'GET', url: '/api/presentities', headers: { authorization: `Bearer ${token}` } });
      assert.equal(ok.statusCode, 200);
    }
  });

  test('actions and the event stream need the token too; bad input is not even looked at without it', async () => {
    const publish = await admin.app.inject({ method: 'POST', url: '/api/publish', payload: { nonsense: true } });
    assert.equal(publish.statusCode, 401);
    const events = await admin.app.inject({ method: 'GET', url: '/events' });
    assert.equal(events.statusCode, 401);
    const unknown = await admin.app.inject({ method: 'GET', url: '/api/unknown' });
    assert.equal(unknown.statusCode, 401);
  });

  test('with tokens, any Host is accepted (the token is the protection)', async () => {
    const res = await admin.app.inject({ method: 'GET', url: '/api/stats', headers: { host: 'presence.example.com', authorization: 'Bearer s3cret' } });
    assert.equal(res.statusCode, 200);
  });

  test('probes, metrics, the OpenAPI document and the dashboard page stay open', async () => {
    for (const url of ['/health', '/metrics', '/openapi.json', '/', '/dashboard/app.js', '/dashboard/app.css']) {
      const res = await admin.app.inject({ method: 'GET', url });
      assert.equal(res.statusCode, 200, url);
    }
    assert.equal((await admin.app.inject({ method: 'GET', url: '/ready' })).statusCode, 503);
  });
});

describe('OpenAPI document', () => {
  let doc: {
    openapi: string;
    info: { title: string; version: string };
    paths: Record<string, Record<string, { operationId?: string; responses: Record<string, unknown>; security?: unknown[] }>>;
    components: { securitySchemes: Record<string, unknown> };
  };
  let admin: AdminServer;
  let h: Harness;
  before(async () => {
    h = await realCore();
    admin = await server(h);
    await admin.app.ready();
    doc = (await admin.app.inject({ method: 'GET', url: '/openapi.json' })).json();
  });
  after(async () => {
    await admin.stop();
    await h.core.stop();
  });

  test('is OpenAPI 3.0 with info, security scheme and paths', () => {
    assert.match(doc.openapi, /^3\.0\.\d+$/);
    assert.equal(doc.info.version, '0.1.0-test');
    assert.deepEqual(doc.components.securitySchemes['bearerAuth'], { type: 'http', scheme: 'bearer' });
  });

  test('lists every route with an operationId and responses', () => {
    const expected: Array<[string, string, string]> = [
      ['get', '/api/presentities', 'listPresentities'],
      ['get', '/api/presentities/{uri}', 'getPresentity'],
      ['post', '/api/presentities/{uri}/refresh', 'refreshWatchers'],
      ['get', '/api/subscriptions', 'listSubscriptions'],
      ['get', '/api/subscriptions/{id}', 'getSubscription'],
      ['post', '/api/cleanup', 'cleanup'],
      ['post', '/api/expose', 'expose'],
      ['post', '/api/publish', 'publish'],
      ['get', '/api/stats', 'stats'],
      ['get', '/events', 'events'],
      ['get', '/health', 'health'],
      ['get', '/ready', 'ready'],
      ['get', '/metrics', 'metrics'],
      ['get', '/', 'dashboard'],
    ];
    for (const [method, path, id] of expected) {
      const op = doc.paths[path]?.[method];
      assert.ok(op, `${method.toUpperCase()} ${path} documented`);
      assert.equal(op.operationId, id);
      assert.ok(Object.keys(op.responses).length > 0);
    }
    assert.equal(doc.paths['/dashboard/app.js'], undefined, 'static assets are hidden');
    assert.deepEqual(doc.paths['/health']!['get']!.security, [], 'open routes say so');
  });

  test('is structurally valid: parameters, request bodies, responses, and no dangling $ref', () => {
    const operationIds = new Set<string>();
    const refs: string[] = [];
    const walk = (v: unknown): void => {
      if (Array.isArray(v)) v.forEach(walk);
      else if (v !== null && typeof v === 'object') {
        for (const [k, x] of Object.entries(v)) {
          if (k === '$ref' && typeof x === 'string') refs.push(x);
          else walk(x);
        }
      }
    };
    walk(doc);
    for (const ref of refs) {
      assert.match(ref, /^#\/components\/schemas\//);
      const name = ref.split('/').pop()!;
      assert.ok((doc.components as Record<string, Record<string, unknown>>)['schemas']?.[name], `${ref} resolves`);
    }
    for (const [path, ops] of Object.entries(doc.paths)) {
      assert.match(path, /^\//);
      for (const [method, op] of Object.entries(ops)) {
        assert.ok(['get', 'post', 'put', 'delete', 'patch', 'head', 'options'].includes(method));
        assert.ok(op.operationId && !operationIds.has(op.operationId), 'unique operationId');
        operationIds.add(op.operationId);
        for (const [status, resp] of Object.entries(op.responses)) {
          assert.match(status, /^[1-5]\d\d$|^default$/);
          assert.equal(typeof (resp as { description?: unknown }).description, 'string');
        }
        const params = (op as { parameters?: Array<{ in: string; name: string; required?: boolean; schema?: unknown }> }).parameters ?? [];
        for (const p of params) {
          assert.ok(['query', 'path', 'header', 'cookie'].includes(p.in));
          assert.ok(p.schema, `${p.name} has a schema`);
          if (p.in === 'path') {
            assert.equal(p.required, true);
            assert.ok(path.includes(`{${p.name}}`));
          }
        }
        for (const m of path.matchAll(/\{(\w+)\}/g)) {
          assert.ok(params.some((p) => p.in === 'path' && p.name === m[1]), `${path} declares ${m[1]}`);
        }
      }
    }
    const publish = doc.paths['/api/publish']!['post'] as unknown as {
      requestBody: { content: Record<string, { schema: { properties: Record<string, unknown>; required: string[] } }> };
    };
    const schema = publish.requestBody.content['application/json']!.schema;
    assert.deepEqual(schema.required, ['presentity']);
    assert.ok(schema.properties['etag'] && schema.properties['body'] && schema.properties['expires']);
  });
});

describe('docs/api.md', () => {
  test('documents every error code, and no stale ones', async () => {
    const { readFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { repoRoot } = await import('../support/test-server.js');
    const { API_ERRORS } = await import('../../src/admin/index.js');
    const doc = readFileSync(join(repoRoot(), 'docs', 'api.md'), 'utf8');
    for (const [code, status] of Object.entries(API_ERRORS)) {
      assert.match(doc, new RegExp(`\\| \`${code}\` \\| ${status} \\|`), `${code} (${status}) is in the error table`);
    }
    const mentioned = new Set(doc.match(/API_ERR_[A-Z_]+/g) ?? []);
    for (const code of mentioned) assert.ok(code in API_ERRORS, `${code} in docs/api.md exists`);
  });

  test('documents every route of the OpenAPI document', async () => {
    const { readFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { repoRoot } = await import('../support/test-server.js');
    const doc = readFileSync(join(repoRoot(), 'docs', 'api.md'), 'utf8');
    const h = await realCore();
    const admin = await server(h);
    try {
      await admin.app.ready();
      const spec = (await admin.app.inject({ method: 'GET', url: '/openapi.json' })).json() as { paths: Record<string, Record<string, unknown>> };
      for (const [path, ops] of Object.entries(spec.paths)) {
        for (const method of Object.keys(ops)) {
          const heading = `### ${method.toUpperCase()} ${path}`;
          const listed = path === '/' || ['/health', '/ready', '/metrics'].includes(path) ? doc.includes(`$API${path}`) || doc.includes(`\`${path}\``) : doc.includes(heading);
          assert.ok(listed, `${method.toUpperCase()} ${path} is documented`);
        }
      }
    } finally {
      await admin.stop();
      await h.core.stop();
    }
  });
});
