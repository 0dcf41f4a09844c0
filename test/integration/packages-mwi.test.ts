/**
 * message-summary (RFC 3842) for message-waiting lamps over real sockets: a voicemail system PUBLISHes
 * application/simple-message-summary for a mailbox, the subscribed phone gets the NOTIFY; bodies are validated
 * (400 with the reason, nobody notified), and with forceActive off only the mailbox owner may subscribe
 * (mwi.subscribers: self, RFC 3842 §6).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomToken } from '../support/sip-test-client.js';
import { startTestServer, type TestServer } from '../support/test-server.js';
import { publishSpec } from '../support/presence-ua.js';
import { parseMessageSummary } from '../../src/packages/message-summary/index.js';
import { body, client, closeAll, MWI, state, watcher } from './packages-fixtures.js';

let server: TestServer;
let strict: TestServer;

before(async () => {
  server = await startTestServer({ domain: 'example.com' });
  strict = await startTestServer({ domain: 'example.com', forceActive: false });
});

after(async () => {
  await closeAll();
  await server.stop();
  await strict.stop();
});

const mailbox = (): string => `sip:${1000 + Math.floor(Math.random() * 8999)}-${randomToken(2)}@example.com`;

function summary(text: string) {
  const r = parseMessageSummary(text);
  assert.ok(r.ok, r.ok ? '' : r.reason);
  return r.summary;
}

describe('message-summary (RFC 3842)', () => {
  test('the phone subscribes (no messages), the voicemail system PUBLISHes, the phone gets the counts', async () => {
    const box = mailbox();
    const phone = await watcher(server, { presentity: box, watcher: box, event: 'message-summary', accept: MWI });
    assert.equal((await phone.subscribe(600)).status, 200);
    let n = (await phone.notify()).request;
    assert.equal(n.headers.get('Event'), 'message-summary');
    assert.equal(n.headers.get('Content-Type'), MWI);
    assert.equal(state(n).state, 'active');
    assert.equal(summary(body(n)).waiting, false, 'nothing published: a neutral "no messages" summary');

    // The voicemail system publishes as itself (From) for the mailbox (Request-URI and To).
    const vm = await client(server);
    const spec = publishSpec({ aor: box, event: 'message-summary', contentType: MWI, body: `Messages-Waiting: yes\r\nMessage-Account: ${box}\r\nVoice-Message: 2/8 (1/2)\r\n` });
    const res = await vm.request({ ...spec, from: `<sip:voicemail@example.com>;tag=${randomToken(4)}` });
    assert.equal(res.status, 200);
    assert.ok(res.headers.get('SIP-ETag'));
    n = (await phone.notify()).request;
    const s = summary(body(n));
    assert.equal(s.waiting, true);
    assert.equal(s.account, box);
    assert.deepEqual(s.counts.map((c) => [c.messageClass, c.newCount, c.oldCount, c.urgent?.newCount, c.urgent?.oldCount]), [['voice-message', 2, 8, 1, 2]]);
    assert.match(body(n), /\r\n/, 'sent in canonical CRLF form');

    // Messages listened to: the lamp goes off.
    const etag = res.headers.get('SIP-ETag')!;
    const off = await vm.request({ ...publishSpec({ aor: box, event: 'message-summary', contentType: MWI, etag, body: 'Messages-Waiting: no\r\nVoice-Message: 0/10\r\n' }), from: `<sip:voicemail@example.com>;tag=${randomToken(4)}` });
    assert.equal(off.status, 200);
    assert.equal(summary(body((await phone.notify()).request)).waiting, false);
  });

  test('a malformed body is refused with 400 and its reason; nobody is notified', async () => {
    const box = mailbox();
    const phone = await watcher(server, { presentity: box, watcher: box, event: 'message-summary', accept: MWI });
    await phone.subscribe(600);
    await phone.notify();
    const vm = await client(server);
    for (const bad of ['Messages-Waiting: maybe\r\n', 'Voice-Message: 1/0\r\n', 'Messages-Waiting: yes\r\nVoice-Message: lots\r\n']) {
      const res = await vm.request(publishSpec({ aor: box, event: 'message-summary', contentType: MWI, body: bad }));
      assert.equal(res.status, 400, `"${bad.trim()}" is refused`);
      assert.ok(res.reason.length > 0 && res.reason !== 'Bad Request', `a reason that says why: ${res.reason}`);
    }
    const wrongType = await vm.request(publishSpec({ aor: box, event: 'message-summary', contentType: 'text/plain', body: 'Messages-Waiting: yes\r\n' }));
    assert.equal(wrongType.status, 415);
    assert.match(wrongType.headers.get('Accept') ?? '', /application\/simple-message-summary/);
    await phone.client.expectNoRequest('NOTIFY', 300);
  });

  test('with forceActive off only the mailbox owner may subscribe (mwi.subscribers: self)', async () => {
    const box = mailbox();
    const owner = await watcher(strict, { presentity: box, watcher: box, event: 'message-summary', accept: MWI });
    assert.equal((await owner.subscribe(600)).status, 200);
    const snoop = await watcher(strict, { presentity: box, watcher: 'sip:snoop@example.com', event: 'message-summary', accept: MWI });
    assert.equal((await snoop.subscribe(600)).status, 403);
  });
});
