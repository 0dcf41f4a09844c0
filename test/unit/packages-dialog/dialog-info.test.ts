import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  composeDialogInfo,
  DIALOG_INFO_NS,
  MAX_DIALOGS_PER_DOCUMENT,
  parseDialogInfo,
  type DialogInfoDocument,
} from '../../../src/packages/dialog/index.js';
import { childElements, getAttr } from '../../../src/packages/shared/index.js';
import { DIALOG_INFO_SCHEMA, validateStructure } from '../packages-xml-schemas/structure.js';

const FIXTURES = new URL('../../fixtures/dialog-info/', import.meta.url.replace('/dist/test/', '/test/'));
const fixture = (name: string): string => readFileSync(new URL(name, FIXTURES), 'utf8');

function accepted(body: string): DialogInfoDocument {
  const r = parseDialogInfo(body);
  if (!r.ok) assert.fail(`rejected: ${r.reason}`);
  return r.doc;
}

function rejected(body: string): string {
  const r = parseDialogInfo(body);
  assert.equal(r.ok, false, 'expected a rejection');
  const reason = (r as { reason: string }).reason;
  assert.match(reason, /^[\x20-\x7e]+$/, 'reason must fit a SIP reason phrase');
  return reason;
}

function doc(dialogs: string, attrs = 'version="0" state="full" entity="sip:alice@example.com"'): string {
  return `<?xml version="1.0"?><dialog-info xmlns="${DIALOG_INFO_NS}" ${attrs}>${dialogs}</dialog-info>`;
}

describe('RFC 4235 §4 parsing: real publisher bodies', () => {
  test('Kamailio pua_dialoginfo early dialog: ids, direction, local/remote identity with display, target', () => {
    const d = accepted(fixture('kamailio-pua-early.xml'));
    assert.equal(d.version, 1);
    assert.equal(d.state, 'full');
    assert.equal(d.entity, 'sip:1001@pbx.example.com');
    const dlg = d.dialogs[0]!;
    assert.equal(dlg.id, '6b8b4567327b23c6@192.0.2.21');
    assert.equal(dlg.callId, '6b8b4567327b23c6@192.0.2.21');
    assert.equal(dlg.localTag, 'as3f9a2b1c');
    assert.equal(dlg.remoteTag, undefined);
    assert.equal(dlg.direction, 'recipient');
    assert.equal(dlg.state, 'early');
    assert.deepEqual(dlg.remote, { identity: 'sip:+15551234567@pbx.example.com', display: 'Bob Smith', target: 'sip:+15551234567@pbx.example.com' });
    assert.equal(dlg.local!.display, 'Reception');
  });

  test('Yealink NOTIFY body, Kamailio confirmed/terminated (state event attribute)', () => {
    assert.equal(accepted(fixture('yealink-notify-ringing.xml')).dialogs[0]!.remote!.display, 'Front Desk');
    assert.equal(accepted(fixture('kamailio-pua-confirmed.xml')).dialogs[0]!.state, 'confirmed');
    assert.equal(accepted(fixture('kamailio-pua-terminated.xml')).dialogs[0]!.state, 'terminated');
  });

  test('Asterisk order (remote, local, state) is accepted and rebuilt in schema order', () => {
    const d = accepted(fixture('asterisk-remote-first.xml'));
    const el = d.dialogs[0]!.element;
    const names = el.children.filter((c) => 'children' in c).map((c) => (c as { local: string }).local);
    assert.deepEqual(names, ['state', 'local', 'remote']);
    assert.deepEqual(validateStructure(composeDialogInfo(d.entity, [el]), DIALOG_INFO_SCHEMA), []);
  });

  test('Polycom BLA body: sa: extensions carried, moved after the RFC 4235 elements', () => {
    const d = accepted(fixture('polycom-bla-notify.xml'));
    const el = d.dialogs[0]!.element;
    const last = el.children[el.children.length - 1] as { ns: string; local: string };
    assert.equal(last.ns, 'urn:ietf:params:xml:ns:sa-dialog-info');
    const out = composeDialogInfo(d.entity, [el]);
    assert.deepEqual(validateStructure(out, DIALOG_INFO_SCHEMA), []);
    assert.match(out, /xmlns:sa="urn:ietf:params:xml:ns:sa-dialog-info"/);
    assert.match(out, /<sa:appearance>1<\/sa:appearance>/);
    assert.match(out, /<param pname="\+sip.rendering" pval="no"\/>/);
  });

  test('prefix-independent: d:-prefixed document with duration, cseq and session-description', () => {
    const d = accepted(fixture('prefixed-with-sdp.xml'));
    assert.equal(d.state, 'partial');
    assert.equal(d.dialogs[0]!.state, 'confirmed');
    assert.equal(d.dialogs[0]!.local!.target, undefined);
    assert.deepEqual(validateStructure(composeDialogInfo(d.entity, [d.dialogs[0]!.element]), DIALOG_INFO_SCHEMA), []);
  });

  test('state text is trimmed and lower-cased on the way through', () => {
    const d = accepted(doc('<dialog id="x"><state> Confirmed\n</state></dialog>'));
    assert.equal(d.dialogs[0]!.state, 'confirmed');
    const state = childElements(d.dialogs[0]!.element, DIALOG_INFO_NS, 'state')[0]!;
    assert.deepEqual(state.children, [{ text: 'confirmed' }]);
  });

  test('an empty dialog-info (idle entity) is valid', () => {
    assert.deepEqual(accepted(doc('')).dialogs, []);
  });
});

