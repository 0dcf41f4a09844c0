/**
 * The PresenceStore contract, run against every adapter (undici's cacheStoreTests idea): what the core may rely
 * on, whatever the backend. An adapter test file calls storeContractTests with a factory for fresh stores.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  StoreError,
  type DocumentRecord,
  type PresenceStore,
  type PublicationRecord,
  type StoreMutation,
  type StoreSnapshot,
  type SubscriptionRecord,
  type WatcherRecord,
} from '../../src/store/index.js';

export interface StoreHarness {
  readonly store: PresenceStore;
  /** Opens a new store on the same data. The test closes the previous store first. */
  reopen(): Promise<PresenceStore>;
  /** Closes whatever is still open and removes the data. */
  cleanup(): Promise<void>;
}

export interface ContractOptions {
  /** Whether what was written survives close + reopen (false for MemoryStore). */
  readonly durable: boolean;
}

// ---- record builders -------------------------------------------------------------------------------------------

export function publication(overrides: Partial<PublicationRecord> = {}): PublicationRecord {
  return {
    presentity: 'sip:alice@example.com',
    event: 'presence',
    etag: 'etag-1',
    expiresAt: 1_700_000_360_000,
    receivedAt: 1_700_000_000_000,
    contentType: 'application/pidf+xml',
    body: '<?xml version="1.0"?><presence xmlns="urn:ietf:params:xml:ns:pidf" entity="sip:alice@example.com"/>',
    sender: 'sip:alice@example.com',
    ...overrides,
  };
}

export function subscription(id = 'sub-1', overrides: Partial<SubscriptionRecord> = {}): SubscriptionRecord {
  return {
    id,
    presentity: 'sip:alice@example.com',
    event: 'presence',
    eventId: undefined,
    watcher: 'sip:bob@example.com',
    status: 'active',
    reason: undefined,
    expiresAt: 1_700_003_600_000,
    createdAt: 1_700_000_000_000,
    version: 0,
    accept: ['application/pidf+xml', 'multipart/related'],
    dialog: {
      callId: `${id}@192.0.2.7`,
      localTag: 'ours',
      remoteTag: 'theirs',
      localUri: '<sip:alice@example.com>',
      remoteUri: '"Bob" <sip:bob@example.com>',
      remoteTarget: 'sip:bob@192.0.2.7:5060',
      routeSet: ['<sip:p1.example.com;lr>', '<sip:p2.example.com;lr>'],
      localSeq: 3,
      remoteSeq: 7,
      secure: false,
    },
    flow: { protocol: 'udp', address: '192.0.2.7', port: 5060, flowId: undefined, localAddress: '192.0.2.1', localPort: 5060 },
    ...overrides,
  };
}

export function watcher(overrides: Partial<WatcherRecord> = {}): WatcherRecord {
  return {
    presentity: 'sip:alice@example.com',
    watcher: 'sip:bob@example.com',
    event: 'presence',
    status: 'pending',
    reason: 'subscribe',
    displayName: undefined,
    insertedAt: 1_700_000_000_000,
    ...overrides,
  };
}

export function document(overrides: Partial<DocumentRecord> = {}): DocumentRecord {
  return {
    owner: 'sip:alice@example.com',
    auid: 'pres-rules',
    name: 'index',
    etag: 'doc-etag-1',
    contentType: 'application/auth-policy+xml',
    body: '<?xml version="1.0"?><ruleset xmlns="urn:ietf:params:xml:ns:common-policy"/>',
    updatedAt: 1_700_000_000_000,
    ...overrides,
  };
}

const EMPTY: StoreSnapshot = { publications: [], subscriptions: [], watchers: [], documents: [], users: [], bindings: [] };

const withCseq = (s: SubscriptionRecord, localSeq: number): SubscriptionRecord => ({ ...s, dialog: { ...s.dialog, localSeq } });

