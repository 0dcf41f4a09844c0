/**
 * Conformance probes for PUBLISH (RFC 3903), SUBSCRIBE/NOTIFY (RFC 6665), the presence package (RFC 3856) and
 * presence.winfo (RFC 3857/3858), black-box over raw SIP on 127.0.0.1. Items of shared/design/anchors-features.md §4
 * already checked exactly elsewhere:
 *
 * RFC 3903 (integration/presence-publish): §6 step 2 489 with Allow-Events; step 3 412 for an unknown tag; step 4
 * Expires absent → 3600, lowered to the maximum, 423 with Min-Expires; step 5 415 with Accept, 400 without a body;
 * steps 6-7 SIP-ETag + Expires on 2xx, a new tag on refresh (old one 412); modify/remove/aggregation seen by watchers;
 * expiry notified. §6 step 1 404 for a domain not served: conformance-rfc3261 "§8.2.2.1"; 403 for another user's
 * presentity: integration/auth.
 *
 * RFC 6665 (integration/presence-subscribe): §4.2.1.1 489 with Allow-Events, 2xx with Expires ≤ requested and Contact,
 * 423 with Min-Expires, 200 by default (202 only with subscribeReplyCode); §4.2.1.2 immediate NOTIFY, NOTIFY after a
 * refresh; Expires 0 unsubscribe and fetch (§4.4.3); §4.2.2 terminated;reason=timeout at expiry, 481 ends it;
 * §4.2.1.4 481 for a gone dialog; route set from Record-Route (§4.3, RFC 3261 §12.1.1: the notifier is the UAS of the
 * SUBSCRIBE, so the route set is the Record-Route in order, not reversed). Timer F / 408 per endSubOnTimeout:
 * unit/core/notifier. §4.2.1.3 pending/rejected: integration/packages-pres-rules. CSeq across restarts:
 * integration/recovery.
 *
 * RFC 3856 (presence-subscribe, packages-pres-rules): §6.4 default 3600; §6.5 406, no Accept = PIDF; §6.6 pending
 * without state, polite-block closed; §6.7 full state (aggregation in presence-publish). §6.10 at most one NOTIFY
 * per 5 s: a documented deviation (docs/packages.md "Deviations"): one NOTIFY in flight per subscription, changes
 * coalesced (presence-subscribe "no NOTIFY while the previous one is unanswered").
 *
 * RFC 3857/3858 (packages-winfo): 403 for anyone but the presentity; full first, partial then full, version +1 per
 * NOTIFY, per subscription; schema; 406. A pending watcher in winfo and its approval: packages-pres-rules.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { pidf, randomToken } from '../support/sip-test-client.js';
import { startTestServer, type TestServer } from '../support/test-server.js';
import { basics, publish, tupleIds } from '../support/presence-ua.js';
import { client, closeAll, state, watcher, watcherInfo, WATCHERINFO } from './packages-fixtures.js';
import { aor, sleep } from './conformance-fixtures.js';

let server: TestServer;
/** forceActive off: subscriptions without a rule are pending. */
let strict: TestServer;

before(async () => {
  // Short minimum and sweep so a subscription can time out within a test.
  server = await startTestServer({ domain: 'example.com', minExpires: 1, cleanPeriod: 1 });
  strict = await startTestServer({ domain: 'example.com', forceActive: false });
});

after(async () => {
  await closeAll();
  await server.stop();
  await strict.stop();
});

