import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { bodyOf, cseqOf, FakeSender, makeCore, pidf, publish, settle, subState, Watcher } from './support.js';

const ALICE = 'sip:alice@example.com';
const note = (n: string): string => pidf(ALICE, 'pc', 'open', n);

function manualSender(): FakeSender {
  const s = new FakeSender();
  s.auto = undefined;
  return s;
}

describe('RFC 6665 §4.2.2 / RFC 3856 §6.10: one NOTIFY in flight per dialog, changes coalesce', () => {
  test('changes while a NOTIFY is outstanding wait, then one NOTIFY carries the latest state', async () => {
    const sender = manualSender();
    const { core } = await makeCore({ sender });
    const w = new Watcher({ presentity: ALICE });
    await w.subscribe(core);
    assert.equal(sender.notifies().length, 1);
    await publish(core, ALICE, { body: note('one') });
    await publish(core, ALICE, { body: note('two') });
    await publish(core, ALICE, { body: note('three') });
    assert.equal(sender.notifies().length, 1, 'nothing sent while the first NOTIFY is outstanding');
    assert.equal(core.stats().notify.queued, 1);
    sender.notifies()[0]!.answer(200);
    await settle();
    const n = sender.notifies();
    assert.equal(n.length, 2, 'three changes, one NOTIFY');
    assert.match(bodyOf(n[1]!.request), /three/);
    assert.equal(cseqOf(n[1]!.request), cseqOf(n[0]!.request) + 1);
    assert.equal(core.stats().notify.queued, 0);
  });

  test('CSeq strictly increases across many changes', async () => {
    const { core, sender } = await makeCore();
    const w = new Watcher({ presentity: ALICE });
    await w.subscribe(core);
    for (let i = 0; i < 10; i++) await publish(core, ALICE, { body: note(`n${i}`) });
    const seqs = sender.notifies().map((n) => cseqOf(n.request));
    for (let i = 1; i < seqs.length; i++) assert.ok(seqs[i]! > seqs[i - 1]!, `CSeq ${seqs.join(',')}`);
  });

  test('the composite is computed once per change, not once per watcher', async () => {
    let calls = 0;
    const { createPresencePackage } = await import('../../../src/packages/presence/index.js');
    const base = createPresencePackage({});
    const { core, sender } = await makeCore({
      packages: [{ ...base, aggregate: (p, pubs) => (calls++, base.aggregate!(p, pubs)) }],
    });
    for (let i = 0; i < 20; i++) await new Watcher({ presentity: ALICE, watcher: `sip:w${i}@example.com` }).subscribe(core);
    sender.clear();
    calls = 0;
    await publish(core, ALICE, { body: note('x') });
    assert.equal(sender.notifies().length, 20);
    assert.equal(calls, 1);
  });

  test('notifyMinIntervalMs rate-limits one subscription; the delayed NOTIFY has the latest state', async () => {
    const { core, sender, clock } = await makeCore({ config: { notifyMinIntervalMs: 5000 } });
    const w = new Watcher({ presentity: ALICE });
    await w.subscribe(core);
    await publish(core, ALICE, { body: note('a') });
    await publish(core, ALICE, { body: note('b') });
    assert.equal(sender.notifies().length, 1, 'held back by the interval');
    clock.advance(4999);
    await settle();
    assert.equal(sender.notifies().length, 1);
    clock.advance(1);
    await settle();
    assert.equal(sender.notifies().length, 2);
    assert.match(bodyOf(sender.notifies()[1]!.request), /b/);
  });

  test('the NOTIFY that answers a refresh is not held back by the rate limit', async () => {
    const { core, sender } = await makeCore({ config: { notifyMinIntervalMs: 60_000 } });
    const w = new Watcher({ presentity: ALICE });
    await w.subscribe(core);
    await w.subscribe(core, 600);
    assert.equal(sender.notifies().length, 2);
  });
});

