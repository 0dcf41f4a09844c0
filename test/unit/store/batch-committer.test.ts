/**
 * BatchCommitter in isolation: the order in which a group's mutations reach the statements. A recording fake
 * stands in for the prepared statements; BEGIN/COMMIT run on a real in-memory SQLite connection.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import type { StoreMutation } from '../../../src/store/index.js';
import { BatchCommitter } from '../../../src/store/sqlite/batch-committer.js';
import type { Statements } from '../../../src/store/sqlite/statements.js';
import { publication, subscription } from '../../contract/store.contract.js';

function recorder(): { stmts: Statements; log: string[] } {
  const log: string[] = [];
  const fake = {
    apply(m: StoreMutation): void {
      if (m.kind === 'put-publication' && m.record.body === 'explode') throw new Error('refused');
      log.push(m.kind === 'put-subscription' ? `put ${m.record.id}` : m.kind === 'delete-subscription' ? `delete ${m.id}` : m.kind);
    },
    setNotifyCseq(id: string, seq: number): void {
      log.push(`cseq ${id}=${seq}`);
    },
  };
  return { stmts: fake as unknown as Statements, log };
}

const cseq = (id: string, localSeq: number): StoreMutation => ({ kind: 'set-notify-cseq', id, localSeq });

test('set-notify-cseq is coalesced: one update per subscription per group, with the highest CSeq', () => {
  const db = new Database(':memory:');
  const { stmts, log } = recorder();
  const committer = new BatchCommitter(db, stmts);
  const calls: StoreMutation[][] = [];
  for (let seq = 1; seq <= 100; seq++) calls.push([cseq('a', seq)]);
  for (let seq = 60; seq >= 11; seq--) calls.push([cseq('b', seq)]);
  assert.equal(committer.commit(calls), undefined);
  assert.deepEqual(log.sort(), ['cseq a=100', 'cseq b=60']);
  assert.equal(committer.commits, 1);
  assert.equal(committer.mutations, 150, 'counted as written, before coalescing');
  db.close();
});

test('a put or delete of the subscription drops the CSeqs queued before it; later ones still apply', () => {
  const db = new Database(':memory:');
  const { stmts, log } = recorder();
  const committer = new BatchCommitter(db, stmts);
  committer.commit([
    [cseq('a', 40)],
    [{ kind: 'put-subscription', record: subscription('a') }],
    [cseq('a', 41), cseq('b', 9)],
    [{ kind: 'delete-subscription', id: 'b' }],
  ]);
  // cseq a=40 is superseded by the put (which states its own CSeq); b=9 by the delete; a=41 comes after the put.
  assert.deepEqual(log, ['put a', 'delete b', 'cseq a=41']);
  db.close();
});

test('after a failed group, the retry applies each call in order without coalescing and isolates the failure', () => {
  const db = new Database(':memory:');
  const { stmts, log } = recorder();
  const committer = new BatchCommitter(db, stmts);
  const outcome = committer.commit([
    [cseq('a', 1)],
    [{ kind: 'put-publication', record: publication({ body: 'explode' }) }],
    [cseq('a', 2)],
  ]);
  assert.ok(outcome !== undefined);
  assert.deepEqual(outcome.map((e) => e?.code), [undefined, 'STORE_ERR_COMMIT_FAILED', undefined]);
  // First attempt: nothing logged before the explosion except coalescing (deferred); the retry logs each call.
  assert.deepEqual(log, ['set-notify-cseq', 'set-notify-cseq']);
  assert.equal(committer.failedCalls, 1);
  assert.equal(committer.commits, 1);
  assert.equal(db.inTransaction, false);
  db.close();
});
