import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { expiresRules, negotiateExpires, formatSubscriptionState, remainingSeconds, approve, terminate, suspend } from '../../../src/subscription/index.js';

describe('Expires negotiation (RFC 6665 §4.2.1.1, RFC 3903 §6 step 4)', () => {
  const rules = expiresRules(3600, 60, 7200);

  test('absent Expires takes the default', () => {
    assert.deepEqual(negotiateExpires(undefined, rules), { kind: 'granted', seconds: 3600 });
  });

  test('zero is its own case (fetch, unsubscribe, removal)', () => {
    assert.deepEqual(negotiateExpires(0, rules), { kind: 'zero' });
  });

  test('a non-zero value under the minimum is too brief, naming Min-Expires', () => {
    assert.deepEqual(negotiateExpires(59, rules), { kind: 'too-brief', minExpires: 60 });
    assert.deepEqual(negotiateExpires(60, rules), { kind: 'granted', seconds: 60 });
  });

  test('the notifier may shorten, never lengthen', () => {
    assert.deepEqual(negotiateExpires(100000, rules), { kind: 'granted', seconds: 7200 });
    assert.deepEqual(negotiateExpires(300, rules), { kind: 'granted', seconds: 300 });
  });

  test('rules are made consistent: default clamped into [min, max]', () => {
    assert.deepEqual(expiresRules(3600, 60, 1800), { default: 1800, min: 60, max: 1800 });
    assert.deepEqual(expiresRules(10, 60, 1800), { default: 60, min: 60, max: 1800 });
    assert.deepEqual(expiresRules(10, 600, 300), { default: 300, min: 300, max: 300 });
  });
});

describe('Subscription state (RFC 6665 §4.1.3, §8.2.3)', () => {
  test('Subscription-State carries expires for active and pending, reason for terminated', () => {
    assert.equal(formatSubscriptionState('active', 3600), 'active;expires=3600');
    assert.equal(formatSubscriptionState('pending', 10), 'pending;expires=10');
    assert.equal(formatSubscriptionState('terminated', 0, 'timeout'), 'terminated;reason=timeout');
    assert.equal(formatSubscriptionState('terminated', 0, 'probation', 30), 'terminated;reason=probation;retry-after=30');
  });

  test('remaining seconds are whole and never negative', () => {
    assert.equal(remainingSeconds(10_999, 0), 10);
    assert.equal(remainingSeconds(5, 10), 0);
  });

  test('pending -> active -> terminated; terminated is final and keeps its first reason', () => {
    const s = { status: 'pending' as 'pending' | 'active' | 'terminated', reason: undefined as string | undefined };
    assert.equal(approve(s), true);
    assert.equal(s.status, 'active');
    assert.equal(suspend(s), true);
    assert.equal(s.status, 'pending');
    assert.equal(terminate(s, 'rejected'), true);
    assert.equal(terminate(s, 'timeout'), false);
    assert.equal(s.reason, 'rejected');
    assert.equal(approve(s), false);
    assert.equal(s.status, 'terminated');
  });
});
