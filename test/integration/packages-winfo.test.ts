/**
 * presence.winfo (RFC 3857 template package, RFC 3858 bodies) over real sockets: the presentity alone may
 * subscribe to its watcher information (403 for anyone else, even with forceActive), gets full state first,
 * then partial state when a watcher appears and full state when one leaves (as Kamailio/OpenSIPS after an
 * unsubscribe), with `version` counted per winfo subscription; bodies checked against the RFC 3858 schema.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomToken } from '../support/sip-test-client.js';
import { startTestServer, type TestServer } from '../support/test-server.js';
import { state, closeAll, watcher, watcherInfo, watchersOf, WATCHERINFO } from './packages-fixtures.js';

let server: TestServer;

before(async () => {
  server = await startTestServer({ domain: 'example.com' });
});

after(async () => {
  await closeAll();
  await server.stop();
});

const fresh = (user: string): string => `sip:${user}-${randomToken(3)}@example.com`;

describe('presence.winfo (RFC 3857, RFC 3858)', () => {
  test('the presentity may subscribe to its own watcher info: 200 and a full-state document, version 0', async () => {
    const alice = fresh('alice');
    const owner = await watcher(server, { presentity: alice, watcher: alice, event: 'presence.winfo', accept: WATCHERINFO });
    const res = await owner.subscribe(600);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('Expires'), '600');
    const n = (await owner.notify()).request;
    assert.equal(n.headers.get('Event'), 'presence.winfo');
    assert.equal(state(n).state, 'active');
    const doc = watcherInfo(n);
    assert.deepEqual([doc.version, doc.state], [0, 'full']);
    assert.deepEqual([doc.lists[0]!.resource, doc.lists[0]!.package], [alice, 'presence']);
    assert.deepEqual(watchersOf(doc), []);
  });

  test('anyone else gets 403 (RFC 3857 §5.1), and nothing is sent', async () => {
    const alice = fresh('alice');
    const eve = await watcher(server, { presentity: alice, watcher: fresh('eve'), event: 'presence.winfo', accept: WATCHERINFO });
    const res = await eve.subscribe(600);
    assert.equal(res.status, 403);
    await eve.client.expectNoRequest('NOTIFY', 300);
  });

  test('full, then partial for a new watcher, then full when a watcher unsubscribes; version +1 per document', async () => {
    const alice = fresh('alice');
    const bob = await watcher(server, { presentity: alice, watcher: 'sip:bob@example.com' });
    assert.equal((await bob.subscribe(600)).status, 200);
    await bob.notify();

    const owner = await watcher(server, { presentity: alice, watcher: alice, event: 'presence.winfo', accept: WATCHERINFO });
    assert.equal((await owner.subscribe(600)).status, 200);
    let doc = watcherInfo((await owner.notify()).request);
    assert.deepEqual([doc.version, doc.state], [0, 'full']);
    assert.deepEqual(watchersOf(doc), [['sip:bob@example.com', 'active', 'subscribe']]);
    const bobId = doc.lists[0]!.watchers[0]!.id;
    const w0 = doc.lists[0]!.watchers[0]!;
    assert.ok(w0.expiration !== undefined && w0.expiration > 500 && w0.expiration <= 600, `expiration ${w0.expiration}`);

    // A new watcher: partial state with that watcher only.
    const carol = await watcher(server, { presentity: alice, watcher: 'sip:carol@example.com' });
    assert.equal((await carol.subscribe(600)).status, 200);
    await carol.notify();
    doc = watcherInfo((await owner.notify()).request);
    assert.deepEqual([doc.version, doc.state], [1, 'partial']);
    assert.deepEqual(watchersOf(doc), [['sip:carol@example.com', 'active', 'subscribe']]);

    // Bob unsubscribes: full state, Bob reported once as terminated (event timeout), same id as before.
    assert.equal((await bob.subscribe(0)).status, 200);
    const last = (await bob.notify()).request;
    assert.equal(state(last).state, 'terminated');
    doc = watcherInfo((await owner.notify()).request);
    assert.deepEqual([doc.version, doc.state], [2, 'full']);
    assert.deepEqual(watchersOf(doc).sort(), [
      ['sip:bob@example.com', 'terminated', 'timeout'],
      ['sip:carol@example.com', 'active', 'subscribe'],
    ]);
    assert.equal(doc.lists[0]!.watchers.find((w) => w.uri === 'sip:bob@example.com')!.id, bobId, 'ids are stable');

    // A refresh of the winfo subscription gets full state again, the version still counting.
    assert.equal((await owner.subscribe(600)).status, 200);
    doc = watcherInfo((await owner.notify()).request);
    assert.deepEqual([doc.version, doc.state], [3, 'full']);
    assert.deepEqual(watchersOf(doc), [['sip:carol@example.com', 'active', 'subscribe']]);
  });

  test('the version is counted per winfo subscription: a second one starts at 0', async () => {
    const alice = fresh('alice');
    const first = await watcher(server, { presentity: alice, watcher: alice, event: 'presence.winfo', accept: WATCHERINFO });
    await first.subscribe(600);
    await first.notify();
    const dave = await watcher(server, { presentity: alice, watcher: 'sip:dave@example.com' });
    await dave.subscribe(600);
    await dave.notify();
    assert.equal(watcherInfo((await first.notify()).request).version, 1);
    const second = await watcher(server, { presentity: alice, watcher: alice, event: 'presence.winfo', accept: WATCHERINFO });
    await second.subscribe(600);
    const doc = watcherInfo((await second.notify()).request);
    assert.deepEqual([doc.version, doc.state], [0, 'full']);
    assert.deepEqual(watchersOf(doc), [['sip:dave@example.com', 'active', 'subscribe']]);
  });

  test('406 when the winfo subscriber accepts no watcherinfo+xml; Allow-Events lists presence.winfo', async () => {
    const alice = fresh('alice');
    const w = await watcher(server, { presentity: alice, watcher: alice, event: 'presence.winfo', accept: 'application/pidf+xml' });
    const res = await w.subscribe(600);
    assert.equal(res.status, 406);
    assert.match(res.headers.get('Accept') ?? '', /application\/watcherinfo\+xml/);
    const bad = await watcher(server, { presentity: alice, watcher: alice, event: 'no-such-package' });
    const r489 = await bad.subscribe(600);
    assert.equal(r489.status, 489);
    const allowed = r489.headers.getAll('Allow-Events').join(',').split(/\s*,\s*/);
    for (const e of ['presence', 'presence.winfo', 'dialog', 'message-summary']) assert.ok(allowed.includes(e), `Allow-Events has ${e}: ${allowed.join(' ')}`);
  });
});
