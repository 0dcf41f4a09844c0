import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { DIALOG_INFO_SCHEMA, validateStructure, WATCHERINFO_SCHEMA } from './structure.js';

// The checker guards the other tests; it must itself reject what the schemas reject.
describe('structural schema checker', () => {
  const DI = 'urn:ietf:params:xml:ns:dialog-info';

  test('accepts a schema-valid dialog-info document', () => {
    const body = `<dialog-info xmlns="${DI}" version="1" state="full" entity="sip:a@example.com">
      <dialog id="d1" direction="initiator"><state event="remote-bye" code="200">terminated</state>
        <local><identity display="A">sip:a@example.com</identity><target uri="sip:a@192.0.2.1"><param pname="+sip.rendering" pval="yes"/></target></local>
      </dialog></dialog-info>`;
    assert.deepEqual(validateStructure(body, DIALOG_INFO_SCHEMA), []);
  });

  test('rejects missing version, bad state value, misordered children and unknown attributes', () => {
    const noVersion = `<dialog-info xmlns="${DI}" state="full" entity="sip:a@example.com"/>`;
    assert.match(validateStructure(noVersion, DIALOG_INFO_SCHEMA).join(), /missing attribute version/);
    const badState = `<dialog-info xmlns="${DI}" version="0" state="full" entity="sip:a@x"><dialog id="1"><state>ringing</state></dialog></dialog-info>`;
    assert.match(validateStructure(badState, DIALOG_INFO_SCHEMA).join(), /ringing/);
    const misordered = `<dialog-info xmlns="${DI}" version="0" state="full" entity="sip:a@x"><dialog id="1"><local/><state>early</state></dialog></dialog-info>`;
    assert.notDeepEqual(validateStructure(misordered, DIALOG_INFO_SCHEMA), []);
    const extraAttr = `<dialog-info xmlns="${DI}" version="0" state="full" entity="sip:a@x" foo="1"/>`;
    assert.match(validateStructure(extraAttr, DIALOG_INFO_SCHEMA).join(), /undeclared attribute foo/);
  });

  test('allows extension elements only where the schema has any ##other', () => {
    const ok = `<dialog-info xmlns="${DI}" xmlns:sa="urn:ietf:params:xml:ns:sa-dialog-info" version="0" state="full" entity="sip:a@x"><dialog id="1"><state>confirmed</state><sa:appearance>1</sa:appearance></dialog></dialog-info>`;
    assert.deepEqual(validateStructure(ok, DIALOG_INFO_SCHEMA), []);
    const misplaced = `<dialog-info xmlns="${DI}" xmlns:sa="urn:ietf:params:xml:ns:sa-dialog-info" version="0" state="full" entity="sip:a@x"><dialog id="1"><sa:appearance>1</sa:appearance><state>confirmed</state></dialog></dialog-info>`;
    assert.notDeepEqual(validateStructure(misplaced, DIALOG_INFO_SCHEMA), []);
  });

  test('watcherinfo: status and event enumerations are enforced', () => {
    const WI = 'urn:ietf:params:xml:ns:watcherinfo';
    const good = `<watcherinfo xmlns="${WI}" version="0" state="full"><watcher-list resource="sip:a@x" package="presence"><watcher id="1" status="pending" event="subscribe">sip:b@x</watcher></watcher-list></watcherinfo>`;
    assert.deepEqual(validateStructure(good, WATCHERINFO_SCHEMA), []);
    const bad = good.replace('event="subscribe"', 'event="unsubscribe"');
    assert.match(validateStructure(bad, WATCHERINFO_SCHEMA).join(), /unsubscribe/);
    const noId = good.replace('id="1" ', '');
    assert.match(validateStructure(noId, WATCHERINFO_SCHEMA).join(), /missing attribute id/);
  });
});
