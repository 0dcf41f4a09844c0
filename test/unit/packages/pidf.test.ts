import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  aggregatePidf,
  closedPidf,
  composesAsIs,
  composePidf,
  DM_NS,
  PIDF_NS,
  pidfBasicStatus,
  pidfSummary,
  RPID_NS,
  samePresentity,
  serializePidf,
  validatePidf,
  type PidfDocument,
  type PidfPublication,
} from '../../../src/packages/presence/pidf.js';
import { childElements, getAttr, isXmlElement, parseXml, serializeXml, XmlError } from '../../../src/packages/shared/index.js';

// Compiled tests run from dist/test/, where the .xml fixtures are not copied: read the source tree.
const FIXTURES = new URL('../../fixtures/pidf/', import.meta.url.replace('/dist/test/', '/test/'));
const fixture = (name: string): string => readFileSync(new URL(name, FIXTURES), 'utf8');

const LINPHONE = fixture('linphone-publish.xml');
const FREESWITCH = fixture('freeswitch-notify.xml');
const COMSIPL = fixture('comsipl-notify.xml');
const OPENSIPS = fixture('opensips-pua-mi.xml');

const ALICE = 'sip:alice@example.com';

function pidf(inner: string, entity = ALICE, extraNs = ''): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<presence xmlns="${PIDF_NS}" xmlns:dm="${DM_NS}" xmlns:rpid="${RPID_NS}"${extraNs} entity="${entity}">${inner}</presence>`;
}

const OPEN_TUPLE = '<tuple id="t1"><status><basic>open</basic></status></tuple>';

function accepted(body: string, presentity = ALICE): PidfDocument {
  const r = validatePidf(body, presentity);
  if (!r.ok) assert.fail(`rejected: ${r.reason}`);
  return r.doc;
}

function rejected(body: string, presentity = ALICE): string {
  const r = validatePidf(body, presentity);
  assert.equal(r.ok, false, 'expected a rejection');
  const reason = (r as { reason: string }).reason;
  // The core puts reasons in a reason phrase: one line of printable ASCII.
  assert.match(reason, /^[\x20-\x7e]+$/);
  return reason;
}

describe('validatePidf: real client bodies', () => {
  test('Linphone PUBLISH (vendor extension inside status) is accepted', () => {
    const doc = accepted(LINPHONE, 'sip:51234@10.0.0.27');
    assert.equal(doc.entity, 'sip:51234@10.0.0.27');
  });

  test('FreeSWITCH body (single quotes, ISO-8859-1 label, dm:person) is accepted', () => {
    accepted(FREESWITCH, 'sip:1000@192.168.0.24');
  });

  test('ComSIPL body with a pres: entity matches the sip: presentity', () => {
    accepted(COMSIPL, 'sip:51234@10.0.0.27');
  });

  test('OpenSIPS pua_mi body with a scheme-less entity is read as sip:', () => {
    accepted(OPENSIPS, 'sip:system@domain');
    assert.match(rejected(OPENSIPS, 'sip:other@domain'), /does not match presentity/);
  });
});

describe('validatePidf: the document describes the presentity of the Request-URI', () => {
  test('a different entity is rejected with both URIs in the reason', () => {
    assert.equal(
      rejected(pidf(OPEN_TUPLE, 'sip:bob@example.com')),
      'PIDF entity sip:bob@example.com does not match presentity sip:alice@example.com',
    );
  });

  test('a missing or empty entity is rejected', () => {
    const body = `<presence xmlns="${PIDF_NS}">${OPEN_TUPLE}</presence>`;
    assert.equal(rejected(body), 'PIDF presence element has no entity attribute');
    assert.equal(rejected(pidf(OPEN_TUPLE, ' ')), 'PIDF presence element has no entity attribute');
  });

  const same: Array<[string, string]> = [
    ['sip:alice@example.com', 'pres:alice@example.com'],
    ['sip:alice@example.com', 'sips:alice@example.com'],
    ['sip:alice@example.com', 'SIP:alice@EXAMPLE.COM'],
    ['sip:alice@example.com', 'sip:alice@example.com:5061;transport=tcp'],
    ['sip:alice@example.com', 'sip:alice:secret@example.com'],
    ['sip:alice@example.com', '<sip:alice@example.com>'],
    ['sip:alice@example.com', 'sip:%61lice@example.com'],
    ['sip:alice@example.com', 'pres:alice@example.com?subject=x'],
    ['sip:alice@[2001:db8::1]:5060', 'sip:alice@[2001:DB8::1]'],
    ['sip:+15551234567@example.com;user=phone', 'sip:+15551234567@example.com'],
  ];
  for (const [a, b] of same) {
    test(`${a} designates the same presentity as ${b}`, () => {
      assert.equal(samePresentity(a, b), true);
      assert.equal(samePresentity(b, a), true);
    });
  }

  const different: Array<[string, string]> = [
    ['sip:alice@example.com', 'sip:Alice@example.com'], // RFC 3261 §19.1.4: user part is case-sensitive
    ['sip:alice@example.com', 'sip:alice@example.org'],
    ['sip:alice@example.com', 'sip:example.com'],
    ['sip:alice@example.com', 'tel:+15551234567'],
    ['sip:alice@example.com', 'im:alice@example.com'],
    ['sip:alice@example.com', ''],
  ];
  for (const [a, b] of different) {
    test(`${a} does not designate ${JSON.stringify(b)}`, () => {
      assert.equal(samePresentity(a, b), false);
    });
  }

  test('entity comparison is applied by validatePidf', () => {
    accepted(pidf(OPEN_TUPLE, 'pres:alice@EXAMPLE.com'));
    rejected(pidf(OPEN_TUPLE, 'sip:ALICE@example.com'));
  });
});

describe('validatePidf: namespaces, not prefixes', () => {
  test('a decoy <presence> in another namespace is rejected', () => {
    const decoy = `<presence xmlns="urn:example:evil" entity="${ALICE}">${OPEN_TUPLE}</presence>`;
    assert.equal(
      rejected(decoy),
      'PIDF root element must be {urn:ietf:params:xml:ns:pidf}presence, not {urn:example:evil}presence',
    );
  });

  test('a root in no namespace is rejected', () => {
    assert.match(rejected(`<presence entity="${ALICE}">${OPEN_TUPLE}</presence>`), /root element must be/);
  });

  test('a PIDF document with any prefix is accepted', () => {
    const body = `<p:presence xmlns:p="${PIDF_NS}" entity="${ALICE}"><p:tuple id="a"><p:status><p:basic>closed</p:basic></p:status></p:tuple></p:presence>`;
    accepted(body);
    assert.equal(pidfBasicStatus(body), 'closed');
  });

  test('a tuple in a foreign namespace is not a tuple (no id or status required)', () => {
    accepted(pidf(`${OPEN_TUPLE}<x:tuple xmlns:x="urn:example:x"/>`));
  });
});

describe('validatePidf: structure (RFC 3863 §4.1)', () => {
  test('a document with no tuple is valid', () => {
    accepted(pidf(''));
  });

  test('a tuple needs an id', () => {
    assert.equal(rejected(pidf('<tuple><status><basic>open</basic></status></tuple>')), 'PIDF tuple without id attribute');
  });

  test('tuple ids are unique in the document', () => {
    assert.equal(
      rejected(pidf(`${OPEN_TUPLE}${OPEN_TUPLE}`)),
      'PIDF id "t1" is not unique in the document',
    );
  });

  test('ids are unique across tuples, persons and devices (one xs:ID space)', () => {
    assert.match(rejected(pidf(`${OPEN_TUPLE}<dm:person id="t1"/>`)), /id "t1" is not unique/);
  });

  test('dm:person and dm:device need an id', () => {
    assert.equal(rejected(pidf(`${OPEN_TUPLE}<dm:person/>`)), 'PIDF dm:person without id attribute');
    assert.equal(rejected(pidf(`${OPEN_TUPLE}<dm:device/>`)), 'PIDF dm:device without id attribute');
  });

  test('a tuple needs exactly one status', () => {
    assert.equal(rejected(pidf('<tuple id="x"><contact>sip:a@b</contact></tuple>')), 'PIDF tuple "x" has no status element');
    assert.equal(
      rejected(pidf('<tuple id="x"><status/><status/></tuple>')),
      'PIDF tuple "x" has more than one status element',
    );
  });

  test('a status without basic is valid; a basic other than open/closed is tolerated and left out when composing', () => {
    accepted(pidf('<tuple id="x"><status/></tuple>'));
    accepted(pidf('<tuple id="x"><status><basic> open\n</basic></status></tuple>'));
    // baresip's first PUBLISH says <basic>unknown</basic>; Kamailio accepts it, and so do we.
    const odd = pidf('<tuple id="x"><status><basic>unknown</basic></status></tuple>');
    accepted(odd);
    const composed = aggregatePidf('sip:alice@example.com', [{ etag: 'e1', body: odd, receivedAt: 1 }]);
    assert.doesNotMatch(composed, /unknown/);
    assert.match(composed, /<tuple id="x"><status\s*\/>|<tuple id="x"><status><\/status>/);
    assert.equal(pidfBasicStatus(composed), 'unknown');
  });
});

describe('validatePidf: mustUnderstand (RFC 3863)', () => {
  // The RFC's own example: an extension element marked with the PIDF-namespace attribute.
  const RFC_EXAMPLE = `<?xml version="1.0" encoding="UTF-8"?>
