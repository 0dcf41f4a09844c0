/**
 * The dialog event package (RFC 4235) for busy-lamp fields, dialog;sla (Bridged Line Appearance) and presence
 * mixed from calls (mixDialogPresence), over real sockets. Every dialog-info body is checked against the
 * RFC 4235 §4.2 schema; `version` counts per subscription from 0.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomToken } from '../support/sip-test-client.js';
import { pidf } from '../support/sip-test-client.js';
import { startTestServer, type TestServer } from '../support/test-server.js';
import { notes, publish } from '../support/presence-ua.js';
import { body, call, client, closeAll, dialogInfo, DIALOG_INFO, lamps, state, watcher } from './packages-fixtures.js';

let server: TestServer;
/** mixDialogPresence on. */
let mixing: TestServer;

before(async () => {
  server = await startTestServer({ domain: 'example.com' });
  mixing = await startTestServer({ domain: 'example.com', mixDialogPresence: true });
});

after(async () => {
  await closeAll();
  await server.stop();
  await mixing.stop();
});

const ext = (): string => `sip:${1000 + Math.floor(Math.random() * 8999)}-${randomToken(2)}@example.com`;

describe('dialog (RFC 4235): busy lamps', () => {
  test('a watcher sees idle, trying, confirmed, terminated, idle; version 0..4, full state each time', async () => {
    const e = ext();
    const lamp = await watcher(server, { presentity: e, watcher: 'sip:attendant@example.com', event: 'dialog', accept: DIALOG_INFO });
    const res = await lamp.subscribe(600);
    assert.equal(res.status, 200);
    const seen: Array<[number, string, string]> = [];
    const record = async (): Promise<void> => {
      const n = (await lamp.notify()).request;
      assert.equal(n.headers.get('Event'), 'dialog');
      assert.equal(state(n).state, 'active');
      const d = dialogInfo(n);
      assert.equal(d.entity, e);
      seen.push([d.version, d.state, d.dialogs[0]?.state ?? 'idle']);
    };
    await record();

    const phone = await client(server);
    let etag: string | undefined;
    for (const s of ['trying', 'confirmed', 'terminated']) {
      const r = await publish(phone, { aor: e, event: 'dialog', contentType: DIALOG_INFO, body: call(e, s), expires: 120, ...(etag ? { etag } : {}) });
      assert.equal(r.status, 200);
      etag = r.headers.get('SIP-ETag');
      await record();
    }
    assert.equal((await publish(phone, { aor: e, event: 'dialog', etag, expires: 0 })).status, 200);
    await record();
    assert.deepEqual(seen, [
      [0, 'full', 'idle'],
      [1, 'full', 'trying'],
      [2, 'full', 'confirmed'],
      [3, 'full', 'terminated'],
      [4, 'full', 'idle'],
    ]);
  });

  test('the lamp bodies carry what phones show: direction, local and remote identity and target', async () => {
    const e = ext();
    const lamp = await watcher(server, { presentity: e, event: 'dialog', accept: DIALOG_INFO });
    await lamp.subscribe(600);
    await lamp.notify();
    const phone = await client(server);
    await publish(phone, { aor: e, event: 'dialog', contentType: DIALOG_INFO, body: call(e, 'early', { direction: 'recipient', remote: 'sip:5551234@example.com' }) });
    const d = dialogInfo((await lamp.notify()).request);
    const dlg = d.dialogs[0]!;
    assert.equal(dlg.direction, 'recipient');
    assert.equal(dlg.state, 'early');
    assert.equal(dlg.remote?.identity, 'sip:5551234@example.com');
    assert.equal(dlg.remote?.target, 'sip:5551234@example.com');
    assert.equal(dlg.local?.identity, e);
  });

  test('two publishers for one extension are merged, each dialog once; a change of one keeps the other', async () => {
    const e = ext();
    const lamp = await watcher(server, { presentity: e, event: 'dialog', accept: DIALOG_INFO });
    await lamp.subscribe(600);
    await lamp.notify();
    const pbx1 = await client(server);
    const pbx2 = await client(server);
    const a = await publish(pbx1, { aor: e, event: 'dialog', contentType: DIALOG_INFO, body: call(e, 'confirmed', { id: 'a' }) });
    assert.deepEqual(lamps(dialogInfo((await lamp.notify()).request)), { a: 'confirmed' });
    assert.equal((await publish(pbx2, { aor: e, event: 'dialog', contentType: DIALOG_INFO, body: call(e, 'early', { id: 'b' }) })).status, 200);
    let d = dialogInfo((await lamp.notify()).request);
    assert.deepEqual(lamps(d), { a: 'confirmed', b: 'early' });
    assert.equal(d.version, 2);
    // The first publisher's call ends; the second's is still ringing.
    await publish(pbx1, { aor: e, event: 'dialog', contentType: DIALOG_INFO, body: call(e, 'terminated', { id: 'a' }), etag: a.headers.get('SIP-ETag') });
    d = dialogInfo((await lamp.notify()).request);
    assert.deepEqual(lamps(d), { a: 'terminated', b: 'early' });
  });

  test('an invalid dialog-info PUBLISH gets 400 and no NOTIFY; the Event filter call-id narrows the lamp', async () => {
    const e = ext();
    const one = await watcher(server, { presentity: e, event: 'dialog;call-id=b@pbx.example.com', accept: DIALOG_INFO });
    await one.subscribe(600);
    await one.notify();
    const phone = await client(server);
    const bad = await publish(phone, { aor: e, event: 'dialog', contentType: DIALOG_INFO, body: call(e, 'ringing') });
    assert.equal(bad.status, 400);
    await one.client.expectNoRequest('NOTIFY', 300);
    await publish(phone, { aor: e, event: 'dialog', contentType: DIALOG_INFO, body: call(e, 'confirmed', { id: 'a' }) });
    const n = (await one.notify()).request;
    assert.equal(n.headers.get('Event'), 'dialog;call-id=b@pbx.example.com', 'Event parameters are echoed (RFC 6665 §8.2.1)');
    assert.deepEqual(lamps(dialogInfo(n)), {}, 'call a is not the call this watcher asked for');
  });
});

