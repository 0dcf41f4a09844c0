/**
 * Conformance probes for the bodies: PIDF (RFC 3863, with RPID RFC 4480 and the data model RFC 4479), dialog-info
 * (RFC 4235) and message-summary (RFC 3842), black-box over raw SIP on 127.0.0.1. Items of
 * shared/design/anchors-features.md §4 already checked exactly elsewhere:
 *
 * - RFC 3863: malformed XML → 400, a DTD with internal entities (XML bomb) → 400, entity not the presentity → 400:
 *   integration/presence-publish. Tuples of several devices aggregated, full state: presence-publish.
 * - RFC 4235: version 0,1,2... per subscription, state="full", the dialog elements phones read, the call-id filter,
 *   an invalid body → 400: integration/packages-dialog. §3.10 one notification per second: a documented deviation
 *   (docs/packages.md "Deviations").
 * - RFC 3842: the counts parsed from the NOTIFY, a malformed body → 400 with nobody notified, self-only subscribers
 *   with forceActive off: integration/packages-mwi. With forceActive on (default) anyone may subscribe: documented in
 *   docs/packages.md.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { pidf } from '../support/sip-test-client.js';
import { startTestServer, type TestServer } from '../support/test-server.js';
import { basics, publish, publishSpec, tupleIds } from '../support/presence-ua.js';
import { registerSpec } from '../support/digest-ua.js';
import { call, client, closeAll, dialogInfo, DIALOG_INFO, MWI, state, watcher } from './packages-fixtures.js';
import { aor, pidfDoc } from './conformance-fixtures.js';
import { getAttr, isXmlElement, parseXml, XmlError, type XmlElement } from '../../src/packages/shared/index.js';

const PIDF_NS = 'urn:ietf:params:xml:ns:pidf';
const RPID_NS = 'urn:ietf:params:xml:ns:pidf:rpid';
const DM_NS = 'urn:ietf:params:xml:ns:pidf:data-model';
const VENDOR_NS = 'urn:example:vendor:presence';

let server: TestServer;
/** Presence from registrations and a closed document when nothing is published. */
let generated: TestServer;

before(async () => {
  server = await startTestServer({ domain: 'example.com' });
  generated = await startTestServer({ domain: 'example.com', notifyOfflineBody: true, presenceFromRegistration: { enabled: true } });
});

after(async () => {
  await closeAll();
  await server.stop();
  await generated.stop();
});

function xml(text: string): XmlElement {
  const doc = parseXml(text);
  assert.ok(!(doc instanceof XmlError), `well-formed: ${text}`);
  return doc;
}

/** Every element named {ns}local under `root` (itself included), in document order. */
function find(root: XmlElement, ns: string, local: string): XmlElement[] {
  const out: XmlElement[] = [];
  const walk = (el: XmlElement): void => {
    if (el.ns === ns && el.local === local) out.push(el);
    for (const c of el.children) if (isXmlElement(c)) walk(c);
  };
  walk(root);
  return out;
}

const OPEN = '<tuple id="t1"><status><basic>open</basic></status></tuple>';

