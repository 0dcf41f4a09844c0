import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createPresencePackage } from '../../../src/packages/presence/index.js';
import type { EventPackage } from '../../../src/core/index.js';
import { bodyOf, cseqOf, inbound, makeCore, pidf, publish, subState, Watcher } from './support.js';

const ALICE = 'sip:alice@example.com';
const OPEN = pidf(ALICE, 'pc', 'open', 'hello');

describe('RFC 6665 §4.2.1.1: accepting an initial SUBSCRIBE', () => {
  test('200 carries Expires (granted), Contact (server address) and our To-tag', async () => {
    const { core } = await makeCore();
    const w = new Watcher({ presentity: ALICE });
    const res = await w.subscribe(core, 600);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('Expires'), '600');
    assert.equal(res.headers.get('Contact'), '<sip:presence@192.0.2.1:5060>');
    assert.ok(w.toTag !== undefined && w.toTag.length > 0);
  });

  test('subscribeReplyCode 202 answers 202 (RFC 6665 §8.3.1 deprecates it, old clients want it)', async () => {
    const { core } = await makeCore({ config: { subscribeReplyCode: 202 } });
    assert.equal((await new Watcher({ presentity: ALICE }).subscribe(core)).status, 202);
  });

  test('without serverAddress, Contact is where the subscriber reached us (;transport=tcp for TCP)', async () => {
    const { core } = await makeCore({ config: { serverAddress: undefined } });
    const w = new Watcher({ presentity: ALICE, inbound: inbound({ protocol: 'tcp', flowId: 'f1' }) });
    const res = await w.subscribe(core);
    assert.equal(res.headers.get('Contact'), '<sip:192.0.2.1:5060;transport=tcp>');
  });

  test('the 2xx copies Record-Route (RFC 3261 §12.1.1)', async () => {
    const { core } = await makeCore();
    const w = new Watcher({ presentity: ALICE, recordRoute: ['<sip:p1.example.com;lr>', '<sip:p2.example.com;lr>'] });
    const res = await w.subscribe(core);
    assert.deepEqual(res.headers.getAll('Record-Route'), ['<sip:p1.example.com;lr>', '<sip:p2.example.com;lr>']);
  });

  test('RFC 3856 §6.4: no Expires means 3600 for presence', async () => {
    const { core } = await makeCore();
    assert.equal((await new Watcher({ presentity: ALICE }).subscribe(core)).headers.get('Expires'), '3600');
  });

  test('Expires above maxExpiresSubscribe is lowered (never lengthened)', async () => {
    const { core } = await makeCore({ config: { maxExpiresSubscribe: 1200 } });
    assert.equal((await new Watcher({ presentity: ALICE }).subscribe(core, 99999)).headers.get('Expires'), '1200');
  });

  test('Expires too brief: 423 with Min-Expires', async () => {
    const { core } = await makeCore({ config: { minExpires: 120 } });
    const res = await new Watcher({ presentity: ALICE }).subscribe(core, 30);
    assert.equal(res.status, 423);
    assert.equal(res.headers.get('Min-Expires'), '120');
  });

  test('an unknown or missing Event is a 489 with Allow-Events', async () => {
    const { core } = await makeCore();
    const a = await new Watcher({ presentity: ALICE, event: 'dialog' }).subscribe(core);
    assert.equal(a.status, 489);
    assert.equal(a.headers.get('Allow-Events'), 'presence');
    const b = await new Watcher({ presentity: ALICE, event: null }).subscribe(core);
    assert.equal(b.status, 489);
  });

  test('a presentity outside our domains is a 404', async () => {
    const { core } = await makeCore({ config: { domains: ['example.com'] } });
    assert.equal((await new Watcher({ presentity: 'sip:alice@other.org' }).subscribe(core)).status, 404);
  });

  test('RFC 3856 §6.5: an Accept without PIDF is a 406 with Accept; none, */* or application/* are fine', async () => {
    const { core } = await makeCore();
    const res = await new Watcher({ presentity: ALICE, accept: 'application/xpidf+xml' }).subscribe(core);
    assert.equal(res.status, 406);
    assert.equal(res.headers.get('Accept'), 'application/pidf+xml');
    for (const accept of [null, '*/*', 'application/*', 'application/rlmi+xml, application/pidf+xml']) {
      assert.equal((await new Watcher({ presentity: ALICE, accept }).subscribe(core)).status, 200, String(accept));
    }
  });

  test('a missing Contact is a 400', async () => {
    const { core } = await makeCore();
    assert.equal((await new Watcher({ presentity: ALICE, contact: null }).subscribe(core)).status, 400);
  });

  test('a write failure answers 500 with Retry-After, keeps nothing and sends no NOTIFY', async () => {
    const { core, store, sender } = await makeCore();
    store.failWrites = 1;
    const res = await new Watcher({ presentity: ALICE }).subscribe(core);
    assert.equal(res.status, 500);
    assert.ok(res.headers.get('Retry-After'));
    assert.equal(core.listSubscriptions().length, 0);
    assert.equal(sender.notifies().length, 0);
  });

  test('a SUBSCRIBE reusing Call-ID and From-tag without To-tag makes a new dialog (no merging, RFC 6665)', async () => {
    const { core } = await makeCore();
    const w = new Watcher({ presentity: ALICE });
    await w.subscribe(core);
    const first = w.toTag;
    w.toTag = undefined;
    await w.subscribe(core);
    assert.notEqual(w.toTag, first);
    assert.equal(core.listSubscriptions().length, 2);
  });
});