describe('RFC 3903 PUBLISH', () => {
  test('§6 step 3: SIP-If-Match with the entity-tag of another resource or another event package gets 412', async () => {
    const c = await client(server);
    const alice = aor('alice');
    const bob = aor('bob');
    const a = await publish(c, { aor: alice, body: pidf(alice, 't', 'open'), expires: 60 });
    assert.equal(a.status, 200);
    const etag = a.headers.get('SIP-ETag') ?? '';
    assert.equal((await publish(c, { aor: bob, etag, expires: 60 })).status, 412, 'the tag names alice, not bob');
    assert.equal((await publish(c, { aor: alice, etag, event: 'dialog', expires: 60 })).status, 412, 'the tag names presence, not dialog');
    assert.equal((await publish(c, { aor: alice, etag, expires: 60 })).status, 200, 'still valid where it belongs');
  });

  test('§6 steps 6-7, §4: modify gets a fresh SIP-ETag; a refresh notifies nobody; after removal the tag is gone (412)', async () => {
    const c = await client(server);
    const p = aor('lifecycle');
    const w = await watcher(server, { presentity: p });
    assert.equal((await w.subscribe(300)).status, 200);
    await w.notify();
    const first = await publish(c, { aor: p, body: pidf(p, 't', 'open'), expires: 60 });
    const tag1 = first.headers.get('SIP-ETag') ?? '';
    await w.notify();
    const modify = await publish(c, { aor: p, etag: tag1, body: pidf(p, 't', 'closed'), expires: 60 });
    assert.equal(modify.status, 200);
    const tag2 = modify.headers.get('SIP-ETag') ?? '';
    assert.ok(tag2.length > 0 && tag2 !== tag1, 'a new entity-tag for a modify');
    assert.equal(modify.headers.get('Expires'), '60');
    assert.deepEqual(basics((await w.notify()).request.body), ['closed']);
    const refresh = await publish(c, { aor: p, etag: tag2, expires: 60 });
    assert.equal(refresh.status, 200);
    const tag3 = refresh.headers.get('SIP-ETag') ?? '';
    assert.ok(tag3 !== tag2 && tag3 !== tag1);
    await w.client.expectNoRequest('NOTIFY', 300);
    const remove = await publish(c, { aor: p, etag: tag3, expires: 0 });
    assert.equal(remove.status, 200);
    assert.deepEqual(tupleIds((await w.notify()).request.body), [], 'watchers learn of the removal');
    assert.equal((await publish(c, { aor: p, etag: tag3, expires: 60 })).status, 412);
  });

  test('§6 step 2: PUBLISH for a package that takes no publications (presence.winfo) gets 489 with Allow-Events', async () => {
    const c = await client(server);
    const p = aor('winfopub');
    const res = await publish(c, { aor: p, event: 'presence.winfo', contentType: WATCHERINFO, body: '<watcherinfo/>', expires: 60 });
    assert.equal(res.status, 489);
    assert.ok(res.headers.getAll('Allow-Events').includes('presence'));
  });
});