describe('RFC 6665 §4.2.2: NOTIFY failures', () => {
  test('481 removes the subscription', async () => {
    const sender = manualSender();
    const { core, events } = await makeCore({ sender });
    const w = new Watcher({ presentity: ALICE });
    await w.subscribe(core);
    sender.notifies()[0]!.answer(481);
    await settle();
    assert.equal(core.listSubscriptions().length, 0);
    assert.ok(events.some((e) => e.type === 'notify-failed' && e.status === 481 && e.removed));
    assert.ok(events.some((e) => e.type === 'subscription-terminated' && e.reason === 'notify-rejected'));
    await publish(core, ALICE, { body: note('x') });
    assert.equal(sender.notifies().length, 1, 'no more NOTIFYs');
  });

  test('timeout (408, Timer F) removes the subscription when endSubOnTimeout is on (default)', async () => {
    const sender = manualSender();
    const { core } = await makeCore({ sender });
    await new Watcher({ presentity: ALICE }).subscribe(core);
    sender.notifies()[0]!.answer(408, { localReason: 'timeout' });
    await settle();
    assert.equal(core.listSubscriptions().length, 0);
  });

  test('transport error (503 synthesized) removes it too when endSubOnTimeout is on', async () => {
    const sender = manualSender();
    const { core } = await makeCore({ sender });
    await new Watcher({ presentity: ALICE }).subscribe(core);
    sender.notifies()[0]!.answer(503, { localReason: 'transport-error' });
    await settle();
    assert.equal(core.listSubscriptions().length, 0);
  });

  test('a local 503 for a NOTIFY in flight at shutdown does not end the subscription in the store', async () => {
    const sender = manualSender();
    const { core, store } = await makeCore({ sender });
    await new Watcher({ presentity: ALICE }).subscribe(core);
    await core.stop();
    sender.notifies()[0]!.answer(503, { localReason: 'transport-error' });
    await settle();
    const deletions = store.writes.flat().filter((m) => m.kind === 'delete-subscription');
    assert.equal(deletions.length, 0);
    assert.equal((await store.load()).subscriptions.length, 1, 'the subscription survives for the next start');
  });

  test('timeout keeps the subscription when endSubOnTimeout is off; the next change is still sent', async () => {
    const sender = manualSender();
    const { core } = await makeCore({ sender, config: { endSubOnTimeout: false } });
    await new Watcher({ presentity: ALICE }).subscribe(core);
    sender.notifies()[0]!.answer(408, { localReason: 'timeout' });
    await settle();
    assert.equal(core.listSubscriptions().length, 1);
    assert.equal(core.listSubscriptions()[0]!.notifyFailures, 1);
    await publish(core, ALICE, { body: note('x') });
    assert.equal(sender.notifies().length, 2);
  });

  test('an error response without Retry-After removes it (RFC 6665 §4.2.2 MUST); with Retry-After it stays', async () => {
    const sender = manualSender();
    const { core } = await makeCore({ sender });
    await new Watcher({ presentity: ALICE, watcher: 'sip:a@example.com' }).subscribe(core);
    sender.notifies()[0]!.answer(500, { headers: [['Retry-After', '10']] });
    await settle();
    assert.equal(core.listSubscriptions().length, 1);
    await new Watcher({ presentity: ALICE, watcher: 'sip:b@example.com' }).subscribe(core);
    sender.notifies()[1]!.answer(488);
    await settle();
    assert.deepEqual(core.listSubscriptions().map((s) => s.watcher), ['sip:a@example.com']);
  });

  test('endSubOnNotifyError off: other errors are counted and the subscription kept', async () => {
    const sender = manualSender();
    const { core } = await makeCore({ sender, config: { endSubOnNotifyError: false } });
    await new Watcher({ presentity: ALICE }).subscribe(core);
    sender.notifies()[0]!.answer(488);
    await settle();
    assert.equal(core.listSubscriptions().length, 1);
    assert.equal(core.stats().notify.failed, 1);
  });

  test('a final NOTIFY waits for the outstanding one, in CSeq order', async () => {
    const sender = manualSender();
    const { core } = await makeCore({ sender });
    const w = new Watcher({ presentity: ALICE });
    await w.subscribe(core);
    const unsub = w.tx(0);
    core.handleSubscribe(unsub);
    await settle();
    assert.equal(unsub.final.status, 200);
    assert.equal(sender.notifies().length, 1, 'final NOTIFY waits');
    sender.notifies()[0]!.answer(200);
    await settle();
    const n = sender.notifies();
    assert.equal(n.length, 2);
    assert.equal(subState(n[1]!.request).state, 'terminated');
    assert.equal(cseqOf(n[1]!.request), 2);
  });
});

describe('refreshWatchers and stats', () => {
  test('refreshWatchers sends every watcher its current state', async () => {
    const { core, sender } = await makeCore();
    await publish(core, ALICE, { body: note('x') });
    for (let i = 0; i < 3; i++) await new Watcher({ presentity: ALICE, watcher: `sip:w${i}@example.com` }).subscribe(core);
    sender.clear();
    assert.equal(core.refreshWatchers(ALICE, 'presence'), 3);
    await settle();
    assert.equal(sender.notifies().length, 3);
    assert.equal(core.refreshWatchers('sip:nobody@example.com', 'presence'), 0);
  });

  test('stats counts per event and NOTIFYs sent/failed', async () => {
    const { core } = await makeCore();
    await publish(core, ALICE, { body: note('x') });
    await new Watcher({ presentity: ALICE }).subscribe(core);
    const s = core.stats();
    assert.deepEqual(s.events['presence'], { presentities: 1, publications: 1, subscriptions: 1, pending: 0 });
    assert.equal(s.notify.sent, 1);
    assert.equal(s.publish.accepted, 1);
    assert.equal(s.subscribe.accepted, 1);
  });
});
