import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  createPresRulesAuthorizer,
  evaluatePresRules,
  identityKey,
  MemoryPresRulesSource,
  parsePresRules,
  parseXcapDocumentPath,
  presRulesHandling,
  presRulesXcapPath,
  sameIdentity,
  sphereOfPidf,
  xcapErrorBody,
  type EvaluationContext,
  type PresRulesDocument,
  type PresRulesErrorKind,
} from '../../../src/packages/pres-rules/index.js';
import type { AuthorizationRequest } from '../../../src/core/event-package.js';
import { parseXml, XmlError } from '../../../src/packages/shared/index.js';

const FIXTURES = new URL('../../fixtures/pres-rules/', import.meta.url.replace('/dist/test/', '/test/'));
const fixture = (name: string): string => readFileSync(new URL(name, FIXTURES), 'utf8');

const CP = 'urn:ietf:params:xml:ns:common-policy';
const PR = 'urn:ietf:params:xml:ns:pres-rules';
const MARCH_2025 = Date.UTC(2025, 2, 1);

function accepted(body: string): PresRulesDocument {
  const r = parsePresRules(body);
  if (!r.ok) assert.fail(`rejected: ${r.reason}`);
  return r.doc;
}

function rejected(body: string, kind: PresRulesErrorKind = 'schema-validation-error'): string {
  const r = parsePresRules(body);
  assert.equal(r.ok, false, 'expected a rejection');
  const f = r as { reason: string; kind: PresRulesErrorKind };
  assert.equal(f.kind, kind);
  assert.match(f.reason, /^[\x20-\x7e]+$/);
  return f.reason;
}

function ruleset(rules: string): string {
  return `<ruleset xmlns="${CP}" xmlns:pr="${PR}">${rules}</ruleset>`;
}

const DOC = accepted(fixture('rfc5025-style.xml'));

function handling(watcher: string, extra: Partial<EvaluationContext> = {}): string | undefined {
  return evaluatePresRules(DOC, { watcher, now: MARCH_2025, ...extra }).subHandling;
}

