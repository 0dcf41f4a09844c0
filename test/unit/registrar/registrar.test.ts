import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { LocationService, Registrar, type LocationChange } from '../../../src/registrar/index.js';
import { MemoryStore, type PresenceStore } from '../../../src/store/index.js';
import { ManualClock } from '../../../src/transaction/index.js';
import { FlakyStore, inbound, makeTx, silentLogger, type FakeTx } from '../core/support.js';

const AOR = 'sip:alice@example.com';

function setup(store: PresenceStore = new MemoryStore(), over: { maxContacts?: number } = {}) {
  const clock = new ManualClock(0, 1_700_000_000_000);
  const location = new LocationService({
    writer: store,
    now: () => clock.wallNow(),
    timers: clock,
    logger: silentLogger,
    sweepIntervalMs: 1000,
  });
  const changes: LocationChange[] = [];
  location.onChange((c) => changes.push(c));
  const registrar = new Registrar({
    location,
    isLocalDomain: (h) => h.toLowerCase() === 'example.com',
    minExpires: 60,
    maxExpires: 3600,
    defaultExpires: 3600,
    maxContacts: over.maxContacts ?? 5,
    now: () => clock.wallNow(),
    logger: silentLogger,
    retryAfter: 5,
  });
  return { clock, location, registrar, changes, store };
}

let cseq = 0;
function register(
  contacts: string[],
  o: { expires?: number; callId?: string; cseq?: number; to?: string; uri?: string; extra?: Array<[string, string]>; protocol?: 'udp' | 'tcp' } = {},
): FakeTx {
  const headers: Array<[string, string]> = [
    ['From', `<${o.to ?? AOR}>;tag=f${++cseq}`],
    ['To', `<${o.to ?? AOR}>`],
    ['Call-ID', o.callId ?? 'reg-call-1'],
    ['CSeq', `${o.cseq ?? cseq} REGISTER`],
  ];
  for (const c of contacts) headers.push(['Contact', c]);
  if (o.expires !== undefined) headers.push(['Expires', String(o.expires)]);
  headers.push(...(o.extra ?? []));
  return makeTx('REGISTER', o.uri ?? 'sip:example.com', headers, undefined, inbound({ protocol: o.protocol ?? 'udp', flowId: o.protocol === 'tcp' ? 'tcp-1' : undefined }));
}

function contactsOf(tx: FakeTx): string[] {
  return tx.final.headers.getAll('Contact');
}

