import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { composeRegInfo, createRegPackage, parseRegInfo, registrationId, type RegInfo } from '../../../src/packages/reg/index.js';
import type { WatcherContext } from '../../../src/core/index.js';

const AOR = 'sip:alice@example.com';

const doc: RegInfo = {
  version: 0,
  state: 'full',
  registrations: [
    {
      aor: AOR,
      id: registrationId(AOR),
      state: 'active',
      contacts: [
        { id: 'c1', state: 'active', event: 'registered', uri: 'sip:alice@192.0.2.7', expires: 600, durationRegistered: 0, q: '0.5', callId: 'x@y', cseq: 3, unknownParams: [['+sip.instance', '"<urn:uuid:1>"']] },
        { id: 'c2', state: 'terminated', event: 'expired', uri: 'sip:alice@192.0.2.8', expires: 0 },
      ],
    },
  ],
};

function watcher(over: Partial<WatcherContext> = {}): WatcherContext {
  return {
    subscriptionId: 's1',
    watcher: AOR,
    presentity: AOR,
    version: 0,
    accept: [],
    eventParams: new Map(),
    politeBlock: false,
    fullState: true,
    ...over,
  };
}

describe('application/reginfo+xml (RFC 3680 §5.4)', () => {
  test('compose then parse gives the same document', () => {
    const text = composeRegInfo(doc);
    assert.match(text, /^<\?xml version="1\.0" encoding="UTF-8"\?>\n<reginfo xmlns="urn:ietf:params:xml:ns:reginfo" version="0" state="full">/);
    const back = parseRegInfo(text);
    assert.ok(back.ok);
    assert.equal(back.doc.registrations[0]!.contacts[0]!.unknownParams?.[0]?.[1], '"<urn:uuid:1>"');
    assert.equal(composeRegInfo(back.doc), text);
  });

  test('parses the RFC 3680 §6 example document', () => {
    const rfc =
      '<?xml version="1.0"?>\n<reginfo xmlns="urn:ietf:params:xml:ns:reginfo" version="0" state="full">' +
      '<registration aor="sip:user@example.com" id="as9" state="active">' +
      '<contact id="76" state="active" event="registered" duration-registered="7322" q="0.8">' +
      '<uri>sip:user@pc887.example.com</uri></contact>' +
      '<contact id="77" state="terminated" event="expired" duration-registered="3600">' +
      '<uri>sip:user@university.edu</uri></contact></registration></reginfo>';
    const r = parseRegInfo(rfc);
    assert.ok(r.ok);
    assert.deepEqual(r.doc.registrations[0]!.contacts.map((c) => [c.id, c.state, c.event, c.durationRegistered]), [
      ['76', 'active', 'registered', 7322],
      ['77', 'terminated', 'expired', 3600],
    ]);
  });

  for (const [name, body] of [
    ['not XML', 'hello'],
    ['another root', '<presence xmlns="urn:ietf:params:xml:ns:pidf"/>'],
    ['no version', '<reginfo xmlns="urn:ietf:params:xml:ns:reginfo" state="full"/>'],
    ['a bad state', '<reginfo xmlns="urn:ietf:params:xml:ns:reginfo" version="0" state="some"/>'],
    ['a contact without uri', '<reginfo xmlns="urn:ietf:params:xml:ns:reginfo" version="0" state="full"><registration aor="sip:a@b" id="1" state="active"><contact id="1" state="active" event="registered"/></registration></reginfo>'],
    ['an unknown event', '<reginfo xmlns="urn:ietf:params:xml:ns:reginfo" version="0" state="full"><registration aor="sip:a@b" id="1" state="active"><contact id="1" state="active" event="bored"><uri>sip:x</uri></contact></registration></reginfo>'],
    ['a DTD', '<!DOCTYPE x [<!ENTITY a "b">]><reginfo xmlns="urn:ietf:params:xml:ns:reginfo" version="0" state="full"/>'],
  ] as const) {
    test(`refuses ${name}`, () => assert.equal(parseRegInfo(body).ok, false));
  }

  test('never throws on hostile input (fast-check)', () => {
    fc.assert(fc.property(fc.string({ maxLength: 400 }), (s) => {
      const r = parseRegInfo(`<reginfo xmlns="urn:ietf:params:xml:ns:reginfo" version="0" state="full">${s}</reginfo>`);
      assert.equal(typeof r.ok, 'boolean');
    }), { numRuns: 1000 });
  });
});