describe('RFC 5025 / RFC 4745 document parsing', () => {
  test('an RFC 5025-style document: rules, conditions, actions, transformations kept', () => {
    assert.deepEqual(
      DOC.rules.map((r) => [r.id, r.subHandling]),
      [
        ['friends', 'allow'],
        ['colleagues', 'confirm'],
        ['nuisance', 'block'],
        ['boss-at-work', 'allow'],
        ['boss-otherwise', 'polite-block'],
        ['contractor-2025', 'allow'],
      ],
    );
    const friends = DOC.rules[0]!;
    assert.deepEqual(friends.identity[0]!.ones, ['sip:bob@example.com', 'sip:carol@example.org']);
    assert.deepEqual(friends.transformations.map((t) => t.local), ['provide-services', 'provide-persons', 'provide-activities', 'provide-user-input']);
    assert.deepEqual(DOC.rules[1]!.identity[0]!.many, [{ domain: 'example.com', exceptDomains: [], exceptIds: ['sip:mallory@example.com'] }]);
    assert.deepEqual(DOC.rules[3]!.spheres, [['work']]);
    assert.deepEqual(DOC.rules[5]!.validity, [[{ from: Date.UTC(2025, 0, 1), until: Date.UTC(2025, 5, 30, 22) }]]);
  });

  test('an OMA-style document with conditions we do not support parses; those rules are marked', () => {
    const doc = accepted(fixture('oma-default-rules.xml'));
    assert.deepEqual(doc.rules.map((r) => r.unsupportedCondition), [false, true, true, false]);
  });

  test('schema violations are refused with schema-validation-error', () => {
    assert.match(rejected(`<ruleset xmlns="urn:example:x"/>`), /root element/);
    assert.match(rejected(ruleset('<rule id="a"/><rule id="a"/>')), /not unique/);
    assert.match(rejected(ruleset('<rule/>')), /without id/);
    assert.match(rejected(ruleset('<rule id="a"><actions><pr:sub-handling>deny</pr:sub-handling></actions></rule>')), /sub-handling/);
    assert.match(
      rejected(ruleset('<rule id="a"><actions><pr:sub-handling>allow</pr:sub-handling><pr:sub-handling>block</pr:sub-handling></actions></rule>')),
      /more than one/,
    );
    assert.match(rejected(ruleset('<rule id="a"><conditions><identity/></conditions></rule>')), /empty/);
    assert.match(rejected(ruleset('<rule id="a"><conditions><identity><one/></identity></conditions></rule>')), /one id/);
    assert.match(rejected(ruleset('<rule id="a"><conditions><identity><one id="not a uri"/></identity></conditions></rule>')), /not a URI/);
    assert.match(rejected(ruleset('<rule id="a"><conditions><identity><many><except/></many></identity></conditions></rule>')), /except/);
    assert.match(rejected(ruleset('<rule id="a"><conditions><sphere/></conditions></rule>')), /sphere/);
    assert.match(rejected(ruleset('<rule id="a"><conditions><validity><from>2025-01-01T00:00:00Z</from></validity></conditions></rule>')), /pairs/);
    assert.match(
      rejected(ruleset('<rule id="a"><conditions><validity><from>yesterday</from><until>2025-01-01T00:00:00Z</until></validity></conditions></rule>')),
      /dateTime/,
    );
    assert.match(rejected(ruleset('<rule id="a"><conditions/><conditions/></rule>')), /more than one/);
    assert.match(rejected(ruleset('<rule id="a"><conditions><weekday/></conditions></rule>')), /unexpected condition/);
  });

  test('bytes that are not XML are refused with not-well-formed (DOCTYPE included)', () => {
    rejected('<ruleset', 'not-well-formed');
    rejected(`<!DOCTYPE r [<!ENTITY x "y">]><ruleset xmlns="${CP}"/>`, 'not-well-formed');
  });
});

describe('RFC 4745 §10 evaluation, RFC 5025 §3.2.1 combination', () => {
  test('<one>: exact identities, compared as SIP AORs (host case, parameters ignored)', () => {
    assert.equal(handling('sip:bob@example.com'), 'allow');
    assert.equal(handling('sip:carol@EXAMPLE.ORG;transport=tcp'), 'allow');
  });

  test('the most permissive matching value wins: allow (friends) beats confirm (colleagues)', () => {
    const r = evaluatePresRules(DOC, { watcher: 'sip:bob@example.com', now: MARCH_2025 });
    assert.deepEqual(r.matched, ['friends', 'colleagues']);
    assert.equal(r.subHandling, 'allow');
  });

  test('<many domain> with <except>: the domain is confirm, the excepted identity is left to other rules', () => {
    assert.equal(handling('sip:dave@example.com'), 'confirm');
    assert.equal(handling('sip:mallory@example.com'), 'block');
    assert.equal(handling('sip:anyone@spam.example.net'), 'block');
    assert.equal(handling('sip:dave@sub.example.com'), undefined, 'domains match exactly, not by suffix');
  });

  test('no matching rule: no sub-handling (the authorizer applies its default)', () => {
    assert.equal(handling('sip:stranger@elsewhere.example'), undefined);
  });

  test('sphere: honoured only with sphere check on; unknown sphere matches nothing', () => {
    assert.equal(handling('sip:boss@example.com', { sphereCheck: true, sphere: 'work' }), 'allow');
    assert.equal(handling('sip:boss@example.com', { sphereCheck: true, sphere: 'home' }), 'polite-block');
    assert.equal(handling('sip:boss@example.com', { sphereCheck: true, sphere: undefined }), 'polite-block');
    assert.equal(handling('sip:boss@example.com', { sphereCheck: false, sphere: 'home' }), 'allow');
  });

  test('validity: the rule applies only inside [from, until), zones honoured', () => {
    assert.equal(handling('sip:contractor@partner.example', { now: MARCH_2025 }), 'allow');
    assert.equal(handling('sip:contractor@partner.example', { now: Date.UTC(2025, 5, 30, 21, 59) }), 'allow');
    assert.equal(handling('sip:contractor@partner.example', { now: Date.UTC(2025, 5, 30, 22, 0) }), undefined);
    assert.equal(handling('sip:contractor@partner.example', { now: Date.UTC(2024, 11, 31) }), undefined);
  });

  test('identity conditions never match an unauthenticated watcher (RFC 4745 §7.1.1)', () => {
    assert.equal(handling('sip:bob@example.com', { authenticated: false }), undefined);
  });

  test('a rule with an unsupported condition never matches (fail closed), rules without conditions always do', () => {
    const doc = accepted(fixture('oma-default-rules.xml'));
    const ev = (watcher: string) => evaluatePresRules(doc, { watcher, now: 0 });
    assert.deepEqual(ev('sip:+15550001111@ims.example.net'), { subHandling: 'allow', matched: ['wp_prs_allow_own', 'everyone-else'] });
    assert.deepEqual(ev('sip:unlisted@ims.example.net'), { subHandling: 'confirm', matched: ['everyone-else'] });
  });
});