describe('Registrar (RFC 3261 §10.3)', () => {
  test('a binding is created with the granted expiry; the 200 lists it with expires and carries Date', async () => {
    const { registrar, location, changes } = setup();
    const tx = register(['<sip:alice@192.0.2.7:5060>'], { expires: 600 });
    await registrar.handle(tx);
    assert.equal(tx.final.status, 200);
    assert.deepEqual(contactsOf(tx), ['<sip:alice@192.0.2.7:5060>;expires=600']);
    assert.match(tx.final.headers.get('Date') ?? '', /GMT$/);
    assert.match(tx.final.headers.get('Supported') ?? '', /path/);
    const [b] = location.lookup(AOR);
    assert.equal(b?.uri, 'sip:alice@192.0.2.7:5060');
    assert.equal(b?.flow.address, '192.0.2.10');
    assert.equal(changes.at(-1)?.changes[0]?.event, 'registered');
  });

  test('contact expires beats the Expires header; no expiry at all means the default; too long is lowered', async () => {
    const { registrar } = setup();
    const tx = register(['<sip:a@192.0.2.1>;expires=120', '<sip:a@192.0.2.2>', '<sip:a@192.0.2.3>;expires=99999'], { expires: 300 });
    await registrar.handle(tx);
    assert.deepEqual(contactsOf(tx).sort(), ['<sip:a@192.0.2.1>;expires=120', '<sip:a@192.0.2.2>;expires=300', '<sip:a@192.0.2.3>;expires=3600']);
    const { registrar: r2 } = setup();
    const tx2 = register(['<sip:a@192.0.2.1>']);
    await r2.handle(tx2);
    assert.deepEqual(contactsOf(tx2), ['<sip:a@192.0.2.1>;expires=3600']);
  });

  test('423 with Min-Expires when a contact asks for less than the minimum (and nothing changes)', async () => {
    const { registrar, location } = setup();
    const tx = register(['<sip:a@192.0.2.1>;expires=30', '<sip:a@192.0.2.2>']);
    await registrar.handle(tx);
    assert.equal(tx.final.status, 423);
    assert.equal(tx.final.headers.get('Min-Expires'), '60');
    assert.deepEqual(location.lookup(AOR), []);
  });

  test('a query (no Contact) returns the bindings without changing them', async () => {
    const { registrar, changes } = setup();
    await registrar.handle(register(['<sip:a@192.0.2.1>'], { expires: 600 }));
    const n = changes.length;
    const q = register([]);
    await registrar.handle(q);
    assert.equal(q.final.status, 200);
    assert.deepEqual(contactsOf(q), ['<sip:a@192.0.2.1>;expires=600']);
    assert.equal(changes.length, n);
  });

  test('Expires 0 removes one binding; Contact: * with Expires 0 removes all', async () => {
    const { registrar, location, changes } = setup();
    await registrar.handle(register(['<sip:a@192.0.2.1>', '<sip:a@192.0.2.2>', '<sip:a@192.0.2.3>'], { expires: 600 }));
    const one = register(['<sip:a@192.0.2.1>'], { expires: 0 });
    await registrar.handle(one);
    assert.equal(one.final.status, 200);
    assert.equal(contactsOf(one).length, 2);
    assert.equal(changes.at(-1)?.changes[0]?.event, 'unregistered');
    const all = register(['*'], { expires: 0 });
    await registrar.handle(all);
    assert.equal(all.final.status, 200);
    assert.deepEqual(contactsOf(all), []);
    assert.deepEqual(location.lookup(AOR), []);
  });

  test('Contact: * without Expires 0, or with other contacts, is a 400', async () => {
    const { registrar } = setup();
    for (const tx of [register(['*'], { expires: 60 }), register(['*']), register(['*', '<sip:a@192.0.2.1>'], { expires: 0 })]) {
      await registrar.handle(tx);
      assert.equal(tx.final.status, 400);
    }
  });

  test('same Call-ID with a CSeq not higher aborts the whole request (step 7); a new Call-ID is fine', async () => {
    const { registrar, location } = setup();
    await registrar.handle(register(['<sip:a@192.0.2.1>'], { expires: 600, callId: 'c1', cseq: 10 }));
    const old = register(['<sip:a@192.0.2.1>', '<sip:a@192.0.2.2>'], { expires: 0, callId: 'c1', cseq: 10 });
    await registrar.handle(old);
    assert.equal(old.final.status, 400);
    assert.equal(location.lookup(AOR).length, 1, 'nothing applied');
    const lower = register(['*'], { expires: 0, callId: 'c1', cseq: 9 });
    await registrar.handle(lower);
    assert.equal(lower.final.status, 400);
    const other = register(['<sip:a@192.0.2.1>'], { expires: 0, callId: 'c2', cseq: 1 });
    await registrar.handle(other);
    assert.equal(other.final.status, 200);
    assert.deepEqual(location.lookup(AOR), []);
  });

  test('refresh keeps registeredAt and reports refreshed or shortened', async () => {
    const { registrar, location, changes, clock } = setup();
    await registrar.handle(register(['<sip:a@192.0.2.1>'], { expires: 600, callId: 'c1', cseq: 1 }));
    const first = location.lookup(AOR)[0]!;
    clock.advance(10_000);
    await registrar.handle(register(['<sip:a@192.0.2.1>'], { expires: 600, callId: 'c1', cseq: 2 }));
    assert.equal(changes.at(-1)?.changes[0]?.event, 'refreshed');
    assert.equal(location.lookup(AOR)[0]!.registeredAt, first.registeredAt);
    await registrar.handle(register(['<sip:a@192.0.2.1>'], { expires: 120, callId: 'c1', cseq: 3 }));
    assert.equal(changes.at(-1)?.changes[0]?.event, 'shortened');
  });

  test('URI comparison (§19.1.4): host case and unknown parameters do not make a new binding; transport does', async () => {
    const { registrar, location } = setup();
    await registrar.handle(register(['<sip:a@Host.example.com:5060;foo=1>'], { expires: 600 }));
    await registrar.handle(register(['<sip:a@host.EXAMPLE.com:5060>'], { expires: 600 }));
    assert.equal(location.lookup(AOR).length, 1);
    await registrar.handle(register(['<sip:a@host.example.com:5060;transport=tcp>'], { expires: 600 }));
    assert.equal(location.lookup(AOR).length, 2);
  });

  test('+sip.instance and reg-id (RFC 5626): the same instance and reg-id replace the binding whatever the URI; Require: outbound', async () => {
    const { registrar, location } = setup();
    const inst = '"<urn:uuid:00000000-0000-1000-8000-000A95A0E128>"';
    const sup: Array<[string, string]> = [['Supported', 'outbound, path']];
    const a = register([`<sip:a@192.0.2.1:5060;ob>;+sip.instance=${inst};reg-id=1`], { expires: 600, extra: sup });
    await registrar.handle(a);
    assert.equal(a.final.headers.get('Require'), 'outbound');
    await registrar.handle(register([`<sip:a@192.0.2.99:6000;ob>;+sip.instance=${inst};reg-id=1`], { expires: 600, extra: sup }));
    const list = location.lookup(AOR);
    assert.equal(list.length, 1);
    assert.equal(list[0]!.uri, 'sip:a@192.0.2.99:6000;ob');
    assert.equal(list[0]!.regId, 1);
    assert.equal(list[0]!.instance, '<urn:uuid:00000000-0000-1000-8000-000A95A0E128>');
    await registrar.handle(register([`<sip:a@192.0.2.99:6001;ob>;+sip.instance=${inst};reg-id=2`], { expires: 600, extra: sup }));
    assert.equal(location.lookup(AOR).length, 2, 'a second flow of the same instance');
    const c = register([], {});
    await registrar.handle(c);
    assert.ok(contactsOf(c).every((x) => x.includes('+sip.instance')), 'the 200 echoes the contact parameters');
  });

  test('reg-id without Supported: outbound is ignored (the instance alone keys the binding), and no Require', async () => {
    const { registrar, location } = setup();
    const inst = '"<urn:uuid:11111111-0000-1000-8000-000A95A0E128>"';
    const a = register([`<sip:a@192.0.2.1>;+sip.instance=${inst};reg-id=1`], { expires: 600 });
    await registrar.handle(a);
    assert.equal(a.final.headers.get('Require'), undefined);
    assert.equal(location.lookup(AOR)[0]!.regId, undefined);
  });

  test('Path is stored and returned only to a UA that supports it (RFC 3327)', async () => {
    const { registrar, location } = setup();
    const path: Array<[string, string]> = [['Path', '<sip:edge.example.com;lr>']];
    const without = register(['<sip:a@192.0.2.1>'], { expires: 600, extra: path });
    await registrar.handle(without);
    assert.equal(without.final.headers.get('Path'), undefined);
    assert.deepEqual(location.lookup(AOR)[0]!.path, ['<sip:edge.example.com;lr>']);
    const withSupport = register(['<sip:a@192.0.2.2>'], { expires: 600, extra: [...path, ['Supported', 'path']] });
    await registrar.handle(withSupport);
    assert.equal(withSupport.final.headers.get('Path'), '<sip:edge.example.com;lr>');
  });

  test('404 for a domain we do not serve; 404 for an AOR without user part; 400 for bad Contact/Expires', async () => {
    const { registrar } = setup();
    const cases: Array<[FakeTx, number]> = [
      [register(['<sip:a@192.0.2.1>'], { uri: 'sip:other.net', to: 'sip:alice@other.net' }), 404],
      [register(['<sip:a@192.0.2.1>'], { to: 'sip:example.com' }), 404],
      [register(['<sip:a@192.0.2.1>;q=7']), 400],
      [register(['<sip:a@192.0.2.1>;expires=soon']), 400],
      [register(['<tel:+15551234>']), 400],
      [register(['<sip:a@192.0.2.1>'], { extra: [['Expires', 'never']] }), 400],
    ];
    for (const [tx, status] of cases) {
      await registrar.handle(tx);
      assert.equal(tx.final.status, status);
    }
  });

  test('more bindings than maxContacts: 403 and nothing applied', async () => {
    const { registrar, location } = setup(new MemoryStore(), { maxContacts: 2 });
    await registrar.handle(register(['<sip:a@192.0.2.1>', '<sip:a@192.0.2.2>'], { expires: 600 }));
    const tx = register(['<sip:a@192.0.2.3>'], { expires: 600 });
    await registrar.handle(tx);
    assert.equal(tx.final.status, 403);
    assert.equal(location.lookup(AOR).length, 2);
  });

  test('a store failure answers 500 with Retry-After and leaves the bindings as they were', async () => {
    const store = new FlakyStore();
    const { registrar, location } = setup(store);
    store.failWrites = 1;
    const tx = register(['<sip:a@192.0.2.1>'], { expires: 600 });
    await registrar.handle(tx);
    assert.equal(tx.final.status, 500);
    assert.equal(tx.final.headers.get('Retry-After'), '5');
    assert.deepEqual(location.lookup(AOR), []);
  });

  test('concurrent REGISTERs for one AOR are decided in order (the second sees the first)', async () => {
    const { registrar, location } = setup();
    const a = register(['<sip:a@192.0.2.1>'], { expires: 600, callId: 'c9', cseq: 1 });
    const b = register(['<sip:a@192.0.2.1>'], { expires: 0, callId: 'c9', cseq: 2 });
    await Promise.all([registrar.handle(a), registrar.handle(b)]);
    assert.equal(a.final.status, 200);
    assert.equal(b.final.status, 200);
    assert.deepEqual(location.lookup(AOR), []);
  });
});

