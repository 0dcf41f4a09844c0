import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { bodyOf, makeCore, pidf, publish, publishTx, settle, Watcher, subState } from './support.js';

const ALICE = 'sip:alice@example.com';
const OPEN = pidf(ALICE, 'pc', 'open');

describe('RFC 3903 §6 step 1: the Request-URI must be a resource the ESC handles', () => {
  test('a host outside the configured domains gets 404 Not Found', async () => {
    const { core } = await makeCore({ config: { domains: ['example.com'] } });
    const res = await publish(core, 'sip:alice@elsewhere.org', { body: pidf('sip:alice@elsewhere.org', 't', 'open') });
    assert.equal(res.status, 404);
  });

  test('domains compare case-insensitively, and isLocalDomain overrides the list', async () => {
    const a = await makeCore({ config: { domains: ['Example.COM'] } });
    assert.equal((await publish(a.core, ALICE, { body: OPEN })).status, 200);
    const b = await makeCore({ config: { domains: ['example.com'], isLocalDomain: (h) => h === 'other.net' } });
    assert.equal((await publish(b.core, ALICE, { body: OPEN })).status, 404);
  });
});

describe('RFC 3903 §6 step 2: Event must name a supported package', () => {
  test('a missing Event header is answered 489 Bad Event with Allow-Events', async () => {
    const { core } = await makeCore();
    const res = await publish(core, ALICE, { body: OPEN, event: null });
    assert.equal(res.status, 489);
    assert.equal(res.headers.get('Allow-Events'), 'presence');
  });

  test('an unknown package is answered 489 with Allow-Events', async () => {
    const { core } = await makeCore();
    const res = await publish(core, ALICE, { body: OPEN, event: 'message-summary' });
    assert.equal(res.status, 489);
    assert.match(res.headers.get('Allow-Events') ?? '', /presence/);
  });

  test('event types compare byte for byte (RFC 6665 §8.2.1): "Presence" is not "presence"', async () => {
    const { core } = await makeCore();
    assert.equal((await publish(core, ALICE, { body: OPEN, event: 'Presence' })).status, 489);
  });

  test('a package that takes no PUBLISH (publishable false) is a 489', async () => {
    const { core } = await makeCore({
      packages: [{ name: 'presence.winfo', contentTypes: ['application/watcherinfo+xml'], expires: { default: 3600 }, publishable: false }],
    });
    assert.equal((await publish(core, ALICE, { body: '<x/>', event: 'presence.winfo', contentType: 'application/watcherinfo+xml' })).status, 489);
  });
});

describe('RFC 3903 §6 step 3: SIP-If-Match', () => {
  test('an entity-tag that names no current publication is answered 412', async () => {
    const { core } = await makeCore();
    const res = await publish(core, ALICE, { etag: 'nonexistent' });
    assert.equal(res.status, 412);
  });

  test('an entity-tag of another presentity is a 412', async () => {
    const { core } = await makeCore();
    const first = await publish(core, ALICE, { body: OPEN });
    const res = await publish(core, 'sip:carol@example.com', { etag: first.headers.get('SIP-ETag')! });
    assert.equal(res.status, 412);
  });

  test('an entity-tag replaced by a refresh no longer matches', async () => {
    const { core } = await makeCore();
    const first = await publish(core, ALICE, { body: OPEN });
    const etag = first.headers.get('SIP-ETag')!;
    assert.equal((await publish(core, ALICE, { etag })).status, 200);
    assert.equal((await publish(core, ALICE, { etag })).status, 412);
  });

  test('two refreshes of one entity-tag in flight at once: the second loses with 412 (no race)', async () => {
    const { core } = await makeCore();
    const etag = (await publish(core, ALICE, { body: OPEN })).headers.get('SIP-ETag')!;
    const a = publishTx(ALICE, { etag });
    const b = publishTx(ALICE, { etag, body: pidf(ALICE, 'pc', 'closed') });
    core.handlePublish(a);
    core.handlePublish(b);
    await settle();
    assert.equal(a.final.status, 200);
    assert.equal(b.final.status, 412);
  });
});