describe('RFC 6665 §4.2.1.2 / §4.2.2: the NOTIFY that follows', () => {
  test('sent at once with the current state; headers per RFC 6665 §8.2 and RFC 3261 §12.2.1.1', async () => {
    const { core, sender } = await makeCore();
    await publish(core, ALICE, { body: OPEN });
    const w = new Watcher({ presentity: ALICE, event: 'presence;id=42', contact: '<sip:bob@198.51.100.7:5999;transport=udp>' });
    await w.subscribe(core, 600);
    const n = sender.notifies();
    assert.equal(n.length, 1);
    const req = n[0]!.request;
    assert.equal(req.uri, 'sip:bob@198.51.100.7:5999;transport=udp', 'Request-URI = Contact of the SUBSCRIBE');
    assert.equal(req.headers.get('Event'), 'presence;id=42', 'Event echoes type and id');
    assert.equal(req.headers.get('Subscription-State'), 'active;expires=600');
    assert.equal(req.headers.get('Contact'), '<sip:presence@192.0.2.1:5060>');
    assert.equal(req.headers.get('Content-Type'), 'application/pidf+xml');
    assert.match(bodyOf(req), /hello/);
    assert.equal(req.headers.get('From'), `<${ALICE}>;tag=${w.toTag}`);
    assert.equal(req.headers.get('To'), `"Bob" <sip:bob@example.com>;tag=${w.fromTag}`);
    assert.equal(req.headers.get('Call-ID'), w.callId);
    assert.equal(req.headers.get('CSeq'), '1 NOTIFY');
    assert.equal(req.headers.get('Max-Forwards'), '70');
    assert.equal(req.headers.has('Route'), false);
  });

  test('without a route set over UDP, the NOTIFY goes to the source address and port of the SUBSCRIBE', async () => {
    const { core, sender } = await makeCore();
    const w = new Watcher({ presentity: ALICE, contact: '<sip:bob@10.0.0.5:5060>', inbound: inbound({ protocol: 'udp', port: 40000 }) });
    await w.subscribe(core);
    const d = sender.notifies()[0]!.destination;
    assert.deepEqual({ p: d.protocol, a: d.address, port: d.port }, { p: 'udp', a: '192.0.2.10', port: 40000 });
    assert.equal(sender.notifies()[0]!.request.uri, 'sip:bob@10.0.0.5:5060', 'the Request-URI is still the remote target');
  });

  test('over TCP: the connection of the SUBSCRIBE (flowId), else a new connection to the Contact', async () => {
    const { core, sender } = await makeCore();
    const w = new Watcher({ presentity: ALICE, contact: '<sip:bob@198.51.100.20:5062;transport=tcp>', inbound: inbound({ protocol: 'tcp', port: 40000, flowId: 'conn-9' }) });
    await w.subscribe(core);
    const d = sender.notifies()[0]!.destination;
    assert.deepEqual({ p: d.protocol, a: d.address, port: d.port, f: d.flowId }, { p: 'tcp', a: '198.51.100.20', port: 5062, f: 'conn-9' });
  });

  test('with a route set: Route in Record-Route order, sent to the first route', async () => {
    const { core, sender } = await makeCore();
    const w = new Watcher({ presentity: ALICE, recordRoute: ['<sip:198.51.100.1:5090;lr;transport=tcp>', '<sip:p2.example.com;lr>'] });
    await w.subscribe(core);
    const n = sender.notifies()[0]!;
    assert.deepEqual(n.request.headers.getAll('Route'), ['<sip:198.51.100.1:5090;lr;transport=tcp>', '<sip:p2.example.com;lr>']);
    assert.equal(n.request.uri, 'sip:bob@192.0.2.10:5070');
    assert.deepEqual({ p: n.destination.protocol, a: n.destination.address, port: n.destination.port }, { p: 'tcp', a: '198.51.100.1', port: 5090 });
  });

  test('nothing published: NOTIFY without body', async () => {
    const { core, sender } = await makeCore();
    await new Watcher({ presentity: ALICE }).subscribe(core);
    const req = sender.notifies()[0]!.request;
    assert.equal(req.body.length, 0);
    assert.equal(req.headers.has('Content-Type'), false);
  });

  test('notifyOfflineBody: nothing published gives a closed PIDF', async () => {
    const { core, sender } = await makeCore({ packages: [createPresencePackage({ notifyOfflineBody: true })] });
    await new Watcher({ presentity: ALICE }).subscribe(core);
    const req = sender.notifies()[0]!.request;
    assert.equal(req.headers.get('Content-Type'), 'application/pidf+xml');
    assert.match(bodyOf(req), /<basic>closed<\/basic>/);
    assert.match(bodyOf(req), /entity="sip:alice@example.com"/);
  });

  test('the NOTIFY CSeq is recorded every cseqRestartMargin / 4 NOTIFYs (set-notify-cseq), within the restart margin', async () => {
    const { core, store } = await makeCore({ config: { cseqRestartMargin: 40 } });
    const w = new Watcher({ presentity: ALICE });
    await w.subscribe(core);
    for (let i = 0; i < 24; i++) await w.subscribe(core, 600); // each refresh is answered with a NOTIFY
    const recorded = store.writes.flatMap((ws) => ws.flatMap((m) => (m.kind === 'set-notify-cseq' ? [m.localSeq] : [])));
    assert.deepEqual(recorded, [10, 20], 'every 10th NOTIFY of the 25');
  });
});

