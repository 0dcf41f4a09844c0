/**
 * The account part of the PresenceStore contract (users and registrar bindings, account-records.ts), run against
 * every adapter next to storeContractTests.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { StoreError, type BindingRecord, type UserRecord } from '../../src/store/index.js';
import { publication, type ContractOptions, type StoreHarness } from './store.contract.js';

export function user(overrides: Partial<UserRecord> = {}): UserRecord {
  return {
    aor: 'sip:alice@example.com',
    username: 'alice',
    realm: 'example.com',
    ha1Md5: '0123456789abcdef0123456789abcdef',
    ha1Sha256: '0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef',
    createdAt: 1_700_000_000_000,
    updatedAt: 1_700_000_000_000,
    ...overrides,
  };
}

export function binding(overrides: Partial<BindingRecord> = {}): BindingRecord {
  return {
    aor: 'sip:alice@example.com',
    key: 'uri:sip:alice@192.0.2.7:5060',
    uri: 'sip:alice@192.0.2.7:5060',
    contact: '"Alice" <sip:alice@192.0.2.7:5060>;+sip.instance="<urn:uuid:00000000-0000-1000-8000-000A95A0E128>";reg-id=1',
    q: 0.5,
    instance: '<urn:uuid:00000000-0000-1000-8000-000A95A0E128>',
    regId: 1,
    expiresAt: 1_700_003_600_000,
    registeredAt: 1_700_000_000_000,
    updatedAt: 1_700_000_000_000,
    callId: 'reg-1@192.0.2.7',
    cseq: 7,
    path: ['<sip:edge.example.com;lr>', '<sip:10.0.0.1;lr;ob>'],
    userAgent: 'baresip',
    flow: { protocol: 'tcp', address: '192.0.2.7', port: 40000, flowId: 'tcp-7', localAddress: '192.0.2.1', localPort: 5060 },
    ...overrides,
  };
}

const byKey = (a: BindingRecord, b: BindingRecord): number => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);

export function accountContractTests(name: string, factory: () => Promise<StoreHarness>, options: ContractOptions = { durable: true }): void {
  async function withStore(fn: (h: StoreHarness) => Promise<void>): Promise<void> {
    const h = await factory();
    try {
      await fn(h);
    } finally {
      await h.cleanup();
    }
  }

  describe(`PresenceStore contract, accounts: ${name}`, () => {
    test('put-user stores every field; a second put-user of the same AOR replaces it', () =>
      withStore(async ({ store }) => {
        const a = user();
        const b = user({ aor: 'sip:bob@example.com', username: 'bob' });
        await store.write([{ kind: 'put-user', record: a }, { kind: 'put-user', record: b }]);
        const newer = user({ ha1Md5: 'f'.repeat(32), updatedAt: 1_700_000_500_000 });
        await store.write([{ kind: 'put-user', record: newer }]);
        const users = (await store.load()).users.sort((x, y) => (x.aor < y.aor ? -1 : 1));
        assert.deepEqual(users, [newer, b]);
      }));

    test('delete-user removes only that user; deleting an unknown one is a no-op', () =>
      withStore(async ({ store }) => {
        await store.write([{ kind: 'put-user', record: user() }, { kind: 'put-user', record: user({ aor: 'sip:bob@example.com', username: 'bob' }) }]);
        await store.write([{ kind: 'delete-user', aor: 'sip:alice@example.com' }, { kind: 'delete-user', aor: 'sip:nobody@example.com' }]);
        assert.deepEqual((await store.load()).users.map((u) => u.aor), ['sip:bob@example.com']);
      }));

    test('put-binding stores every field (optional ones absent too) and replaces by (aor, key)', () =>
      withStore(async ({ store }) => {
        const full = binding();
        const bare = binding({
          key: 'uri:sip:alice@198.51.100.1',
          uri: 'sip:alice@198.51.100.1',
          contact: '<sip:alice@198.51.100.1>',
          q: undefined,
          instance: undefined,
          regId: undefined,
          path: [],
          userAgent: undefined,
          flow: { protocol: 'udp', address: '198.51.100.1', port: 5060, flowId: undefined, localAddress: '0.0.0.0', localPort: 5060 },
        });
        await store.write([{ kind: 'put-binding', record: full }, { kind: 'put-binding', record: bare }]);
        assert.deepEqual((await store.load()).bindings.sort(byKey), [bare, full].sort(byKey));
        const refreshed = binding({ expiresAt: 1_700_007_200_000, cseq: 8, q: 1 });
        await store.write([{ kind: 'put-binding', record: refreshed }]);
        assert.deepEqual((await store.load()).bindings.sort(byKey), [bare, refreshed].sort(byKey));
      }));

    test('the same binding key under two AORs is two bindings; delete-binding removes one', () =>
      withStore(async ({ store }) => {
        const a = binding();
        const b = binding({ aor: 'sip:bob@example.com' });
        await store.write([{ kind: 'put-binding', record: a }, { kind: 'put-binding', record: b }]);
        await store.write([{ kind: 'delete-binding', aor: a.aor, key: a.key }]);
        assert.deepEqual((await store.load()).bindings, [b]);
      }));

    test('account and presence mutations commit together in one write', () =>
      withStore(async ({ store }) => {
        await store.write([{ kind: 'put-user', record: user() }, { kind: 'put-binding', record: binding() }, { kind: 'put-publication', record: publication() }]);
        const s = await store.load();
        assert.equal(s.users.length, 1);
        assert.equal(s.bindings.length, 1);
        assert.equal(s.publications.length, 1);
      }));

    test('malformed account mutations are refused with STORE_ERR_INVALID_MUTATION and nothing of the write applies', () =>
      withStore(async ({ store }) => {
        const bad: unknown[] = [
          { kind: 'put-user', record: user({ ha1Md5: 'not hex' }) },
          { kind: 'put-user', record: user({ ha1Sha256: 'A'.repeat(64) }) },
          { kind: 'put-binding', record: binding({ q: 2 }) },
          { kind: 'put-binding', record: binding({ path: 'x' as unknown as string[] }) },
          { kind: 'delete-binding', aor: 'sip:a@b' },
          { kind: 'delete-user' },
        ];
        for (const m of bad) {
          await assert.rejects(store.write([{ kind: 'put-user', record: user() }, m as never]), (err: unknown) => {
            assert.ok(err instanceof StoreError);
            assert.equal(err.code, 'STORE_ERR_INVALID_MUTATION');
            return true;
          });
        }
        assert.deepEqual((await store.load()).users, []);
      }));

    if (options.durable) {
      test('users and bindings survive close and reopen', async () => {
        const h = await factory();
        try {
          await h.store.write([{ kind: 'put-user', record: user() }, { kind: 'put-binding', record: binding() }]);
          await h.store.close();
          const again = await h.reopen();
          const s = await again.load();
          assert.deepEqual(s.users, [user()]);
          assert.deepEqual(s.bindings, [binding()]);
        } finally {
          await h.cleanup();
        }
      });
    }
  });
}
