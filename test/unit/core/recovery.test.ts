import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryStore } from '../../../src/store/memory/index.js';
import { ManualClock } from '../../../src/transaction/index.js';
import { bodyOf, cseqOf, FakeSender, FlakyStore, makeCore, pidf, publish, settle, subState, Watcher } from './support.js';

const ALICE = 'sip:alice@example.com';

describe('restart: subscriptions survive, CSeq never goes backwards, no NOTIFY storm', () => {
  test('stop() sends no terminated NOTIFYs and a new core over the same store has the subscriptions back', async () => {
    const inner = new MemoryStore();
    const clock = new ManualClock();
    const a = await makeCore({ store: new FlakyStore(inner), clock });
    await publish(a.core, ALICE, { body: pidf(ALICE, 'pc', 'open', 'before restart') });
    const w = new Watcher({ presentity: ALICE, inbound: undefined });
    await w.subscribe(a.core, 3600);
    for (let i = 0; i < 3; i++) await publish(a.core, ALICE, { body: pidf(ALICE, `t${i}`, 'open') });
    const lastSeq = cseqOf(a.sender.notifies().at(-1)!.request);
    const sentBefore = a.sender.sent.length;
    await a.core.stop();
    // The stored CSeq trails the last one sent by less than the write stride (margin / 4).
    const storedSeq = (await inner.load()).subscriptions[0]!.dialog.localSeq;
    assert.ok(storedSeq <= lastSeq && lastSeq - storedSeq < 25, `stored ${storedSeq}, last sent ${lastSeq}`);
    assert.equal(a.sender.sent.length, sentBefore, 'no NOTIFY on shutdown');

    const b = await makeCore({ store: new FlakyStore(inner), clock, config: { notifyRecoveryRate: 10 } });
    assert.equal(b.core.listSubscriptions().length, 1);
    assert.equal(b.core.getPresentity(ALICE, 'presence')?.publications, 4);
    clock.advance(1000);
    await settle();
    const n = b.sender.notifies();
    assert.equal(n.length, 1, 'recovered subscription re-notified');
    assert.ok(cseqOf(n[0]!.request) > lastSeq, `CSeq ${cseqOf(n[0]!.request)} must exceed ${lastSeq}`);
    assert.equal(cseqOf(n[0]!.request), storedSeq + 100 + 1, 'the safety margin is applied');
    assert.match(bodyOf(n[0]!.request), /before restart/);
    assert.equal(n[0]!.request.headers.get('Call-ID'), w.callId);
    // The dialog still works: an in-dialog refresh is recognised.
    assert.equal((await w.subscribe(b.core, 600)).status, 200);
  });

  test('the raised CSeq is written back at start, so two quick restarts still never reuse a CSeq', async () => {
    const inner = new MemoryStore();
    const clock = new ManualClock();
    const a = await makeCore({ store: new FlakyStore(inner), clock });
    await new Watcher({ presentity: ALICE }).subscribe(a.core);
    const firstStored = (await inner.load()).subscriptions[0]!.dialog.localSeq;
    await a.core.stop();
    const b = await makeCore({ store: new FlakyStore(inner), clock });
    await b.core.stop(); // stopped before any recovery NOTIFY went out
    const snap = await inner.load();
    assert.equal(snap.subscriptions[0]!.dialog.localSeq, firstStored + 100, 'the raised value is stored');
    const c = await makeCore({ store: new FlakyStore(inner), clock, config: { notifyRecoveryRate: 1000 } });
    clock.advance(1000);
    await settle();
    assert.equal(cseqOf(c.sender.notifies()[0]!.request), firstStored + 200 + 1, 'raised again over the raised value');
  });

  test('what expired while down is dropped durably at start, and not notified', async () => {
    const inner = new MemoryStore();
    const clock = new ManualClock();
    const a = await makeCore({ store: new FlakyStore(inner), clock, config: { cleanPeriod: 100000 } });
    await publish(a.core, ALICE, { body: pidf(ALICE, 'pc', 'open'), expires: 100 });
    await new Watcher({ presentity: ALICE }).subscribe(a.core, 100);
    await new Watcher({ presentity: ALICE, watcher: 'sip:carol@example.com' }).subscribe(a.core, 3600);
    await a.core.stop();
    clock.advance(200_000); // down for 200 s
    const b = await makeCore({ store: new FlakyStore(inner), clock });
    assert.deepEqual(b.core.listSubscriptions().map((s) => s.watcher), ['sip:carol@example.com']);
    assert.equal(b.core.getPresentity(ALICE, 'presence')?.publications, 0);
    const snap = await inner.load();
    assert.equal(snap.subscriptions.length, 1);
    assert.equal(snap.publications.length, 0);
    clock.advance(5000);
    await settle();
    const n = b.sender.notifies();
    assert.equal(n.length, 1);
    assert.equal(n[0]!.request.body.length, 0, 'the expired publication is not in the state');
    assert.equal(subState(n[0]!.request).state, 'active');
  });

  test('re-notification is paced by notifyRecoveryRate', async () => {
    const inner = new MemoryStore();
    const clock = new ManualClock();
    const a = await makeCore({ store: new FlakyStore(inner), clock });
    for (let i = 0; i < 50; i++) await new Watcher({ presentity: ALICE, watcher: `sip:w${i}@example.com` }).subscribe(a.core);
    await a.core.stop();
    const b = await makeCore({ store: new FlakyStore(inner), clock, config: { notifyRecoveryRate: 10 } });
    assert.equal(b.sender.notifies().length, 0, 'nothing at once');
    clock.advance(1000);
    await settle();
    assert.equal(b.sender.notifies().length, 10);
    clock.advance(2000);
    await settle();
    assert.equal(b.sender.notifies().length, 30);
    assert.equal(b.core.stats().recoveryPending, 20);
    clock.advance(10_000);
    await settle();
    assert.equal(b.sender.notifies().length, 50, 'each exactly once');
    assert.equal(new Set(b.sender.notifies().map((n) => n.request.headers.get('Call-ID'))).size, 50);
  });

  test('a subscription notified meanwhile (change) is not re-notified again by recovery', async () => {
    const inner = new MemoryStore();
    const clock = new ManualClock();
    const a = await makeCore({ store: new FlakyStore(inner), clock });
    for (let i = 0; i < 5; i++) await new Watcher({ presentity: ALICE, watcher: `sip:w${i}@example.com` }).subscribe(a.core);
    await a.core.stop();
    const b = await makeCore({ store: new FlakyStore(inner), clock, config: { notifyRecoveryRate: 1 } });
    await publish(b.core, ALICE, { body: pidf(ALICE, 'pc', 'open') });
    assert.equal(b.sender.notifies().length, 5);
    clock.advance(10_000);
    await settle();
    assert.equal(b.sender.notifies().length, 5);
  });

  test('TCP flow ids do not survive a restart (the connection is gone)', async () => {
    const inner = new MemoryStore();
    const clock = new ManualClock();
    const a = await makeCore({ store: new FlakyStore(inner), clock });
    const { inbound } = await import('./support.js');
    await new Watcher({ presentity: ALICE, inbound: inbound({ protocol: 'tcp', flowId: 'conn-1', port: 41000 }) }).subscribe(a.core);
    await a.core.stop();
    const b = await makeCore({ store: new FlakyStore(inner), clock, config: { notifyRecoveryRate: 100 } });
    clock.advance(1000);
    await settle();
    const d = b.sender.notifies()[0]!.destination;
    assert.equal(d.protocol, 'tcp');
    assert.equal(d.address, '192.0.2.10');
    assert.equal(d.port, 5070, 'a new connection goes to the Contact, not to the old ephemeral source port');
    assert.equal(d.flowId, undefined);
  });

  test('requests before start() resolves, and after stop(), get 503 with Retry-After', async () => {
    const { PresenceCore } = await import('../../../src/core/index.js');
    const { createPresencePackage } = await import('../../../src/packages/presence/index.js');
    const { silentLogger, publishTx } = await import('./support.js');
    const core = new PresenceCore({
      store: new MemoryStore(),
      sender: new FakeSender(),
      clock: new ManualClock(),
      logger: silentLogger,
      packages: [createPresencePackage()],
    });
    const early = publishTx(ALICE, { body: pidf(ALICE, 'x', 'open') });
    core.handlePublish(early);
    assert.equal(early.final.status, 503);
    assert.ok(early.final.headers.get('Retry-After'));
    await core.start();
    await core.stop();
    const late = publishTx(ALICE, { body: pidf(ALICE, 'x', 'open') });
    core.handlePublish(late);
    assert.equal(late.final.status, 503);
  });
});