describe('RFC 3863 PIDF', () => {
  test('§4.1.1: the entity may be the pres: URI of the presentity; watchers get the presence root in the PIDF namespace', async () => {
    const c = await client(server);
    const p = aor('pres');
    const presUri = p.replace(/^sip:/, 'pres:');
    const res = await publish(c, { aor: p, body: pidfDoc(presUri, OPEN), expires: 60 });
    assert.equal(res.status, 200, res.reason);
    const w = await watcher(server, { presentity: p });
    assert.equal((await w.subscribe(60)).status, 200);
    const n = (await w.notify()).request;
    assert.equal(n.headers.get('Content-Type'), 'application/pidf+xml');
    const root = xml(n.body.toString('utf8'));
    assert.deepEqual([root.ns, root.local], [PIDF_NS, 'presence']);
    assert.match(getAttr(root, 'entity') ?? '', /^(sip|pres):/);
    assert.deepEqual(tupleIds(n.body), ['t1']);
  });

  test('§4.1.2, §4.1.4: a tuple id used twice, or a tuple without <status>, is refused with 400', async () => {
    const c = await client(server);
    const p = aor('tuples');
    const twice = await publish(c, { aor: p, body: pidfDoc(p, OPEN + OPEN.replace('open', 'closed')), expires: 60 });
    assert.equal(twice.status, 400);
    const noStatus = await publish(c, { aor: p, body: pidfDoc(p, '<tuple id="t1"><note>no status</note></tuple>'), expires: 60 });
    assert.equal(noStatus.status, 400);
  });

  test('§4.3, RFC 4479/4480: extension elements (RPID, data model persons and devices, a vendor namespace) reach watchers in their namespaces', async () => {
    const c = await client(server);
    const p = aor('ext');
    const inner =
      '<tuple id="phone"><status><basic>open</basic></status><rpid:class>work</rpid:class><v:capability level="3">video</v:capability><contact priority="0.8">sip:desk@192.0.2.10</contact></tuple>' +
      '<dm:person id="me"><rpid:activities><rpid:meeting/></rpid:activities><rpid:mood><rpid:happy/></rpid:mood></dm:person>' +
      '<dm:device id="d1"><dm:deviceID>urn:uuid:6c6d8a28-2c50-4c89-8e83-5d1c0f45c1a1</dm:deviceID></dm:device>';
    const body = pidfDoc(p, inner, ` xmlns:rpid="${RPID_NS}" xmlns:dm="${DM_NS}" xmlns:v="${VENDOR_NS}"`);
    assert.equal((await publish(c, { aor: p, body, expires: 60 })).status, 200);
    const w = await watcher(server, { presentity: p });
    assert.equal((await w.subscribe(60)).status, 200);
    const root = xml((await w.notify()).request.body.toString('utf8'));
    assert.equal(find(root, RPID_NS, 'meeting').length, 1, 'RPID activity');
    assert.equal(find(root, RPID_NS, 'happy').length, 1, 'RPID mood');
    assert.equal(find(root, DM_NS, 'person').length, 1, 'data-model person');
    assert.equal(find(root, DM_NS, 'deviceID').length, 1, 'data-model device');
    const cap = find(root, VENDOR_NS, 'capability');
    assert.equal(cap.length, 1, 'vendor element');
    assert.equal(getAttr(cap[0]!, 'level'), '3');
    const contact = find(root, PIDF_NS, 'contact');
    assert.deepEqual([contact.length, getAttr(contact[0]!, 'priority')], [1, '0.8']);
  });

  test('§4.3.2 (mustUnderstand): an unknown extension marked mustUnderstand is refused with 400; on a known one it is accepted', async () => {
    const c = await client(server);
    const p = aor('mu');
    const unknown = pidfDoc(p, `<tuple id="t1"><status><basic>open</basic></status><v:x pidf:mustUnderstand="true">1</v:x></tuple>`, ` xmlns:pidf="${PIDF_NS}" xmlns:v="${VENDOR_NS}"`);
    const refused = await publish(c, { aor: p, body: unknown, expires: 60 });
    assert.equal(refused.status, 400);
    assert.match(refused.reason, /mustUnderstand/i);
    const known = pidfDoc(p, `${OPEN}<dm:person id="me" pidf:mustUnderstand="1"><rpid:activities><rpid:away/></rpid:activities></dm:person>`, ` xmlns:pidf="${PIDF_NS}" xmlns:dm="${DM_NS}" xmlns:rpid="${RPID_NS}"`);
    assert.equal((await publish(c, { aor: p, body: known, expires: 60 })).status, 200);
  });

  test('§8 (security): an external entity (XXE) or any DOCTYPE is refused with 400 without being resolved', async () => {
    const c = await client(server);
    const p = aor('xxe');
    const xxe = `<?xml version="1.0"?><!DOCTYPE presence [<!ENTITY x SYSTEM "file:///etc/passwd">]><presence xmlns="${PIDF_NS}" entity="${p}"><tuple id="a"><status><basic>open</basic></status><note>&x;</note></tuple></presence>`;
    const r1 = await publish(c, { aor: p, body: xxe, expires: 60 });
    assert.equal(r1.status, 400);
    assert.doesNotMatch(r1.reason, /root:/);
    const bare = `<?xml version="1.0"?><!DOCTYPE presence SYSTEM "http://192.0.2.1/pidf.dtd"><presence xmlns="${PIDF_NS}" entity="${p}">${OPEN}</presence>`;
    assert.equal((await publish(c, { aor: p, body: bare, expires: 60 })).status, 400);
    const e = `sip:1${Math.floor(Math.random() * 999)}@example.com`;
    const dialogXxe = call(e, 'confirmed').replace('<dialog-info', '<!DOCTYPE dialog-info [<!ENTITY x SYSTEM "file:///etc/passwd">]><dialog-info');
    assert.equal((await publish(c, { aor: e, event: 'dialog', contentType: DIALOG_INFO, body: dialogXxe, expires: 60 })).status, 400);
  });

  test('deviation (docs/packages.md): §4.1.4 allows only open/closed in <basic>; another value is accepted and left out of what watchers get', async () => {
    const c = await client(server);
    const p = aor('basic');
    const odd = pidfDoc(p, '<tuple id="t1"><status><basic>unknown</basic></status><note>baresip</note></tuple>');
    assert.equal((await publish(c, { aor: p, body: odd, expires: 60 })).status, 200);
    const w = await watcher(server, { presentity: p });
    assert.equal((await w.subscribe(60)).status, 200);
    const body = (await w.notify()).request.body;
    assert.deepEqual(tupleIds(body), ['t1']);
    assert.deepEqual(basics(body), [], 'no <basic> outside the schema reaches a watcher');
    assert.equal(find(xml(body.toString('utf8')), PIDF_NS, 'status').length, 1, 'the tuple keeps its <status>');
  });

  test('RFC 3261 §20.15: the media type is matched without regard to case or parameters (charset)', async () => {
    const c = await client(server);
    const p = aor('ctype');
    for (const ct of ['application/pidf+xml; charset=UTF-8', 'Application/PIDF+XML', 'application/pidf+xml;charset="utf-8"']) {
      const res = await publish(c, { aor: p, body: pidf(p, 't', 'open'), contentType: ct, expires: 60 });
      assert.equal(res.status, 200, `Content-Type: ${ct}`);
    }
  });

  test('§4.1.5: a tuple the server generates (presence from registration) has the presentity as <contact>, not the device or the watcher', async () => {
    const phone = await client(generated);
    const alice = aor('alice');
    const w = await watcher(generated, { presentity: alice, watcher: 'sip:bob@example.com' });
    assert.equal((await w.subscribe(600)).status, 200);
    const offline = xml((await w.notify()).request.body.toString('utf8'));
    assert.equal(getAttr(offline, 'entity'), alice);
    assert.deepEqual(find(offline, PIDF_NS, 'basic').map((b) => b.children.map((t) => ('text' in t ? t.text : '')).join('')), ['closed']);
    for (const ct of find(offline, PIDF_NS, 'contact')) assert.doesNotMatch(JSON.stringify(ct.children), /bob/);
    const spec = registerSpec({ aor: alice, domain: 'example.com', contact: `<${phone.contactUri('alice')}>`, expires: 600 });
    assert.equal((await phone.request(spec)).status, 200);
    const open = xml((await w.notify()).request.body.toString('utf8'));
    const contacts = find(open, PIDF_NS, 'contact').map((el) => el.children.map((t) => ('text' in t ? t.text : '')).join('').trim());
    assert.deepEqual(contacts, [alice]);
  });
});

