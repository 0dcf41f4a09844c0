/**
 * RFC 5025 §3.3 transformations: reading them from rules, combining them over matching rules (RFC 4745 §10.2), and
 * the privacy filter they drive on real PIDF/RPID bodies (test/fixtures/pidf: an RFC 4480 appendix A style
 * document, and Linphone, FreeSWITCH and OpenSIPS bodies as those clients send them).
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  ALL_PERMISSIONS,
  combinePermissions,
  filterPresence,
  NO_PERMISSIONS,
  parsePresRules,
  type Permissions,
  type PresRulesErrorKind,
} from '../../../src/packages/pres-rules/index.js';
import { getAttr, isXmlElement, parseXml, serializeXml, textContent, XmlError, type XmlElement } from '../../../src/packages/shared/index.js';

const FIXTURES = new URL('../../fixtures/pidf/', import.meta.url.replace('/dist/test/', '/test/'));
const fixture = (name: string): string => readFileSync(new URL(name, FIXTURES), 'utf8');

const CP = 'urn:ietf:params:xml:ns:common-policy';
const PR = 'urn:ietf:params:xml:ns:pres-rules';
const ALIAS: Record<string, string> = {
  'urn:ietf:params:xml:ns:pidf': 'pidf',
  'urn:ietf:params:xml:ns:pidf:data-model': 'dm',
  'urn:ietf:params:xml:ns:pidf:rpid': 'rpid',
  'urn:ietf:params:xml:ns:pidf:cipid': 'cipid',
  'urn:ietf:params:xml:ns:pidf:caps': 'caps',
  'http://www.linphone.org/xsds/pidfonline.xsd': 'linphone',
};

function xml(text: string): XmlElement {
  const r = parseXml(text);
  if (r instanceof XmlError) assert.fail(`not XML: ${r.message}\n${text}`);
  return r;
}

const RICH = xml(fixture('rpid-rich.xml'));

/** One rule with these transformations; its permissions. */
function perms(transformations: string): Permissions {
  const r = parsePresRules(
    `<cr:ruleset xmlns:cr="${CP}" xmlns:pr="${PR}"><cr:rule id="r"><cr:actions><pr:sub-handling>allow</pr:sub-handling></cr:actions>` +
      `<cr:transformations>${transformations}</cr:transformations></cr:rule></cr:ruleset>`,
  );
  if (!r.ok) assert.fail(r.reason);
  return r.doc.rules[0]!.permissions;
}

function refused(transformations: string): string {
  const r = parsePresRules(
    `<ruleset xmlns="${CP}" xmlns:pr="${PR}"><rule id="r"><transformations>${transformations}</transformations></rule></ruleset>`,
  );
  assert.equal(r.ok, false);
  const f = r as { reason: string; kind: PresRulesErrorKind };
  assert.equal(f.kind, 'schema-validation-error');
  return f.reason;
}

const name = (el: XmlElement): string => `${ALIAS[el.ns] ?? el.ns}:${el.local}`;
const kids = (el: XmlElement): XmlElement[] => el.children.filter(isXmlElement);

/**
 * The document as a watcher gets it, after serializing and parsing back (the bytes must be well-formed with their
 * namespaces declared): each child of <presence> as "alias:local#id" with the names of its children.
 */
function seen(root: XmlElement, p: Permissions): Record<string, string[]> {
  const out = filterPresence(root, p);
  assert.ok(out !== undefined);
  const back = xml(serializeXml(out));
  assert.equal(getAttr(back, 'entity'), getAttr(root, 'entity'));
  const shape: Record<string, string[]> = {};
  for (const c of kids(back)) {
    const id = getAttr(c, 'id');
    shape[id === undefined ? name(c) : `${name(c)}#${id}`] = kids(c).map(name);
  }
  return shape;
}

function childOf(root: XmlElement, p: Permissions, component: string, local: string): XmlElement | undefined {
  const out = xml(serializeXml(filterPresence(root, p)!));
  const el = kids(out).find((c) => `${name(c)}#${getAttr(c, 'id') ?? ''}` === component);
  return el === undefined ? undefined : kids(el).find((c) => c.local === local);
}

