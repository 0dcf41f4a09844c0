import { test } from 'node:test';
import assert from 'node:assert/strict';
import { newBranch, newTag, newToken } from '../../../src/transaction/ids.js';

const TOKEN = /^[A-Za-z0-9_-]+$/;

test('newBranch carries the RFC 3261 magic cookie and 96 random bits', () => {
  const b = newBranch();
  assert.match(b, /^z9hG4bK[A-Za-z0-9_-]{16}$/);
});

test('tokens are URL-safe, sized by byte count, and unique across pool refills', () => {
  assert.match(newTag(), /^[A-Za-z0-9_-]{12}$/);
  assert.equal(newToken(3).length, 4);
  const seen = new Set<string>();
  for (let i = 0; i < 5000; i++) {
    const t = newToken();
    assert.match(t, TOKEN);
    seen.add(t);
  }
  assert.equal(seen.size, 5000);
  assert.throws(() => newToken(0), RangeError);
  assert.throws(() => newToken(1.5), RangeError);
});
