import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  createMessageSummaryPackage,
  emptyMessageSummary,
  MESSAGE_SUMMARY_CONTENT_TYPE,
  newMessageCount,
  parseMessageSummary,
  serializeMessageSummary,
  type MessageSummary,
} from '../../../src/packages/message-summary/index.js';
import type { PublicationView, WatcherContext } from '../../../src/core/event-package.js';

const FIXTURES = new URL('../../fixtures/mwi/', import.meta.url.replace('/dist/test/', '/test/'));
const fixture = (name: string): string => readFileSync(new URL(name, FIXTURES), 'utf8');

function accepted(body: string): MessageSummary {
  const r = parseMessageSummary(body);
  if (!r.ok) assert.fail(`rejected: ${r.reason}`);
  return r.summary;
}

function rejected(body: string): string {
  const r = parseMessageSummary(body);
  assert.equal(r.ok, false, 'expected a rejection');
  const reason = (r as { reason: string }).reason;
  assert.match(reason, /^[\x20-\x7e]+$/, 'reason must fit a SIP reason phrase');
  return reason;
}

describe('RFC 3842 §5.2 parsing: real bodies', () => {
  test('Asterisk NOTIFY body: status, account, voice counts with urgent part', () => {
    const s = accepted(fixture('asterisk-notify.txt'));
    assert.equal(s.waiting, true);
    assert.equal(s.account, 'sip:*97@pbx.example.com');
    assert.deepEqual(s.counts, [{ messageClass: 'voice-message', newCount: 2, oldCount: 8, urgent: { newCount: 0, oldCount: 2 } }]);
    assert.equal(newMessageCount(s), 2);
  });

  test('FreeSWITCH "no" body is accepted', () => {
    const s = accepted(fixture('freeswitch-notify.txt'));
    assert.equal(s.waiting, false);
    assert.equal(s.counts[0]!.newCount, 0);
  });

  test('LF-only line ends and no urgent part are tolerated', () => {
    const s = accepted(fixture('lf-only-publish.txt'));
    assert.deepEqual(s.counts, [{ messageClass: 'voice-message', newCount: 1, oldCount: 0, urgent: undefined }]);
    assert.equal(s.account, undefined);
  });

  test('several message-context classes (RFC 3458) and opt-msg-headers after the blank line', () => {
    const s = accepted(fixture('voicemail-with-headers.txt'));
    assert.deepEqual(
      s.counts.map((c) => c.messageClass),
      ['voice-message', 'fax-message'],
    );
    assert.equal(s.headers.length, 5);
    assert.deepEqual(s.headers[2], { name: 'Subject', value: 'Budget review' });
  });

  test('header names are case-insensitive and whitespace around ":" "/" "(" is allowed (HCOLON, SLASH, LPAREN)', () => {
    const s = accepted('messages-waiting : YES\r\nvoice-message:  3 / 4 ( 1 / 0 )\r\n');
    assert.equal(s.waiting, true);
    assert.deepEqual(s.counts[0], { messageClass: 'voice-message', newCount: 3, oldCount: 4, urgent: { newCount: 1, oldCount: 0 } });
  });
});

describe('RFC 3842 §5.2 parsing: rejections', () => {
  test('Messages-Waiting must come first', () => {
    assert.match(rejected('Voice-Message: 1/0\r\nMessages-Waiting: yes\r\n'), /start with Messages-Waiting/);
    assert.match(rejected(''), /empty/);
  });

  test('msg-status is yes or no', () => {
    assert.match(rejected('Messages-Waiting: maybe\r\n'), /yes or no/);
  });

  test('malformed counts, counts over 2^32-1 and more urgent than total', () => {
    assert.match(rejected('Messages-Waiting: yes\r\nVoice-Message: two/0\r\n'), /new\/old/);
    assert.match(rejected('Messages-Waiting: yes\r\nVoice-Message: 4294967296/0\r\n'), /2\^32-1/);
    assert.match(rejected('Messages-Waiting: yes\r\nVoice-Message: 1/0 (2/0)\r\n'), /urgent/);
  });

  test('a repeated class, a repeated status or a second Message-Account', () => {
    assert.match(rejected('Messages-Waiting: yes\r\nVoice-Message: 1/0\r\nvoice-message: 2/0\r\n'), /repeats/);
    assert.match(rejected('Messages-Waiting: yes\r\nMessages-Waiting: no\r\n'), /repeats/);
    assert.match(rejected('Messages-Waiting: yes\r\nMessage-Account: sip:a@x\r\nMessage-Account: sip:b@x\r\n'), /more than one/);
  });

  test('Message-Account must be a URI; control characters and oversized bodies are refused', () => {
    assert.match(rejected('Messages-Waiting: yes\r\nMessage-Account: not a uri\r\n'), /not a URI/);
    assert.match(rejected('Messages-Waiting: yes\r\nX-Evil: a\u0000b\r\n'), /control/);
    assert.match(rejected(`Messages-Waiting: yes\r\n${'X-Pad: 0123456789\r\n'.repeat(2000)}`), /exceeds|lines/);
  });
});

