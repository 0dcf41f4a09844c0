/**
 * dialog;sla next to dialog in the real presence core: the Event parameter selects the package,
 * BLA bodies get their remote target fixed, plain BLF watchers of the same extension are unaffected.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createDialogPackage, parseDialogInfo } from '../../../src/packages/dialog/index.js';
import { createDialogSlaPackage } from '../../../src/packages/dialog-sla/index.js';
import { bodyOf, makeCore, publish, Watcher } from '../core/support.js';

const FIXTURES = new URL('../../fixtures/dialog-info/', import.meta.url.replace('/dist/test/', '/test/'));
const POLYCOM = readFileSync(new URL('polycom-bla-notify.xml', FIXTURES), 'utf8');
const LINE = 'sip:4100@bla.example.com';
const CT = 'application/dialog-info+xml';

describe('dialog;sla package inside the presence core', () => {
  test('Event: dialog;sla selects the BLA package; its NOTIFYs carry the fixed remote target', async () => {
    const dialog = createDialogPackage();
    const { core, sender } = await makeCore({ packages: [dialog, createDialogSlaPackage({ dialog })] });
    assert.equal(
      (await publish(core, LINE, { event: 'dialog;sla', contentType: CT, body: POLYCOM, headers: [['Sender', 'sip:4100@198.51.100.7:5060']] })).status,
      200,
    );
    const phone = new Watcher({ presentity: LINE, watcher: 'sip:4100@bla.example.com', event: 'dialog;sla', accept: CT, contact: '<sip:4100@198.51.100.8:5060>' });
    assert.equal((await phone.subscribe(core)).status, 200);
    const n = sender.notifies().at(-1)!.request;
    assert.equal(n.headers.get('Event'), 'dialog;sla');
    const r = parseDialogInfo(bodyOf(n));
    assert.ok(r.ok);
    assert.equal(r.doc.version, 0);
    assert.equal(r.doc.dialogs[0]!.remote!.target, 'sip:5550100@bla.example.com');
    assert.match(bodyOf(n), /<sa:appearance>1<\/sa:appearance>/);

    // A BLF watcher of the same URI (Event: dialog) sees the dialog package's state, which is separate.
    const blf = new Watcher({ presentity: LINE, event: 'dialog', accept: CT });
    await blf.subscribe(core);
    const b = parseDialogInfo(bodyOf(sender.notifies().at(-1)!.request));
    assert.ok(b.ok);
    assert.deepEqual(b.doc.dialogs, []);
    await core.stop();
  });
});
