/**
 * pres-rules authorization through the real presence core, wired the way the composition root
 * would: the presence package plus the pres-rules `authorize` hook, forceActive off.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createPresencePackage } from '../../../src/packages/presence/index.js';
import { createPresRulesAuthorizer, MemoryPresRulesSource } from '../../../src/packages/pres-rules/index.js';
import { ManualClock } from '../../../src/transaction/index.js';
import { bodyOf, makeCore, pidf, publish, subState, Watcher } from '../core/support.js';

const FIXTURES = new URL('../../fixtures/pres-rules/', import.meta.url.replace('/dist/test/', '/test/'));
const RULES = readFileSync(new URL('rfc5025-style.xml', FIXTURES), 'utf8');
const ALICE = 'sip:alice@example.com';

async function setup() {
  const source = new MemoryPresRulesSource();
  assert.equal(source.put(ALICE, RULES).ok, true);
  const clock = new ManualClock();
  // The composition root's wiring: the package object plus the hook, no package imports another.
  // Sphere check on, the presentity "home": the boss's work-sphere rule does not apply.
  const authorize = createPresRulesAuthorizer({ source, now: () => clock.now(), sphereCheck: true, sphereOf: () => 'home' });
  const presence = { ...createPresencePackage({}), authorize };
  const wired = await makeCore({ config: { forceActive: false }, packages: [presence], clock });
  await publish(wired.core, ALICE, { body: pidf(ALICE, 'phone', 'open', 'at my desk') });
  return wired;
}

describe('pres-rules sub-handling applied by the core (RFC 5025 §3.2.1, RFC 6665 §4.2.1.3)', () => {
  test('allow: active, with the presence document', async () => {
    const { core, sender } = await setup();
    await new Watcher({ presentity: ALICE, watcher: 'sip:bob@example.com' }).subscribe(core);
    const n = sender.notifies().at(-1)!.request;
    assert.equal(subState(n).state, 'active');
    assert.match(bodyOf(n), /at my desk/);
    await core.stop();
  });

  test('confirm (domain rule, and no rule at all): pending, NOTIFY without state', async () => {
    const { core, sender } = await setup();
    for (const watcher of ['sip:dave@example.com', 'sip:stranger@elsewhere.example']) {
      assert.equal((await new Watcher({ presentity: ALICE, watcher }).subscribe(core)).status, 200);
      const n = sender.notifies().at(-1)!.request;
      assert.equal(subState(n).state, 'pending');
      assert.equal(n.body.length, 0);
    }
    await core.stop();
  });

  test('block: 403', async () => {
    const { core } = await setup();
    assert.equal((await new Watcher({ presentity: ALICE, watcher: 'sip:mallory@example.com' }).subscribe(core)).status, 403);
    await core.stop();
  });

  test('polite-block: looks active, carries the neutral closed document', async () => {
    const { core, sender } = await setup();
    await new Watcher({ presentity: ALICE, watcher: 'sip:boss@example.com' }).subscribe(core);
    const n = sender.notifies().at(-1)!.request;
    assert.equal(subState(n).state, 'active');
    assert.match(bodyOf(n), /<basic>closed<\/basic>/);
    assert.doesNotMatch(bodyOf(n), /at my desk/);
    await core.stop();
  });
});