<impp:presence xmlns:impp="urn:ietf:params:xml:ns:pidf" xmlns:myex="http://id.mycompany.com/presence/" entity="pres:someone@example.com">
  <impp:tuple id="tj25ds">
    <impp:status><impp:basic>open</impp:basic></impp:status>
    <myex:complexExtension>
      <myex:ex1 impp:mustUnderstand="1">val1</myex:ex1>
      <myex:ex2>val2</myex:ex2>
    </myex:complexExtension>
    <impp:contact priority="0.725">tel:+09012345678</impp:contact>
  </impp:tuple>
</impp:presence>`;

  test('an unknown extension marked mustUnderstand="1" rejects the document', () => {
    assert.equal(
      rejected(RFC_EXAMPLE, 'sip:someone@example.com'),
      'PIDF element {http://id.mycompany.com/presence/}ex1 is marked mustUnderstand but is not supported',
    );
  });

  test('the unqualified spelling and "true" count too', () => {
    rejected(pidf(`${OPEN_TUPLE}<v:x xmlns:v="urn:example:v" mustUnderstand="true"/>`));
    rejected(pidf(`${OPEN_TUPLE}<v:x xmlns:v="urn:example:v" mustUnderstand=" true "/>`));
  });

  test('mustUnderstand="false" or on an understood namespace is fine', () => {
    accepted(pidf(`${OPEN_TUPLE}<v:x xmlns:v="urn:example:v" mustUnderstand="false"/>`));
    accepted(pidf(`${OPEN_TUPLE}<dm:person id="p" mustUnderstand="true"><rpid:activities mustUnderstand="1"><rpid:away/></rpid:activities></dm:person>`));
  });

  test('unknown extensions without the flag are accepted', () => {
    accepted(pidf(`${OPEN_TUPLE}<v:x xmlns:v="urn:example:v" flag="1">data</v:x>`));
  });
});

describe('validatePidf: hostile and broken XML', () => {
  test('malformed XML gives a one-line reason with the position', () => {
    const reason = rejected(pidf('<tuple id="x"><status></tuple>'));
    assert.match(reason, /^PIDF body is not well-formed XML: malformed XML at line \d+, column \d+: /);
  });

  test('a DOCTYPE (billion laughs) is rejected', () => {
    const body = `<?xml version="1.0"?><!DOCTYPE presence [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]><presence xmlns="${PIDF_NS}" entity="${ALICE}"><note>&b;</note></presence>`;
    assert.equal(rejected(body), 'PIDF body must not contain a DOCTYPE');
  });

  test('an oversize body is rejected', () => {
    assert.match(rejected(pidf(`<note>${'x'.repeat(70_000)}</note>`)), /^PIDF body rejected: XML document exceeds 65536 bytes$/);
  });

  test('non-ASCII and line breaks from the body never reach the reason', () => {
    const reason = rejected(pidf(OPEN_TUPLE, 'sip:b\u00f6b@example.com&#13;&#10;X-Evil: 1'));
    assert.match(reason, /^PIDF entity sip:b\?b@example\.com\?\?X-Evil: 1 does not match presentity sip:alice@example\.com$/);
  });

  test('long values are truncated', () => {
    const reason = rejected(pidf(OPEN_TUPLE, `sip:${'b'.repeat(300)}@example.com`));
    assert.ok(reason.length <= 200);
  });
});

describe('aggregatePidf: composition of several devices (RFC 3903 §3)', () => {
  const PRESENTITY = 'sip:51234@10.0.0.27';
  const T0 = Date.UTC(2023, 11, 17, 16, 45, 5);
  // A desk phone whose tuple id collides with Linphone's, with RPID person and device elements.
  const DESK = `<?xml version="1.0" encoding="UTF-8"?>
