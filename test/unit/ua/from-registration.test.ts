import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { PresenceCore } from '../../../src/core/index.js';
import { createPresencePackage } from '../../../src/packages/presence/index.js';
import { createRegPackage, parseRegInfo } from '../../../src/packages/reg/index.js';
import { LocationService, Registrar } from '../../../src/registrar/index.js';
import { ManualClock } from '../../../src/transaction/index.js';
import { PresenceFromRegistration, RegInfoPublisher, registrationTupleId } from '../../../src/ua/index.js';
import { FakeSender, FlakyStore, inbound, makeTx, settle, silentLogger } from '../core/support.js';

const ALICE = 'sip:alice@example.com';
const BOB = 'sip:bob@other.org';

async function stack(opts: { store?: FlakyStore; clock?: ManualClock; users?: string[]; domains?: string[] } = {}) {
  const store = opts.store ?? new FlakyStore();
  const clock = opts.clock ?? new ManualClock(0, 1_700_000_000_000);
  const core = new PresenceCore({
    store,
    sender: new FakeSender(),
    clock,
    logger: silentLogger,
    config: { serverAddress: 'sip:presence@192.0.2.1:5060', minExpires: 60 },
    packages: [createPresencePackage({}), createRegPackage()],
  });
  await core.start();
  const snapshot = await store.load();
  const location = new LocationService({ writer: store, now: () => clock.wallNow(), timers: clock, logger: silentLogger, sweepIntervalMs: 1000 });
  location.load(snapshot.bindings);
  location.start();
  const registrar = new Registrar({
    location,
    isLocalDomain: () => true,
    minExpires: 60,
    maxExpires: 3600,
    defaultExpires: 3600,
    maxContacts: 10,
    now: () => clock.wallNow(),
    logger: silentLogger,
    retryAfter: 5,
  });
  const logger = { ...silentLogger };
  const pfr = new PresenceFromRegistration({
    core,
    location,
    ...(opts.users !== undefined ? { users: opts.users } : {}),
    ...(opts.domains !== undefined ? { domains: opts.domains } : {}),
    expires: 600,
    closedExpires: 300,
    timers: clock,
    now: () => clock.wallNow(),
    logger,
  });
  const reg = new RegInfoPublisher({
    core,
    location,
    expires: 600,
    terminatedExpires: 300,
    tombstoneMs: 60_000,
    timers: clock,
    now: () => clock.wallNow(),
    logger,
  });
  pfr.start();
  reg.start();
  await settle(20);
  const stop = async (): Promise<void> => {
    pfr.stop();
    reg.stop();
    location.stop();
    await core.stop();
  };
  return { store, clock, core, location, registrar, pfr, reg, stop };
}

let n = 0;
async function register(registrar: Registrar, aor: string, contact: string, expires: number): Promise<number> {
  const tx = makeTx(
    'REGISTER',
    `sip:${aor.split('@')[1]}`,
    [
      ['From', `<${aor}>;tag=t${++n}`],
      ['To', `<${aor}>`],
      ['Call-ID', `reg-${aor}`],
      ['CSeq', `${++n} REGISTER`],
      ['Contact', contact],
      ['Expires', String(expires)],
    ],
    undefined,
    inbound(),
  );
  await registrar.handle(tx);
  return tx.final.status;
}

function presence(core: PresenceCore, aor: string): string | undefined {
  return core.getPresentity(aor, 'presence')?.composite?.body;
}

function basicOf(body: string | undefined): string | undefined {
  return /<(?:\w+:)?basic>(\w+)</.exec(body ?? '')?.[1];
}

