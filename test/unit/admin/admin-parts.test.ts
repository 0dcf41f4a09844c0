/** Unit tests of the admin layer's small parts: URI globs, AOR splitting, the event hub, bearer tokens. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { globMatcher, splitAor } from '../../../src/admin/uri-pattern.js';
import { EventHub, matchesFilter, type ApiEvent } from '../../../src/admin/event-hub.js';
import { bearerChecker } from '../../../src/admin/auth.js';

describe('globMatcher', () => {
  test('matches * and ? case-insensitively, exact text otherwise', () => {
    const m = globMatcher('sip:*@Example.com');
    assert.equal(m('sip:alice@example.COM'), true);
    assert.equal(m('sip:alice@example.org'), false);
    assert.equal(globMatcher('sip:?ob@*')('sip:bob@x'), true);
    assert.equal(globMatcher('sip:?ob@*')('sip:boob@x'), false);
    assert.equal(globMatcher('sip:bob@x')('SIP:BOB@X'), true);
    assert.equal(globMatcher('*')(''), true);
    assert.equal(globMatcher('a*b*c')('aXXbYYc'), true);
    assert.equal(globMatcher('a*b*c')('aXXbYY'), false);
  });

  test('a pathological pattern stays fast (no backtracking regex)', () => {
    const m = globMatcher('*a*a*a*a*a*a*a*a*a*a*a*a*b');
    const text = 'a'.repeat(5000);
    const start = performance.now();
    assert.equal(m(text), false);
    assert.ok(performance.now() - start < 500, 'linear-ish time');
  });
});

describe('splitAor', () => {
  test('user and lower-cased domain, without port or parameters', () => {
    assert.deepEqual(splitAor('sip:alice@Example.COM:5060;transport=tcp'), { user: 'alice', domain: 'example.com' });
    assert.deepEqual(splitAor('sips:bob@[2001:db8::1]:5061'), { user: 'bob', domain: '[2001:db8::1]' });
    assert.deepEqual(splitAor('tel:+15551234'), { user: '', domain: '+15551234' });
    assert.deepEqual(splitAor('sip:example.com'), { user: '', domain: 'example.com' });
  });
});

describe('EventHub', () => {
  const publish = (presentity: string) =>
    ({
      type: 'publish',
      presentity,
      event: 'presence',
      user: 'u',
      domain: 'd',
      etag: 'e',
      oldEtag: null,
      expires: 60,
      expiresAt: '2025-01-01T00:01:00.000Z',
      contentType: 'application/pidf+xml',
      body: 'x'.repeat(100),
      sender: null,
    }) as const;

  test('numbers and stamps events, isolates a throwing listener', () => {
    const errors: unknown[] = [];
    const hub = new EventHub({ now: () => Date.UTC(2025, 0, 1), onListenerError: (e) => errors.push(e) });
    const got: ApiEvent[] = [];
    hub.subscribe(() => {
      throw new Error('bad listener');
    });
    const off = hub.subscribe((e) => got.push(e));
    const a = hub.emit(publish('sip:a@x'));
    hub.emit(publish('sip:b@x'));
    off();
    hub.emit(publish('sip:c@x'));
    assert.deepEqual(got.map((e) => e.id), [1, 2]);
    assert.equal(a.time, '2025-01-01T00:00:00.000Z');
    assert.equal(errors.length, 3);
    assert.equal(hub.stats().listenerErrors, 3);
  });

  test('replays after an id; reports loss when the buffer moved on or the id is from another run', () => {
    const hub = new EventHub({ replayCount: 3 });
    for (let i = 0; i < 5; i++) hub.emit(publish(`sip:${i}@x`));
    assert.deepEqual(hub.since(3), { events: hub.since(3).events, complete: true });
    assert.deepEqual(hub.since(3).events.map((e) => e.id), [4, 5]);
    assert.equal(hub.since(1).complete, false, 'event 2 was evicted');
    assert.equal(hub.since(99).complete, false, 'an id from a previous run');
    assert.equal(hub.since(5).events.length, 0);
    assert.equal(hub.since(5).complete, true);
  });

  test('bounds the replay buffer by body bytes', () => {
    const hub = new EventHub({ replayCount: 100, replayBytes: 250 });
    for (let i = 0; i < 10; i++) hub.emit(publish(`sip:${i}@x`));
    assert.equal(hub.since(0).events.length, 2);
  });

  test('filters by type, package and presentity', () => {
    const hub = new EventHub();
    const e = hub.emit(publish('sip:a@x'));
    assert.equal(matchesFilter({ types: new Set(['publish']), events: null, presentity: null }, e), true);
    assert.equal(matchesFilter({ types: new Set(['exposed']), events: null, presentity: null }, e), false);
    assert.equal(matchesFilter({ types: null, events: new Set(['dialog']), presentity: null }, e), false);
    assert.equal(matchesFilter({ types: null, events: null, presentity: globMatcher('sip:a@*') }, e), true);
  });
});

describe('bearerChecker', () => {
  test('no tokens: no check at all', () => {
    assert.equal(bearerChecker([]), null);
  });
  test('accepts any configured token, case-insensitive scheme; rejects the rest', () => {
    const check = bearerChecker(['abc', 'longer-token-value'])!;
    assert.equal(check('Bearer abc'), 'ok');
    assert.equal(check('bearer longer-token-value'), 'ok');
    assert.equal(check(undefined), 'missing');
    assert.equal(check(''), 'missing');
    assert.equal(check('Bearer abcd'), 'invalid');
    assert.equal(check('Bearer ab'), 'invalid');
    assert.equal(check('Basic abc'), 'invalid');
    assert.equal(check('Bearer abc def'), 'invalid');
  });
});

describe('webhookTarget', () => {
  test('builds the filter from the configuration and refuses non-HTTP URLs', async () => {
    const { webhookTarget } = await import('../../../src/admin/webhooks.js');
    const t = webhookTarget({ url: 'http://127.0.0.1:9000/hook', types: ['publish'], presentity: 'sip:*@example.com', secret: 's' });
    assert.equal(t.url, 'http://127.0.0.1:9000/hook');
    assert.equal(t.secret, 's');
    const hub = new EventHub();
    const e = hub.emit({
      type: 'publish',
      presentity: 'sip:a@example.com',
      event: 'presence',
      user: 'a',
      domain: 'example.com',
      etag: 'e',
      oldEtag: null,
      expires: 1,
      expiresAt: '',
      contentType: 'x',
      body: '',
      sender: null,
    });
    assert.equal(matchesFilter(t.filter!, e), true);
    assert.equal(matchesFilter(t.filter!, { ...e, presentity: 'sip:a@example.org' }), false);
    assert.throws(() => webhookTarget({ url: 'file:///etc/passwd' }), /http or https/);
    assert.throws(() => webhookTarget({ url: 'not a url' }));
  });
});