/** Load order is not part of the contract: compare sorted. */
export function canonical(s: StoreSnapshot): StoreSnapshot {
  const by = <T>(key: (r: T) => string) => (a: T, b: T) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0);
  return {
    publications: [...s.publications].sort(by((r) => `${r.presentity}\u0001${r.event}\u0001${r.etag}`)),
    subscriptions: [...s.subscriptions].sort(by((r) => r.id)),
    watchers: [...s.watchers].sort(by((r) => `${r.presentity}\u0001${r.watcher}\u0001${r.event}`)),
    documents: [...s.documents].sort(by((r) => `${r.owner}\u0001${r.auid}\u0001${r.name}`)),
    users: [...s.users].sort(by((r) => r.aor)),
    bindings: [...s.bindings].sort(by((r) => `${r.aor}\u0001${r.key}`)),
  };
}

async function rejectsWith(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof StoreError, `expected a StoreError, got ${String(err)}`);
    assert.equal(err.code, code);
    return true;
  });
}

// ---- reference model for the property test ---------------------------------------------------------------------

class Model {
  readonly pubs = new Map<string, PublicationRecord>();
  readonly subs = new Map<string, SubscriptionRecord>();
  readonly watchers = new Map<string, WatcherRecord>();
  readonly documents = new Map<string, DocumentRecord>();

  constructor(s: StoreSnapshot) {
    for (const p of s.publications) this.pubs.set(JSON.stringify([p.presentity, p.event, p.etag]), p);
    for (const r of s.subscriptions) this.subs.set(r.id, r);
    for (const w of s.watchers) this.watchers.set(JSON.stringify([w.presentity, w.watcher, w.event]), w);
    for (const d of s.documents) this.documents.set(JSON.stringify([d.owner, d.auid, d.name]), d);
  }

  apply(m: StoreMutation): void {
    switch (m.kind) {
      case 'put-publication':
        this.pubs.set(JSON.stringify([m.record.presentity, m.record.event, m.record.etag]), m.record);
        break;
      case 'replace-publication':
        this.pubs.delete(JSON.stringify([m.record.presentity, m.record.event, m.oldEtag]));
        this.pubs.set(JSON.stringify([m.record.presentity, m.record.event, m.record.etag]), m.record);
        break;
      case 'delete-publication':
        this.pubs.delete(JSON.stringify([m.presentity, m.event, m.etag]));
        break;
      case 'put-subscription':
        this.subs.set(m.record.id, m.record);
        break;
      case 'delete-subscription':
        this.subs.delete(m.id);
        break;
      case 'set-notify-cseq': {
        const s = this.subs.get(m.id);
        if (s !== undefined && m.localSeq > s.dialog.localSeq) {
          this.subs.set(m.id, { ...withCseq(s, m.localSeq), version: m.version ?? s.version });
        }
        break;
      }
      case 'put-watcher':
        this.watchers.set(JSON.stringify([m.record.presentity, m.record.watcher, m.record.event]), m.record);
        break;
      case 'delete-watcher':
        this.watchers.delete(JSON.stringify([m.presentity, m.watcher, m.event]));
        break;
      case 'put-document':
        this.documents.set(JSON.stringify([m.record.owner, m.record.auid, m.record.name]), m.record);
        break;
      case 'delete-document':
        this.documents.delete(JSON.stringify([m.owner, m.auid, m.name]));
        break;
    }
  }

  snapshot(): StoreSnapshot {
    return canonical({
      publications: [...this.pubs.values()],
      subscriptions: [...this.subs.values()],
      watchers: [...this.watchers.values()],
      documents: [...this.documents.values()],
      users: [],
      bindings: [],
    });
  }
}