describe('presence from registration (pua_usrloc)', () => {
  test('open while registered (one tuple with a stable id), closed when the last binding is removed', async () => {
    const s = await stack();
    try {
      assert.equal(await register(s.registrar, ALICE, '<sip:alice@192.0.2.7>', 600), 200);
      await settle(20);
      const open = presence(s.core, ALICE);
      assert.equal(basicOf(open), 'open');
      assert.ok(open?.includes(`id="${registrationTupleId(ALICE)}"`));
      assert.equal(await register(s.registrar, ALICE, '<sip:alice@192.0.2.8>', 600), 200);
      await settle(20);
      assert.equal(s.core.getPresentity(ALICE, 'presence')?.publications, 1, 'still one publication for two bindings');
      await register(s.registrar, ALICE, '<sip:alice@192.0.2.7>', 0);
      await settle(20);
      assert.equal(basicOf(presence(s.core, ALICE)), 'open', 'one binding left');
      await register(s.registrar, ALICE, '<sip:alice@192.0.2.8>', 0);
      await settle(20);
      assert.equal(basicOf(presence(s.core, ALICE)), 'closed');
    } finally {
      await s.stop();
    }
  });

  test('expiry of the last binding turns it closed; the open publication is refreshed while registered', async () => {
    const s = await stack();
    try {
      await register(s.registrar, ALICE, '<sip:alice@192.0.2.7>', 3600);
      await settle(20);
      const etag = s.core.getPresentity(ALICE, 'presence')!.publicationList[0]!.etag;
      // The publication was granted 600 s: it must be refreshed before that.
      for (let i = 0; i < 70; i++) {
        s.clock.advance(10_000);
        await settle(5);
      }
      const after = s.core.getPresentity(ALICE, 'presence')!;
      assert.equal(after.publications, 1);
      assert.notEqual(after.publicationList[0]!.etag, etag, 'refreshed (new entity-tag)');
      assert.equal(basicOf(after.composite?.body), 'open');
      for (let i = 0; i < 300; i++) {
        s.clock.advance(10_000);
        await settle(3);
      }
      assert.equal(s.location.lookup(ALICE).length, 0);
      await settle(20);
      assert.equal(basicOf(presence(s.core, ALICE)), 'closed');
    } finally {
      await s.stop();
    }
  });

  test('scope: only the listed users and domains', async () => {
    const s = await stack({ users: [ALICE] });
    try {
      await register(s.registrar, ALICE, '<sip:alice@192.0.2.7>', 600);
      await register(s.registrar, BOB, '<sip:bob@192.0.2.9>', 600);
      await settle(20);
      assert.equal(basicOf(presence(s.core, ALICE)), 'open');
      assert.equal(presence(s.core, BOB), undefined);
      assert.equal(s.pfr.inScope('sip:carol@other.org'), false);
    } finally {
      await s.stop();
    }
    const d = await stack({ domains: ['other.org'] });
    try {
      assert.equal(d.pfr.inScope(BOB), true);
      assert.equal(d.pfr.inScope(ALICE), false);
    } finally {
      await d.stop();
    }
  });

  test('after a restart, a user whose bindings expired while down goes closed; no duplicate publication', async () => {
    const store = new FlakyStore();
    const clock = new ManualClock(0, 1_700_000_000_000);
    const first = await stack({ store, clock });
    await register(first.registrar, ALICE, '<sip:alice@192.0.2.7>', 120);
    await settle(20);
    assert.equal(basicOf(presence(first.core, ALICE)), 'open');
    await first.stop();
    const later = new ManualClock(0, 1_700_000_000_000 + 200_000);
    const second = await stack({ store, clock: later });
    try {
      await settle(20);
      const p = second.core.getPresentity(ALICE, 'presence')!;
      assert.equal(p.publications, 1);
      assert.equal(basicOf(p.composite?.body), 'closed');
    } finally {
      await second.stop();
    }
  });
});

describe('registration state for the reg event package (pua_reginfo)', () => {
  test('registered contacts are active; a removed one is listed terminated with its event; last one gone: registration terminated', async () => {
    const s = await stack();
    try {
      await register(s.registrar, ALICE, '<sip:alice@192.0.2.7>', 600);
      await register(s.registrar, ALICE, '<sip:alice@192.0.2.8>', 600);
      await settle(20);
      let doc = parseRegInfo(s.core.getPresentity(ALICE, 'reg')!.composite!.body);
      assert.ok(doc.ok);
      assert.equal(doc.doc.registrations[0]!.state, 'active');
      assert.deepEqual(doc.doc.registrations[0]!.contacts.map((c) => [c.uri, c.state, c.event]).sort(), [
        ['sip:alice@192.0.2.7', 'active', 'registered'],
        ['sip:alice@192.0.2.8', 'active', 'registered'],
      ]);
      await register(s.registrar, ALICE, '<sip:alice@192.0.2.7>', 0);
      await register(s.registrar, ALICE, '<sip:alice@192.0.2.8>', 0);
      await settle(20);
      doc = parseRegInfo(s.core.getPresentity(ALICE, 'reg')!.composite!.body);
      assert.ok(doc.ok);
      assert.equal(doc.doc.registrations[0]!.state, 'terminated');
      assert.deepEqual(doc.doc.registrations[0]!.contacts.map((c) => [c.state, c.event]), [
        ['terminated', 'unregistered'],
        ['terminated', 'unregistered'],
      ]);
    } finally {
      await s.stop();
    }
  });
});