describe('authorizer (the authorize hook for presence)', () => {
  const ALICE = 'sip:alice@example.com';
  const req = (watcher: string, presentity = ALICE): AuthorizationRequest => ({ watcher, watcherDisplayName: undefined, presentity, event: 'presence' });

  test('allow -> active, polite-block -> polite-block, confirm -> pending, block -> rejected', () => {
    const source = new MemoryPresRulesSource();
    assert.deepEqual(source.put('sip:alice@EXAMPLE.com', fixture('rfc5025-style.xml')), { ok: true });
    let sphere = 'home';
    const authorize = createPresRulesAuthorizer({ source, now: () => MARCH_2025, sphereCheck: true, sphereOf: () => sphere });
    assert.equal(authorize(req('sip:bob@example.com')), 'active');
    assert.equal(authorize(req('sip:boss@example.com')), 'polite-block');
    sphere = 'work';
    assert.equal(authorize(req('sip:boss@example.com')), 'active', 'the current sphere is asked at every decision');
    assert.equal(authorize(req('sip:dave@example.com')), 'pending');
    assert.equal(authorize(req('sip:mallory@example.com')), 'rejected');
    assert.equal(authorize(req('sip:stranger@elsewhere.example')), 'pending', 'no rule: confirm');
  });

  test('no document: the default handling (confirm unless configured); the presentity always sees itself', () => {
    const source = new MemoryPresRulesSource();
    const authorize = createPresRulesAuthorizer({ source, now: () => 0 });
    assert.equal(authorize(req('sip:bob@example.com')), 'pending');
    assert.equal(authorize(req('sip:alice@example.com;transport=tls')), 'active');
    const open = createPresRulesAuthorizer({ source, now: () => 0, defaultHandling: 'allow' });
    assert.equal(open(req('sip:bob@example.com')), 'active');
  });

  test('the source refuses invalid documents and forgets deleted ones', () => {
    const source = new MemoryPresRulesSource();
    const bad = source.put(ALICE, '<ruleset');
    assert.equal(bad.ok, false);
    assert.equal(source.size, 0);
    source.put(ALICE, fixture('rfc5025-style.xml'));
    assert.equal(source.get('sip:alice@example.com')!.body, fixture('rfc5025-style.xml'));
    assert.deepEqual(source.presentities(), ['sip:alice@example.com']);
    assert.equal(presRulesHandling({ source, now: () => MARCH_2025 }, ALICE, 'sip:bob@example.com'), 'allow');
    assert.equal(source.delete('sip:alice@example.com'), true);
    assert.equal(source.rulesFor(ALICE), undefined);
  });
});

