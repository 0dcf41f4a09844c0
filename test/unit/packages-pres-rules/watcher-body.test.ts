/**
 * The per-watcher body hook (bodyForWatcher) built from pres-rules: which rules' transformations apply to a watcher
 * (identity, validity, sphere), the defaults (no document: everything; self: everything; a rule without
 * transformations: an empty <presence>), and the caching the hot path relies on (the composite string itself for an
 * unrestricted watcher, one filtered string per permission set and composite version).
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createPresRulesBodyFilter, MemoryPresRulesSource, watcherPermissions } from '../../../src/packages/pres-rules/index.js';
import type { WatcherContext } from '../../../src/core/event-package.js';
import { getAttr, isXmlElement, parseXml, XmlError, type XmlElement } from '../../../src/packages/shared/index.js';
import { ManualClock } from '../../../src/transaction/index.js';

const FIXTURES = new URL('../../fixtures/', import.meta.url.replace('/dist/test/', '/test/'));
const fixture = (name: string): string => readFileSync(new URL(name, FIXTURES), 'utf8');

const ALICE = 'sip:someone@example.com';
const RICH = fixture('pidf/rpid-rich.xml');
const CP = 'urn:ietf:params:xml:ns:common-policy';
const PR = 'urn:ietf:params:xml:ns:pres-rules';

function ruleset(rules: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<cr:ruleset xmlns:cr="${CP}" xmlns:pr="${PR}">${rules}</cr:ruleset>`;
}

function rule(id: string, conditions: string, handling: string, transformations = ''): string {
  return (
    `<cr:rule id="${id}"><cr:conditions>${conditions}</cr:conditions><cr:actions><pr:sub-handling>${handling}</pr:sub-handling></cr:actions>` +
    (transformations === '' ? '' : `<cr:transformations>${transformations}</cr:transformations>`) +
    `</cr:rule>`
  );
}

const one = (uri: string): string => `<cr:identity><cr:one id="${uri}"/></cr:identity>`;
const SIP_ONLY = '<pr:provide-services><pr:service-uri-scheme>sip</pr:service-uri-scheme></pr:provide-services>';
const PERSONS = '<pr:provide-persons><pr:all-persons/></pr:provide-persons>';
const EVERYTHING =
  '<pr:provide-services><pr:all-services/></pr:provide-services><pr:provide-persons><pr:all-persons/></pr:provide-persons>' +
  '<pr:provide-devices><pr:all-devices/></pr:provide-devices><pr:provide-all-attributes/>';

function ctx(watcher: string, presentity = ALICE): WatcherContext {
  return {
    subscriptionId: `sub-${watcher}`,
    watcher,
    presentity,
    version: 0,
    accept: [],
    eventParams: new Map(),
    politeBlock: false,
    fullState: true,
  };
}

function setup(doc: string | undefined, opts: { sphereCheck?: boolean } = {}) {
  const source = new MemoryPresRulesSource();
  if (doc !== undefined) {
    const r = source.put(ALICE, doc);
    assert.ok(r.ok, r.ok ? '' : r.reason);
  }
  const clock = new ManualClock(Date.UTC(2025, 2, 1));
  const filter = createPresRulesBodyFilter({ source, now: () => clock.now(), ...opts });
  return { source, clock, filter };
}

/** Children of <presence> as "local#id", and the local names inside each. */
function shape(body: string | undefined): Record<string, string[]> {
  assert.ok(body !== undefined, 'a body');
  const root = parseXml(body);
  if (root instanceof XmlError) assert.fail(root.message);
  const out: Record<string, string[]> = {};
  for (const c of root.children.filter(isXmlElement)) {
    out[`${c.local}#${getAttr(c, 'id') ?? ''}`] = c.children.filter(isXmlElement).map((k: XmlElement) => k.local);
  }
  return out;
}