describe('reading transformations (RFC 5025 §3.3)', () => {
  test('a rule without transformations gives nothing; provide-* elements become permissions', () => {
    assert.equal(perms('').key, NO_PERMISSIONS.key);
    const p = perms(
      `<pr:provide-services><pr:service-uri-scheme>SIP</pr:service-uri-scheme><pr:service-uri>mailto:a@example.com</pr:service-uri>` +
        `<pr:occurence-id>t1</pr:occurence-id><pr:occurrence-id>t2</pr:occurrence-id><pr:class>phone</pr:class></pr:provide-services>` +
        `<pr:provide-devices><pr:deviceID>urn:UUID:ABC</pr:deviceID></pr:provide-devices>` +
        `<pr:provide-mood>1</pr:provide-mood><pr:provide-note> true </pr:provide-note><pr:provide-sphere>false</pr:provide-sphere>` +
        `<pr:provide-user-input>thresholds</pr:provide-user-input>` +
        `<pr:provide-unknown-attribute ns="urn:ietf:params:xml:ns:pidf:caps" name="servcaps">true</pr:provide-unknown-attribute>`,
    );
    assert.deepEqual(p.services, { all: false, ids: ['t1', 't2'], classes: ['phone'], uris: ['mailto:a@example.com'], schemes: ['sip'], deviceIds: [] });
    assert.deepEqual(p.devices.deviceIds, ['urn:uuid:abc']);
    assert.equal(p.persons.all || p.persons.ids.length > 0, false, 'no provide-persons: no persons');
    assert.deepEqual([...p.attributes].sort(), ['mood', 'note']);
    assert.equal(p.userInput, 'thresholds');
    assert.deepEqual([...p.unknown], ['urn:ietf:params:xml:ns:pidf:caps\u0000servcaps']);
    assert.equal(p.unrestricted, false);
  });

  test('the OMA "allow own" rule (all-services, all-persons, all-devices, provide-all-attributes) is unrestricted', () => {
    const p = perms(
      '<pr:provide-services><pr:all-services/></pr:provide-services><pr:provide-persons><pr:all-persons/></pr:provide-persons>' +
        '<pr:provide-devices><pr:all-devices/></pr:provide-devices><pr:provide-all-attributes/>',
    );
    assert.equal(p.unrestricted, true);
    assert.equal(p.key, ALL_PERMISSIONS.key);
    assert.equal(perms('<pr:provide-services><pr:all-services/></pr:provide-services><pr:provide-all-attributes/>').unrestricted, false);
  });

  test('permissions of other namespaces and unknown pres-rules elements grant nothing; bad values are schema errors', () => {
    assert.equal(perms('<x:provide-everything xmlns:x="urn:example:x">true</x:provide-everything><pr:provide-future>true</pr:provide-future>').key, NO_PERMISSIONS.key);
    assert.match(refused('<pr:provide-activities>yes</pr:provide-activities>'), /provide-activities> must be true or false/);
    assert.match(refused('<pr:provide-user-input>maybe</pr:provide-user-input>'), /provide-user-input> must be false, bare, thresholds or full/);
    assert.match(refused('<pr:provide-unknown-attribute name="card">true</pr:provide-unknown-attribute>'), /needs ns and name/);
  });
});

describe('combining the permissions of several matching rules (RFC 4745 §10.2)', () => {
  const a = perms('<pr:provide-services><pr:service-uri-scheme>sip</pr:service-uri-scheme></pr:provide-services><pr:provide-activities>true</pr:provide-activities><pr:provide-user-input>bare</pr:provide-user-input>');
  const b = perms('<pr:provide-services><pr:occurence-id>bs35r9</pr:occurence-id></pr:provide-services><pr:provide-activities>false</pr:provide-activities><pr:provide-mood>true</pr:provide-mood><pr:provide-user-input>full</pr:provide-user-input>');
  const c = perms('<pr:provide-persons><pr:all-persons/></pr:provide-persons><pr:provide-user-input>false</pr:provide-user-input>');

  test('booleans are OR-ed (TRUE wins over FALSE), sets united, provide-user-input the maximum', () => {
    const all = combinePermissions([a, b, c]);
    assert.deepEqual([...all.attributes].sort(), ['activities', 'mood']);
    assert.deepEqual(all.services.schemes, ['sip']);
    assert.deepEqual(all.services.ids, ['bs35r9']);
    assert.equal(all.persons.all, true);
    assert.equal(all.userInput, 'full');
    assert.deepEqual(Object.keys(seen(RICH, all)), ['pidf:tuple#sip-phone', 'pidf:tuple#bs35r9', 'dm:person#p1']);
  });

  test('order does not matter (equal keys), no rule gives nothing, one unrestricted rule gives everything', () => {
    assert.equal(combinePermissions([a, b, c]).key, combinePermissions([c, b, a]).key);
    assert.equal(combinePermissions([]).key, NO_PERMISSIONS.key);
    assert.equal(combinePermissions([a, ALL_PERMISSIONS]).unrestricted, true);
  });
});