<presence xmlns="${PIDF_NS}" xmlns:dm="${DM_NS}" xmlns:rpid="${RPID_NS}" entity="sip:51234@10.0.0.27">
  <tuple id="n5z2og"><status><basic>closed</basic></status><timestamp>2023-12-17T16:50:00Z</timestamp></tuple>
  <note>Desk phone</note>
  <dm:person id="p1"><rpid:activities><rpid:on-the-phone/></rpid:activities><dm:timestamp>2023-12-17T16:50:00Z</dm:timestamp></dm:person>
  <dm:device id="d1"><dm:deviceID>urn:uuid:00000000-0000-4000-8000-000000000001</dm:deviceID></dm:device>
</presence>`;
  // A softphone using other prefixes, a pres: entity, a colliding person id and a vendor extension.
  const SOFT = `<p:presence xmlns:p="${PIDF_NS}" xmlns:x="${DM_NS}" xmlns:r="${RPID_NS}" xmlns:v="urn:example:vendor" entity="pres:51234@10.0.0.27">
  <p:tuple id="soft"><p:status><p:basic>open</p:basic></p:status><p:note xml:lang="en">Softphone</p:note></p:tuple>
  <p:note>Desk phone</p:note>
  <x:person id="p1"><r:activities><r:away/></r:activities><x:note>Back soon</x:note></x:person>
  <v:custom v:flag="1">kept</v:custom>
