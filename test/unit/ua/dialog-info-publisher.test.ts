/**
 * Presence from calls (pua_dialoginfo): the dialog-info documents published for the caller (initiator) and
 * the callee (recipient) of a call, one publication per user with all its dialogs, its RFC 3903 life cycle
 * through the core facade (initial, modify with the entity-tag, refresh, removal once the last dialog ended),
 * against a recording facade and a manual clock.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import type { FacadePublishRequest, PublishResult } from '../../../src/core/index.js';
import { parseDialogInfo } from '../../../src/packages/dialog/index.js';
import type { CallSnapshot } from '../../../src/proxy/index.js';
import { ManualClock } from '../../../src/transaction/index.js';
import { dialogInfoBody, dialogInfoDocument, DialogInfoPublisher } from '../../../src/ua/index.js';
import { DIALOG_INFO_SCHEMA, validateStructure } from '../packages-xml-schemas/structure.js';

const log = pino({ level: 'silent' });

function call(over: Partial<CallSnapshot> = {}): CallSnapshot {
  return {
    callId: 'c1@10.0.0.7',
    callerTag: 'a1',
    calleeTag: undefined,
    state: 'trying',
    caller: { identity: 'sip:alice@example.com', display: 'Alice & Co', aor: 'sip:alice@example.com', target: 'sip:alice@10.0.0.7' },
    callee: { identity: 'sip:bob@example.com', display: undefined, aor: 'sip:bob@example.com', target: undefined },
    startedAt: 0,
    confirmedAt: undefined,
    endReason: undefined,
    endCode: undefined,
    ...over,
  };
}

class FakeCore {
  readonly calls: FacadePublishRequest[] = [];
  getPresentity(): undefined {
    return undefined;
  }
  #n = 0;
  /** Status to answer the next publish with (then 200 again). */
  next: number | undefined;
  async publish(req: FacadePublishRequest): Promise<PublishResult> {
    this.calls.push(req);
    const s = this.next;
    this.next = undefined;
    if (s !== undefined) return { ok: false, status: s, reason: 'x', headers: [] };
    return { ok: true, etag: `e${++this.#n}`, expires: req.expires ?? 600 };
  }
}

const settle = async (): Promise<void> => {
  for (let i = 0; i < 10; i++) await new Promise<void>((r) => setImmediate(r));
};

describe('dialog-info documents (RFC 4235) for a call', () => {
  test('caller side: initiator, local = caller, remote = callee, tags; valid against the schema', () => {
    const body = dialogInfoBody(call({ state: 'confirmed', calleeTag: 'b1', callee: { ...call().callee, target: 'sip:bob@10.0.0.9' } }), 'initiator');
    assert.deepEqual(validateStructure(body, DIALOG_INFO_SCHEMA), []);
    const p = parseDialogInfo(body);
    assert.ok(p.ok);
    const d = p.doc.dialogs[0];
    assert.equal(p.doc.entity, 'sip:alice@example.com');
    assert.equal(d.direction, 'initiator');
    assert.equal(d.state, 'confirmed');
    assert.equal(d.callId, 'c1@10.0.0.7');
    assert.equal(d.localTag, 'a1');
    assert.equal(d.remoteTag, 'b1');
    assert.deepEqual(d.local, { identity: 'sip:alice@example.com', display: 'Alice & Co', target: 'sip:alice@10.0.0.7' });
    assert.deepEqual(d.remote, { identity: 'sip:bob@example.com', display: undefined, target: 'sip:bob@10.0.0.9' });
  });

  test('callee side: recipient; a BYE from the caller is remote-bye for the callee, a rejection carries its code', () => {
    const bye = parseDialogInfo(dialogInfoBody(call({ state: 'terminated', calleeTag: 'b1', endReason: 'local-bye' }), 'recipient'));
    assert.ok(bye.ok);
    assert.equal(bye.doc.entity, 'sip:bob@example.com');
    assert.equal(bye.doc.dialogs[0].direction, 'recipient');
    assert.equal(bye.doc.dialogs[0].localTag, 'b1');
    assert.match(dialogInfoBody(call({ state: 'terminated', endReason: 'local-bye' }), 'recipient'), /<state event="remote-bye">terminated<\/state>/);
    assert.match(dialogInfoBody(call({ state: 'terminated', endReason: 'rejected', endCode: 486 }), 'initiator'), /<state event="rejected" code="486">/);
    const ids = new Set([dialogInfoBody(call(), 'initiator'), dialogInfoBody(call(), 'recipient')].map((b) => /dialog id="([^"]+)"/.exec(b)?.[1]));
    assert.equal(ids.size, 2, 'one dialog id per side (a user calling its own other device)');
  });

  test('hostile Call-ID and display names are escaped', () => {
    const body = dialogInfoBody(call({ callId: 'x"<y>&z', caller: { ...call().caller, display: '"><evil/>' } }), 'initiator');
    assert.ok(parseDialogInfo(body).ok);
    assert.deepEqual(validateStructure(body, DIALOG_INFO_SCHEMA), []);
  });
});

