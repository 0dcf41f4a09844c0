import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { FailureLimiter, NonceCountTracker, NonceIssuer } from '../../../src/auth/index.js';

describe('NonceIssuer (stateless HMAC nonces, RFC 7616 §3.3)', () => {
  test('its own nonces verify, with their sequence and issue time; they are token-safe and distinct', () => {
    let now = 1_700_000_000_000;
    const issuer = new NonceIssuer({ ttlSeconds: 30, now: () => now });
    const a = issuer.issue();
    const b = issuer.issue();
    assert.notEqual(a, b);
    assert.match(a, /^[A-Za-z0-9_-]+$/);
    const ca = issuer.check(a);
    const cb = issuer.check(b);
    assert.ok(ca.ok && cb.ok);
    assert.equal(ca.issuedAt, now);
    assert.equal(cb.seq, ca.seq + 1);
    now += 30_001;
    assert.deepEqual(issuer.check(a), { ok: false, why: 'expired' });
  });

  test('a nonce of another key, a tampered one or garbage is foreign', () => {
    const now = (): number => 1_700_000_000_000;
    const ours = new NonceIssuer({ ttlSeconds: 30, now, key: Buffer.alloc(32, 1) });
    const theirs = new NonceIssuer({ ttlSeconds: 30, now, key: Buffer.alloc(32, 2) });
    const n = theirs.issue();
    assert.deepEqual(ours.check(n), { ok: false, why: 'foreign' });
    const mine = ours.issue();
    const tampered = (mine[0] === 'A' ? 'B' : 'A') + mine.slice(1);
    assert.deepEqual(ours.check(tampered), { ok: false, why: 'foreign' });
    assert.deepEqual(ours.check('dcd98b7102dd2f0e8b11d0f600bfb0c093'), { ok: false, why: 'foreign' });
    assert.deepEqual(ours.check(''), { ok: false, why: 'foreign' });
  });
});

describe('NonceCountTracker (replay protection, bounded)', () => {
  test('a count must grow: equal or lower is a replay', () => {
    const t = new NonceCountTracker(10);
    assert.equal(t.use(1, 0, 1, 0, 1000), 'fresh');
    assert.equal(t.use(1, 0, 1, 0, 1000), 'replay');
    assert.equal(t.use(1, 0, 2, 0, 1000), 'fresh');
    assert.equal(t.use(1, 0, 2, 0, 1000), 'replay');
    assert.equal(t.use(2, 0, 1, 0, 1000), 'fresh');
  });

  test('eviction never reopens a replay: nonces not newer than an evicted one are spent', () => {
    const t = new NonceCountTracker(2);
    assert.equal(t.use(1, 0, 1, 0, 1e9), 'fresh');
    assert.equal(t.use(2, 0, 1, 0, 1e9), 'fresh');
    assert.equal(t.use(3, 0, 1, 0, 1e9), 'fresh'); // evicts 1
    assert.equal(t.size, 2);
    assert.equal(t.use(1, 0, 2, 0, 1e9), 'spent');
    assert.equal(t.use(1, 0, 1, 0, 1e9), 'spent');
    assert.equal(t.use(3, 0, 1, 0, 1e9), 'replay');
    assert.equal(t.use(4, 0, 1, 0, 1e9), 'fresh');
    assert.ok(t.size <= 2);
  });

  test('memory stays bounded under many nonces', () => {
    const t = new NonceCountTracker(100);
    for (let i = 1; i <= 10_000; i++) t.use(i, i, 1, i, 1e9);
    assert.equal(t.size, 100);
    assert.equal(t.evicted, 9_900);
  });
});

describe('FailureLimiter (brute-force protection)', () => {
  const opts = { maxFailures: 3, windowMs: 60_000, blockMs: 300_000, maxSources: 4 };

  test('blocks a source at the limit within the window, for blockMs, then forgets it', () => {
    const l = new FailureLimiter(opts);
    assert.equal(l.recordFailure('192.0.2.1', 0), false);
    assert.equal(l.recordFailure('192.0.2.1', 1000), false);
    assert.equal(l.isBlocked('192.0.2.1', 1000), false);
    assert.equal(l.recordFailure('192.0.2.1', 2000), true);
    assert.equal(l.isBlocked('192.0.2.1', 2000), true);
    assert.equal(l.isBlocked('192.0.2.2', 2000), false);
    assert.deepEqual(l.blocked(2000), [{ source: '192.0.2.1', until: 302_000 }]);
    assert.equal(l.isBlocked('192.0.2.1', 302_000), false);
    assert.equal(l.recordFailure('192.0.2.1', 303_000), false, 'starts from nothing after the block');
  });

  test('failures spread over more than a window do not block', () => {
    const l = new FailureLimiter(opts);
    for (let i = 0; i < 10; i++) assert.equal(l.recordFailure('192.0.2.1', i * 31_000), false);
  });

  test('the table is bounded: the least recently touched source is forgotten', () => {
    const l = new FailureLimiter(opts);
    for (let i = 0; i < 100; i++) l.recordFailure(`198.51.100.${i}`, i);
    assert.equal(l.stats().tracked, 4);
    assert.equal(l.stats().forgotten, 96);
  });
});
