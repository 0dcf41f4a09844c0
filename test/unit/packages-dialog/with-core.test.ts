/**
 * The dialog package driven through the real presence core (fake transactions, manual clock, memory
 * store): PUBLISH validation, merge across publishers, NOTIFY bodies and their per-subscription version.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createDialogPackage, parseDialogInfo, type DialogInfoDocument, type DialogState } from '../../../src/packages/dialog/index.js';
import { bodyOf, makeCore, publish, subState, Watcher } from '../core/support.js';
import { DIALOG_INFO_SCHEMA, validateStructure } from '../packages-xml-schemas/structure.js';

const FIXTURES = new URL('../../fixtures/dialog-info/', import.meta.url.replace('/dist/test/', '/test/'));
const fixture = (name: string): string => readFileSync(new URL(name, FIXTURES), 'utf8');

const EXT = 'sip:1001@pbx.example.com';
const CT = 'application/dialog-info+xml';

function info(body: string): DialogInfoDocument {
  assert.deepEqual(validateStructure(body, DIALOG_INFO_SCHEMA), [], body);
  const r = parseDialogInfo(body);
  assert.ok(r.ok);
  return r.doc;
}

function call(state: DialogState): string {
  return `<?xml version="1.0"?><dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" version="0" state="full" entity="${EXT}">` +
    `<dialog id="c1" call-id="c1@pbx" local-tag="t1" direction="recipient"><state>${state}</state>` +
    `<remote><identity display="Eve">sip:1007@pbx.example.com</identity><target uri="sip:1007@pbx.example.com"/></remote></dialog></dialog-info>`;
}

describe('dialog package inside the presence core', () => {
  test('BLF: a watcher sees idle, trying, confirmed, terminated, idle; version +1 per NOTIFY, always full', async () => {
    const { core, sender } = await makeCore({ packages: [createDialogPackage()] });
    const w = new Watcher({ presentity: EXT, watcher: 'sip:1002@pbx.example.com', event: 'dialog', accept: CT });
    assert.equal((await w.subscribe(core, 600)).status, 200);

    const first = sender.notifies().at(-1)!.request;
    assert.equal(subState(first).state, 'active');
    assert.equal(first.headers.get('Event'), 'dialog');
    assert.equal(first.headers.get('Content-Type'), CT);
    const lamps: Array<[number, string]> = [];
    const record = (): void => {
      const d = info(bodyOf(sender.notifies().at(-1)!.request));
      assert.equal(d.state, 'full');
      assert.equal(d.entity, EXT);
      lamps.push([d.version, d.dialogs[0]?.state ?? 'idle']);
    };
    record();

    let etag: string | undefined;
    for (const s of ['trying', 'confirmed', 'terminated'] as const) {
      const res = await publish(core, EXT, { event: 'dialog', contentType: CT, body: call(s), expires: 60, ...(etag ? { etag } : {}) });
      assert.equal(res.status, 200);
      etag = res.headers.get('SIP-ETag');
      record();
    }
    // Remove the publication (RFC 3903 §4.4): the lamp goes idle with an empty full-state document.
    assert.equal((await publish(core, EXT, { event: 'dialog', etag, expires: 0 })).status, 200);
    record();
    assert.deepEqual(lamps, [[0, 'idle'], [1, 'trying'], [2, 'confirmed'], [3, 'terminated'], [4, 'idle']]);
    await core.stop();
  });

  test('PUBLISH of an invalid dialog-info body: 400 with the reason; nothing is notified', async () => {
    const { core, sender } = await makeCore({ packages: [createDialogPackage()] });
    const w = new Watcher({ presentity: EXT, event: 'dialog', accept: CT });
    await w.subscribe(core);
    const before = sender.notifies().length;
    const res = await publish(core, EXT, { event: 'dialog', contentType: CT, body: call('confirmed').replace('confirmed', 'ringing') });
    assert.equal(res.status, 400);
    assert.match(res.reason, /ringing/);
    assert.equal(sender.notifies().length, before);
    await core.stop();
  });

  test('two publishers for one extension are merged; the Event filter narrows one watcher to one call', async () => {
    const { core, sender } = await makeCore({ packages: [createDialogPackage()] });
    await publish(core, EXT, { event: 'dialog', contentType: CT, body: fixture('kamailio-pua-confirmed.xml') });
    await publish(core, EXT, { event: 'dialog', contentType: CT, body: fixture('yealink-notify-ringing.xml').replace('sip:1002@10.20.0.5', EXT) });

    const all = new Watcher({ presentity: EXT, event: 'dialog', accept: CT });
    await all.subscribe(core);
    assert.deepEqual(info(bodyOf(sender.notifies().at(-1)!.request)).dialogs.map((d) => d.state), ['confirmed', 'early']);

    const one = new Watcher({ presentity: EXT, event: 'dialog;call-id="2746152382-5060-14@BJC.BGI.B.BIE"', accept: CT });
    await one.subscribe(core);
    const n = sender.notifies().at(-1)!.request;
    assert.deepEqual(info(bodyOf(n)).dialogs.map((d) => d.id), ['0x7f3b9c01']);
    await core.stop();
  });
});