describe('the privacy filter on an RFC 4480 style document (RFC 5025 §3.3.1, §3.3.2)', () => {
  test('no permission at all: only <presence entity> is left (a rule with sub-handling but no transformations)', () => {
    const out = serializeXml(filterPresence(RICH, NO_PERMISSIONS)!);
    assert.equal(out, '<?xml version="1.0" encoding="UTF-8"?>\n<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="sip:someone@example.com"/>');
  });

  test('unrestricted permissions return the document itself', () => {
    assert.equal(filterPresence(RICH, ALL_PERMISSIONS), RICH);
  });

  test('provide-services all-services: every tuple with status/basic, contact and timestamp, nothing else of them', () => {
    assert.deepEqual(seen(RICH, perms('<pr:provide-services><pr:all-services/></pr:provide-services>')), {
      'pidf:tuple#sip-phone': ['pidf:status', 'pidf:contact', 'pidf:timestamp'],
      'pidf:tuple#bs35r9': ['pidf:status', 'pidf:contact', 'pidf:timestamp'],
      'pidf:tuple#ty4658': ['pidf:status', 'pidf:contact'],
      'pidf:tuple#eg92n8': ['pidf:status', 'pidf:contact'],
    });
  });

  test('provide-services selects by service-uri-scheme, service-uri, occurrence-id and class', () => {
    const tuples = (t: string): string[] => Object.keys(seen(RICH, perms(`<pr:provide-services>${t}</pr:provide-services>`)));
    assert.deepEqual(tuples('<pr:service-uri-scheme>sip</pr:service-uri-scheme>'), ['pidf:tuple#sip-phone']);
    assert.deepEqual(tuples('<pr:service-uri-scheme>mailto</pr:service-uri-scheme>'), ['pidf:tuple#ty4658', 'pidf:tuple#eg92n8']);
    assert.deepEqual(tuples('<pr:service-uri>im:someone@mobilecarrier.net</pr:service-uri>'), ['pidf:tuple#bs35r9']);
    assert.deepEqual(tuples('<pr:occurence-id>ty4658</pr:occurence-id>'), ['pidf:tuple#ty4658']);
    assert.deepEqual(tuples('<pr:class>email</pr:class>'), ['pidf:tuple#eg92n8']);
    assert.deepEqual(tuples('<pr:class>nothing-has-this</pr:class>'), []);
  });

  test('provide-persons and provide-devices select persons and devices; a device keeps its deviceID', () => {
    const p = (t: string): Record<string, string[]> => seen(RICH, perms(t));
    assert.deepEqual(p('<pr:provide-persons><pr:all-persons/></pr:provide-persons>'), { 'dm:person#p1': ['dm:timestamp'] });
    assert.deepEqual(p('<pr:provide-persons><pr:class>work</pr:class></pr:provide-persons>'), {});
    assert.deepEqual(p('<pr:provide-persons><pr:occurence-id>p1</pr:occurence-id></pr:provide-persons>'), { 'dm:person#p1': ['dm:timestamp'] });
    assert.deepEqual(p('<pr:provide-devices><pr:all-devices/></pr:provide-devices>'), { 'dm:device#pc122': ['dm:deviceID'], 'dm:device#desk': ['dm:deviceID'] });
    // deviceIDs are URNs: compared without regard to case (the rule and the body spell the uuid differently).
    assert.deepEqual(Object.keys(p('<pr:provide-devices><pr:deviceID>urn:uuid:D4A2F1E0-1C55-4C6B-9F5A-3D1C2B0A9E77</pr:deviceID></pr:provide-devices>')), ['dm:device#desk']);
    assert.deepEqual(Object.keys(p('<pr:provide-devices><pr:class>laptop</pr:class></pr:provide-devices>')), ['dm:device#pc122']);
    assert.deepEqual(Object.keys(p('<pr:provide-devices><pr:occurrence-id>desk</pr:occurrence-id></pr:provide-devices>')), ['dm:device#desk']);
  });

  test('each person attribute appears with its own permission only', () => {
    const PERSON = '<pr:provide-persons><pr:all-persons/></pr:provide-persons>';
    const cases: Array<[string, string[]]> = [
      ['activities', ['rpid:activities']],
      ['class', ['rpid:class']],
      ['mood', ['rpid:mood']],
      ['place-is', ['rpid:place-is']],
      ['place-type', ['rpid:place-type']],
      ['privacy', ['rpid:privacy']],
      ['sphere', ['rpid:sphere']],
      ['status-icon', ['rpid:status-icon']],
      ['time-offset', ['rpid:time-offset']],
      ['note', ['dm:note']],
      ['relationship', []], // a service attribute: nothing in a person
      ['deviceID', []],
    ];
    for (const [perm, extra] of cases) {
      const got = seen(RICH, perms(`${PERSON}<pr:provide-${perm}>true</pr:provide-${perm}>`))['dm:person#p1'];
      assert.deepEqual(got, [...extra, 'dm:timestamp'].sort((x, y) => order(x) - order(y)), `provide-${perm}`);
      assert.deepEqual(seen(RICH, perms(`${PERSON}<pr:provide-${perm}>false</pr:provide-${perm}>`))['dm:person#p1'], ['dm:timestamp'], `provide-${perm} false`);
    }
  });

  test('service attributes: provide-relationship, -privacy, -status-icon, -class, -deviceID and -note in tuples', () => {
    const SERVICES = '<pr:provide-services><pr:all-services/></pr:provide-services>';
    const tuples = (perm: string): Record<string, string[]> => seen(RICH, perms(`${SERVICES}<pr:provide-${perm}>true</pr:provide-${perm}>`));
    assert.deepEqual(tuples('relationship')['pidf:tuple#bs35r9'], ['pidf:status', 'rpid:relationship', 'pidf:contact', 'pidf:timestamp']);
    assert.deepEqual(tuples('privacy')['pidf:tuple#eg92n8'], ['pidf:status', 'rpid:privacy', 'pidf:contact']);
    assert.deepEqual(tuples('status-icon')['pidf:tuple#eg92n8'], ['pidf:status', 'rpid:status-icon', 'pidf:contact']);
    assert.deepEqual(tuples('class')['pidf:tuple#sip-phone'], ['pidf:status', 'rpid:class', 'pidf:contact', 'pidf:timestamp']);
    assert.deepEqual(tuples('deviceID')['pidf:tuple#sip-phone'], ['pidf:status', 'dm:deviceID', 'pidf:contact', 'pidf:timestamp']);
    const noted = tuples('note');
    assert.deepEqual(noted['pidf:tuple#bs35r9'], ['pidf:status', 'pidf:contact', 'pidf:note', 'pidf:note', 'pidf:timestamp']);
    assert.deepEqual(noted['pidf:note'], [], 'the <presence>-level note too');
    // Mood is a person attribute: asking for it changes no tuple.
    assert.deepEqual(tuples('mood')['pidf:tuple#sip-phone'], ['pidf:status', 'pidf:contact', 'pidf:timestamp']);
  });

  test('provide-user-input: false removes it, bare keeps the value, thresholds adds idle-threshold, full adds last-input', () => {
    const DEVICES = '<pr:provide-devices><pr:all-devices/></pr:provide-devices>';
    const ui = (level: string): XmlElement | undefined =>
      childOf(RICH, perms(`${DEVICES}<pr:provide-user-input>${level}</pr:provide-user-input>`), 'dm:device#pc122', 'user-input');
    assert.equal(ui('false'), undefined);
    const attrs = (el: XmlElement | undefined): string[] => (el?.attrs ?? []).map((a) => `${a.local}=${a.value}`);
    assert.deepEqual([attrs(ui('bare')), textContent(ui('bare')!)], [[], 'idle']);
    assert.deepEqual(attrs(ui('thresholds')), ['idle-threshold=600']);
    assert.deepEqual(attrs(ui('full')), ['idle-threshold=600', 'last-input=2004-10-21T13:20:00.000-05:00']);
    // In tuples and persons as well.
    const SERVICES = '<pr:provide-services><pr:all-services/></pr:provide-services>';
    assert.equal(textContent(childOf(RICH, perms(`${SERVICES}<pr:provide-user-input>bare</pr:provide-user-input>`), 'pidf:tuple#sip-phone', 'user-input')!), 'active');
  });

  test('provide-unknown-attribute gives the named extension (CIPID, capabilities); provide-all-attributes gives all', () => {
    const SERVICES = '<pr:provide-services><pr:all-services/></pr:provide-services>';
    const caps = seen(RICH, perms(`${SERVICES}<pr:provide-unknown-attribute ns="urn:ietf:params:xml:ns:pidf:caps" name="servcaps">true</pr:provide-unknown-attribute>`));
    assert.deepEqual(caps['pidf:tuple#sip-phone'], ['pidf:status', 'caps:servcaps', 'pidf:contact', 'pidf:timestamp']);
    const card = seen(RICH, perms(`${SERVICES}<pr:provide-unknown-attribute ns="urn:ietf:params:xml:ns:pidf:cipid" name="card">true</pr:provide-unknown-attribute>`));
    assert.deepEqual(card['pidf:tuple#ty4658'], ['pidf:status', 'cipid:card', 'pidf:contact']);
    const everything = seen(RICH, perms(`${SERVICES}<pr:provide-persons><pr:all-persons/></pr:provide-persons><pr:provide-all-attributes/>`));
    assert.deepEqual(everything['dm:person#p1'], kids(kids(RICH).find((c) => getAttr(c, 'id') === 'p1')!).map(name));
    assert.equal(everything['dm:device#pc122'], undefined, 'all attributes, but of the elements given only');
  });

  test('matching is by namespace, never by prefix: the same document under other prefixes filters the same', () => {
    const p = perms('<pr:provide-services><pr:service-uri-scheme>sip</pr:service-uri-scheme></pr:provide-services><pr:provide-persons><pr:all-persons/></pr:provide-persons><pr:provide-mood>true</pr:provide-mood>');
    const renamed = xml(fixture('rpid-rich.xml').replace(/\br:/g, 'x9:').replace('xmlns:r=', 'xmlns:x9='));
    assert.match(serializeXml(renamed), /rpid:mood/, 'the renamed document still has RPID elements');
    assert.equal(serializeXml(filterPresence(renamed, p)!), serializeXml(filterPresence(RICH, p)!));
    // An element named like RPID's but in another namespace is not RPID's.
    const fake = xml(`<presence xmlns="urn:ietf:params:xml:ns:pidf" xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model" entity="sip:a@example.com"><dm:person id="p"><mood xmlns="urn:example:not-rpid">angry</mood></dm:person></presence>`);
    assert.deepEqual(seen(fake, p), { 'dm:person#p': [] });
  });

  test('the input document is not modified (it is the cached composite shared by every watcher)', () => {
    const before = serializeXml(RICH);
    filterPresence(RICH, perms('<pr:provide-services><pr:all-services/></pr:provide-services><pr:provide-user-input>bare</pr:provide-user-input>'));
    assert.equal(serializeXml(RICH), before);
    assert.equal(filterPresence(xml('<x xmlns="urn:example:x"/>'), ALL_PERMISSIONS), undefined, 'not PIDF: nothing to give');
  });
});

