import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  blaPresentity,
  checkBlaPresentityTemplate,
  createDialogSlaPackage,
  fixRemoteTargets,
  isPublishingSubscriber,
  type BlaSubscribeView,
} from '../../../src/packages/dialog-sla/index.js';
import { createDialogPackage, parseDialogInfo } from '../../../src/packages/dialog/index.js';
import { parseUri, isSipParseError, type SipUri } from '../../../src/sip/index.js';
import type { PublicationView, WatcherContext } from '../../../src/core/event-package.js';
import { DIALOG_INFO_SCHEMA, validateStructure } from '../packages-xml-schemas/structure.js';

const FIXTURES = new URL('../../fixtures/dialog-info/', import.meta.url.replace('/dist/test/', '/test/'));
const fixture = (name: string): string => readFileSync(new URL(name, FIXTURES), 'utf8');

function uri(text: string): SipUri {
  const u = parseUri(text);
  if (isSipParseError(u)) assert.fail(`bad test URI ${text}`);
  return u;
}

function view(contact: string | undefined, from = 'sip:4101@bla.example.com', to = 'sip:4101@bla.example.com', ruri = 'sip:4101@10.1.1.1'): BlaSubscribeView {
  return { requestUri: uri(ruri), from: uri(from), to: uri(to), contact: contact === undefined ? undefined : uri(contact) };
}

const LINE = 'sip:4100@bla.example.com';

function pub(body: string, receivedAt: number, sender?: string): PublicationView {
  return { etag: `e${receivedAt}`, contentType: 'application/dialog-info+xml', body, receivedAt, expiresAt: receivedAt + 1e6, sender };
}

function ctx(version: number): WatcherContext {
  return { subscriptionId: 's', watcher: 'sip:4101@bla.example.com', presentity: LINE, version, accept: [], eventParams: new Map([['sla', null]]), politeBlock: false, fullState: false };
}

describe('BLA presentity (OpenSIPS handle_subscribe for dialog;sla, bla_presentity_spec)', () => {
  test('default: Contact user at the From domain', () => {
    assert.equal(blaPresentity(view('sip:4100@198.51.100.7:5060;transport=udp')), LINE);
  });

  test('no Contact, or a Contact without user: no presentity (the core answers 400)', () => {
    assert.equal(blaPresentity(view(undefined)), undefined);
    assert.equal(blaPresentity(view('sip:198.51.100.7:5060')), undefined);
  });

  test('a template replaces the computation when an SBC rewrites the Contact', () => {
    const v = view('sip:sbc-7f3a@203.0.113.1', 'sip:4101@bla.example.com', 'sip:4100@bla.example.com');
    assert.equal(blaPresentity(v, 'sip:{to.user}@{from.host}'), LINE);
    assert.equal(blaPresentity(v, 'sip:shared-line@bla.example.com'), 'sip:shared-line@bla.example.com');
  });

  test('user parts with reserved characters survive the template', () => {
    assert.equal(blaPresentity(view('sip:line%23one@198.51.100.7')), 'sip:line%23one@bla.example.com');
  });

  test('templates are checked at configuration time', () => {
    assert.equal(checkBlaPresentityTemplate('sip:{contact.user}@{from.host}'), undefined);
    assert.match(checkBlaPresentityTemplate('sip:{contact.name}@{from.host}')!, /unknown placeholder/);
    assert.match(checkBlaPresentityTemplate('{contact.user}')!, /SIP URI/);
    assert.throws(() => createDialogSlaPackage({ dialog: createDialogPackage(), presentity: 'sip:{bogus}@x' }), /unknown placeholder/);
  });
});

describe('Sender: the publishing phone is not notified of its own change', () => {
  test('Sender compared with the subscriber Contact as SIP URIs (RFC 3261 §19.1.4)', () => {
    assert.equal(isPublishingSubscriber('sip:4100@198.51.100.7:5060', 'sip:4100@198.51.100.7:5060'), true);
    assert.equal(isPublishingSubscriber('<sip:4100@198.51.100.7:5060>', 'sip:4100@198.51.100.7:5060'), true);
    assert.equal(isPublishingSubscriber('sip:4100@198.51.100.7:5060', 'sip:4100@198.51.100.7:5062'), false);
    assert.equal(isPublishingSubscriber(undefined, 'sip:4100@198.51.100.7:5060'), false);
  });
});