describe('RFC 6665 §4.2.1.3 / RFC 3856 §6.6: authorization', () => {
  function withAuth(decision: 'pending' | 'rejected' | 'polite-block'): EventPackage {
    return { ...createPresencePackage({}), authorize: () => decision };
  }

  test('pending: the NOTIFY says pending;expires=N and carries no state', async () => {
    const { core, sender } = await makeCore({ config: { forceActive: false }, packages: [withAuth('pending')] });
    await publish(core, ALICE, { body: OPEN });
    const res = await new Watcher({ presentity: ALICE }).subscribe(core, 600);
    assert.equal(res.status, 200);
    const req = sender.notifies()[0]!.request;
    assert.equal(req.headers.get('Subscription-State'), 'pending;expires=600');
    assert.equal(req.body.length, 0);
    sender.clear();
    await publish(core, ALICE, { body: pidf(ALICE, 'x', 'closed') });
    const later = sender.notifies();
    assert.ok(later.every((n) => n.request.body.length === 0), 'no state leaks on later changes either');
  });

  test('rejected: 403', async () => {
    const { core, sender } = await makeCore({ config: { forceActive: false }, packages: [withAuth('rejected')] });
    assert.equal((await new Watcher({ presentity: ALICE }).subscribe(core)).status, 403);
    assert.equal(sender.notifies().length, 0);
  });

  test('polite-block: looks active, carries neutral (closed) state only', async () => {
    const { core, sender } = await makeCore({ config: { forceActive: false }, packages: [withAuth('polite-block')] });
    await publish(core, ALICE, { body: OPEN });
    await new Watcher({ presentity: ALICE }).subscribe(core);
    const req = sender.notifies()[0]!.request;
    assert.equal(subState(req).state, 'active');
    assert.match(bodyOf(req), /closed/);
    assert.doesNotMatch(bodyOf(req), /hello/);
  });

  test('forceActive ignores the package decision', async () => {
    const { core, sender } = await makeCore({ config: { forceActive: true }, packages: [withAuth('pending')] });
    await new Watcher({ presentity: ALICE }).subscribe(core);
    assert.equal(subState(sender.notifies()[0]!.request).state, 'active');
  });
});

