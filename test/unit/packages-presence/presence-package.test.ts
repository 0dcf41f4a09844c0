import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createPresencePackage, PIDF_CONTENT_TYPE } from '../../../src/packages/presence/index.js';
import type { WatcherContext } from '../../../src/core/index.js';

const ALICE = 'sip:alice@example.com';
const doc = (entity: string, id: string, basic: string, note = ''): string =>
  `<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="${entity}"><tuple id="${id}"><status><basic>${basic}</basic></status>${note ? `<note>${note}</note>` : ''}</tuple></presence>`;

function watcher(over: Partial<WatcherContext> = {}): WatcherContext {
  return {
    subscriptionId: 's',
    watcher: 'sip:bob@example.com',
    presentity: ALICE,
    version: 0,
    accept: [],
    eventParams: new Map(),
    politeBlock: false,
    fullState: true,
    ...over,
  };
}

describe('presence event package (RFC 3856)', () => {
  const pkg = createPresencePackage();

  test('is named "presence", takes PIDF, defaults to 3600 s and accepts PUBLISH', () => {
    assert.equal(pkg.name, 'presence');
    assert.deepEqual(pkg.contentTypes, [PIDF_CONTENT_TYPE]);
    assert.equal(pkg.expires.default, 3600);
    assert.equal(pkg.publishable, true);
  });

  test('validatePublish accepts a PIDF for the presentity and refuses others with 400', () => {
    assert.deepEqual(pkg.validatePublish!(doc(ALICE, 't', 'open'), PIDF_CONTENT_TYPE, { presentity: ALICE, sender: undefined }), {
      ok: true,
      standalone: true,
    });
    // Accepted, but its <basic> would be left out when composing: not sent as published.
    assert.deepEqual(pkg.validatePublish!(doc(ALICE, 't', 'unknown'), PIDF_CONTENT_TYPE, { presentity: ALICE, sender: undefined }), {
      ok: true,
    });
    const wrong = pkg.validatePublish!(doc('sip:eve@example.com', 't', 'open'), PIDF_CONTENT_TYPE, { presentity: ALICE, sender: undefined });
    assert.equal(wrong.ok, false);
    assert.equal(!wrong.ok && wrong.status, 400);
    const broken = pkg.validatePublish!('<presence', PIDF_CONTENT_TYPE, { presentity: ALICE, sender: undefined });
    assert.equal(broken.ok, false);
  });

  test('aggregate composes every device into one document for the presentity', () => {
    const body = pkg.aggregate!(ALICE, [
      { etag: 'a', contentType: PIDF_CONTENT_TYPE, body: doc(ALICE, 'pc', 'open', 'desk'), receivedAt: 1, expiresAt: 9, sender: undefined },
      { etag: 'b', contentType: PIDF_CONTENT_TYPE, body: doc(ALICE, 'phone', 'closed', 'pocket'), receivedAt: 2, expiresAt: 9, sender: undefined },
    ]);
    assert.ok(body !== undefined);
    assert.match(body, /desk/);
    assert.match(body, /pocket/);
    assert.match(body, /entity="sip:alice@example.com"/);
  });

  test('aggregate sends a lone publication marked standalone as published, and composes one that is not', () => {
    const body = doc(ALICE, 'pc', 'open', 'desk').replace('<presence ', '<presence xmlns:x="urn:x" ');
    const one = (standalone: boolean) => [
      { etag: 'a', contentType: PIDF_CONTENT_TYPE, body, receivedAt: 1, expiresAt: 9, sender: undefined, standalone },
    ];
    assert.equal(pkg.aggregate!(ALICE, one(true)), body);
    const composed = pkg.aggregate!(ALICE, one(false));
    assert.notEqual(composed, body);
    assert.match(composed ?? '', /<note>desk<\/note>/);
  });

  test('emptyBody: none by default; closed PIDF with notifyOfflineBody; closed PIDF for polite blocking always', () => {
    assert.equal(pkg.emptyBody!(ALICE, watcher()), undefined);
    const blocked = pkg.emptyBody!(ALICE, watcher({ politeBlock: true }));
    assert.equal(blocked?.contentType, PIDF_CONTENT_TYPE);
    assert.match(blocked?.body ?? '', /closed/);
    const offline = createPresencePackage({ notifyOfflineBody: true }).emptyBody!(ALICE, watcher());
    assert.match(offline?.body ?? '', /<basic>closed<\/basic>/);
  });

  test('authorize is left to the core default (active)', () => {
    assert.equal(pkg.authorize, undefined);
  });
});