describe('bla_fix_remote_target', () => {
  test('the remote IP target becomes the remote identity; <param> of the old contact dropped', () => {
    const fixed = fixRemoteTargets(fixture('polycom-bla-notify.xml'));
    const r = parseDialogInfo(fixed);
    assert.ok(r.ok);
    assert.equal(r.doc.dialogs[0]!.remote!.target, 'sip:5550100@bla.example.com');
    assert.equal(r.doc.dialogs[0]!.local!.target, 'sip:4100@198.51.100.7:5060', 'only the remote side is rewritten');
    assert.doesNotMatch(fixed, /203\.0\.113\.9/);
    assert.match(fixed, /xmlns:sa="urn:ietf:params:xml:ns:sa-dialog-info"/);
  });

  test('no remote identity, no target, or not dialog-info: unchanged', () => {
    const noIdentity = fixture('polycom-bla-notify.xml').replace(/<identity display="Carrier">[^<]*<\/identity>/, '');
    assert.equal(fixRemoteTargets(noIdentity), noIdentity);
    assert.equal(fixRemoteTargets('<x/>'), '<x/>');
    assert.equal(fixRemoteTargets('plain'), 'plain');
  });
});

describe('dialog;sla package', () => {
  const sla = createDialogSlaPackage({ dialog: createDialogPackage() });

  test('its own package, selected by the sla parameter, with dialog-info bodies', () => {
    assert.equal(sla.name, 'dialog;sla');
    assert.deepEqual(sla.contentTypes, ['application/dialog-info+xml']);
    assert.equal(sla.publishable, true);
  });

  test('PUBLISH validation is dialog-info validation', () => {
    const c = { presentity: LINE, sender: 'sip:4100@198.51.100.7:5060' };
    assert.deepEqual(sla.validatePublish!(fixture('polycom-bla-notify.xml'), 'application/dialog-info+xml', c), { ok: true });
    assert.equal(sla.validatePublish!('<dialog-info/>', 'application/dialog-info+xml', c).ok, false);
  });

  test('the line state merged from two phones, remote targets fixed, per-watcher version', () => {
    const other = fixture('kamailio-pua-early.xml');
    const composite = sla.aggregate!(LINE, [pub(fixture('polycom-bla-notify.xml'), 1, 'sip:4100@198.51.100.7:5060'), pub(other, 2)])!;
    const out = sla.bodyForWatcher!(composite, ctx(6))!;
    assert.deepEqual(validateStructure(out, DIALOG_INFO_SCHEMA), []);
    const r = parseDialogInfo(out);
    assert.ok(r.ok);
    assert.equal(r.doc.version, 6);
    assert.equal(r.doc.entity, LINE);
    assert.equal(r.doc.dialogs.length, 2);
    assert.equal(r.doc.dialogs[0]!.remote!.target, 'sip:5550100@bla.example.com');
  });

  test('fixRemoteTarget: false keeps the publisher target', () => {
    const keep = createDialogSlaPackage({ dialog: createDialogPackage(), fixRemoteTarget: false });
    const composite = keep.aggregate!(LINE, [pub(fixture('polycom-bla-notify.xml'), 1)])!;
    assert.match(composite, /203\.0\.113\.9/);
  });

  test('idle line: the dialog package empty document', () => {
    const e = sla.emptyBody!(LINE, ctx(2))!;
    assert.equal(parseDialogInfo(e.body).ok, true);
    assert.match(e.body, /version="2"/);
  });

  test('presentityFor / isPublisher hooks for the core', () => {
    assert.equal(sla.presentityFor(view('sip:4100@198.51.100.7')), LINE);
    assert.equal(sla.isPublisher('sip:4100@198.51.100.7', 'sip:4100@198.51.100.7'), true);
  });
});
