/**
 * The management facade's listings and details (OpenSIPS pres_phtable_list / subs_phtable_list with filters,
 * refreshWatchers types 0 and 1, pua_mi publish with a sender): totals counted before pagination, filters
 * applied by the core, a subscription's whole dialog by id.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { makeCore, pidf, publish, settle, Watcher, bodyOf, subState } from './support.js';

async function populated(): Promise<Awaited<ReturnType<typeof makeCore>>> {
  const h = await makeCore();
  for (const [aor, basic] of [
    ['sip:alice@example.com', 'open'],
    ['sip:bob@example.com', 'closed'],
    ['sip:carol@other.org', 'open'],
  ] as const) {
    assert.equal((await publish(h.core, aor, { body: pidf(aor, 't1', basic) })).status, 200);
  }
  return h;
}

describe('queryPresentities', () => {
  test('total counts every match; limit and offset cut the page; domain and AOR test filter', async () => {
    const h = await populated();
    const all = h.core.queryPresentities({ limit: 2 });
    assert.equal(all.total, 3);
    assert.equal(all.items.length, 2);
    const rest = h.core.queryPresentities({ limit: 2, offset: 2 });
    assert.equal(rest.items.length, 1);
    assert.equal(rest.total, 3);
    const ex = h.core.queryPresentities({ domain: 'EXAMPLE.com' });
    assert.deepEqual(ex.items.map((p) => p.presentity).sort(), ['sip:alice@example.com', 'sip:bob@example.com']);
    const b = h.core.queryPresentities({ match: (aor) => aor.includes('bob') });
    assert.deepEqual(b.items.map((p) => p.presentity), ['sip:bob@example.com']);
    assert.equal(h.core.queryPresentities({ event: 'dialog' }).total, 0);
  });
});

describe('querySubscriptions and getSubscription', () => {
  test('filters by watcher (normalised), status and domain, with totals; the detail has the whole dialog', async () => {
    const h = await populated();
    const w1 = new Watcher({ presentity: 'sip:alice@example.com', watcher: 'sip:dave@example.com', recordRoute: ['<sip:proxy.example.com;lr>'] });
    const w2 = new Watcher({ presentity: 'sip:carol@other.org', watcher: 'sip:dave@example.com' });
    const w3 = new Watcher({ presentity: 'sip:alice@example.com', watcher: 'sip:erin@example.com' });
    for (const w of [w1, w2, w3]) assert.equal((await w.subscribe(h.core, 600)).status, 200);
    await settle();
    const byDave = h.core.querySubscriptions({ watcher: 'sip:dave@EXAMPLE.com;transport=tcp' });
    assert.equal(byDave.total, 2);
    const page = h.core.querySubscriptions({ watcher: 'sip:dave@example.com', limit: 1 });
    assert.equal(page.items.length, 1);
    assert.equal(page.total, 2);
    assert.equal(h.core.querySubscriptions({ domain: 'other.org' }).total, 1);
    assert.equal(h.core.querySubscriptions({ presentity: 'sip:alice@example.com', event: 'presence' }).total, 2);
    assert.equal(h.core.querySubscriptions({ status: 'pending' }).total, 0);
    assert.equal(h.core.querySubscriptions({ watcher: 'not a uri' }).total, 0);

    const id = h.core.querySubscriptions({ watcher: 'sip:dave@example.com', presentity: 'sip:alice@example.com' }).items[0]!.id;
    const d = h.core.getSubscription(id);
    assert.ok(d);
    assert.equal(d.callId, w1.callId);
    assert.equal(d.remoteTag, w1.fromTag);
    assert.equal(d.localTag, w1.toTag);
    assert.deepEqual([...d.routeSet], ['<sip:proxy.example.com;lr>']);
    assert.equal(d.remoteSeq, 1);
    assert.match(d.remoteUri, /sip:dave@example\.com/);
    assert.match(d.localUri, /sip:alice@example\.com/);
    assert.equal(d.eventHeader, 'presence');
    assert.deepEqual([...d.accept], ['application/pidf+xml']);
    assert.equal(h.core.getSubscription('nope'), undefined);
  });
});

describe('refreshWatchers types (OpenSIPS refreshWatchers)', () => {
  test('type 1 re-sends the current state to each watcher; an unknown presentity notifies none', async () => {
    const h = await populated();
    const w = new Watcher({ presentity: 'sip:alice@example.com' });
    assert.equal((await w.subscribe(h.core, 600)).status, 200);
    await settle();
    const before = h.sender.sent.length;
    assert.equal(h.core.refreshWatchers('sip:alice@example.com', 'presence', 1), 1);
    await settle();
    const sent = h.sender.sent.slice(before);
    assert.equal(sent.length, 1);
    assert.equal(subState(sent[0]!.request).state, 'active');
    assert.match(bodyOf(sent[0]!.request), /<basic>open<\/basic>/);
    assert.equal(h.core.refreshWatchers('sip:nobody@example.com', 'presence', 1), 0);
  });

  test('type 0 re-authorizes (with forceActive every watcher stays active) and sends the state', async () => {
    const h = await populated();
    const w = new Watcher({ presentity: 'sip:bob@example.com' });
    assert.equal((await w.subscribe(h.core, 600)).status, 200);
    await settle();
    const before = h.sender.sent.length;
    assert.equal(h.core.refreshWatchers('sip:bob@example.com', 'presence', 0), 1);
    await settle();
    assert.equal(h.sender.sent.length, before + 1);
    assert.match(bodyOf(h.sender.sent.at(-1)!.request), /<basic>closed<\/basic>/);
  });
});

test('publish on behalf carries the sender to the stored publication', async () => {
  const h = await makeCore();
  const r = await h.core.publish({
    presentity: 'sip:alice@example.com',
    event: 'presence',
    contentType: 'application/pidf+xml',
    body: pidf('sip:alice@example.com', 't1', 'open'),
    sender: 'sip:alice@192.0.2.44:5060',
  });
  assert.ok(r.ok);
  assert.equal(h.core.getPresentity('sip:alice@example.com', 'presence')?.publicationList[0]?.sender, 'sip:alice@192.0.2.44:5060');
});