describe('RFC 3903 §6 step 4: Expires', () => {
  test('absent: the package default (3600) is granted', async () => {
    const { core } = await makeCore();
    const res = await publish(core, ALICE, { body: OPEN });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('Expires'), '3600');
  });

  test('above maxExpiresPublish: lowered, and the 200 says so', async () => {
    const { core } = await makeCore({ config: { maxExpiresPublish: 1800 } });
    const res = await publish(core, ALICE, { body: OPEN, expires: 7200 });
    assert.equal(res.headers.get('Expires'), '1800');
  });

  test('below minExpires (not zero): 423 Interval Too Brief with Min-Expires', async () => {
    const { core } = await makeCore({ config: { minExpires: 60 } });
    const res = await publish(core, ALICE, { body: OPEN, expires: 30 });
    assert.equal(res.status, 423);
    assert.equal(res.headers.get('Min-Expires'), '60');
  });

  test('a malformed Expires is a 400', async () => {
    const { core } = await makeCore();
    const res = await publish(core, ALICE, { body: OPEN, headers: [['Expires', 'soon']] });
    assert.equal(res.status, 400);
  });

  test('the stored expiry is granted + expiresOffset, the 200 carries the granted value', async () => {
    const { core, clock } = await makeCore({ config: { expiresOffset: 10, cleanPeriod: 1 } });
    const res = await publish(core, ALICE, { body: OPEN, expires: 60 });
    assert.equal(res.headers.get('Expires'), '60');
    clock.advance(65_000);
    assert.equal(core.getPresentity(ALICE, 'presence')?.publications, 1, 'kept past the advertised expiry');
    clock.advance(6_000);
    assert.equal(core.getPresentity(ALICE, 'presence'), undefined);
  });
});

describe('RFC 3903 §6 step 5: the body', () => {
  test('an initial PUBLISH without a body is a 400', async () => {
    const { core } = await makeCore();
    const res = await publish(core, ALICE, {});
    assert.equal(res.status, 400);
    assert.equal(res.reason, 'Missing body in initial PUBLISH');
  });

  test('a content type the package does not take is a 415 with Accept', async () => {
    const { core } = await makeCore();
    const res = await publish(core, ALICE, { body: 'hello', contentType: 'text/plain' });
    assert.equal(res.status, 415);
    assert.equal(res.headers.get('Accept'), 'application/pidf+xml');
  });

  test('media types compare case-insensitively and ignore parameters', async () => {
    const { core } = await makeCore();
    const res = await publish(core, ALICE, { body: OPEN, contentType: 'Application/PIDF+XML; charset=UTF-8' });
    assert.equal(res.status, 200);
  });

  test('a body without Content-Type is a 400', async () => {
    const { core } = await makeCore();
    const res = await publish(core, ALICE, { body: OPEN, contentType: null });
    assert.equal(res.status, 400);
  });

  test('a Content-Encoding we do not understand is a 415 with Accept-Encoding', async () => {
    const { core } = await makeCore();
    const res = await publish(core, ALICE, { body: OPEN, headers: [['Content-Encoding', 'gzip']] });
    assert.equal(res.status, 415);
    assert.equal(res.headers.get('Accept-Encoding'), 'identity');
  });

  test('malformed PIDF is a 400 naming the problem', async () => {
    const { core } = await makeCore();
    const res = await publish(core, ALICE, { body: '<presence' });
    assert.equal(res.status, 400);
    assert.ok(res.reason.length > 0 && res.reason !== 'Bad Request');
  });

  test('a PIDF whose entity is another presentity is a 400', async () => {
    const { core } = await makeCore();
    const res = await publish(core, ALICE, { body: pidf('sip:mallory@example.com', 't', 'open') });
    assert.equal(res.status, 400);
    assert.match(res.reason, /entity/i);
  });
});