describe('RFC 6665 SUBSCRIBE/NOTIFY', () => {
  test('§8.2.1, §4.2.2: the Event id is echoed in every NOTIFY, each with Subscription-State and its expires; the last is terminated;reason=timeout', async () => {
    const c = await client(server);
    const p = aor('idecho');
    const w = await watcher(server, { presentity: p, event: 'presence;id=abc-42' });
    const res = await w.subscribe(120);
    assert.equal(res.status, 200);
    const granted = Number(res.headers.get('Expires'));
    const seen: string[] = [];
    const check = async (expect: string): Promise<ReturnType<typeof state>> => {
      const n = (await w.notify({ timeoutMs: 5000 })).request;
      assert.match(n.headers.get('Event') ?? '', /^presence\s*;\s*id=abc-42$/, `Event in the ${expect} NOTIFY`);
      const st = state(n);
      seen.push(st.state);
      return st;
    };
    let st = await check('initial');
    assert.equal(st.state, 'active');
    assert.ok(Number(st.params.get('expires')) <= granted && Number(st.params.get('expires')) >= granted - 2);
    await publish(c, { aor: p, body: pidf(p, 't', 'open'), expires: 60 });
    st = await check('change');
    assert.equal(st.state, 'active');
    // Refresh to a short interval: a NOTIFY with the current state and the new expiry (§4.2.1.2).
    const refresh = await w.subscribe(1);
    assert.equal(refresh.status, 200);
    assert.equal(refresh.headers.get('Expires'), '1');
    st = await check('refresh');
    assert.equal(st.state, 'active');
    assert.ok(Number(st.params.get('expires')) <= 1);
    // Not refreshed again: expires within Expires + one sweep.
    st = await check('timeout');
    assert.equal(st.state, 'terminated');
    assert.equal(st.params.get('reason'), 'timeout');
    assert.equal(st.params.has('expires'), false);
    assert.deepEqual(seen, ['active', 'active', 'active', 'terminated']);
    assert.equal((await w.subscribe(60)).status, 481, 'the subscription is gone');
  });

  test('§4.2.1.2: the NOTIFY after a refresh carries the current state', async () => {
    const c = await client(server);
    const p = aor('refreshstate');
    assert.equal((await publish(c, { aor: p, body: pidf(p, 'desk', 'open'), expires: 60 })).status, 200);
    const w = await watcher(server, { presentity: p });
    assert.equal((await w.subscribe(300)).status, 200);
    await w.notify();
    assert.equal((await w.subscribe(300)).status, 200);
    const n = (await w.notify()).request;
    assert.deepEqual(tupleIds(n.body), ['desk']);
    assert.deepEqual(basics(n.body), ['open']);
  });

  test('§8.2.1: event types are compared exactly: "Presence" is not "presence" (489)', async () => {
    const w = await watcher(server, { presentity: aor('case'), event: 'Presence' });
    const res = await w.subscribe(60);
    assert.equal(res.status, 489);
    assert.ok(res.headers.getAll('Allow-Events').includes('presence'));
  });

  test('§4.2.2: a NOTIFY answered with an error without Retry-After ends the subscription; with Retry-After it is kept', async () => {
    const c = await client(server);
    const p = aor('notifyerr');
    const ends = await watcher(server, { presentity: p });
    const keeps = await watcher(server, { presentity: p });
    assert.equal((await ends.subscribe(300)).status, 200);
    await ends.notify();
    assert.equal((await keeps.subscribe(300)).status, 200);
    await keeps.notify();
    await publish(c, { aor: p, body: pidf(p, 't', 'open'), expires: 60 });
    await ends.notify({ status: 500 });
    const n = await keeps.client.nextRequest('NOTIFY', 3000);
    keeps.client.respond(n, 503, 'Busy', [['Retry-After', '5']]);
    await sleep(200);
    assert.equal((await ends.subscribe(300)).status, 481, 'removed after the 500');
    assert.equal((await keeps.subscribe(300)).status, 200, 'kept: the 503 had Retry-After');
    await keeps.notify();
  });

  test('§4.2.1.1: Expires 0 as a fetch of a presentity with nothing published: 200 and one terminated NOTIFY, nothing kept', async () => {
    const p = aor('fetchnothing');
    const w = await watcher(server, { presentity: p });
    const res = await w.subscribe(0);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('Expires'), '0');
    const n = (await w.notify()).request;
    assert.equal(state(n).state, 'terminated');
    assert.ok(state(n).params.get('reason'), 'terminated carries a reason');
    const c = await client(server);
    await publish(c, { aor: p, body: pidf(p, 't', 'open'), expires: 60 });
    await w.client.expectNoRequest('NOTIFY', 300);
  });
});

describe('RFC 6665 dialog reuse', () => {
  test('§4.5.2: a SUBSCRIBE in an existing dialog for another Event id or package gets 481; the subscription goes on', async () => {
    const c = await client(server);
    const p = aor('reuse');
    const w = await watcher(server, { presentity: p, event: 'presence;id=1' });
    assert.equal((await w.subscribe(300)).status, 200);
    await w.notify();
    const other = (event: string): Parameters<typeof c.send>[0] => {
      const spec = w.spec(300);
      return { ...spec, headers: (spec.headers ?? []).map(([n, v]) => (n === 'Event' ? [n, event] : [n, v]) as [string, string]) };
    };
    for (const event of ['presence;id=2', 'presence', 'dialog']) {
      const res = await w.client.request(other(event));
      assert.equal(res.status, 481, `Event: ${event}`);
    }
    await w.client.expectNoRequest('NOTIFY', 200);
    await publish(c, { aor: p, body: pidf(p, 't', 'open'), expires: 60 });
    const n = (await w.notify()).request;
    assert.equal(n.headers.get('Event'), 'presence;id=1');
    assert.deepEqual(basics(n.body), ['open']);
  });
});