describe('reg event package', () => {
  const pkg = createRegPackage();

  test('name reg, application/reginfo+xml, default subscription 3761 s (RFC 3680 §6)', () => {
    assert.equal(pkg.name, 'reg');
    assert.deepEqual(pkg.contentTypes, ['application/reginfo+xml']);
    assert.equal(pkg.expires.default, 3761);
  });

  test('full state for the first NOTIFY (terminated contacts dropped), partial after (kept), version from the subscription', () => {
    const composite = composeRegInfo(doc);
    const full = parseRegInfo(pkg.bodyForWatcher!(composite, watcher({ version: 0, fullState: true }))!);
    assert.ok(full.ok);
    assert.equal(full.doc.state, 'full');
    assert.equal(full.doc.version, 0);
    assert.deepEqual(full.doc.registrations[0]!.contacts.map((c) => c.id), ['c1']);
    const partial = parseRegInfo(pkg.bodyForWatcher!(composite, watcher({ version: 3, fullState: false }))!);
    assert.ok(partial.ok);
    assert.equal(partial.doc.state, 'partial');
    assert.equal(partial.doc.version, 3);
    assert.deepEqual(partial.doc.registrations[0]!.contacts.map((c) => [c.id, c.state]), [['c1', 'active'], ['c2', 'terminated']]);
  });

  test('only the AOR itself (or a trusted watcher) is authorised; others see no contacts (RFC 3680 §7)', () => {
    assert.equal(pkg.authorize!({ watcher: AOR, watcherDisplayName: undefined, presentity: AOR, event: 'reg' }), 'active');
    assert.equal(pkg.authorize!({ watcher: 'sip:eve@example.com', watcherDisplayName: undefined, presentity: AOR, event: 'reg' }), 'rejected');
    const other = parseRegInfo(pkg.bodyForWatcher!(composeRegInfo(doc), watcher({ watcher: 'sip:eve@example.com' }))!);
    assert.ok(other.ok);
    assert.deepEqual(other.doc.registrations[0]!.contacts, []);
    const trusting = createRegPackage({ isTrustedWatcher: (w) => w === 'sip:pbx@example.com' });
    assert.equal(trusting.authorize!({ watcher: 'sip:pbx@example.com', watcherDisplayName: undefined, presentity: AOR, event: 'reg' }), 'active');
  });

  test('nothing published: a full document with the registration in state init', () => {
    const e = pkg.emptyBody!(AOR, watcher({ version: 2 }))!;
    const r = parseRegInfo(e.body);
    assert.ok(r.ok);
    assert.equal(r.doc.version, 2);
    assert.deepEqual(r.doc.registrations.map((x) => [x.aor, x.id, x.state, x.contacts.length]), [[AOR, registrationId(AOR), 'init', 0]]);
  });

  test('PUBLISH from the network is refused (403) unless externalPublish; the facade (no sender) is accepted', () => {
    const body = composeRegInfo(doc);
    assert.deepEqual(pkg.validatePublish!(body, 'application/reginfo+xml', { presentity: AOR, sender: AOR }), {
      ok: false,
      status: 403,
      reason: 'Registration state is published by the registrar',
    });
    assert.deepEqual(pkg.validatePublish!(body, 'application/reginfo+xml', { presentity: AOR, sender: undefined }), { ok: true });
    const external = createRegPackage({ externalPublish: true });
    assert.deepEqual(external.validatePublish!(body, 'application/reginfo+xml', { presentity: AOR, sender: 'sip:kamailio@example.com' }), { ok: true });
    assert.equal(external.validatePublish!('<x/>', 'application/reginfo+xml', { presentity: AOR, sender: 'sip:k@example.com' }).ok, false);
  });
});