describe('identity keys', () => {
  test('SIP AOR rules for sip/sips/tel, scheme and domain lower-cased for others', () => {
    assert.deepEqual(identityKey('sips:Bob@Example.COM:5061;transport=tls'), { key: 'sip:Bob@example.com', domain: 'example.com' });
    assert.deepEqual(identityKey('tel:+1-555-0100'), { key: 'tel:+15550100', domain: undefined });
    assert.deepEqual(identityKey('PRES:bob@Example.com'), { key: 'pres:bob@example.com', domain: 'example.com' });
    assert.equal(identityKey('bob'), undefined);
    assert.equal(sameIdentity('sip:bob@example.com', 'sip:bob@EXAMPLE.com;user=phone'), true);
    assert.equal(sameIdentity('sip:bob@example.com', 'sip:Bob@example.com'), false, 'user parts are case-sensitive');
  });
});

describe('sphere from PIDF (RPID <sphere>)', () => {
  const P = 'urn:ietf:params:xml:ns:pidf';
  const DM = 'urn:ietf:params:xml:ns:pidf:data-model';
  const R = 'urn:ietf:params:xml:ns:pidf:rpid';
  test('element form on the person, text form, none', () => {
    assert.equal(
      sphereOfPidf(`<presence xmlns="${P}" xmlns:dm="${DM}" xmlns:rpid="${R}" entity="sip:a@x"><dm:person id="p"><rpid:sphere><rpid:work/></rpid:sphere></dm:person></presence>`),
      'work',
    );
    assert.equal(sphereOfPidf(`<presence xmlns="${P}" xmlns:r="${R}" entity="sip:a@x"><tuple id="t"><status/><r:sphere>home</r:sphere></tuple></presence>`), 'home');
    assert.equal(sphereOfPidf(`<presence xmlns="${P}" entity="sip:a@x"/>`), undefined);
    assert.equal(sphereOfPidf('junk'), undefined);
  });
});

describe('XCAP helpers (RFC 4825 §6, §11; RFC 5025 §9)', () => {
  test('document paths: percent-encoded or plain XUI, node selectors and other shapes refused', () => {
    assert.deepEqual(parseXcapDocumentPath('/xcap-root/pres-rules/users/sip%3Aalice%40example.com/index'), {
      ok: true,
      path: { auid: 'pres-rules', xui: 'sip:alice@example.com', document: 'index' },
    });
    assert.equal(parseXcapDocumentPath('/xcap-root/pres-rules/users/sip:alice@example.com/index?x=1').ok, true);
    assert.deepEqual(parseXcapDocumentPath('/xcap-root/pres-rules/users/sip:alice@example.com/index/~~/ruleset/rule'), {
      ok: false,
      status: 404,
      reason: 'node selectors are not supported',
    });
    assert.equal(parseXcapDocumentPath('/xcap-root/pres-rules/global/index').ok, false);
    assert.equal(parseXcapDocumentPath('/elsewhere/pres-rules/users/a/index').ok, false);
    const badEnc = parseXcapDocumentPath('/xcap-root/pres-rules/users/%E0%A4%A/index');
    assert.equal(badEnc.ok === false && badEnc.status, 400);
  });

  test('path building round-trips', () => {
    const p = presRulesXcapPath('sip:alice@example.com', '/xcap/');
    assert.equal(p, '/xcap/pres-rules/users/sip%3Aalice%40example.com/index');
    const back = parseXcapDocumentPath(p, '/xcap');
    assert.equal(back.ok && back.path.xui, 'sip:alice@example.com');
  });

  test('error bodies are well-formed xcap-error documents', () => {
    const b = xcapErrorBody('schema-validation-error', 'rule id "a" is not <unique> & "quoted"');
    const root = parseXml(b);
    assert.ok(!(root instanceof XmlError));
    assert.equal(root.ns, 'urn:ietf:params:xml:ns:xcap-error');
    assert.equal((root.children[0] as { local: string }).local, 'schema-validation-error');
  });
});