describe('RFC 4235 §4 validation: rejections', () => {
  test('wrong root namespace or name', () => {
    assert.match(rejected('<dialog-info xmlns="urn:example:x" version="0" state="full" entity="sip:a@x"/>'), /root element/);
    assert.match(rejected(`<presence xmlns="${DIALOG_INFO_NS}"/>`), /root element/);
  });

  test('version, state and entity are required and typed', () => {
    assert.match(rejected(doc('', 'state="full" entity="sip:a@x"')), /version/);
    assert.match(rejected(doc('', 'version="-1" state="full" entity="sip:a@x"')), /version/);
    assert.match(rejected(doc('', 'version="0" state="complete" entity="sip:a@x"')), /full or partial/);
    assert.match(rejected(doc('', 'version="0" state="full"')), /entity/);
  });

  test('dialog needs an id, unique in the document, and exactly one valid state', () => {
    assert.match(rejected(doc('<dialog><state>early</state></dialog>')), /without id/);
    assert.match(rejected(doc('<dialog id="a"><state>early</state></dialog><dialog id="a"><state>confirmed</state></dialog>')), /twice/);
    assert.match(rejected(doc('<dialog id="a"/>')), /no <state>/);
    assert.match(rejected(doc('<dialog id="a"><state>ringing</state></dialog>')), /not an RFC 4235 state/);
    assert.match(rejected(doc('<dialog id="a"><state>early</state><state>confirmed</state></dialog>')), /more than one/);
  });

  test('direction, state event and code are checked', () => {
    assert.match(rejected(doc('<dialog id="a" direction="outbound"><state>early</state></dialog>')), /initiator or recipient/);
    assert.match(rejected(doc('<dialog id="a"><state event="hangup">terminated</state></dialog>')), /event/);
    assert.match(rejected(doc('<dialog id="a"><state code="0">terminated</state></dialog>')), /positive/);
  });

  test('participants: target needs uri, identity not empty, no duplicates, unknown elements refused', () => {
    assert.match(rejected(doc('<dialog id="a"><state>early</state><remote><target/></remote></dialog>')), /target/);
    assert.match(rejected(doc('<dialog id="a"><state>early</state><remote><identity> </identity></remote></dialog>')), /identity/);
    assert.match(rejected(doc('<dialog id="a"><state>early</state><local/><local/></dialog>')), /more than one/);
    assert.match(rejected(doc('<dialog id="a"><state>early</state><remote><phone/></remote></dialog>')), /unexpected/);
    assert.match(rejected(doc('<dialog id="a"><state>early</state><ringtone/></dialog>')), /unexpected/);
  });

  test('hostile input: DOCTYPE, malformed XML, too many dialogs', () => {
    assert.match(rejected('<!DOCTYPE d [<!ENTITY x "y">]><dialog-info/>'), /DOCTYPE/);
    assert.match(rejected('<dialog-info'), /well-formed/);
    const many = Array.from({ length: MAX_DIALOGS_PER_DOCUMENT + 1 }, (_, i) => `<dialog id="d${i}"><state>trying</state></dialog>`).join('');
    assert.match(rejected(doc(many)), /more than/);
  });

  test('dialog attributes come out in RFC order whatever the input order', () => {
    const d = accepted(doc('<dialog direction="initiator" remote-tag="r" id="a" call-id="c" local-tag="l"><state>early</state></dialog>'));
    assert.deepEqual(
      d.dialogs[0]!.element.attrs.map((a) => a.local),
      ['id', 'call-id', 'local-tag', 'remote-tag', 'direction'],
    );
    assert.equal(getAttr(d.dialogs[0]!.element, 'id'), 'a');
  });
});