const arbMutation: fc.Arbitrary<StoreMutation> = (() => {
  const presentity = fc.constantFrom('sip:a@example.com', 'sip:b@example.com');
  const etag = fc.constantFrom('e1', 'e2', 'e3');
  const id = fc.constantFrom('s1', 's2', 's3');
  const who = fc.constantFrom('sip:w1@example.com', 'sip:w2@example.com');
  const n = fc.integer({ min: 0, max: 50 });
  const pub = fc.record({ presentity, etag, expiresAt: n, body: fc.string({ maxLength: 20 }) }).map((r) => publication(r));
  return fc.oneof(
    pub.map((record): StoreMutation => ({ kind: 'put-publication', record })),
    fc.tuple(etag, pub).map(([oldEtag, record]): StoreMutation => ({ kind: 'replace-publication', oldEtag, record })),
    fc.tuple(presentity, etag).map(([p, e]): StoreMutation => ({ kind: 'delete-publication', presentity: p, event: 'presence', etag: e })),
    fc.tuple(id, n, n).map(([i, seq, version]): StoreMutation => ({ kind: 'put-subscription', record: withCseq(subscription(i, { version }), seq) })),
    id.map((i): StoreMutation => ({ kind: 'delete-subscription', id: i })),
    fc.tuple(id, n).map(([i, seq]): StoreMutation => ({ kind: 'set-notify-cseq', id: i, localSeq: seq })),
    // Versions grow with the CSeq they are sent with: the generator keeps that relation.
    fc.tuple(id, n).map(([i, seq]): StoreMutation => ({ kind: 'set-notify-cseq', id: i, localSeq: seq, version: seq * 2 })),
    fc.tuple(presentity, who, fc.constantFrom('pending', 'active', 'terminated', 'waiting') as fc.Arbitrary<WatcherRecord['status']>)
      .map(([p, w, status]): StoreMutation => ({ kind: 'put-watcher', record: watcher({ presentity: p, watcher: w, status }) })),
    fc.tuple(presentity, who).map(([p, w]): StoreMutation => ({ kind: 'delete-watcher', presentity: p, watcher: w, event: 'presence' })),
    fc.tuple(presentity, etag, fc.string({ maxLength: 20 })).map(([owner, e, body]): StoreMutation => ({ kind: 'put-document', record: document({ owner, etag: e, body }) })),
    presentity.map((owner): StoreMutation => ({ kind: 'delete-document', owner, auid: 'pres-rules', name: 'index' })),
  );
})();

// ---- the suite -------------------------------------------------------------------------------------------------

