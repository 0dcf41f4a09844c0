/**
 * mix_dialog_presence overlay: the RPID activity on-the-phone and the note "On the phone" on the person, in the
 * RFC 4479 person order (extension elements, notes, timestamp); tuples untouched.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { composePidf, createPresencePackage, onThePhonePidf, pidfSummary, validatePidf } from '../../../src/packages/presence/index.js';

const ALICE = 'sip:alice@example.com';
const NS = 'xmlns="urn:ietf:params:xml:ns:pidf" xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model" xmlns:rpid="urn:ietf:params:xml:ns:pidf:rpid"';

describe('on-the-phone overlay (mix_dialog_presence)', () => {
  test('nothing published: an open tuple and a person on the phone, a valid PIDF', () => {
    const body = onThePhonePidf(ALICE, undefined);
    assert.ok(validatePidf(body, ALICE).ok);
    assert.deepEqual(pidfSummary(body), { basic: 'open', activities: ['on-the-phone'], note: 'On the phone' });
  });

  test('a published person keeps its other elements; activities and note are replaced; timestamp stays last', () => {
    const published =
      `<presence ${NS} entity="${ALICE}"><tuple id="t"><status><basic>closed</basic></status></tuple>` +
      `<dm:person id="p"><rpid:activities><rpid:meal/></rpid:activities><rpid:mood><rpid:happy/></rpid:mood>` +
      `<dm:note>lunch</dm:note><dm:timestamp>2025-01-01T12:00:00Z</dm:timestamp></dm:person></presence>`;
    const doc = composePidf(ALICE, [{ etag: 'e', body: published, receivedAt: 0 }]);
    const body = onThePhonePidf(ALICE, doc.root);
    assert.ok(validatePidf(body, ALICE).ok);
    assert.deepEqual(pidfSummary(body), { basic: 'closed', activities: ['on-the-phone'], note: 'On the phone' });
    assert.match(body, /<dm:person id="p"><rpid:activities><rpid:on-the-phone\/><\/rpid:activities><rpid:mood><rpid:happy\/><\/rpid:mood><dm:note>On the phone<\/dm:note><dm:timestamp>/);
    assert.doesNotMatch(body, /meal|lunch/);
  });

  test('a document without person gets one, with an id no published element uses', () => {
    const published = `<presence ${NS} entity="${ALICE}"><tuple id="p-on-the-phone"><status><basic>open</basic></status></tuple></presence>`;
    const body = onThePhonePidf(ALICE, composePidf(ALICE, [{ etag: 'e', body: published, receivedAt: 0 }]).root);
    assert.ok(validatePidf(body, ALICE).ok, body);
    assert.match(body, /<dm:person id="p-on-the-phone-2">/);
    assert.deepEqual(pidfSummary(body).activities, ['on-the-phone']);
  });

  test('the presence package declares its dependency only when mixing, and asks for dialog state', () => {
    assert.equal(createPresencePackage({}).dependsOn, undefined);
    const busy = new Set<string>();
    const pkg = createPresencePackage({ mixDialog: { event: 'dialog', isBusy: (b) => busy.has(b) } });
    assert.deepEqual(pkg.dependsOn, ['dialog']);
    const related = (dialog: string | undefined) => ({ composite: (e: string) => (e === 'dialog' ? dialog : undefined) });
    assert.equal(pkg.aggregate!(ALICE, [], related(undefined)), undefined, 'no call, nothing published: no state');
    busy.add('CALL');
    assert.match(pkg.aggregate!(ALICE, [], related('CALL'))!, /on-the-phone/);
    assert.equal(pkg.aggregate!(ALICE, [], related('IDLE')), undefined);
  });
});