describe('dialog;sla (Bridged Line Appearance)', () => {
  test('the presentity is the Contact user at the From domain; the phone named by Sender is not notified', async () => {
    const line = `${4000 + Math.floor(Math.random() * 999)}`;
    const lineAor = `sip:${line}@example.com`;
    const ca = await client(server);
    const cb = await client(server);
    // Each phone subscribes to its own URI; the Contact user names the shared line.
    const { WatcherDialog } = await import('../support/presence-ua.js');
    const phoneA = new WatcherDialog(ca, { presentity: 'sip:phone-a@example.com', watcher: 'sip:phone-a@example.com', event: 'dialog;sla', accept: DIALOG_INFO, contact: ca.contactUri(line) });
    const phoneB = new WatcherDialog(cb, { presentity: 'sip:phone-b@example.com', watcher: 'sip:phone-b@example.com', event: 'dialog;sla', accept: DIALOG_INFO, contact: cb.contactUri(line) });
    assert.equal((await phoneA.subscribe(600)).status, 200);
    assert.equal((await phoneB.subscribe(600)).status, 200);
    for (const p of [phoneA, phoneB]) {
      const n = (await p.notify()).request;
      assert.equal(n.headers.get('Event'), 'dialog;sla');
      assert.equal(dialogInfo(n).entity, lineAor, 'the derived presentity');
    }
    // Phone A seizes the line and publishes it, naming itself in Sender.
    const r = await publish(ca, {
      aor: lineAor,
      event: 'dialog;sla',
      contentType: DIALOG_INFO,
      body: call(lineAor, 'confirmed', { remote: 'sip:5550100@example.com', remoteTarget: 'sip:5550100@198.51.100.20:5060' }),
      headers: [['Sender', `<${ca.contactUri(line)}>`]],
    });
    assert.equal(r.status, 200);
    const n = (await phoneB.notify()).request;
    const d = dialogInfo(n);
    assert.deepEqual(lamps(d), { 'call-1': 'confirmed' });
    assert.equal(d.dialogs[0]!.remote?.target, 'sip:5550100@example.com', 'bla.fixRemoteTarget: the IP target becomes the remote identity');
    await phoneA.client.expectNoRequest('NOTIFY', 300);
  });

  test('400 when the presentity cannot be derived (a Contact without user part)', async () => {
    const c = await client(server);
    const { WatcherDialog } = await import('../support/presence-ua.js');
    const w = new WatcherDialog(c, { presentity: 'sip:phone@example.com', event: 'dialog;sla', accept: DIALOG_INFO, contact: `sip:${c.host}:${c.port}` });
    assert.equal((await w.subscribe(600)).status, 400);
  });
});

describe('presence mixed from calls (mixDialogPresence)', () => {
  test('a presence watcher sees on-the-phone while a call is confirmed, even with nothing published for presence', async () => {
    const e = ext();
    const w = await watcher(mixing, { presentity: e });
    await w.subscribe(600);
    assert.equal((await w.notify()).request.body.length, 0, 'nothing published and no call: no state');
    const phone = await client(mixing);
    const r = await publish(phone, { aor: e, event: 'dialog', contentType: DIALOG_INFO, body: call(e, 'confirmed') });
    let n = (await w.notify()).request;
    assert.equal(n.headers.get('Content-Type'), 'application/pidf+xml');
    assert.match(body(n), /<rpid:activities><rpid:on-the-phone\/><\/rpid:activities>/);
    assert.deepEqual(notes(n.body), ['On the phone']);

    // The phone publishes presence too: its state is kept, the call still shows.
    await publish(phone, { aor: e, body: pidf(e, 'desk', 'open', 'at my desk') });
    n = (await w.notify()).request;
    assert.match(body(n), /on-the-phone/);
    assert.match(body(n), /at my desk/);

    await publish(phone, { aor: e, event: 'dialog', contentType: DIALOG_INFO, body: call(e, 'terminated'), etag: r.headers.get('SIP-ETag') });
    n = (await w.notify()).request;
    assert.doesNotMatch(body(n), /on-the-phone/);
    assert.deepEqual(notes(n.body), ['at my desk']);
  });

  test('without mixDialogPresence a call does not touch presence', async () => {
    const e = ext();
    const w = await watcher(server, { presentity: e });
    await w.subscribe(600);
    await w.notify();
    const phone = await client(server);
    await publish(phone, { aor: e, event: 'dialog', contentType: DIALOG_INFO, body: call(e, 'confirmed') });
    await w.client.expectNoRequest('NOTIFY', 300);
  });
});