describe('expiry sweeper: cost follows what expires', () => {
  test('a sweep touches only the expired records (heap order), and cleanup() runs one on demand', async () => {
    const { core, clock } = await makeCore({ config: { cleanPeriod: 100000, minExpires: 1 } });
    for (let i = 0; i < 100; i++) await new Watcher({ presentity: `sip:p${i}@example.com` }).subscribe(core, 60 + i);
    clock.advance(60_000 + 10_500);
    const r = core.cleanup();
    assert.deepEqual(r, { publications: 0, subscriptions: 11 });
    assert.equal(core.listSubscriptions().length, 89);
    assert.deepEqual(core.cleanup(), { publications: 0, subscriptions: 0 });
  });
});

describe('restart over SQLite: records round-trip through the real adapter', () => {
  test('dialog, route set, Event id, Accept and publications come back and keep working', async () => {
    const { mkdtempSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { openStore } = await import('../../../src/store/index.js');
    const dir = mkdtempSync(join(tmpdir(), 'presenced-core-'));
    try {
      const url = `sqlite:${join(dir, 'p.db')}`;
      const clock = new ManualClock();
      const s1 = await openStore(url);
      const a = await makeCore({ store: new FlakyStore(s1), clock });
      const etag = (await publish(a.core, ALICE, { body: pidf(ALICE, 'pc', 'open', 'persisted') })).headers.get('SIP-ETag')!;
      const w = new Watcher({ presentity: ALICE, event: 'presence;id=7', recordRoute: ['<sip:198.51.100.1;lr>'], accept: 'application/pidf+xml, multipart/related' });
      assert.equal((await w.subscribe(a.core, 3600)).status, 200);
      const lastSeq = cseqOf(a.sender.notifies().at(-1)!.request);
      await a.core.stop();
      await s1.close();

      const s2 = await openStore(url);
      const b = await makeCore({ store: new FlakyStore(s2), clock, config: { notifyRecoveryRate: 100 } });
      clock.advance(1000);
      await settle();
      const n = b.sender.notifies();
      assert.equal(n.length, 1);
      const req = n[0]!.request;
      assert.equal(req.headers.get('Event'), 'presence;id=7');
      assert.deepEqual(req.headers.getAll('Route'), ['<sip:198.51.100.1;lr>']);
      assert.equal(req.headers.get('To'), `"Bob" <sip:bob@example.com>;tag=${w.fromTag}`);
      assert.ok(cseqOf(req) > lastSeq);
      assert.match(bodyOf(req), /persisted/);
      assert.equal((await w.subscribe(b.core, 600)).status, 200, 'in-dialog refresh recognised after restart');
      assert.equal((await publish(b.core, ALICE, { etag })).status, 200, 'entity-tag survived');
      await b.core.stop();
      await s2.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