describe('RFC 3903 §6 steps 6-7: the 2xx and the entity-tag lifecycle', () => {
  test('the 200 carries SIP-ETag and Expires, and a To-tag (RFC 3261 §8.2.6.2)', async () => {
    const { core } = await makeCore();
    const res = await publish(core, ALICE, { body: OPEN, expires: 120 });
    assert.equal(res.status, 200);
    assert.ok((res.headers.get('SIP-ETag') ?? '').length >= 12);
    assert.equal(res.headers.get('Expires'), '120');
    assert.match(res.headers.get('To') ?? '', /;tag=/);
  });

  test('entity-tags are unpredictable and different per publication', async () => {
    const { core } = await makeCore();
    const tags = new Set<string>();
    for (let i = 0; i < 20; i++) tags.add((await publish(core, `sip:u${i}@example.com`, { body: pidf(`sip:u${i}@example.com`, 't', 'open') })).headers.get('SIP-ETag')!);
    assert.equal(tags.size, 20);
  });

  test('refresh (SIP-If-Match, no body): life extended under a fresh SIP-ETag, state unchanged, nobody notified', async () => {
    const { core, sender, clock } = await makeCore({ config: { cleanPeriod: 1 } });
    const w = new Watcher({ presentity: ALICE });
    const e1 = (await publish(core, ALICE, { body: OPEN, expires: 100 })).headers.get('SIP-ETag')!;
    await w.subscribe(core, 600);
    sender.clear();
    clock.advance(90_000);
    const r = await publish(core, ALICE, { etag: e1, expires: 100 });
    assert.equal(r.status, 200);
    const e2 = r.headers.get('SIP-ETag')!;
    assert.notEqual(e2, e1);
    assert.equal(sender.notifies().length, 0, 'a refresh changes no state');
    clock.advance(50_000);
    const p = core.getPresentity(ALICE, 'presence');
    assert.equal(p?.publicationList[0]?.etag, e2);
    assert.match(p?.composite?.body ?? '', /open/);
  });

  test('modify (SIP-If-Match + body): the body replaced under a new SIP-ETag, watchers notified', async () => {
    const { core, sender } = await makeCore();
    const w = new Watcher({ presentity: ALICE });
    const e1 = (await publish(core, ALICE, { body: OPEN })).headers.get('SIP-ETag')!;
    await w.subscribe(core);
    sender.clear();
    const r = await publish(core, ALICE, { etag: e1, body: pidf(ALICE, 'pc', 'closed') });
    assert.equal(r.status, 200);
    assert.notEqual(r.headers.get('SIP-ETag'), e1);
    const n = sender.notifies();
    assert.equal(n.length, 1);
    assert.match(bodyOf(n[0]!.request), /closed/);
    assert.equal(core.getPresentity(ALICE, 'presence')?.publications, 1);
  });

  test('remove (SIP-If-Match + Expires 0): 200 with Expires 0 and SIP-ETag, state gone, watchers notified', async () => {
    const { core, sender } = await makeCore();
    const w = new Watcher({ presentity: ALICE });
    const e1 = (await publish(core, ALICE, { body: OPEN })).headers.get('SIP-ETag')!;
    await w.subscribe(core);
    sender.clear();
    const r = await publish(core, ALICE, { etag: e1, expires: 0 });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('Expires'), '0');
    assert.ok(r.headers.get('SIP-ETag'));
    assert.equal((await publish(core, ALICE, { etag: e1 })).status, 412);
    const n = sender.notifies();
    assert.equal(n.length, 1);
    assert.equal(n[0]!.request.body.length, 0, 'nothing published: no body');
    assert.equal(subState(n[0]!.request).state, 'active');
  });

  test('an initial PUBLISH with Expires 0 is answered 200 and stores nothing', async () => {
    const { core } = await makeCore();
    const r = await publish(core, ALICE, { body: OPEN, expires: 0 });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('Expires'), '0');
    assert.equal(core.getPresentity(ALICE, 'presence'), undefined);
  });

  test('keepEtagOnRefresh keeps the entity-tag (etag_not_new)', async () => {
    const base = (await import('../../../src/packages/presence/index.js')).createPresencePackage({});
    const { core } = await makeCore({ packages: [{ ...base, keepEtagOnRefresh: true }] });
    const e1 = (await publish(core, ALICE, { body: OPEN })).headers.get('SIP-ETag')!;
    const r = await publish(core, ALICE, { etag: e1 });
    assert.equal(r.headers.get('SIP-ETag'), e1);
  });
});

