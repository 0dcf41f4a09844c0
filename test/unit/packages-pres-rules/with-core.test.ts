/**
 * pres-rules authorization through the real presence core, wired the way the composition root
 * would: the presence package plus the pres-rules `authorize` and `bodyForWatcher` hooks, forceActive off.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createPresencePackage } from '../../../src/packages/presence/index.js';
import { createPresRulesAuthorizer, createPresRulesBodyFilter, MemoryPresRulesSource } from '../../../src/packages/pres-rules/index.js';
import { ManualClock } from '../../../src/transaction/index.js';
import { bodyOf, makeCore, pidf, publish, subState, Watcher } from '../core/support.js';

const FIXTURES = new URL('../../fixtures/pres-rules/', import.meta.url.replace('/dist/test/', '/test/'));
const RULES = readFileSync(new URL('rfc5025-style.xml', FIXTURES), 'utf8');
const ALICE = 'sip:alice@example.com';
/** A softphone's sip: tuple, an IM tuple, and the person with activities, mood and a note (RFC 4480). */
const STATE =
  `<?xml version="1.0" encoding="UTF-8"?>\n<presence xmlns="urn:ietf:params:xml:ns:pidf" xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model" ` +
  `xmlns:rpid="urn:ietf:params:xml:ns:pidf:rpid" entity="${ALICE}">` +
  `<tuple id="phone"><status><basic>open</basic></status><contact>sip:alice@192.0.2.7:5062</contact><note>at my desk</note></tuple>` +
  `<tuple id="chat"><status><basic>open</basic></status><contact>xmpp:alice@example.com</contact></tuple>` +
  `<dm:person id="me"><rpid:activities><rpid:meeting/></rpid:activities><rpid:mood><rpid:happy/></rpid:mood><dm:note>planning</dm:note></dm:person>` +
  `</presence>`;

async function setup() {
  const source = new MemoryPresRulesSource();
  assert.equal(source.put(ALICE, RULES).ok, true);
  const clock = new ManualClock();
  // The composition root's wiring: the package object plus the hook, no package imports another.
  // Sphere check on, the presentity "home": the boss's work-sphere rule does not apply.
  const authorize = createPresRulesAuthorizer({ source, now: () => clock.now(), sphereCheck: true, sphereOf: () => 'home' });
  const bodyForWatcher = createPresRulesBodyFilter({ source, now: () => clock.now() });
  const presence = { ...createPresencePackage({}), authorize, bodyForWatcher };
  const wired = await makeCore({ config: { forceActive: false }, packages: [presence], clock });
  const published = await publish(wired.core, ALICE, { body: STATE });
  return { ...wired, etag: published.headers.get('SIP-ETag') };
}

describe('pres-rules sub-handling applied by the core (RFC 5025 §3.2.1, RFC 6665 §4.2.1.3)', () => {
  test('allow: active, with what the rule provides (RFC 5025 §3.3: sip:/mailto: services, persons, activities)', async () => {
    const { core, sender } = await setup();
    await new Watcher({ presentity: ALICE, watcher: 'sip:bob@example.com' }).subscribe(core);
    const n = sender.notifies().at(-1)!.request;
    assert.equal(subState(n).state, 'active');
    const body = bodyOf(n);
    assert.match(body, /<tuple id="phone"><status><basic>open<\/basic><\/status><contact>sip:alice@192.0.2.7:5062<\/contact><\/tuple>/);
    assert.match(body, /<dm:person id="me"><rpid:activities><rpid:meeting\/><\/rpid:activities><\/dm:person>/);
    assert.doesNotMatch(body, /chat|mood|at my desk|planning/, 'no xmpp: service, no mood, no notes');
    await core.stop();
  });

  test('the presentity watching itself gets the whole document', async () => {
    const { core, sender } = await setup();
    await new Watcher({ presentity: ALICE, watcher: ALICE }).subscribe(core);
    const body = bodyOf(sender.notifies().at(-1)!.request);
    for (const part of ['id="chat"', 'rpid:happy', 'at my desk', 'planning']) assert.ok(body.includes(part), part);
    await core.stop();
  });

  test('a change of state reaches the allowed watcher filtered again', async () => {
    const { core, sender, etag } = await setup();
    await new Watcher({ presentity: ALICE, watcher: 'sip:carol@example.org' }).subscribe(core);
    const before = sender.notifies().length;
    await publish(core, ALICE, { etag, body: STATE.replace('<basic>open</basic></status><contact>sip:', '<basic>closed</basic></status><contact>sip:') });
    const n = sender.notifies().slice(before).at(-1)!.request;
    assert.match(bodyOf(n), /<tuple id="phone"><status><basic>closed<\/basic>/);
    assert.doesNotMatch(bodyOf(n), /xmpp:/);
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
    assert.doesNotMatch(bodyOf(n), /at my desk|meeting/);
    await core.stop();
  });
});
