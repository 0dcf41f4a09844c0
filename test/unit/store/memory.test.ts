import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryStore, openStore } from '../../../src/store/index.js';
import { publication, storeContractTests, subscription } from '../../contract/store.contract.js';
import { accountContractTests } from '../../contract/accounts.contract.js';

for (const suite of [storeContractTests, accountContractTests]) {
  suite(
    'MemoryStore',
    async () => {
      const store = new MemoryStore();
      return {
        store,
        reopen: () => Promise.reject(new Error('MemoryStore is not durable')),
        cleanup: () => store.close(),
      };
    },
    { durable: false },
  );
}

describe('MemoryStore specifics', () => {
  test("openStore('memory:') returns a MemoryStore", async () => {
    const store = await openStore('memory:');
    assert.ok(store instanceof MemoryStore);
    await store.close();
  });

  test('keeps nothing across instances: it is not durable', async () => {
    const a = new MemoryStore();
    await a.write([{ kind: 'put-publication', record: publication() }]);
    await a.close();
    const b = new MemoryStore();
    assert.deepEqual((await b.load()).publications, []);
  });

  test('set-notify-cseq on a stored subscription is visible in load without touching the other fields', async () => {
    const store = new MemoryStore();
    const s = subscription();
    await store.write([{ kind: 'put-subscription', record: s }, { kind: 'set-notify-cseq', id: s.id, localSeq: 99 }]);
    const [loaded] = (await store.load()).subscriptions;
    assert.deepEqual(loaded, { ...s, dialog: { ...s.dialog, localSeq: 99 } });
    assert.equal(s.dialog.localSeq, 3, 'the written record itself is not modified');
  });
});