describe('RFC 6665 §4.4.3: fetch (Expires 0 on an initial SUBSCRIBE)', () => {
  test('200 with Expires 0, one NOTIFY terminated;reason=timeout with the current state, nothing kept', async () => {
    const { core, sender, store } = await makeCore();
    await publish(core, ALICE, { body: OPEN });
    const res = await new Watcher({ presentity: ALICE }).subscribe(core, 0);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('Expires'), '0');
    const n = sender.notifies();
    assert.equal(n.length, 1);
    assert.equal(n[0]!.request.headers.get('Subscription-State'), 'terminated;reason=timeout');
    assert.match(bodyOf(n[0]!.request), /hello/);
    assert.equal(core.listSubscriptions().length, 0);
    assert.ok(!store.writes.some((w) => w.some((m) => m.kind === 'put-subscription')));
  });
});

describe('in-dialog SUBSCRIBE: refresh and unsubscribe (RFC 6665 §4.2.1.2, §4.2.1.4)', () => {
  test('refresh: 200 with the new Expires and a NOTIFY with the current state, CSeq + 1', async () => {
    const { core, sender, clock } = await makeCore();
    await publish(core, ALICE, { body: OPEN });
    const w = new Watcher({ presentity: ALICE });
    await w.subscribe(core, 600);
    clock.advance(300_000);
    const res = await w.subscribe(core, 900);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('Expires'), '900');
    const n = sender.notifies();
    assert.equal(n.length, 2);
    assert.equal(cseqOf(n[1]!.request), cseqOf(n[0]!.request) + 1);
    assert.equal(n[1]!.request.headers.get('Subscription-State'), 'active;expires=900');
    assert.match(bodyOf(n[1]!.request), /hello/);
  });

  test('refresh with a new Contact retargets NOTIFYs; a new source flow is used for delivery', async () => {
    const { core, sender } = await makeCore();
    const w = new Watcher({ presentity: ALICE });
    await w.subscribe(core);
    await w.subscribe(core, 600, { contact: '<sip:bob@203.0.113.5:6000>', inbound: inbound({ port: 6001 }) });
    const last = sender.notifies().at(-1)!;
    assert.equal(last.request.uri, 'sip:bob@203.0.113.5:6000');
    assert.equal(last.destination.port, 6001);
  });

  test('no such dialog: 481', async () => {
    const { core } = await makeCore();
    const w = new Watcher({ presentity: ALICE });
    w.toTag = 'never-issued';
    assert.equal((await w.subscribe(core, 600)).status, 481);
  });

  test('another Event id in the same dialog matches nothing: 481', async () => {
    const { core } = await makeCore();
    const w = new Watcher({ presentity: ALICE, event: 'presence;id=1' });
    await w.subscribe(core);
    assert.equal((await w.subscribe(core, 600, { event: 'presence;id=2' })).status, 481);
    assert.equal((await w.subscribe(core, 600, { event: 'presence;id=1' })).status, 200);
  });

  test('RFC 3261 §12.2.2: a CSeq not above the last one is a 500', async () => {
    const { core } = await makeCore();
    const w = new Watcher({ presentity: ALICE });
    await w.subscribe(core, 600, { cseq: 10 });
    assert.equal((await w.subscribe(core, 600, { cseq: 9 })).status, 500);
    assert.equal((await w.subscribe(core, 600, { cseq: 10 })).status, 500);
    assert.equal((await w.subscribe(core, 600, { cseq: 11 })).status, 200);
  });

  test('a refresh too brief is a 423 and the subscription stays as it was', async () => {
    const { core } = await makeCore({ config: { minExpires: 60 } });
    const w = new Watcher({ presentity: ALICE });
    await w.subscribe(core, 600);
    const before = core.listSubscriptions()[0]!.expiresAt;
    assert.equal((await w.subscribe(core, 10)).status, 423);
    assert.equal(core.listSubscriptions()[0]!.expiresAt, before);
  });

  test('unsubscribe (Expires 0): 200, a final NOTIFY terminated;reason=timeout with state, then gone', async () => {
    const { core, sender, events } = await makeCore();
    await publish(core, ALICE, { body: OPEN });
    const w = new Watcher({ presentity: ALICE });
    await w.subscribe(core);
    const res = await w.subscribe(core, 0);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('Expires'), '0');
    const last = sender.notifies().at(-1)!.request;
    assert.equal(last.headers.get('Subscription-State'), 'terminated;reason=timeout');
    assert.match(bodyOf(last), /hello/);
    assert.equal(core.listSubscriptions().length, 0);
    assert.equal((await w.subscribe(core, 600)).status, 481);
    assert.ok(events.some((e) => e.type === 'subscription-terminated'));
  });

  test('a failed write on refresh: 500, old expiry kept', async () => {
    const { core, store } = await makeCore();
    const w = new Watcher({ presentity: ALICE });
    await w.subscribe(core, 600);
    const before = core.listSubscriptions()[0]!;
    store.failWrites = 1;
    assert.equal((await w.subscribe(core, 1200)).status, 500);
    const after = core.listSubscriptions()[0]!;
    assert.equal(after.expiresAt, before.expiresAt);
  });

  test('a failed write on unsubscribe: 500, the subscription stays', async () => {
    const { core, store } = await makeCore();
    const w = new Watcher({ presentity: ALICE });
    await w.subscribe(core, 600);
    store.failWrites = 1;
    assert.equal((await w.subscribe(core, 0)).status, 500);
    assert.equal(core.listSubscriptions().length, 1);
    assert.equal((await w.subscribe(core, 600)).status, 200);
  });
});

describe('RFC 6665 §4.2.2: expiry', () => {
  test('an expired subscription gets NOTIFY terminated;reason=timeout and is removed', async () => {
    const { core, sender, clock, store } = await makeCore({ config: { cleanPeriod: 10 } });
    const w = new Watcher({ presentity: ALICE });
    await w.subscribe(core, 120);
    sender.clear();
    clock.advance(125_000);
    const n = sender.notifies();
    assert.equal(n.length, 1);
    assert.equal(n[0]!.request.headers.get('Subscription-State'), 'terminated;reason=timeout');
    assert.equal(core.listSubscriptions().length, 0);
    assert.ok(store.writes.some((ws) => ws.some((m) => m.kind === 'delete-subscription')));
  });

  test('a refresh after expiry (not yet swept) is a 481', async () => {
    const { core, clock } = await makeCore({ config: { cleanPeriod: 1000 } });
    const w = new Watcher({ presentity: ALICE });
    await w.subscribe(core, 120);
    clock.advance(121_000);
    assert.equal((await w.subscribe(core, 600)).status, 481);
  });
});