</p:presence>`;
  const pubs: PidfPublication[] = [
    { etag: 'a1', body: LINPHONE, receivedAt: T0 },
    { etag: 'b2', body: DESK, receivedAt: T0 + 60_000 },
    { etag: 'c3', body: SOFT, receivedAt: T0 + 30_000 },
  ];

  const EXPECTED =
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    '<presence xmlns="urn:ietf:params:xml:ns:pidf" xmlns:ns1="http://www.linphone.org/xsds/pidfonline.xsd" xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model" xmlns:rpid="urn:ietf:params:xml:ns:pidf:rpid" xmlns:ns2="urn:example:vendor" entity="sip:51234@10.0.0.27">' +
    // newest first: desk tuple (16:50:00), soft tuple (received 16:45:35), Linphone tuple (16:45:04)
    '<tuple id="n5z2og-13q3ywl"><status><basic>closed</basic></status><timestamp>2023-12-17T16:50:00Z</timestamp></tuple>' +
    '<tuple id="soft"><status><basic>open</basic></status><note xml:lang="en">Softphone</note></tuple>' +
    '<tuple id="n5z2og-07t47mv"><status><basic>open</basic><ns1:online/></status><contact priority="0.8">sip:51234@10.0.0.27</contact><timestamp>2023-12-17T16:45:04Z</timestamp></tuple>' +
    // the same note from two devices is said once
    '<note>Desk phone</note>' +
    '<dm:person id="p1-13q3ywl"><rpid:activities><rpid:on-the-phone/></rpid:activities><dm:timestamp>2023-12-17T16:50:00Z</dm:timestamp></dm:person>' +
    '<dm:device id="d1"><dm:deviceID>urn:uuid:00000000-0000-4000-8000-000000000001</dm:deviceID></dm:device>' +
    '<dm:person id="p1-1184e5v"><rpid:activities><rpid:away/></rpid:activities><dm:note>Back soon</dm:note></dm:person>' +
    '<ns2:custom ns2:flag="1">kept</ns2:custom>' +
    '</presence>';

  test('three devices compose into one deterministic document', () => {
    assert.equal(aggregatePidf(PRESENTITY, pubs), EXPECTED);
  });

  test('the order of the input array does not matter', () => {
    assert.equal(aggregatePidf(PRESENTITY, [pubs[2]!, pubs[0]!, pubs[1]!]), EXPECTED);
    assert.equal(aggregatePidf(PRESENTITY, [...pubs].reverse()), EXPECTED);
  });

  test('the composite is itself a valid PIDF document for the presentity, with unique ids', () => {
    const doc = accepted(aggregatePidf(PRESENTITY, pubs), PRESENTITY);
    const ids = doc.root.children.filter(isXmlElement).map((e) => getAttr(e, 'id')).filter((v) => v !== undefined);
    assert.equal(new Set(ids).size, ids.length);
    assert.equal(childElements(doc.root, PIDF_NS, 'tuple').length, 3);
    assert.equal(childElements(doc.root, DM_NS, 'person').length, 2);
  });

  test('already-parsed documents give the same output, and are not modified', () => {
    const docs = pubs.map((p) => ({ ...p, body: accepted(p.body as string, PRESENTITY) }));
    const before = JSON.stringify(docs);
    assert.equal(aggregatePidf(PRESENTITY, docs), EXPECTED);
    assert.equal(JSON.stringify(docs), before);
  });

  test('composePidf returns the tree; serializePidf gives the same bytes', () => {
    const doc = composePidf(PRESENTITY, pubs);
    assert.equal(doc.entity, PRESENTITY);
    assert.equal(serializePidf(doc), EXPECTED);
  });

  test('the summary of the composite sees every device', () => {
    assert.deepEqual(pidfSummary(EXPECTED), { basic: 'open', activities: ['on-the-phone', 'away'], note: 'Back soon' });
  });

  test('ids that do not collide are kept', () => {
    const out = aggregatePidf(PRESENTITY, [pubs[0]!, pubs[2]!]);
    assert.match(out, /<tuple id="n5z2og">/);
    assert.match(out, /<dm:person id="p1">/);
  });

  test('a renamed id never collides with an id another device already uses', () => {
    const a = pidf('<tuple id="x"><status><basic>open</basic></status></tuple>', PRESENTITY);
    const b = pidf('<tuple id="x"><status><basic>open</basic></status></tuple>', PRESENTITY);
    const hashed = /<tuple id="(x-[0-9a-z]+)"/.exec(aggregatePidf(PRESENTITY, [
      { etag: 'e1', body: a, receivedAt: 1 },
      { etag: 'e2', body: b, receivedAt: 2 },
    ]))![1]!;
    const c = pidf(`<tuple id="${hashed}"><status><basic>closed</basic></status></tuple>`, PRESENTITY);
    const out = aggregatePidf(PRESENTITY, [
      { etag: 'e1', body: a, receivedAt: 1 },
      { etag: 'e2', body: b, receivedAt: 2 },
      { etag: 'e3', body: c, receivedAt: 3 },
    ]);
    accepted(out, PRESENTITY);
  });

  test('stored bodies that were never validated still compose to unique ids', () => {
    const noId = pidf('<tuple><status><basic>open</basic></status></tuple>', PRESENTITY);
    const out = aggregatePidf(PRESENTITY, [
      { etag: 'e1', body: noId, receivedAt: 1 },
      { etag: 'e2', body: noId, receivedAt: 2 },
    ]);
    accepted(out, PRESENTITY);
  });

  test('a tuple timestamp beats publication time; zones and fractions are honoured', () => {
    const older = pidf('<tuple id="old"><status><basic>open</basic></status><timestamp>2024-01-01T12:00:00.5+02:00</timestamp></tuple>', PRESENTITY);
    const newer = pidf('<tuple id="new"><status><basic>open</basic></status><timestamp>2024-01-01T10:00:01Z</timestamp></tuple>', PRESENTITY);
    // Received in the opposite order of their timestamps.
    const out = aggregatePidf(PRESENTITY, [
      { etag: 'n', body: newer, receivedAt: 1 },
      { etag: 'o', body: older, receivedAt: 2 },
    ]);
    assert.ok(out.indexOf('id="new"') < out.indexOf('id="old"'));
  });

  test('a single publication is returned with the entity normalised', () => {
    const out = aggregatePidf(PRESENTITY, [{ etag: 'x', body: COMSIPL, receivedAt: 0 }]);
    assert.equal(
      out,
      '<?xml version="1.0" encoding="UTF-8"?>\n<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="sip:51234@10.0.0.27"><tuple id="bs35r9f"><status><basic>open</basic><note>available</note></status></tuple></presence>',
    );
  });

  test('a stored body that no longer parses is skipped', () => {
    const out = aggregatePidf(PRESENTITY, [
      { etag: 'bad', body: '<presence', receivedAt: 5 },
      { etag: 'ok', body: LINPHONE, receivedAt: 1 },
    ]);
    assert.match(out, /<tuple id="n5z2og">/);
    const none = aggregatePidf(PRESENTITY, [{ etag: 'bad', body: 'nope', receivedAt: 5 }]);
    assert.equal(none, `<?xml version="1.0" encoding="UTF-8"?>\n<presence xmlns="${PIDF_NS}" entity="${PRESENTITY}"/>`);
  });

  test('the entity attribute is escaped', () => {
    const out = aggregatePidf('sip:a&b@example.com', [{ etag: 'x', body: pidf(OPEN_TUPLE, 'sip:a&amp;b@example.com'), receivedAt: 0 }]);
    assert.match(out, /entity="sip:a&amp;b@example\.com"/);
    accepted(out, 'sip:a&b@example.com');
  });
});

describe('composesAsIs: a lone publication sent as published', () => {
  const asIs = (body: string, presentity = ALICE): boolean => composesAsIs(body, accepted(body, presentity), presentity);
  const ts = (iso: string) => `<timestamp>${iso}</timestamp>`;
  const tuple = (id: string, extra = '', basic = 'open') => `<tuple id="${id}"><status><basic>${basic}</basic></status>${extra}</tuple>`;
  const person = (id: string, extra = '') => `<dm:person id="${id}">${extra}</dm:person>`;

  /** The claim itself: composing the document alone changes nothing but its spelling. */
  function assertComposedIsSame(body: string, presentity = ALICE): void {
    const root = parseXml(body);
    assert.ok(!(root instanceof XmlError));
    assert.equal(aggregatePidf(presentity, [{ etag: 'e', body, receivedAt: Date.now() }]), serializeXml(root));
  }

  test('documents that composition would leave alone qualify, and composing them indeed changes nothing', () => {
    const cases = [
      pidf(OPEN_TUPLE),
      pidf(`${tuple('a', ts('2024-01-02T00:00:00Z'))}${tuple('b', ts('2024-01-01T00:00:00Z'))}<note>hi</note>${person('p', '<dm:timestamp>2024-01-01T00:00:00Z</dm:timestamp>')}`),
      pidf(`${tuple('a')}${tuple('b')}\n  <note xml:lang="en">hi</note><note xml:lang="de">hi</note>${person('p')}<rpid:activities><rpid:away/></rpid:activities>`),
      `<presence xmlns="${PIDF_NS}" entity="${ALICE}">${OPEN_TUPLE}</presence>`,
      LINPHONE,
    ];
    for (const body of cases) {
      const presentity = body === LINPHONE ? 'sip:51234@10.0.0.27' : ALICE;
      assert.equal(asIs(body, presentity), true, body);
      assertComposedIsSame(body, presentity);
    }
  });

  test('documents that composition would change do not qualify', () => {
    const cases: Array<[string, string]> = [
      [pidf(OPEN_TUPLE, 'pres:alice@example.com'), 'entity spelled otherwise'],
      [pidf(`${tuple('a', ts('2024-01-01T00:00:00Z'))}${tuple('b', ts('2024-01-02T00:00:00Z'))}`), 'tuples oldest first'],
      [pidf(`${tuple('a', ts('2024-01-01T00:00:00Z'))}${tuple('b')}`), 'a run partly timestamped'],
      [pidf(`${person('p', '<dm:timestamp>2024-01-01T00:00:00Z</dm:timestamp>')}<rpid:activities/>`), 'extensions partly timestamped'],
      [pidf(`${person('p')}${tuple('a')}`), 'an extension before a tuple'],
      [pidf(`<note>n</note>${tuple('a')}`), 'a note before a tuple'],
      [pidf(`${person('p')}<note>n</note>`), 'a note after an extension'],
      [pidf(`${tuple('a', '', 'unknown')}`), 'a basic neither open nor closed'],
      [pidf(`${tuple('a')}<note>n</note><note>n</note>`), 'the same note twice'],
      [pidf(`${tuple('a')}stray`), 'stray text'],
      [pidf(OPEN_TUPLE).replace('UTF-8', 'ISO-8859-1'), 'declared ISO-8859-1'],
    ];
    for (const [body, why] of cases) assert.equal(asIs(body), false, why);
  });
});

describe('closedPidf', () => {
  test('one closed tuple for the presentity', () => {
    const body = closedPidf(ALICE);
    assert.equal(
      body,
      `<?xml version="1.0" encoding="UTF-8"?>\n<presence xmlns="${PIDF_NS}" entity="${ALICE}"><tuple id="offline"><status><basic>closed</basic></status></tuple></presence>`,
    );
    accepted(body);
    assert.equal(pidfBasicStatus(body), 'closed');
  });
});

describe('pidfBasicStatus and pidfSummary', () => {
  test('any open tuple makes the presentity open', () => {
    const mixed = pidf('<tuple id="a"><status><basic>closed</basic></status></tuple><tuple id="b"><status><basic>open</basic></status></tuple>');
    assert.equal(pidfBasicStatus(mixed), 'open');
    assert.equal(pidfBasicStatus(pidf('<tuple id="a"><status><basic>closed</basic></status></tuple>')), 'closed');
  });

  test('no tuple, no basic or a broken body is unknown', () => {
    assert.equal(pidfBasicStatus(pidf('')), 'unknown');
    assert.equal(pidfBasicStatus(pidf('<tuple id="a"><status/></tuple>')), 'unknown');
    assert.equal(pidfBasicStatus('<presence'), 'unknown');
    assert.equal(pidfBasicStatus(`<presence xmlns="urn:example:evil" entity="x">${OPEN_TUPLE}</presence>`), 'unknown');
  });

  test('accepts a parsed document', () => {
    assert.equal(pidfBasicStatus(accepted(pidf(OPEN_TUPLE))), 'open');
  });

  test('FreeSWITCH: the person note', () => {
    assert.deepEqual(pidfSummary(FREESWITCH), { basic: 'open', activities: [], note: 'Available' });
  });

  test('OpenSIPS pua_mi: RPID activity and note', () => {
    assert.deepEqual(pidfSummary(OPENSIPS), { basic: 'open', activities: ['away'], note: 'CPU:16 \nMEM:476' });
  });

  test('ComSIPL: a note inside status is still found', () => {
    assert.deepEqual(pidfSummary(COMSIPL), { basic: 'open', activities: [], note: 'available' });
  });

  test('Linphone: no note, no activities', () => {
    assert.deepEqual(pidfSummary(LINPHONE), { basic: 'open', activities: [] });
  });

  test('activities are matched by namespace and deduplicated', () => {
    const body = pidf(
      `${OPEN_TUPLE}<dm:person id="p"><rpid:activities><rpid:on-the-phone/><rpid:meeting/><x:busy xmlns:x="urn:example:x"/></rpid:activities></dm:person>` +
        `<dm:person id="q"><rpid:activities><rpid:meeting/></rpid:activities></dm:person><note>doc note</note>`,
    );
    assert.deepEqual(pidfSummary(body), { basic: 'open', activities: ['on-the-phone', 'meeting'], note: 'doc note' });
  });

  test('a broken body summarises as unknown', () => {
    assert.deepEqual(pidfSummary('not xml'), { basic: 'unknown', activities: [] });
  });
});

describe('fixtures', () => {
  test('every fixture is well-formed PIDF', () => {
    for (const body of [LINPHONE, FREESWITCH, COMSIPL, OPENSIPS]) {
      const root = parseXml(body);
      assert.ok(!(root instanceof XmlError));
      assert.equal(root.ns, PIDF_NS);
    }
  });
});
