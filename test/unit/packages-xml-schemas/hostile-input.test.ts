/**
 * Every body codec of the event packages faces network input: whatever the bytes, it returns a verdict
 * and never throws (a throw would surface as a 500 or worse). Random strings and mutations of valid
 * documents are thrown at each one.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { parseDialogInfo, dialogInfoForWatcher, aggregateDialogInfo } from '../../../src/packages/dialog/index.js';
import { fixRemoteTargets } from '../../../src/packages/dialog-sla/index.js';
import { parseMessageSummary } from '../../../src/packages/message-summary/index.js';
import { parsePresRules } from '../../../src/packages/pres-rules/index.js';
import { parseWatcherInfo } from '../../../src/packages/presence-winfo/index.js';

const FIXTURES = new URL('../../fixtures/', import.meta.url.replace('/dist/test/', '/test/'));
const fixture = (name: string): string => readFileSync(new URL(name, FIXTURES), 'utf8');

const SEEDS = {
  dialog: fixture('dialog-info/polycom-bla-notify.xml'),
  mwi: fixture('mwi/voicemail-with-headers.txt'),
  rules: fixture('pres-rules/rfc5025-style.xml'),
  winfo: fixture('watcherinfo/kamailio-winfo-notify.xml'),
};

/** A valid document with a random slice replaced by random text. */
function mutated(seed: string): fc.Arbitrary<string> {
  return fc
    .tuple(fc.nat({ max: seed.length }), fc.nat({ max: 40 }), fc.string({ maxLength: 20 }))
    .map(([at, len, ins]) => seed.slice(0, at) + ins + seed.slice(Math.min(seed.length, at + len)));
}

const PHRASE = /^[\x20-\x7e]*$/;

function verdictOk(r: { ok: boolean; reason?: string }): boolean {
  return r.ok || (typeof r.reason === 'string' && PHRASE.test(r.reason) && r.reason.length <= 200);
}

describe('codecs never throw on hostile bodies', () => {
  const runs = { numRuns: 400 };

  test('dialog-info: parse, per-watcher step, merge, BLA target fix', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 300 }), mutated(SEEDS.dialog)), (s) => {
        const r = parseDialogInfo(s);
        assert.ok(verdictOk(r as { ok: boolean; reason?: string }));
        assert.equal(typeof dialogInfoForWatcher(s, 3, { callId: 'x' }), 'string');
        assert.equal(typeof aggregateDialogInfo('sip:a@x', [{ body: s, receivedAt: 1 }]), 'string');
        assert.equal(typeof fixRemoteTargets(s), 'string');
      }),
      runs,
    );
  });

  test('simple-message-summary', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 300 }), mutated(SEEDS.mwi)), (s) => {
        assert.ok(verdictOk(parseMessageSummary(s) as { ok: boolean; reason?: string }));
      }),
      runs,
    );
  });

  test('pres-rules', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 300 }), mutated(SEEDS.rules)), (s) => {
        assert.ok(verdictOk(parsePresRules(s) as { ok: boolean; reason?: string }));
      }),
      runs,
    );
  });

  test('watcherinfo', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 300 }), mutated(SEEDS.winfo)), (s) => {
        const r = parseWatcherInfo(s);
        assert.ok(r.ok || typeof r.reason === 'string');
      }),
      runs,
    );
  });

  test('deep nesting and huge bodies are refused, not recursed into', () => {
    const deep = `<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" version="0" state="full" entity="sip:a@x">${'<a>'.repeat(5000)}${'</a>'.repeat(5000)}</dialog-info>`;
    assert.equal(parseDialogInfo(deep).ok, false);
    assert.equal(parsePresRules(`<ruleset xmlns="urn:ietf:params:xml:ns:common-policy">${' '.repeat(300_000)}</ruleset>`).ok, false);
    assert.equal(parseMessageSummary(`Messages-Waiting: yes\r\n${'x'.repeat(20_000)}`).ok, false);
  });
});