describe('who gets what (RFC 5025 §3.3, RFC 4745 §10.2)', () => {
  test('no pres-rules document: the composite unchanged, the very same string (nothing restricts)', () => {
    const { filter } = setup(undefined);
    assert.equal(filter(RICH, ctx('sip:anyone@example.org')), RICH);
  });

  test('the presentity itself and a watcher with all-* and provide-all-attributes get the composite string itself', () => {
    const { filter } = setup(ruleset(rule('friends', one('sip:bob@example.com'), 'allow', EVERYTHING)));
    assert.equal(filter(RICH, ctx(ALICE)), RICH);
    assert.equal(filter(RICH, ctx('sip:bob@example.com')), RICH);
  });

  test('a rule with sub-handling allow and no transformations: only the <presence> element', () => {
    const { filter } = setup(ruleset(rule('bare', one('sip:bob@example.com'), 'allow')));
    const body = filter(RICH, ctx('sip:bob@example.com'));
    assert.deepEqual(shape(body), {});
    assert.match(body!, /<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="sip:someone@example.com"\/>$/);
  });

  test('two matching rules combine: one gives sip: services, the other persons with activities', () => {
    const doc = ruleset(
      rule('sip', one('sip:carol@example.com'), 'allow', SIP_ONLY) +
        rule('domain', `<cr:identity><cr:many domain="example.com"/></cr:identity>`, 'confirm', `${PERSONS}<pr:provide-activities>true</pr:provide-activities>`),
    );
    const { filter } = setup(doc);
    assert.deepEqual(shape(filter(RICH, ctx('sip:carol@example.com'))), {
      'tuple#sip-phone': ['status', 'contact', 'timestamp'],
      'person#p1': ['activities', 'timestamp'],
    });
    // Someone else of the domain matches only the second rule.
    assert.deepEqual(shape(filter(RICH, ctx('sip:dave@example.com'))), { 'person#p1': ['activities', 'timestamp'] });
  });

  test('validity: a rule outside its period gives nothing, inside it gives its permissions', () => {
    const valid = `${one('sip:bob@example.com')}<cr:validity><cr:from>2025-03-01T00:00:00Z</cr:from><cr:until>2025-03-02T00:00:00Z</cr:until></cr:validity>`;
    const { filter, clock } = setup(ruleset(rule('base', one('sip:bob@example.com'), 'allow', SIP_ONLY) + rule('today', valid, 'allow', PERSONS)));
    assert.deepEqual(Object.keys(shape(filter(RICH, ctx('sip:bob@example.com')))), ['tuple#sip-phone', 'person#p1']);
    clock.advance(2 * 86_400_000);
    assert.deepEqual(Object.keys(shape(filter(RICH, ctx('sip:bob@example.com')))), ['tuple#sip-phone'], 'the period is over');
  });

  test('sphereCheck: a sphere rule adds its permissions only while the document being sent is in that sphere', () => {
    const doc = ruleset(
      rule('base', one('sip:boss@example.com'), 'allow', SIP_ONLY) +
        rule('bowling', `${one('sip:boss@example.com')}<cr:sphere value="work bowling league"/>`, 'allow', PERSONS),
    );
    const { filter } = setup(doc, { sphereCheck: true });
    // The fixture's sphere is free text, "bowling league": not one token of the condition's list.
    assert.deepEqual(Object.keys(shape(filter(RICH, ctx('sip:boss@example.com')))), ['tuple#sip-phone']);
    const atWork = RICH.replace('<r:sphere>bowling league</r:sphere>', '<r:sphere><r:work/></r:sphere>');
    assert.deepEqual(Object.keys(shape(filter(atWork, ctx('sip:boss@example.com')))), ['tuple#sip-phone', 'person#p1']);
    // Without sphereCheck the condition always holds (Kamailio/OpenSIPS default).
    assert.deepEqual(Object.keys(shape(setup(doc).filter(RICH, ctx('sip:boss@example.com')))), ['tuple#sip-phone', 'person#p1']);
  });

  test('watcherPermissions: the combination for one watcher, usable without the hook', () => {
    const r = new MemoryPresRulesSource();
    r.put(ALICE, ruleset(rule('a', one('sip:bob@example.com'), 'allow', `${SIP_ONLY}<pr:provide-user-input>bare</pr:provide-user-input>`) + rule('b', '', 'confirm', '<pr:provide-user-input>thresholds</pr:provide-user-input>')));
    const p = watcherPermissions(r.rulesFor(ALICE)!, { watcher: 'sip:bob@example.com', now: 0 });
    assert.deepEqual([p.services.schemes, p.userInput], [['sip'], 'thresholds']);
  });
});

describe('caching on the NOTIFY path', () => {
  test('watchers with the same permissions share one filtered string; a new composite gives a new one', () => {
    const doc = ruleset(rule('team', `<cr:identity><cr:many domain="example.com"/></cr:identity>`, 'allow', SIP_ONLY));
    const { filter } = setup(doc);
    const first = filter(RICH, ctx('sip:w1@example.com'));
    const second = filter(RICH, ctx('sip:w2@example.com'));
    assert.ok(first !== undefined && first !== RICH);
    assert.equal(second, first);
    // Same content, another string object (the core recomputed an equal composite): still the same variant.
    assert.equal(filter(RICH.slice(0, 10) + RICH.slice(10), ctx('sip:w3@example.com')), first);
    const closed = RICH.replace('<status><basic>open</basic></status>', '<status><basic>closed</basic></status>');
    const after = filter(closed, ctx('sip:w1@example.com'));
    assert.notEqual(after, first);
    assert.match(after!, /<basic>closed<\/basic>/);
  });

  test('replacing the rules changes what the next NOTIFY carries (the cache follows the document)', () => {
    const { filter, source } = setup(ruleset(rule('r', one('sip:bob@example.com'), 'allow', SIP_ONLY)));
    assert.deepEqual(Object.keys(shape(filter(RICH, ctx('sip:bob@example.com')))), ['tuple#sip-phone']);
    source.put(ALICE, ruleset(rule('r', one('sip:bob@example.com'), 'allow', PERSONS)));
    assert.deepEqual(Object.keys(shape(filter(RICH, ctx('sip:bob@example.com')))), ['person#p1']);
    source.delete(ALICE);
    assert.equal(filter(RICH, ctx('sip:bob@example.com')), RICH);
  });

  test('a composite that is not PIDF gives no body (nothing leaks), a bounded cache keeps working past its size', () => {
    const { filter } = setup(ruleset(rule('r', `<cr:identity><cr:many/></cr:identity>`, 'allow', SIP_ONLY)));
    assert.equal(filter('<not-pidf/>', ctx('sip:bob@example.com')), undefined);
    assert.equal(filter('not xml at all <', ctx('sip:bob@example.com')), undefined);
    const small = createPresRulesBodyFilter({ source: { rulesFor: () => setup(ruleset(rule('r', '', 'allow', SIP_ONLY))).source.rulesFor(ALICE) }, now: () => 0, cacheSize: 2 });
    for (let i = 0; i < 5; i++) {
      const who = `sip:u${i}@example.com`;
      const body = RICH.replace('entity="sip:someone@example.com"', `entity="${who}"`);
      assert.match(small(body, ctx('sip:w@example.com', who))!, new RegExp(`entity="${who}"`));
    }
  });
});