describe('RFC 3856 presence', () => {
  test('deviation (docs/packages.md): §6.10 asks for at most one NOTIFY per 5 s; changes are sent as soon as the previous NOTIFY is answered', async () => {
    const c = await client(server);
    const p = aor('rate');
    const w = await watcher(server, { presentity: p });
    assert.equal((await w.subscribe(300)).status, 200);
    await w.notify();
    const started = performance.now();
    let etag: string | undefined;
    for (const basic of ['open', 'closed'] as const) {
      const r = await publish(c, { aor: p, body: pidf(p, 't', basic), expires: 60, ...(etag ? { etag } : {}) });
      etag = r.headers.get('SIP-ETag');
      assert.deepEqual(basics((await w.notify()).request.body), [basic]);
    }
    assert.ok(performance.now() - started < 2000, 'both changes notified without a 5 s spacing');
  });

  test('§6.5: Accept with wildcards or several values is understood; PIDF with q=0 only is 406', async () => {
    for (const accept of ['application/*', '*/*', 'text/plain, application/pidf+xml;q=0.5', 'application/PIDF+XML']) {
      const w = await watcher(server, { presentity: aor('accept'), accept });
      assert.equal((await w.subscribe(60)).status, 200, `Accept: ${accept}`);
      const n = (await w.notify()).request;
      assert.equal(state(n).state, 'active');
    }
    const refused = await watcher(server, { presentity: aor('accept'), accept: 'application/pidf+xml;q=0, text/plain' });
    const res = await refused.subscribe(60);
    assert.equal(res.status, 406);
    assert.ok(res.headers.getAll('Accept').some((a) => a.trim().startsWith('application/pidf+xml')), 'the 406 says what we send');
  });

  test('§6.6, RFC 6665 §4.2.1.3: a pending watcher gets pending;expires=N and no body, then nothing of later changes', async () => {
    const c = await client(strict);
    const p = aor('pending');
    assert.equal((await publish(c, { aor: p, body: pidf(p, 'secret', 'open', 'in the office'), expires: 60 })).status, 200);
    const w = await watcher(strict, { presentity: p, watcher: 'sip:stranger@example.com' });
    const res = await w.subscribe(300);
    assert.equal(res.status, 200);
    const n = (await w.notify()).request;
    const st = state(n);
    assert.equal(st.state, 'pending');
    assert.ok(Number(st.params.get('expires')) > 0 && Number(st.params.get('expires')) <= 300);
    assert.equal(n.body.length, 0);
    assert.equal(n.headers.get('Content-Type'), undefined);
    await publish(c, { aor: p, body: pidf(p, 'secret2', 'closed'), expires: 60 });
    // A pending watcher may be re-notified, but never with state.
    const deadline = performance.now() + 400;
    while (performance.now() < deadline) {
      const more = w.client.pendingRequests().length;
      if (more > 0) {
        const again = (await w.notify()).request;
        assert.equal(again.body.length, 0);
      }
      await sleep(50);
    }
  });
});

describe('RFC 3857/3858 presence.winfo', () => {
  test('RFC 3857 §4.4: no Expires gets the 3600 s default; the body is application/watcherinfo+xml, version 0, full', async () => {
    const alice = aor('winfo');
    const owner = await watcher(server, { presentity: alice, watcher: alice, event: 'presence.winfo', accept: WATCHERINFO });
    const res = await owner.subscribe(undefined);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('Expires'), '3600');
    const doc = watcherInfo((await owner.notify()).request);
    assert.deepEqual([doc.version, doc.state, doc.lists[0]?.package], [0, 'full', 'presence']);
  });

  test('RFC 3857 §4.4: an owner without Accept gets watcherinfo (the package default)', async () => {
    const alice = `sip:winfo-${randomToken(3)}@example.com`;
    const owner = await watcher(server, { presentity: alice, watcher: alice, event: 'presence.winfo', accept: null });
    assert.equal((await owner.subscribe(600)).status, 200);
    assert.equal(watcherInfo((await owner.notify()).request).version, 0);
  });
});