describe('bodies of real clients', () => {
  test('Linphone: the sip: tuple is given; its status keeps <basic> and drops the vendor element unless named', () => {
    const linphone = xml(fixture('linphone-publish.xml'));
    const sip = '<pr:provide-services><pr:service-uri-scheme>sip</pr:service-uri-scheme></pr:provide-services>';
    const status = (extra: string): string[] => kids(childOf(linphone, perms(sip + extra), 'pidf:tuple#n5z2og', 'status')!).map(name);
    assert.deepEqual(status(''), ['pidf:basic']);
    assert.deepEqual(
      status('<pr:provide-unknown-attribute ns="http://www.linphone.org/xsds/pidfonline.xsd" name="online">true</pr:provide-unknown-attribute>'),
      ['pidf:basic', 'linphone:online'],
    );
  });

  test('FreeSWITCH: the person note needs provide-note; OpenSIPS pua_mi: a tuple without contact is matched by id only', () => {
    const fs = xml(fixture('freeswitch-notify.xml'));
    const persons = '<pr:provide-persons><pr:all-persons/></pr:provide-persons>';
    assert.deepEqual(seen(fs, perms(persons)), { 'dm:person#p06360c4a': [] });
    assert.deepEqual(seen(fs, perms(`${persons}<pr:provide-note>true</pr:provide-note>`)), { 'dm:person#p06360c4a': ['dm:note'] });
    const pua = xml(fixture('opensips-pua-mi.xml'));
    assert.deepEqual(Object.keys(seen(pua, perms('<pr:provide-services><pr:service-uri-scheme>sip</pr:service-uri-scheme></pr:provide-services>'))), []);
    assert.deepEqual(
      seen(pua, perms(`<pr:provide-services><pr:occurence-id>0x81475a0</pr:occurence-id></pr:provide-services>${persons}<pr:provide-activities>true</pr:provide-activities>`)),
      { 'pidf:tuple#0x81475a0': ['pidf:status'], 'dm:person#pdd748945': ['rpid:activities'] },
    );
  });
});

/** Position of a child name in the fixture's person, to compare in document order. */
function order(n: string): number {
  const p = kids(RICH).find((c) => getAttr(c, 'id') === 'p1')!;
  return kids(p).map(name).indexOf(n);
}