describe('LocationService', () => {
  test('expired bindings vanish from lookup at once and are swept with an expired event', async () => {
    const { registrar, location, changes, clock } = setup();
    location.start();
    await registrar.handle(register(['<sip:a@192.0.2.1>'], { expires: 60 }));
    clock.advance(60_000);
    assert.deepEqual(location.lookup(AOR), []);
    clock.advance(1000);
    const last = changes.at(-1)!;
    assert.equal(last.changes[0]?.event, 'expired');
    assert.deepEqual(last.bindings, []);
    assert.equal(location.stats().bindings, 0);
    location.stop();
  });

  test('lookup orders by q then most recent; bindings survive a reload from the store, expired ones are dropped', async () => {
    const store = new MemoryStore();
    const { registrar, location } = setup(store);
    await registrar.handle(register(['<sip:a@192.0.2.1>;q=0.1', '<sip:a@192.0.2.2>;q=0.9', '<sip:a@192.0.2.3>;expires=60'], { expires: 600, protocol: 'tcp' }));
    assert.equal(location.lookup(AOR)[0]!.flow.flowId, 'tcp-1');
    assert.deepEqual(location.lookup(AOR).map((b) => b.uri), ['sip:a@192.0.2.3', 'sip:a@192.0.2.2', 'sip:a@192.0.2.1']);
    const later = new ManualClock(0, 1_700_000_000_000 + 120_000);
    const reloaded = new LocationService({ writer: store, now: () => later.wallNow(), timers: later, logger: silentLogger, sweepIntervalMs: 1000 });
    const r = reloaded.load((await store.load()).bindings);
    assert.deepEqual(r, { loaded: 2, expired: 1 });
    assert.deepEqual(reloaded.lookup(AOR).map((b) => b.uri), ['sip:a@192.0.2.2', 'sip:a@192.0.2.1']);
    assert.ok(reloaded.lookup(AOR).every((b) => b.flow.flowId === undefined), 'connection ids do not survive a restart');
    await new Promise((res) => setImmediate(res));
    assert.equal((await store.load()).bindings.length, 2, 'the expired row was deleted');
  });
});