describe('dialog-info publications through the core facade', () => {
  const states = (c: FacadePublishRequest): string[] => [...(c.body ?? '').matchAll(/<state[^>]*>(\w+)</g)].map((m) => m[1]);

  test('one publication per user, modified with its entity-tag as the call moves on, removed once the ended dialog lingered', async () => {
    const clock = new ManualClock();
    const core = new FakeCore();
    const pub = new DialogInfoPublisher({ core, clock, logger: log, terminatedLingerMs: 2000 });
    for (const c of [call(), call({ state: 'early', calleeTag: 'b1' }), call({ state: 'confirmed', calleeTag: 'b1' }), call({ state: 'terminated', calleeTag: 'b1', endReason: 'remote-bye' })]) {
      pub.onCall(c);
      await settle();
    }
    const forAlice = core.calls.filter((c) => c.presentity === 'sip:alice@example.com');
    assert.deepEqual(
      forAlice.map((c) => [c.etag === undefined ? 'initial' : 'modify', states(c)[0]]),
      [
        ['initial', 'trying'],
        ['modify', 'early'],
        ['modify', 'confirmed'],
        ['modify', 'terminated'],
      ],
    );
    assert.ok(forAlice.every((c) => c.event === 'dialog' && c.contentType === 'application/dialog-info+xml' && c.expires === 600));
    assert.equal(core.calls.filter((c) => c.presentity === 'sip:bob@example.com').length, 4);
    assert.equal(pub.stats().users, 2);
    clock.advance(2000);
    await settle();
    const removals = core.calls.filter((c) => c.expires === 0);
    assert.deepEqual(removals.map((r) => r.presentity).sort(), ['sip:alice@example.com', 'sip:bob@example.com']);
    assert.ok(removals.every((r) => r.body === undefined && r.etag !== undefined));
    assert.equal(pub.stats().users, 0);
  });

  test('a user in two calls has both dialogs in one document; the ended one leaves it after the linger', async () => {
    const clock = new ManualClock();
    const core = new FakeCore();
    const pub = new DialogInfoPublisher({ core, clock, logger: log, terminatedLingerMs: 1000, caller: false });
    pub.onCall(call({ callId: 'x1', state: 'confirmed', calleeTag: 't1' }));
    await settle();
    pub.onCall(call({ callId: 'x2', state: 'early', calleeTag: 't2' }));
    await settle();
    assert.deepEqual(states(core.calls.at(-1)!), ['confirmed', 'early']);
    const doc = parseDialogInfo(core.calls.at(-1)!.body ?? '');
    assert.ok(doc.ok);
    assert.deepEqual(validateStructure(core.calls.at(-1)!.body ?? '', DIALOG_INFO_SCHEMA), []);
    pub.onCall(call({ callId: 'x1', state: 'terminated', calleeTag: 't1', endReason: 'local-bye' }));
    await settle();
    assert.deepEqual(states(core.calls.at(-1)!), ['terminated', 'early']);
    clock.advance(1000);
    await settle();
    assert.deepEqual(states(core.calls.at(-1)!), ['early']);
    assert.equal(core.calls.filter((c) => c.expires === 0).length, 0, 'still ringing: the publication stays');
  });

  test('the publication is refreshed before it expires while the call lasts', async () => {
    const clock = new ManualClock();
    const core = new FakeCore();
    const pub = new DialogInfoPublisher({ core, clock, logger: log, expires: 100, callee: false });
    pub.onCall(call({ state: 'confirmed', calleeTag: 'b1' }));
    await settle();
    assert.equal(core.calls.length, 1);
    clock.advance(80_000);
    await settle();
    assert.equal(core.calls.length, 2);
    assert.equal(core.calls[1].etag, 'e1');
    assert.equal(core.calls[1].body, undefined, 'a refresh carries no body (RFC 3903 §4.2)');
  });

  test('only local users get publications; a call ended before anything was shown publishes nothing', async () => {
    const clock = new ManualClock();
    const core = new FakeCore();
    const pub = new DialogInfoPublisher({ core, clock, logger: log, isLocal: (aor) => aor.endsWith('@example.com') });
    pub.onCall(call({ caller: { ...call().caller, aor: 'sip:carrier@trunk.example.net' } }));
    await settle();
    assert.deepEqual(
      core.calls.map((c) => c.presentity),
      ['sip:bob@example.com'],
    );
    pub.onCall(call({ callId: 'other', state: 'terminated', endReason: 'cancelled' }));
    await settle();
    assert.equal(core.calls.length, 1);
  });

  test('a user bounded to maxDialogsPerUser: ended dialogs are dropped first', async () => {
    const clock = new ManualClock();
    const core = new FakeCore();
    const pub = new DialogInfoPublisher({ core, clock, logger: log, caller: false, maxDialogsPerUser: 2 });
    pub.onCall(call({ callId: 'k1', state: 'confirmed', calleeTag: 'a' }));
    pub.onCall(call({ callId: 'k1', state: 'terminated', calleeTag: 'a', endReason: 'local-bye' }));
    pub.onCall(call({ callId: 'k2', state: 'confirmed', calleeTag: 'b' }));
    pub.onCall(call({ callId: 'k3', state: 'early', calleeTag: 'c' }));
    await settle();
    assert.deepEqual(states(core.calls.at(-1)!), ['confirmed', 'early']);
    assert.equal(pub.stats().dialogs, 2);
  });

  test('stop() removes the live publications', async () => {
    const clock = new ManualClock();
    const core = new FakeCore();
    const pub = new DialogInfoPublisher({ core, clock, logger: log });
    pub.onCall(call({ state: 'confirmed', calleeTag: 'b1' }));
    await settle();
    await pub.stop();
    assert.equal(core.calls.filter((c) => c.expires === 0).length, 2);
  });

  test('the idle document has no dialog', () => {
    const p = parseDialogInfo(dialogInfoDocument('sip:bob@example.com', []));
    assert.ok(p.ok);
    assert.equal(p.doc.dialogs.length, 0);
  });
});
