/**
 * The message-summary package through the real presence core: a voicemail system PUBLISHes, the
 * phone's subscription gets the counts; privacy per RFC 3842 §6 when authorization is on.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createMessageSummaryPackage } from '../../../src/packages/message-summary/index.js';
import { bodyOf, makeCore, publish, subState, Watcher } from '../core/support.js';

const ALICE = 'sip:alice@example.com';
const CT = 'application/simple-message-summary';

describe('message-summary package inside the presence core', () => {
  test('no mailbox state yet: "Messages-Waiting: no"; then the published counts, canonical', async () => {
    const { core, sender } = await makeCore({ packages: [createMessageSummaryPackage()] });
    const phone = new Watcher({ presentity: ALICE, watcher: ALICE, event: 'message-summary', accept: CT });
    assert.equal((await phone.subscribe(core, 3600)).status, 200);
    const first = sender.notifies().at(-1)!.request;
    assert.equal(first.headers.get('Content-Type'), CT);
    assert.equal(bodyOf(first), 'Messages-Waiting: no\r\n');

    const res = await publish(core, ALICE, {
      event: 'message-summary',
      contentType: CT,
      body: 'Messages-Waiting: yes\nMessage-Account: sip:alice@vm.example.com\nVoice-Message: 3/1 (1/0)\n',
    });
    assert.equal(res.status, 200);
    const n = sender.notifies().at(-1)!.request;
    assert.equal(subState(n).state, 'active');
    assert.equal(bodyOf(n), 'Messages-Waiting: yes\r\nMessage-Account: sip:alice@vm.example.com\r\nVoice-Message: 3/1 (1/0)\r\n');
    await core.stop();
  });

  test('a malformed summary is refused with 400', async () => {
    const { core } = await makeCore({ packages: [createMessageSummaryPackage()] });
    const res = await publish(core, ALICE, { event: 'message-summary', contentType: CT, body: 'Voice-Message: 1/0\r\n' });
    assert.equal(res.status, 400);
    await core.stop();
  });

  test('with authorization on (forceActive off), only the mailbox owner may subscribe (403 otherwise)', async () => {
    const { core } = await makeCore({ packages: [createMessageSummaryPackage()], config: { forceActive: false } });
    const owner = new Watcher({ presentity: ALICE, watcher: ALICE, event: 'message-summary', accept: CT });
    const other = new Watcher({ presentity: ALICE, watcher: 'sip:mallory@example.com', event: 'message-summary', accept: CT });
    assert.equal((await owner.subscribe(core)).status, 200);
    assert.equal((await other.subscribe(core)).status, 403);
    await core.stop();
  });
});