describe('RFC 3903 §3: composite state over all publications', () => {
  test('two devices aggregate into one document; removing one leaves the other', async () => {
    const { core, sender } = await makeCore();
    const w = new Watcher({ presentity: ALICE });
    const pc = (await publish(core, ALICE, { body: pidf(ALICE, 'pc', 'open', 'at desk') })).headers.get('SIP-ETag')!;
    await publish(core, ALICE, { body: pidf(ALICE, 'phone', 'closed', 'in pocket') });
    await w.subscribe(core);
    const first = bodyOf(sender.notifies().at(-1)!.request);
    assert.match(first, /at desk/);
    assert.match(first, /in pocket/);
    sender.clear();
    await publish(core, ALICE, { etag: pc, expires: 0 });
    const after = bodyOf(sender.notifies().at(-1)!.request);
    assert.doesNotMatch(after, /at desk/);
    assert.match(after, /in pocket/);
  });

  test('published state expires after its interval; watchers get the new composite state', async () => {
    const { core, sender, clock, events } = await makeCore({ config: { cleanPeriod: 5 } });
    const w = new Watcher({ presentity: ALICE });
    await publish(core, ALICE, { body: pidf(ALICE, 'pc', 'open', 'desk'), expires: 60 });
    await publish(core, ALICE, { body: pidf(ALICE, 'phone', 'open', 'mobile'), expires: 600 });
    await w.subscribe(core, 3600);
    sender.clear();
    clock.advance(65_000);
    await settle();
    const n = sender.notifies();
    assert.equal(n.length, 1);
    assert.doesNotMatch(bodyOf(n[0]!.request), /desk/);
    assert.match(bodyOf(n[0]!.request), /mobile/);
    assert.ok(events.some((e) => e.type === 'publication-expired'));
  });

  test('a package without aggregate: the newest body is the state', async () => {
    const pkg = { name: 'x-test', contentTypes: ['text/plain'], expires: { default: 600 }, publishable: true };
    const { core, sender } = await makeCore({ packages: [pkg] });
    await publish(core, ALICE, { body: 'one', event: 'x-test', contentType: 'text/plain' });
    await publish(core, ALICE, { body: 'two', event: 'x-test', contentType: 'text/plain' });
    const w = new Watcher({ presentity: ALICE, event: 'x-test', accept: 'text/plain' });
    await w.subscribe(core);
    assert.equal(bodyOf(sender.notifies().at(-1)!.request), 'two');
  });
});

describe('durability: written before the 2xx, rolled back when the write fails', () => {
  test('a failed write answers 500 with Retry-After and leaves no state', async () => {
    const { core, store, sender } = await makeCore();
    const w = new Watcher({ presentity: ALICE });
    await w.subscribe(core);
    sender.clear();
    store.failWrites = 1;
    const r = await publish(core, ALICE, { body: OPEN });
    assert.equal(r.status, 500);
    assert.ok(r.headers.get('Retry-After'));
    assert.equal(core.getPresentity(ALICE, 'presence')?.publications, 0);
    assert.equal(sender.notifies().length, 0, 'nobody told about state that was not stored');
  });

  test('a store shedding load (STORE_ERR_OVERLOADED) gets 503 with Retry-After (RFC 3261 §21.5.4)', async () => {
    const { core, store } = await makeCore();
    store.failWrites = 1;
    store.failCode = 'STORE_ERR_OVERLOADED';
    const r = await publish(core, ALICE, { body: OPEN });
    assert.equal(r.status, 503);
    assert.ok(r.headers.get('Retry-After'));
    const w = new Watcher({ presentity: ALICE });
    store.failWrites = 1;
    assert.equal((await w.subscribe(core)).status, 503);
  });

  test('a failed modify restores the previous entity-tag and body', async () => {
    const { core, store } = await makeCore();
    const e1 = (await publish(core, ALICE, { body: OPEN })).headers.get('SIP-ETag')!;
    store.failWrites = 1;
    assert.equal((await publish(core, ALICE, { etag: e1, body: pidf(ALICE, 'pc', 'closed') })).status, 500);
    const p = core.getPresentity(ALICE, 'presence')!;
    assert.equal(p.publicationList[0]!.etag, e1);
    assert.match(p.composite!.body, /open/);
    assert.equal((await publish(core, ALICE, { etag: e1 })).status, 200);
  });

  test('a failed removal keeps the publication', async () => {
    const { core, store } = await makeCore();
    const e1 = (await publish(core, ALICE, { body: OPEN })).headers.get('SIP-ETag')!;
    store.failWrites = 1;
    assert.equal((await publish(core, ALICE, { etag: e1, expires: 0 })).status, 500);
    assert.equal(core.getPresentity(ALICE, 'presence')?.publications, 1);
  });

  test('the 200 is sent only after the write resolved, and the NOTIFY only after the 200', async () => {
    const { core, store, sender } = await makeCore();
    const w = new Watcher({ presentity: ALICE });
    await w.subscribe(core);
    sender.clear();
    const order: string[] = [];
    const inner = store.inner;
    const origWrite = inner.write.bind(inner);
    inner.write = (m) => {
      order.push('write');
      return origWrite(m).then(() => void order.push('committed'));
    };
    const tx = publishTx(ALICE, { body: OPEN });
    const origRespond = tx.respond.bind(tx);
    tx.respond = (r) => {
      order.push(`respond ${r.status}`);
      origRespond(r);
    };
    const origSend = sender.sendRequest.bind(sender);
    sender.sendRequest = (req, d) => {
      order.push(req.method);
      return origSend(req, d);
    };
    core.handlePublish(tx);
    await settle();
    // (The NOTIFY's own set-notify-cseq write is not awaited and may come before it.)
    assert.deepEqual(order.slice(0, 3), ['write', 'committed', 'respond 200']);
    assert.ok(order.indexOf('NOTIFY') > 2);
  });
});