describe('canonical serialization', () => {
  test('round trip of a canonical body is byte-identical', () => {
    const body = fixture('voicemail-with-headers.txt');
    assert.equal(serializeMessageSummary(accepted(body)), body);
  });

  test('lenient input comes out canonical (CRLF, RFC spellings)', () => {
    assert.equal(
      serializeMessageSummary(accepted('messages-waiting: yes\nvoice-message: 1/0\n')),
      'Messages-Waiting: yes\r\nVoice-Message: 1/0\r\n',
    );
  });

  test('the neutral summary says no messages', () => {
    assert.equal(emptyMessageSummary(), 'Messages-Waiting: no\r\n');
    assert.equal(accepted(emptyMessageSummary('sip:vm@x')).account, 'sip:vm@x');
  });
});

function pub(body: string, receivedAt: number): PublicationView {
  return { etag: `e${receivedAt}`, contentType: MESSAGE_SUMMARY_CONTENT_TYPE, body, receivedAt, expiresAt: receivedAt + 3600_000, sender: undefined };
}

const WATCHER: WatcherContext = {
  subscriptionId: 's1',
  watcher: 'sip:alice@example.com',
  presentity: 'sip:alice@example.com',
  version: 0,
  accept: [],
  eventParams: new Map(),
  politeBlock: false,
  fullState: true,
};

describe('message-summary package', () => {
  const pkg = createMessageSummaryPackage();

  test('registers as RFC 3842 defines it', () => {
    assert.equal(pkg.name, 'message-summary');
    assert.deepEqual(pkg.contentTypes, ['application/simple-message-summary']);
    assert.equal(pkg.publishable, true);
    assert.equal(pkg.expires.default, 3600);
  });

  test('PUBLISH bodies are validated: bad ones get 400 with the reason', () => {
    const ctx = { presentity: 'sip:alice@example.com', sender: undefined };
    assert.deepEqual(pkg.validatePublish!(fixture('asterisk-notify.txt'), MESSAGE_SUMMARY_CONTENT_TYPE, ctx), { ok: true });
    const v = pkg.validatePublish!('Voice-Message: 1/0\r\n', MESSAGE_SUMMARY_CONTENT_TYPE, ctx);
    assert.equal(v.ok, false);
    assert.equal((v as { status: number }).status, 400);
  });

  test('the newest publication is the state, sent canonical', () => {
    const older = pub('Messages-Waiting: yes\nVoice-Message: 5/0\n', 1000);
    const newer = pub('Messages-Waiting: no\nVoice-Message: 0/5\n', 2000);
    assert.equal(pkg.aggregate!('sip:alice@example.com', [older, newer]), 'Messages-Waiting: no\r\nVoice-Message: 0/5\r\n');
    assert.equal(pkg.aggregate!('sip:alice@example.com', [newer, older]), 'Messages-Waiting: no\r\nVoice-Message: 0/5\r\n');
    assert.equal(pkg.aggregate!('sip:alice@example.com', []), undefined);
    // A stored body that no longer parses does not turn the lamp off: the newest valid one is used.
    assert.equal(pkg.aggregate!('sip:alice@example.com', [older, pub('garbage', 3000)]), 'Messages-Waiting: yes\r\nVoice-Message: 5/0\r\n');
  });

  test('no state or polite blocking: "Messages-Waiting: no"', () => {
    assert.deepEqual(pkg.emptyBody!('sip:alice@example.com', WATCHER), {
      contentType: MESSAGE_SUMMARY_CONTENT_TYPE,
      body: 'Messages-Waiting: no\r\n',
    });
  });

  test('RFC 3842 §6: only the account owner may subscribe by default; "any" admits all', () => {
    const req = (watcher: string) => ({ watcher, watcherDisplayName: undefined, presentity: 'sip:alice@example.com', event: 'message-summary' });
    assert.equal(pkg.authorize!(req('sip:alice@EXAMPLE.com;transport=tcp')), 'active');
    assert.equal(pkg.authorize!(req('sip:mallory@example.com')), 'rejected');
    assert.equal(createMessageSummaryPackage({ subscribers: 'any' }).authorize!(req('sip:mallory@example.com')), 'active');
  });
});
