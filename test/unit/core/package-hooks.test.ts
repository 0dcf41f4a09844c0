/**
 * What the core does for the event packages beyond PUBLISH/SUBSCRIBE basics: body versions counted per
 * subscription and kept across restarts, Event parameters echoed and kept, watcher info (RFC 3857) from the
 * core's watchers, re-authorization (refreshWatchers), derived presentities and publisher skipping (dialog;sla),
 * state of one package feeding another (dependsOn), and users' documents.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryStore } from '../../../src/store/memory/index.js';
import { ManualClock } from '../../../src/transaction/index.js';
import type { AuthorizationDecision, EventPackage, WatcherInfoView } from '../../../src/core/index.js';
import { createPresencePackage } from '../../../src/packages/presence/index.js';
import { createWinfoPackage, parseWatcherInfo } from '../../../src/packages/presence-winfo/index.js';
import { createDialogPackage, isDialogBusy, parseDialogInfo } from '../../../src/packages/dialog/index.js';
import { createDialogSlaPackage } from '../../../src/packages/dialog-sla/index.js';
import { bodyOf, FlakyStore, makeCore, pidf, publish, settle, subState, Watcher } from './support.js';

const ALICE = 'sip:alice@example.com';
const EXT = 'sip:1001@pbx.example.com';
const DLG = 'application/dialog-info+xml';
const WINFO = 'application/watcherinfo+xml';

function call(entity: string, state: string, id = 'c1'): string {
  return `<?xml version="1.0"?><dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" version="0" state="full" entity="${entity}">` +
    `<dialog id="${id}" call-id="${id}@pbx" local-tag="t1" direction="recipient"><state>${state}</state></dialog></dialog-info>`;
}

function winfoDoc(body: string) {
  const r = parseWatcherInfo(body);
  assert.ok(r.ok, `watcherinfo parses: ${r.ok ? '' : r.reason}\n${body}`);
  return r.doc;
}

describe('body version per subscription (RFC 4235 §4.1, RFC 3858 §4.1)', () => {
  test('counts NOTIFYs with a body from 0, is stored with the subscription, and survives a restart with the margin', async () => {
    const inner = new MemoryStore();
    const clock = new ManualClock();
    const a = await makeCore({ store: new FlakyStore(inner), clock, packages: [createDialogPackage()] });
    const w = new Watcher({ presentity: EXT, event: 'dialog', accept: DLG });
    await w.subscribe(a.core, 600);
    for (const s of ['trying', 'confirmed']) await publish(a.core, EXT, { event: 'dialog', contentType: DLG, body: call(EXT, s) });
    await settle();
    const versions = a.sender.notifies().map((n) => parseDialogInfo(bodyOf(n.request)));
    assert.deepEqual(versions.map((r) => (r.ok ? r.doc.version : -1)), [0, 1, 2]);
    const stored = (await inner.load()).subscriptions[0]!;
    // Recorded with the CSeq every few NOTIFYs (set-notify-cseq): at most a stride (margin / 4) behind.
    assert.ok(stored.version <= 3 && 3 - stored.version < 25, `stored version ${stored.version}`);
    await a.core.stop();

    const b = await makeCore({ store: new FlakyStore(inner), clock, packages: [createDialogPackage()], config: { notifyRecoveryRate: 1000 } });
    clock.advance(1000);
    await settle();
    const r = parseDialogInfo(bodyOf(b.sender.notifies()[0]!.request));
    assert.ok(r.ok);
    assert.equal(r.doc.version, stored.version + 100, 'the stored version plus the margin (100)');
    assert.ok(r.doc.version > 2, 'never a version the subscriber saw already');
    await b.core.stop();
  });

  test('a pending subscription gets bodiless NOTIFYs that do not count', async () => {
    const dialog = { ...createDialogPackage(), authorize: (): AuthorizationDecision => 'pending' };
    const { core, sender } = await makeCore({ config: { forceActive: false }, packages: [dialog] });
    await new Watcher({ presentity: EXT, event: 'dialog', accept: DLG }).subscribe(core);
    await publish(core, EXT, { event: 'dialog', contentType: DLG, body: call(EXT, 'early') });
    await settle();
    assert.deepEqual(sender.notifies().map((n) => n.request.body.length), [0, 0]);
    assert.equal(core.listSubscriptions()[0]!.status, 'pending');
    await core.stop();
  });
});

describe('Event header parameters (RFC 6665 §8.2.1, RFC 4235 §3.1)', () => {
  test('are echoed in every NOTIFY with the id, and still after a restart', async () => {
    const inner = new MemoryStore();
    const clock = new ManualClock();
    const a = await makeCore({ store: new FlakyStore(inner), clock, packages: [createDialogPackage()] });
    const w = new Watcher({ presentity: EXT, event: 'dialog;call-id=c2@pbx;id=7', accept: DLG });
    await w.subscribe(a.core, 600);
    await publish(a.core, EXT, { event: 'dialog', contentType: DLG, body: call(EXT, 'confirmed', 'c1') });
    await settle();
    for (const n of a.sender.notifies()) assert.equal(n.request.headers.get('Event'), 'dialog;call-id=c2@pbx;id=7');
    // The filter applies: the watcher asked for call c2 only.
    const r = parseDialogInfo(bodyOf(a.sender.notifies().at(-1)!.request));
    assert.ok(r.ok);
    assert.equal(r.doc.dialogs.length, 0);
    assert.deepEqual((await inner.load()).subscriptions[0]!.eventParams, [['call-id', 'c2@pbx']]);
    await a.core.stop();

    const b = await makeCore({ store: new FlakyStore(inner), clock, packages: [createDialogPackage()], config: { notifyRecoveryRate: 1000 } });
    clock.advance(1000);
    await settle();
    const n = b.sender.notifies()[0]!.request;
    assert.equal(n.headers.get('Event'), 'dialog;call-id=c2@pbx;id=7');
    const after = parseDialogInfo(bodyOf(n));
    assert.ok(after.ok);
    assert.equal(after.doc.dialogs.length, 0, 'the filter survived the restart');
    await b.core.stop();
  });
});

describe('watcher info (RFC 3857) from the core', () => {
  async function setup(config = {}) {
    const presence = { ...createPresencePackage({}), authorize: (): AuthorizationDecision => 'pending' };
    return makeCore({ packages: [presence, createWinfoPackage()], config: { cleanPeriod: 100000, ...config } });
  }

  test('only the presentity may subscribe, even with forceActive; others get 403', async () => {
    const { core } = await setup({ forceActive: true });
    assert.equal((await new Watcher({ presentity: ALICE, watcher: 'sip:eve@example.com', event: 'presence.winfo', accept: WINFO }).subscribe(core)).status, 403);
    assert.equal((await new Watcher({ presentity: ALICE, watcher: ALICE, event: 'presence.winfo', accept: WINFO }).subscribe(core)).status, 200);
    await core.stop();
  });

  test('full state first, a partial per new watcher, full state when one leaves; version +1 each', async () => {
    const { core, sender } = await setup({ forceActive: true });
    const bob = new Watcher({ presentity: ALICE, watcher: 'sip:bob@example.com' });
    await bob.subscribe(core);
    const owner = new Watcher({ presentity: ALICE, watcher: ALICE, event: 'presence.winfo', accept: WINFO });
    await owner.subscribe(core);
    const winfoNotifies = () => sender.notifies().filter((n) => n.request.headers.get('Event') === 'presence.winfo');
    let doc = winfoDoc(bodyOf(winfoNotifies().at(-1)!.request));
    assert.deepEqual([doc.version, doc.state], [0, 'full']);
    assert.deepEqual(doc.lists[0]!.watchers.map((w) => [w.uri, w.status, w.event]), [['sip:bob@example.com', 'active', 'subscribe']]);
    assert.equal(doc.lists[0]!.resource, ALICE);
    assert.equal(doc.lists[0]!.package, 'presence');

    const carol = new Watcher({ presentity: ALICE, watcher: 'sip:carol@example.com' });
    await carol.subscribe(core);
    await settle();
    doc = winfoDoc(bodyOf(winfoNotifies().at(-1)!.request));
    assert.deepEqual([doc.version, doc.state], [1, 'partial']);
    assert.deepEqual(doc.lists[0]!.watchers.map((w) => w.uri), ['sip:carol@example.com']);

    await carol.subscribe(core, 0);
    await settle();
    doc = winfoDoc(bodyOf(winfoNotifies().at(-1)!.request));
    assert.deepEqual([doc.version, doc.state], [2, 'full']);
    const byUri = new Map(doc.lists[0]!.watchers.map((w) => [w.uri, w]));
    assert.equal(byUri.get('sip:bob@example.com')?.status, 'active');
    assert.deepEqual([byUri.get('sip:carol@example.com')?.status, byUri.get('sip:carol@example.com')?.event], ['terminated', 'timeout']);
    await core.stop();
  });

  test('a pending watcher whose subscription ends is remembered as waiting, then given up after waitingSubsDays', async () => {
    const clock = new ManualClock();
    const inner = new MemoryStore();
    const { core, sender } = await makeCore({
      clock,
      store: new FlakyStore(inner),
      packages: [{ ...createPresencePackage({}), authorize: (): AuthorizationDecision => 'pending' }, createWinfoPackage()],
      config: { forceActive: false, cleanPeriod: 600, waitingSubsDays: 1 },
    });
    await new Watcher({ presentity: ALICE, watcher: 'sip:dave@example.com' }).subscribe(core, 600);
    assert.deepEqual((await inner.load()).watchers.map((w) => [w.watcher, w.status]), [['sip:dave@example.com', 'pending']]);
    const owner = new Watcher({ presentity: ALICE, watcher: ALICE, event: 'presence.winfo', accept: WINFO });
    await owner.subscribe(core, 3600);
    clock.advance(1800 * 1000); // the pending subscription (600 s) expired at the sweep
    await settle();
    assert.deepEqual((await inner.load()).watchers.map((w) => [w.watcher, w.status, w.reason]), [['sip:dave@example.com', 'waiting', 'timeout']]);
    const winfo = sender.notifies().filter((n) => n.request.headers.get('Event') === 'presence.winfo');
    const doc = winfoDoc(bodyOf(winfo.at(-1)!.request));
    assert.equal(doc.state, 'full');
    assert.deepEqual(doc.lists[0]!.watchers.map((w) => [w.uri, w.status, w.event]), [['sip:dave@example.com', 'waiting', 'timeout']]);
    // One day later (the owner refreshes meanwhile) the waiting watcher is given up.
    for (let h = 0; h < 50; h++) {
      await owner.subscribe(core, 3600);
      clock.advance(1800 * 1000);
      await settle();
    }
    assert.deepEqual((await inner.load()).watchers, []);
    const all = sender.notifies().filter((n) => n.request.headers.get('Event') === 'presence.winfo').map((n) => winfoDoc(bodyOf(n.request)));
    assert.ok(all.some((d) => d.state === 'partial' && d.lists[0]!.watchers.some((w) => w.event === 'giveup' && w.status === 'terminated')));
    await core.stop();
  });
});

describe('refreshWatchers re-runs authorization (RFC 5025 §3.2.1, RFC 6665 §4.2.2)', () => {
  test('pending -> active with state; -> polite-block neutral; -> rejected terminated; winfo told', async () => {
    const decisions = new Map<string, AuthorizationDecision>();
    const presence: EventPackage = {
      ...createPresencePackage({}),
      authorize: (r) => decisions.get(r.watcher) ?? 'pending',
    };
    const { core, sender } = await makeCore({ packages: [presence, createWinfoPackage()], config: { forceActive: false } });
    await publish(core, ALICE, { body: pidf(ALICE, 'pc', 'open', 'hello') });
    const bob = new Watcher({ presentity: ALICE, watcher: 'sip:bob@example.com' });
    const eve = new Watcher({ presentity: ALICE, watcher: 'sip:eve@example.com' });
    const boss = new Watcher({ presentity: ALICE, watcher: 'sip:boss@example.com' });
    for (const w of [bob, eve, boss]) await w.subscribe(core);
    const owner = new Watcher({ presentity: ALICE, watcher: ALICE, event: 'presence.winfo', accept: WINFO });
    await owner.subscribe(core);
    sender.clear();

    decisions.set('sip:bob@example.com', 'active');
    decisions.set('sip:eve@example.com', 'rejected');
    decisions.set('sip:boss@example.com', 'polite-block');
    assert.equal(core.refreshWatchers(ALICE, 'presence'), 3);
    await settle();
    const byCall = (w: Watcher) => sender.notifies().filter((n) => n.request.headers.get('Call-ID') === w.callId).map((n) => n.request);
    const b = byCall(bob).at(-1)!;
    assert.equal(subState(b).state, 'active');
    assert.match(bodyOf(b), /hello/);
    const e = byCall(eve).at(-1)!;
    assert.equal(subState(e).state, 'terminated');
    assert.equal(subState(e).reason, 'rejected');
    assert.equal(e.body.length, 0);
    const p = byCall(boss).at(-1)!;
    assert.equal(subState(p).state, 'active');
    assert.match(bodyOf(p), /<basic>closed<\/basic>/);
    assert.doesNotMatch(bodyOf(p), /hello/);
    assert.deepEqual(core.listSubscriptions({ event: 'presence' }).map((s) => s.watcher).sort(), ['sip:bob@example.com', 'sip:boss@example.com']);

    const winfo = byCall(owner).map((n) => winfoDoc(bodyOf(n)));
    assert.equal(winfo.length, 1, 'the changes of one refresh go out in one watcher-info NOTIFY');
    const last = winfo[0]!;
    assert.equal(last.state, 'full', 'a watcher left (rejected): full state');
    const byUri = new Map(last.lists[0]!.watchers.map((w) => [w.uri, w]));
    assert.deepEqual([byUri.get('sip:bob@example.com')?.status, byUri.get('sip:bob@example.com')?.event], ['active', 'approved']);
    assert.deepEqual([byUri.get('sip:boss@example.com')?.status, byUri.get('sip:boss@example.com')?.event], ['active', 'subscribe']);
    assert.deepEqual([byUri.get('sip:eve@example.com')?.status, byUri.get('sip:eve@example.com')?.event], ['terminated', 'rejected']);

    // active -> pending cannot be expressed (RFC 6665 §4.1.3): the subscription ends with "deactivated".
    decisions.set('sip:bob@example.com', 'pending');
    core.refreshWatchers(ALICE, 'presence');
    await settle();
    const d = byCall(bob).at(-1)!;
    assert.deepEqual([subState(d).state, subState(d).reason], ['terminated', 'deactivated']);
    await core.stop();
  });
});

describe('derived presentity and publisher skipping (dialog;sla)', () => {
  test('the BLA presentity comes from Contact user and From domain; the Sender phone is not notified', async () => {
    const dialog = createDialogPackage();
    const sla = createDialogSlaPackage({ dialog });
    const { core, sender } = await makeCore({ packages: [dialog, sla], config: { domains: ['bla.example.com'] } });
    const line = 'sip:4100@bla.example.com';
    // Phones subscribe to their own URI; the Contact user names the shared line.
    const a = new Watcher({ presentity: 'sip:phone-a@bla.example.com', watcher: 'sip:phone-a@bla.example.com', event: 'dialog;sla', accept: DLG, contact: '<sip:4100@198.51.100.7:5060>' });
    const b = new Watcher({ presentity: 'sip:phone-b@bla.example.com', watcher: 'sip:phone-b@bla.example.com', event: 'dialog;sla', accept: DLG, contact: '<sip:4100@198.51.100.8:5060>' });
    assert.equal((await a.subscribe(core)).status, 200);
    assert.equal((await b.subscribe(core)).status, 200);
    assert.deepEqual(core.listSubscriptions().map((s) => s.presentity), [line, line]);
    // No Contact user: nothing to derive from.
    assert.equal((await new Watcher({ presentity: 'sip:x@bla.example.com', event: 'dialog;sla', accept: DLG, contact: '<sip:198.51.100.9>' }).subscribe(core)).status, 400);
    // A derived presentity outside the served domains: 404.
    assert.equal((await new Watcher({ presentity: 'sip:x@bla.example.com', watcher: 'sip:x@other.example', event: 'dialog;sla', accept: DLG, contact: '<sip:4100@198.51.100.9>' }).subscribe(core)).status, 404);
    sender.clear();
    const res = await publish(core, line, { event: 'dialog;sla', contentType: DLG, body: call(line, 'confirmed'), headers: [['Sender', '<sip:4100@198.51.100.7:5060>']] });
    assert.equal(res.status, 200);
    await settle();
    assert.deepEqual(sender.notifies().map((n) => n.request.headers.get('Call-ID')), [b.callId], 'phone A published: only phone B hears of it');
    assert.equal(sender.notifies()[0]!.request.headers.get('Event'), 'dialog;sla');
    const bad = await publish(core, line, { event: 'dialog;sla', contentType: DLG, body: call(line, 'terminated'), headers: [['Sender', '<not a uri']] });
    assert.equal(bad.status, 400);
    await core.stop();
  });

  test('with trustSenderHeader off the Sender header is ignored: everyone is notified', async () => {
    const dialog = createDialogPackage();
    const { core, sender } = await makeCore({ packages: [dialog, createDialogSlaPackage({ dialog })], config: { trustSenderHeader: false } });
    const line = 'sip:4100@example.com';
    const a = new Watcher({ presentity: 'sip:a@example.com', watcher: 'sip:a@example.com', event: 'dialog;sla', accept: DLG, contact: '<sip:4100@198.51.100.7:5060>' });
    await a.subscribe(core);
    sender.clear();
    await publish(core, line, { event: 'dialog;sla', contentType: DLG, body: call(line, 'confirmed'), headers: [['Sender', '<sip:4100@198.51.100.7:5060>']] });
    await settle();
    assert.equal(sender.notifies().length, 1);
    await core.stop();
  });
});

describe('dependsOn: presence mixed from dialog state (mix_dialog_presence)', () => {
  test('watchers of presence are re-notified on dialog changes; on-the-phone overlays, also with nothing published', async () => {
    const presence = createPresencePackage({ mixDialog: { event: 'dialog', isBusy: isDialogBusy } });
    const { core, sender } = await makeCore({ packages: [presence, createDialogPackage()] });
    const w = new Watcher({ presentity: EXT });
    await w.subscribe(core);
    assert.equal(sender.notifies().at(-1)!.request.body.length, 0, 'nothing published, no call: no state');
    const r = await publish(core, EXT, { event: 'dialog', contentType: DLG, body: call(EXT, 'confirmed') });
    await settle();
    let body = bodyOf(sender.notifies().at(-1)!.request);
    assert.match(body, /<rpid:on-the-phone\/>/);
    assert.match(body, /<dm:note>On the phone<\/dm:note>/);
    assert.match(body, /<basic>open<\/basic>/);
    await publish(core, EXT, { body: pidf(EXT, 'phone', 'open', 'at my desk') });
    await settle();
    body = bodyOf(sender.notifies().at(-1)!.request);
    assert.match(body, /at my desk/);
    assert.match(body, /on-the-phone/);
    await publish(core, EXT, { event: 'dialog', contentType: DLG, body: call(EXT, 'terminated'), etag: r.headers.get('SIP-ETag') });
    await settle();
    body = bodyOf(sender.notifies().at(-1)!.request);
    assert.doesNotMatch(body, /on-the-phone/);
    assert.match(body, /at my desk/);
    await core.stop();
  });
});

describe('bodyForWatcher: per-watcher bodies (aux_body_processing, pres-rules transformations)', () => {
  test('the composite as is, one string shared by several watchers, and their own: each watcher gets its body', async () => {
    // A package answering by watcher: the composite unchanged, a string it reuses for "team" watchers, or a
    // fresh string per watcher; the core's per-composite encoding cache must never hand one watcher's to another.
    let shared = '';
    const presence = createPresencePackage({});
    const pkg: EventPackage = {
      ...presence,
      bodyForWatcher(composite, w) {
        if (w.watcher.startsWith('sip:all')) return composite;
        if (w.watcher.startsWith('sip:team')) return (shared = composite.replace(/<note>[^<]*<\/note>/, ''));
        return `${composite.slice(0, -'</presence>'.length)}<note>for ${w.watcher}</note></presence>`;
      },
    };
    const { core, sender } = await makeCore({ packages: [pkg] });
    const r = await publish(core, ALICE, { body: pidf(ALICE, 'phone', 'open', 'private') });
    const who = ['sip:all@example.com', 'sip:team1@example.com', 'sip:team2@example.com', 'sip:x1@example.com', 'sip:x2@example.com', 'sip:x3@example.com'];
    const watchers = who.map((w) => new Watcher({ presentity: ALICE, watcher: w }));
    for (const w of watchers) await w.subscribe(core);
    const check = (note: string): void => {
      const last = new Map<string, string>();
      for (const n of sender.notifies()) last.set(n.request.headers.get('Call-ID')!, bodyOf(n.request));
      const bodies = watchers.map((w) => last.get(w.callId)!);
      assert.match(bodies[0]!, new RegExp(`<note>${note}</note>`), 'all: the composite');
      assert.equal(bodies[1], shared);
      assert.equal(bodies[2], shared);
      assert.doesNotMatch(bodies[1]!, /<note>/);
      for (let i = 3; i < who.length; i++) assert.match(bodies[i]!, new RegExp(`<note>for ${who[i]}</note></presence>$`));
    };
    check('private');
    await publish(core, ALICE, { body: pidf(ALICE, 'phone', 'closed', 'gone'), etag: r.headers.get('SIP-ETag')! });
    await settle();
    check('gone');
    assert.match(shared, /closed/);
    await core.stop();
  });
});

describe('documents (XCAP-style rules storage)', () => {
  test('put, get, replace with If-Match, 412 on a stale tag, delete; durable across a restart', async () => {
    const inner = new MemoryStore();
    const a = await makeCore({ store: new FlakyStore(inner) });
    const doc = { owner: 'sip:alice@Example.com', auid: 'pres-rules', name: 'index', contentType: 'application/auth-policy+xml', body: '<ruleset/>' };
    const created = await a.core.putDocument(doc);
    assert.ok(created.ok && created.created);
    assert.equal(a.core.getDocument('sip:alice@example.com', 'pres-rules', 'index')?.body, '<ruleset/>');
    assert.deepEqual(await a.core.putDocument({ ...doc, ifNoneMatch: ['*'] }), { ok: false, status: 412, reason: 'Precondition Failed' });
    assert.deepEqual(await a.core.putDocument({ ...doc, ifMatch: ['stale'] }), { ok: false, status: 412, reason: 'Precondition Failed' });
    const replaced = await a.core.putDocument({ ...doc, body: '<ruleset>2</ruleset>', ifMatch: [created.etag] });
    assert.ok(replaced.ok && !replaced.created && replaced.etag !== created.etag);
    a.store.failWrites = 1;
    const failed = await a.core.putDocument({ ...doc, body: 'lost' });
    assert.equal(failed.ok, false);
    assert.equal(a.core.getDocument(ALICE, 'pres-rules', 'index')?.body, '<ruleset>2</ruleset>', 'a failed write is rolled back');
    await a.core.stop();
    const b = await makeCore({ store: new FlakyStore(inner) });
    assert.equal(b.core.getDocument(ALICE, 'pres-rules', 'index')?.body, '<ruleset>2</ruleset>');
    assert.deepEqual(await b.core.deleteDocument({ owner: ALICE, auid: 'pres-rules', name: 'index', ifMatch: ['x'] }), { ok: false, status: 412, reason: 'Precondition Failed' });
    assert.equal((await b.core.deleteDocument({ owner: ALICE, auid: 'pres-rules', name: 'index' })).ok, true);
    assert.equal((await b.core.deleteDocument({ owner: ALICE, auid: 'pres-rules', name: 'index' })).ok, false);
    assert.deepEqual((await inner.load()).documents, []);
    await b.core.stop();
  });
});

// Types used by the watcher-info hook are exported for packages.
const _view: WatcherInfoView = { resource: ALICE, watchers: [] };
void _view;