describe('domain events and the facade', () => {
  test('publication-changed carries presentity, event, etag, oldEtag, expires and body', async () => {
    const { core, events } = await makeCore();
    const e1 = (await publish(core, ALICE, { body: OPEN, expires: 300 })).headers.get('SIP-ETag')!;
    const r = await publish(core, ALICE, { etag: e1, body: pidf(ALICE, 'pc', 'closed') });
    const changes = events.filter((e) => e.type === 'publication-changed');
    assert.equal(changes.length, 2);
    const [c1, c2] = changes;
    assert.ok(c1?.type === 'publication-changed' && c2?.type === 'publication-changed');
    assert.equal(c1.change, 'created');
    assert.equal(c1.etag, e1);
    assert.equal(c1.expires, 300);
    assert.equal(c1.presentity, ALICE);
    assert.equal(c2.change, 'modified');
    assert.equal(c2.oldEtag, e1);
    assert.equal(c2.etag, r.headers.get('SIP-ETag'));
    assert.match(c2.body ?? '', /closed/);
  });

  test('facade publish follows the same rules: create, refresh, 412, 423', async () => {
    const { core, sender } = await makeCore();
    const w = new Watcher({ presentity: ALICE });
    await w.subscribe(core);
    sender.clear();
    const r = await core.publish({ presentity: 'sip:alice@EXAMPLE.com', event: 'presence', contentType: 'application/pidf+xml', body: OPEN, expires: 120 });
    assert.ok(r.ok);
    assert.equal(r.expires, 120);
    assert.equal(sender.notifies().length, 1, 'watchers notified as for a SIP PUBLISH');
    const again = await core.publish({ presentity: ALICE, event: 'presence', etag: r.etag });
    assert.ok(again.ok);
    const stale = await core.publish({ presentity: ALICE, event: 'presence', etag: r.etag });
    assert.deepEqual(stale.ok ? 0 : stale.status, 412);
    const brief = await core.publish({ presentity: ALICE, event: 'presence', body: OPEN, contentType: 'application/pidf+xml', expires: 1 });
    assert.deepEqual(brief.ok ? 0 : brief.status, 423);
  });

  test('too many publications for one presentity are refused (bounded memory)', async () => {
    const { core } = await makeCore({ config: { maxPublicationsPerPresentity: 2 } });
    assert.equal((await publish(core, ALICE, { body: OPEN })).status, 200);
    assert.equal((await publish(core, ALICE, { body: OPEN })).status, 200);
    assert.equal((await publish(core, ALICE, { body: OPEN })).status, 403);
  });
});