export function storeContractTests(
  name: string,
  factory: () => Promise<StoreHarness>,
  options: ContractOptions = { durable: true },
): void {
  /** Runs fn on a fresh store and always cleans up. */
  async function withStore(fn: (h: StoreHarness) => Promise<void>): Promise<void> {
    const h = await factory();
    try {
      await fn(h);
    } finally {
      await h.cleanup();
    }
  }

  describe(`PresenceStore contract: ${name}`, () => {
    test('a new store loads empty', () =>
      withStore(async ({ store }) => {
        assert.deepEqual(await store.load(), EMPTY);
      }));

    describe('publications (presentity table)', () => {
      test('put-publication stores every field, optional sender included', () =>
        withStore(async ({ store }) => {
          const a = publication();
          const b = publication({ etag: 'etag-2', sender: undefined, body: 'line 1\r\nline "2" <é ✓ 𝄞> \\ \u0000 end' });
          await store.write([{ kind: 'put-publication', record: a }, { kind: 'put-publication', record: b }]);
          assert.deepEqual(canonical(await store.load()).publications, [a, b]);
        }));

      test('put-publication of an existing (presentity, event, etag) replaces it', () =>
        withStore(async ({ store }) => {
          await store.write([{ kind: 'put-publication', record: publication() }]);
          const newer = publication({ expiresAt: 1_700_000_999_000, body: '<newer/>' });
          await store.write([{ kind: 'put-publication', record: newer }]);
          assert.deepEqual((await store.load()).publications, [newer]);
        }));

      test('publications of one presentity under different etags and events coexist', () =>
        withStore(async ({ store }) => {
          const recs = [publication(), publication({ etag: 'etag-2' }), publication({ event: 'dialog', etag: 'etag-1' })];
          await store.write(recs.map((record) => ({ kind: 'put-publication', record })));
          assert.equal((await store.load()).publications.length, 3);
        }));

      test('replace-publication removes the old entity tag and stores the new one (RFC 3903 §4.4)', () =>
        withStore(async ({ store }) => {
          await store.write([{ kind: 'put-publication', record: publication() }, { kind: 'put-publication', record: publication({ etag: 'other' }) }]);
          const refreshed = publication({ etag: 'etag-9', expiresAt: 1_700_000_720_000 });
          await store.write([{ kind: 'replace-publication', oldEtag: 'etag-1', record: refreshed }]);
          assert.deepEqual(canonical(await store.load()).publications, [refreshed, publication({ etag: 'other' })]);
        }));

      test('replace-publication with an unknown old tag stores the new one; with the same tag it updates in place', () =>
        withStore(async ({ store }) => {
          await store.write([{ kind: 'replace-publication', oldEtag: 'gone', record: publication() }]);
          assert.deepEqual((await store.load()).publications, [publication()]);
          const same = publication({ body: '<same-tag/>' });
          await store.write([{ kind: 'replace-publication', oldEtag: 'etag-1', record: same }]);
          assert.deepEqual((await store.load()).publications, [same]);
        }));

      test('delete-publication removes only the named entity tag; an unknown one is a no-op', () =>
        withStore(async ({ store }) => {
          await store.write([{ kind: 'put-publication', record: publication() }, { kind: 'put-publication', record: publication({ etag: 'keep' }) }]);
          await store.write([
            { kind: 'delete-publication', presentity: 'sip:alice@example.com', event: 'presence', etag: 'etag-1' },
            { kind: 'delete-publication', presentity: 'sip:nobody@example.com', event: 'presence', etag: 'x' },
          ]);
          assert.deepEqual((await store.load()).publications, [publication({ etag: 'keep' })]);
        }));
    });

    describe('subscriptions (active_watchers table)', () => {
      test('put-subscription stores every field: dialog, flow, route set and Accept in order, optional fields', () =>
        withStore(async ({ store }) => {
          const a = subscription('sub-a');
          const b = subscription('sub-b', {
            eventId: 'ev-7',
            reason: 'timeout',
            status: 'terminated',
            accept: [],
            dialog: { ...subscription().dialog, routeSet: [], secure: true, localSeq: 2 ** 31 - 1 },
            flow: { protocol: 'tcp', address: '2001:db8::7', port: 5061, flowId: 'tcp-42', localAddress: '2001:db8::1', localPort: 5060 },
          });
          await store.write([{ kind: 'put-subscription', record: a }, { kind: 'put-subscription', record: b }]);
          assert.deepEqual(canonical(await store.load()).subscriptions, [a, b]);
        }));

      test('put-subscription with an existing id replaces the whole record', () =>
        withStore(async ({ store }) => {
          await store.write([{ kind: 'put-subscription', record: subscription() }]);
          const refreshed = withCseq(subscription('sub-1', { expiresAt: 1_700_009_000_000, version: 4, accept: ['application/pidf+xml'] }), 9);
          await store.write([{ kind: 'put-subscription', record: refreshed }]);
          assert.deepEqual((await store.load()).subscriptions, [refreshed]);
        }));

      test('delete-subscription removes it; an unknown id is a no-op', () =>
        withStore(async ({ store }) => {
          await store.write([{ kind: 'put-subscription', record: subscription('a') }, { kind: 'put-subscription', record: subscription('b') }]);
          await store.write([{ kind: 'delete-subscription', id: 'a' }, { kind: 'delete-subscription', id: 'zzz' }]);
          assert.deepEqual((await store.load()).subscriptions, [subscription('b')]);
        }));
    });

    describe('set-notify-cseq', () => {
      test('advances dialog.localSeq and changes nothing else', () =>
        withStore(async ({ store }) => {
          await store.write([{ kind: 'put-subscription', record: subscription() }]);
          await store.write([{ kind: 'set-notify-cseq', id: 'sub-1', localSeq: 10 }]);
          assert.deepEqual((await store.load()).subscriptions, [withCseq(subscription(), 10)]);
        }));

      test('never lowers the stored CSeq (RFC 3261 §12.2.1.1: the local CSeq only grows)', () =>
        withStore(async ({ store }) => {
          await store.write([{ kind: 'put-subscription', record: subscription() }]);
          await store.write([{ kind: 'set-notify-cseq', id: 'sub-1', localSeq: 10 }]);
          await store.write([{ kind: 'set-notify-cseq', id: 'sub-1', localSeq: 4 }]);
          assert.equal((await store.load()).subscriptions[0]?.dialog.localSeq, 10);
        }));

      test('for an unknown or deleted subscription does nothing', () =>
        withStore(async ({ store }) => {
          await store.write([{ kind: 'set-notify-cseq', id: 'ghost', localSeq: 5 }]);
          await store.write([{ kind: 'put-subscription', record: subscription() }, { kind: 'delete-subscription', id: 'sub-1' }]);
          await store.write([{ kind: 'set-notify-cseq', id: 'sub-1', localSeq: 5 }]);
          assert.deepEqual((await store.load()).subscriptions, []);
        }));

      test('many in one turn, unawaited, for the same subscription keep the highest', () =>
        withStore(async ({ store }) => {
          await store.write([{ kind: 'put-subscription', record: subscription() }, { kind: 'put-subscription', record: subscription('other') }]);
          const writes: Promise<void>[] = [];
          for (let seq = 4; seq <= 200; seq++) writes.push(store.write([{ kind: 'set-notify-cseq', id: 'sub-1', localSeq: seq }]));
          writes.push(store.write([{ kind: 'set-notify-cseq', id: 'other', localSeq: 50 }]));
          await Promise.all(writes);
          const subs = canonical(await store.load()).subscriptions;
          assert.deepEqual(subs.map((s) => s.dialog.localSeq), [50, 200]);
        }));

      test('a put-subscription later in the same turn states the CSeq; a set-notify-cseq after it advances it', () =>
        withStore(async ({ store }) => {
          await store.write([{ kind: 'put-subscription', record: subscription('a') }, { kind: 'put-subscription', record: subscription('b') }]);
          await Promise.all([
            store.write([{ kind: 'set-notify-cseq', id: 'a', localSeq: 40 }]),
            store.write([{ kind: 'put-subscription', record: withCseq(subscription('a'), 5) }]),
            store.write([{ kind: 'put-subscription', record: withCseq(subscription('b'), 5) }]),
            store.write([{ kind: 'set-notify-cseq', id: 'b', localSeq: 6 }]),
          ]);
          const subs = canonical(await store.load()).subscriptions;
          assert.deepEqual(subs.map((s) => s.dialog.localSeq), [5, 6]);
        }));
    });

    describe('watchers table', () => {
      test('put-watcher stores, replaces by (presentity, watcher, event), and delete-watcher removes', () =>
        withStore(async ({ store }) => {
          const w1 = watcher();
          const w2 = watcher({ watcher: 'sip:carol@example.com', displayName: 'Carol', reason: undefined, status: 'waiting' });
          await store.write([{ kind: 'put-watcher', record: w1 }, { kind: 'put-watcher', record: w2 }]);
          assert.deepEqual(canonical(await store.load()).watchers, [w1, w2]);
          const approved = watcher({ status: 'active', reason: 'approved' });
          await store.write([{ kind: 'put-watcher', record: approved }]);
          await store.write([{ kind: 'delete-watcher', presentity: w2.presentity, watcher: w2.watcher, event: 'presence' }]);
          assert.deepEqual((await store.load()).watchers, [approved]);
        }));
    });

    describe('event parameters and body versions', () => {
      test('put-subscription keeps the Event parameters in order, values and null values alike', () =>
        withStore(async ({ store }) => {
          const filtered = subscription('sub-f', { event: 'dialog', eventParams: [['call-id', 'c1@pbx'], ['from-tag', 'x'], ['include-session-description', null]] });
          const sla = subscription('sub-s', { event: 'dialog;sla', eventParams: [['sla', null]] });
          await store.write([{ kind: 'put-subscription', record: filtered }, { kind: 'put-subscription', record: sla }]);
          assert.deepEqual(canonical(await store.load()).subscriptions, [filtered, sla]);
        }));

      test('set-notify-cseq with a version advances both; without one it keeps the version; a later put states both', () =>
        withStore(async ({ store }) => {
          await store.write([{ kind: 'put-subscription', record: subscription('sub-1', { version: 1 }) }]);
          await store.write([{ kind: 'set-notify-cseq', id: 'sub-1', localSeq: 8, version: 5 }]);
          let [r] = (await store.load()).subscriptions;
          assert.deepEqual([r?.dialog.localSeq, r?.version], [8, 5]);
          await store.write([{ kind: 'set-notify-cseq', id: 'sub-1', localSeq: 9 }]);
          [r] = (await store.load()).subscriptions;
          assert.deepEqual([r?.dialog.localSeq, r?.version], [9, 5]);
          // An older CSeq moves nothing, its version neither.
          await store.write([{ kind: 'set-notify-cseq', id: 'sub-1', localSeq: 3, version: 2 }]);
          [r] = (await store.load()).subscriptions;
          assert.deepEqual([r?.dialog.localSeq, r?.version], [9, 5]);
          await store.write([{ kind: 'put-subscription', record: withCseq(subscription('sub-1', { version: 7 }), 12) }]);
          [r] = (await store.load()).subscriptions;
          assert.deepEqual([r?.dialog.localSeq, r?.version], [12, 7]);
        }));

      test('many unawaited set-notify-cseq with versions in one turn keep the highest of each', () =>
        withStore(async ({ store }) => {
          await store.write([{ kind: 'put-subscription', record: subscription() }]);
          const writes: Promise<void>[] = [];
          for (let seq = 4; seq <= 60; seq++) writes.push(store.write([{ kind: 'set-notify-cseq', id: 'sub-1', localSeq: seq, version: seq - 4 }]));
          await Promise.all(writes);
          const [r] = (await store.load()).subscriptions;
          assert.deepEqual([r?.dialog.localSeq, r?.version], [60, 56]);
        }));
    });

    describe('documents table', () => {
      test('put-document stores every field and replaces by (owner, auid, name); delete-document removes', () =>
        withStore(async ({ store }) => {
          const a = document();
          const b = document({ owner: 'sip:bob@example.com', etag: 'b1', body: 'x'.repeat(5000) });
          const c = document({ auid: 'resource-lists', contentType: 'application/resource-lists+xml' });
          await store.write([{ kind: 'put-document', record: a }, { kind: 'put-document', record: b }, { kind: 'put-document', record: c }]);
          assert.deepEqual(canonical(await store.load()).documents, canonical({ ...EMPTY, documents: [a, b, c] }).documents);
          const a2 = document({ etag: 'doc-etag-2', body: '<ruleset xmlns="urn:ietf:params:xml:ns:common-policy"><rule id="r"/></ruleset>', updatedAt: 1_700_000_001_000 });
          await store.write([{ kind: 'put-document', record: a2 }]);
          await store.write([
            { kind: 'delete-document', owner: b.owner, auid: b.auid, name: b.name },
            { kind: 'delete-document', owner: 'sip:nobody@example.com', auid: 'pres-rules', name: 'index' },
          ]);
          assert.deepEqual(canonical(await store.load()).documents, canonical({ ...EMPTY, documents: [a2, c] }).documents);
        }));
    });

    describe('writes', () => {
      test('a write is atomic: one malformed mutation rejects it with STORE_ERR_INVALID_MUTATION and applies none', () =>
        withStore(async ({ store }) => {
          const bad = { kind: 'put-publication', record: { ...publication({ etag: 'bad' }), expiresAt: 'soon' } } as unknown as StoreMutation;
          await rejectsWith(store.write([{ kind: 'put-publication', record: publication() }, bad]), 'STORE_ERR_INVALID_MUTATION');
          assert.deepEqual(await store.load(), EMPTY);
        }));

      test('refuses malformed mutations of every kind', () =>
        withStore(async ({ store }) => {
          const s = subscription();
          const malformed: unknown[] = [
            null,
            { kind: 'drop-table' },
            { kind: 'put-publication' },
            { kind: 'put-publication', record: { ...publication(), body: undefined } },
            { kind: 'put-publication', record: { ...publication(), receivedAt: 1.5 } },
            { kind: 'replace-publication', record: publication() },
            { kind: 'delete-publication', presentity: 'sip:a@example.com', event: 'presence' },
            { kind: 'put-subscription', record: { ...s, status: 'maybe' } },
            { kind: 'put-subscription', record: { ...s, accept: 'application/pidf+xml' } },
            { kind: 'put-subscription', record: { ...s, dialog: { ...s.dialog, routeSet: [1] } } },
            { kind: 'put-subscription', record: { ...s, dialog: { ...s.dialog, secure: 'no' } } },
            { kind: 'put-subscription', record: { ...s, flow: { ...s.flow, protocol: 'sctp' } } },
            { kind: 'put-subscription', record: { ...s, flow: { ...s.flow, port: Number.NaN } } },
            { kind: 'delete-subscription', id: 7 },
            { kind: 'set-notify-cseq', id: 'sub-1', localSeq: Infinity },
            { kind: 'put-watcher', record: { ...watcher(), status: 'approved' } },
            { kind: 'delete-watcher', presentity: 'sip:a@example.com', watcher: 'sip:b@example.com' },
            { kind: 'put-subscription', record: { ...s, eventParams: [['call-id']] } },
            { kind: 'put-subscription', record: { ...s, eventParams: { sla: null } } },
            { kind: 'set-notify-cseq', id: 'sub-1', localSeq: 4, version: '2' },
            { kind: 'put-document', record: { ...document(), body: undefined } },
            { kind: 'put-document', record: { ...document(), updatedAt: 'now' } },
            { kind: 'delete-document', owner: 'sip:a@example.com', auid: 'pres-rules' },
          ];
          for (const m of malformed) await rejectsWith(store.write([m as StoreMutation]), 'STORE_ERR_INVALID_MUTATION');
          await rejectsWith(store.write('nope' as unknown as StoreMutation[]), 'STORE_ERR_INVALID_MUTATION');
          assert.deepEqual(await store.load(), EMPTY);
        }));

      test('mutations within one write apply in order', () =>
        withStore(async ({ store }) => {
          const key = { presentity: 'sip:alice@example.com', event: 'presence', etag: 'etag-1' };
          await store.write([{ kind: 'put-publication', record: publication() }, { kind: 'delete-publication', ...key }]);
          assert.deepEqual((await store.load()).publications, []);
          const v2 = publication({ body: '<v2/>' });
          await store.write([{ kind: 'delete-publication', ...key }, { kind: 'put-publication', record: publication() }, { kind: 'put-publication', record: v2 }]);
          assert.deepEqual((await store.load()).publications, [v2]);
          await store.write([
            { kind: 'put-subscription', record: subscription() },
            { kind: 'delete-subscription', id: 'sub-1' },
            { kind: 'put-subscription', record: subscription('sub-1', { version: 2 }) },
          ]);
          assert.deepEqual((await store.load()).subscriptions, [subscription('sub-1', { version: 2 })]);
        }));

      test('writes issued in one turn all resolve and apply in the order they were issued', () =>
        withStore(async ({ store }) => {
          const writes: Promise<void>[] = [];
          for (let i = 0; i < 500; i++) {
            writes.push(store.write([{ kind: 'put-publication', record: publication({ etag: `e${i % 50}`, expiresAt: i }) }]));
          }
          await Promise.all(writes);
          const pubs = (await store.load()).publications;
          assert.equal(pubs.length, 50);
          // The last write of each key wins: e0 was last written by i = 450, e49 by i = 499.
          for (const p of pubs) assert.equal(p.expiresAt, 450 + Number(p.etag.slice(1)));
          assert.equal(store.stats().pendingMutations, 0);
        }));

      test('a malformed write among concurrent writes fails alone', () =>
        withStore(async ({ store }) => {
          const results = await Promise.allSettled([
            store.write([{ kind: 'put-publication', record: publication({ etag: 'a' }) }]),
            store.write([{ kind: 'put-publication', record: { ...publication({ etag: 'b' }), body: 42 } } as unknown as StoreMutation]),
            store.write([{ kind: 'put-publication', record: publication({ etag: 'c' }) }]),
          ]);
          assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'rejected', 'fulfilled']);
          assert.deepEqual(canonical(await store.load()).publications.map((p) => p.etag), ['a', 'c']);
        }));

      test('load sees every write issued before it, awaited or not', () =>
        withStore(async ({ store }) => {
          const pending = store.write([{ kind: 'put-watcher', record: watcher() }]);
          const snap = await store.load();
          await pending;
          assert.deepEqual(snap.watchers, [watcher()]);
        }));

      test('stats count committed mutations and nothing stays pending after the writes resolve', () =>
        withStore(async ({ store }) => {
          const before = store.stats();
          await Promise.all([
            store.write([{ kind: 'put-publication', record: publication() }, { kind: 'put-watcher', record: watcher() }]),
            store.write([{ kind: 'put-subscription', record: subscription() }]),
          ]);
          const after = store.stats();
          assert.equal(after.mutations - before.mutations, 3);
          assert.ok(after.commits > before.commits);
          assert.equal(after.pendingMutations, 0);
          assert.ok(after.lastCommitMs >= 0);
        }));

      test('the store matches a reference model under random concurrent writes (property)', () =>
        withStore(async ({ store }) => {
          await fc.assert(
            fc.asyncProperty(fc.array(fc.array(fc.array(arbMutation, { minLength: 0, maxLength: 4 }), { minLength: 1, maxLength: 6 }), { minLength: 1, maxLength: 4 }), async (turns) => {
              const model = new Model(await store.load());
              for (const writes of turns) {
                // One turn: every write issued before any is awaited, as the core does under load.
                const settled = writes.map((w) => store.write(w));
                for (const w of writes) for (const m of w) model.apply(m);
                await Promise.all(settled);
              }
              assert.deepEqual(canonical(await store.load()), model.snapshot());
            }),
            { numRuns: 40, seed: 20240607 },
          );
        }));
    });

    describe('close', () => {
      test('close settles the writes still pending', () =>
        withStore(async ({ store }) => {
          const pending = store.write([{ kind: 'put-publication', record: publication() }]);
          await store.close();
          await pending;
        }));

      test('after close, write and load reject with STORE_ERR_CLOSED; a second close resolves', () =>
        withStore(async ({ store }) => {
          await store.close();
          await rejectsWith(store.write([{ kind: 'put-publication', record: publication() }]), 'STORE_ERR_CLOSED');
          await rejectsWith(store.load(), 'STORE_ERR_CLOSED');
          await store.close();
        }));
    });

    describe('durability across close and reopen', { skip: options.durable ? false : 'not a durable adapter' }, () => {
      test('load after reopen returns exactly what was written', () =>
        withStore(async (h) => {
          const s = h.store;
          await s.write([
            { kind: 'put-publication', record: publication() },
            { kind: 'put-publication', record: publication({ etag: 'e2', sender: undefined }) },
            { kind: 'put-subscription', record: subscription('a') },
            { kind: 'put-subscription', record: subscription('b', { eventId: 'x', flow: { ...subscription().flow, flowId: 'tcp-1' } }) },
            { kind: 'put-subscription', record: subscription('c', { event: 'dialog', eventParams: [['call-id', 'c1'], ['include-session-description', null]] }) },
            { kind: 'put-watcher', record: watcher() },
            { kind: 'put-document', record: document() },
          ]);
          await s.write([{ kind: 'set-notify-cseq', id: 'a', localSeq: 77, version: 12 }]);
          const unawaited = s.write([{ kind: 'replace-publication', oldEtag: 'e2', record: publication({ etag: 'e3' }) }]);
          const expected = canonical(await s.load());
          await unawaited;
          await s.close();
          const reopened = await h.reopen();
          assert.deepEqual(canonical(await reopened.load()), expected);
          assert.equal(expected.subscriptions[0]?.dialog.localSeq, 77);
          assert.equal(expected.subscriptions[0]?.version, 12);
          assert.deepEqual(expected.subscriptions[2]?.eventParams, [['call-id', 'c1'], ['include-session-description', null]]);
          assert.deepEqual(expected.documents, [document()]);
          assert.deepEqual(expected.publications.map((p) => p.etag), ['e3', 'etag-1']);
        }));

      test('writes pending at close are on disk after reopen', () =>
        withStore(async (h) => {
          const pending = h.store.write([{ kind: 'put-watcher', record: watcher() }]);
          await h.store.close();
          await pending;
          const reopened = await h.reopen();
          assert.deepEqual((await reopened.load()).watchers, [watcher()]);
        }));
    });
  });
}