describe('RFC 4235 dialog', () => {
  test('§3: no Expires gets 3600 s, no Accept gets dialog-info; a refresh gets full state with the next version (§4.1)', async () => {
    const e = aor('blf');
    const lamp = await watcher(server, { presentity: e, watcher: 'sip:attendant@example.com', event: 'dialog', accept: null });
    const res = await lamp.subscribe(undefined);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('Expires'), '3600');
    let d = dialogInfo((await lamp.notify()).request);
    assert.deepEqual([d.version, d.state, d.entity, d.dialogs.length], [0, 'full', e, 0]);
    const pbx = await client(server);
    assert.equal((await publish(pbx, { aor: e, event: 'dialog', contentType: DIALOG_INFO, body: call(e, 'early', { direction: 'recipient' }), expires: 60 })).status, 200);
    d = dialogInfo((await lamp.notify()).request);
    assert.deepEqual([d.version, d.state, d.dialogs[0]?.state, d.dialogs[0]?.direction], [1, 'full', 'early', 'recipient']);
    assert.equal((await lamp.subscribe(600)).status, 200);
    d = dialogInfo((await lamp.notify()).request);
    assert.deepEqual([d.version, d.state, d.dialogs[0]?.state], [2, 'full', 'early']);
  });
});

describe('RFC 3842 message-summary', () => {
  test('§5: the NOTIFY body starts with Messages-Waiting and keeps the class lines in the ABNF; nothing published is "no"', async () => {
    const box = aor('mbox');
    const phone = await watcher(server, { presentity: box, watcher: box, event: 'message-summary', accept: MWI });
    const res = await phone.subscribe(600);
    assert.equal(res.status, 200);
    let n = (await phone.notify()).request;
    assert.equal(n.headers.get('Content-Type'), MWI);
    assert.equal(state(n).state, 'active');
    assert.match(n.body.toString('utf8'), /^Messages-Waiting: no\r\n/);
    const vm = await client(server);
    const text = `Messages-Waiting: yes\r\nMessage-Account: ${box}\r\nVoice-Message: 2/8 (1/2)\r\nFax-Message: 0/1\r\n`;
    const pub = await vm.request(publishSpec({ aor: box, event: 'message-summary', contentType: MWI, body: text, expires: 60 }));
    assert.equal(pub.status, 200);
    n = (await phone.notify()).request;
    const lines = n.body.toString('utf8').split('\r\n');
    assert.equal(lines[0], 'Messages-Waiting: yes');
    assert.ok(lines.includes(`Message-Account: ${box}`));
    assert.ok(lines.includes('Voice-Message: 2/8 (1/2)'), lines.join(' | '));
    assert.ok(lines.includes('Fax-Message: 0/1'), lines.join(' | '));
  });
});
