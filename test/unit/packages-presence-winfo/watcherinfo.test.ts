import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  composeWatcherInfo,
  createWinfoPackage,
  parseWatcherInfo,
  watcherEventFor,
  watcherId,
  watcherInfoEntry,
  WATCHER_EVENTS,
  WATCHER_STATUSES,
  WATCHERINFO_CONTENT_TYPE,
  type WatcherInfoDocument,
  type WatcherInfoEntry,
} from '../../../src/packages/presence-winfo/index.js';
import type { AuthorizationRequest, WatcherContext } from '../../../src/core/event-package.js';
import { validateStructure, WATCHERINFO_SCHEMA } from '../packages-xml-schemas/structure.js';

const FIXTURES = new URL('../../fixtures/watcherinfo/', import.meta.url.replace('/dist/test/', '/test/'));
const fixture = (name: string): string => readFileSync(new URL(name, FIXTURES), 'utf8');

const CAROL = 'sip:carol@example.org';

function parsed(body: string): WatcherInfoDocument {
  const r = parseWatcherInfo(body);
  if (!r.ok) assert.fail(`not valid watcherinfo: ${r.reason}`);
  return r.doc;
}

function schemaValid(body: string): void {
  assert.deepEqual(validateStructure(body, WATCHERINFO_SCHEMA), [], body);
}

const DAVE: WatcherInfoEntry = { id: 'w1', uri: 'sip:dave@example.net', status: 'pending', event: 'subscribe' };
const ERIN: WatcherInfoEntry = {
  id: 'w2',
  uri: 'sip:erin@example.org',
  status: 'active',
  event: 'approved',
  displayName: 'Erin "E" <Ops>',
  durationSubscribed: 742,
  expiration: 3000,
};

describe('RFC 3858 composition', () => {
  test('a full document: version, state, watcher-list resource/package, watcher attributes', () => {
    const body = composeWatcherInfo({ version: 0, state: 'full', lists: [{ resource: CAROL, package: 'presence', watchers: [DAVE, ERIN] }] });
    schemaValid(body);
    assert.match(body, /^<\?xml version="1.0" encoding="UTF-8"\?>\n<watcherinfo xmlns="urn:ietf:params:xml:ns:watcherinfo" version="0" state="full">/);
    const doc = parsed(body);
    assert.equal(doc.state, 'full');
    assert.equal(doc.lists[0]!.resource, CAROL);
    assert.equal(doc.lists[0]!.package, 'presence');
    assert.deepEqual(doc.lists[0]!.watchers[1], ERIN, 'display names with quotes and angle brackets survive escaping');
  });

  test('a partial document carries only the watchers given', () => {
    const body = composeWatcherInfo({
      version: 4,
      state: 'partial',
      lists: [{ resource: CAROL, package: 'presence', watchers: [{ ...DAVE, status: 'terminated', event: 'rejected' }] }],
    });
    schemaValid(body);
    const doc = parsed(body);
    assert.equal(doc.version, 4);
    assert.equal(doc.state, 'partial');
    assert.equal(doc.lists[0]!.watchers.length, 1);
  });

  test('every status and every event of RFC 3857 is representable and schema-valid', () => {
    const watchers: WatcherInfoEntry[] = [];
    for (const status of WATCHER_STATUSES) {
      for (const event of WATCHER_EVENTS) watchers.push({ id: `${status}-${event}`, uri: 'sip:w@example.com', status, event });
    }
    const body = composeWatcherInfo({ version: 1, state: 'full', lists: [{ resource: CAROL, package: 'presence', watchers }] });
    schemaValid(body);
    assert.equal(parsed(body).lists[0]!.watchers.length, 32);
  });

  test('out-of-schema values are programming errors (thrown), never written', () => {
    assert.throws(() => composeWatcherInfo({ version: -1, state: 'full', lists: [] }), TypeError);
    assert.throws(
      () => composeWatcherInfo({ version: 0, state: 'full', lists: [{ resource: CAROL, package: 'presence', watchers: [{ ...DAVE, event: 'bogus' as 'subscribe' }] }] }),
      TypeError,
    );
  });
});

describe('RFC 3858 reading', () => {
  test('a Kamailio-style winfo NOTIFY body', () => {
    const doc = parsed(fixture('kamailio-winfo-notify.xml'));
    assert.equal(doc.lists[0]!.watchers[1]!.durationSubscribed, 742);
    assert.equal(doc.lists[0]!.watchers[1]!.displayName, 'Erin');
  });

  test('prefix-independent, extension elements ignored', () => {
    const doc = parsed(fixture('prefixed-partial.xml'));
    assert.equal(doc.state, 'partial');
    assert.equal(doc.lists[0]!.watchers[0]!.event, 'rejected');
  });

  test('rejects duplicate ids, bad enumerations, missing attributes, wrong namespace', () => {
    const base = fixture('kamailio-winfo-notify.xml');
    assert.equal(parseWatcherInfo(base.replace('9b2d44f0', 'a7f3c21e')).ok, false);
    assert.equal(parseWatcherInfo(base.replace('event="subscribe"', 'event="unsubscribe"')).ok, false);
    assert.equal(parseWatcherInfo(base.replace(' state="full"', '')).ok, false);
    assert.equal(parseWatcherInfo(base.replace('urn:ietf:params:xml:ns:watcherinfo', 'urn:example:other')).ok, false);
    assert.equal(parseWatcherInfo('<!DOCTYPE x [<!ENTITY a "b">]><watcherinfo/>').ok, false);
  });
});

describe('watcher ids and events', () => {
  test('ids are stable per key, differ between keys, and do not reveal the key', () => {
    const key = 'a84b4c76e66710@pc33.atlanta.com;1928301774;xyz';
    assert.equal(watcherId(key), watcherId(key));
    assert.notEqual(watcherId(key), watcherId(`${key}x`));
    assert.ok(!watcherId(key).includes('atlanta'));
    const ids = new Set(Array.from({ length: 5000 }, (_, i) => watcherId(`call-${i}@host;tag-${i}`)));
    assert.equal(ids.size, 5000);
  });

  test('RFC 3857 §3.3 events from status transitions', () => {
    assert.equal(watcherEventFor('pending'), 'subscribe');
    assert.equal(watcherEventFor('active'), 'subscribe');
    assert.equal(watcherEventFor('active', undefined, 'pending'), 'approved');
    assert.equal(watcherEventFor('waiting'), 'timeout');
    assert.equal(watcherEventFor('terminated'), 'timeout');
    assert.equal(watcherEventFor('terminated', 'rejected'), 'rejected');
    assert.equal(watcherEventFor('terminated', 'noresource'), 'noresource');
    assert.equal(watcherEventFor('terminated', 'approved'), 'timeout', 'a reason that does not fit the status is ignored');
  });

  test('entries from core facts: hashed id, duration and expiration in whole seconds', () => {
    const e = watcherInfoEntry(
      { key: 'k1', uri: 'sip:dave@example.net', status: 'active', previousStatus: 'pending', createdAt: 1_000, expiresAt: 61_500, now: 11_999 },
      watcherId,
    );
    assert.deepEqual(e, {
      id: watcherId('k1'),
      uri: 'sip:dave@example.net',
      status: 'active',
      event: 'approved',
      displayName: undefined,
      durationSubscribed: 10,
      expiration: 50,
    });
  });
});

function ctx(version: number, fullState: boolean): WatcherContext {
  return {
    subscriptionId: 'winfo-1',
    watcher: CAROL,
    presentity: CAROL,
    version,
    accept: [],
    eventParams: new Map(),
    politeBlock: false,
    fullState,
  };
}

describe('presence.winfo package', () => {
  const pkg = createWinfoPackage();
  const req = (watcher: string): AuthorizationRequest => ({ watcher, watcherDisplayName: undefined, presentity: CAROL, event: 'presence.winfo' });

  test('is the RFC 3857 template applied to presence: not publishable, watcherinfo+xml, 3600 s', () => {
    assert.equal(pkg.name, 'presence.winfo');
    assert.equal(pkg.winfoOf, 'presence');
    assert.equal(pkg.publishable, false);
    assert.deepEqual(pkg.contentTypes, [WATCHERINFO_CONTENT_TYPE]);
    assert.equal(pkg.expires.default, 3600);
  });

  test('only the presentity may subscribe to its own watcher information (others: rejected, 403)', () => {
    assert.equal(pkg.authorize!(req('sip:carol@EXAMPLE.org;transport=udp')), 'active');
    assert.equal(pkg.authorize!(req('sip:dave@example.net')), 'rejected');
  });

  test('after a SUBSCRIBE: full state with every watcher, the subscription version', () => {
    const body = pkg.watcherInfoBody({ resource: CAROL, watchers: [DAVE, ERIN], changed: [DAVE] }, ctx(0, true));
    schemaValid(body);
    const doc = parsed(body);
    assert.equal(doc.version, 0);
    assert.equal(doc.state, 'full');
    assert.equal(doc.lists[0]!.watchers.length, 2);
  });

  test('after a watcher change: partial state with only that watcher, next version', () => {
    const body = pkg.watcherInfoBody({ resource: CAROL, watchers: [DAVE, ERIN], changed: [ERIN] }, ctx(1, false));
    schemaValid(body);
    const doc = parsed(body);
    assert.equal(doc.version, 1);
    assert.equal(doc.state, 'partial');
    assert.deepEqual(doc.lists[0]!.watchers.map((w) => w.id), ['w2']);
  });

  test('a change without a change list (the unsubscribe case of the seeds) gets full state', () => {
    const doc = parsed(pkg.watcherInfoBody({ resource: CAROL, watchers: [ERIN] }, ctx(2, false)));
    assert.equal(doc.state, 'full');
    assert.equal(doc.version, 2);
  });

  test('emptyBody: a valid full document with an empty watcher-list', () => {
    const b = pkg.emptyBody!(CAROL, ctx(5, true))!;
    assert.equal(b.contentType, WATCHERINFO_CONTENT_TYPE);
    schemaValid(b.body);
    const doc = parsed(b.body);
    assert.equal(doc.version, 5);
    assert.deepEqual(doc.lists, [{ resource: CAROL, package: 'presence', watchers: [] }]);
  });

  test('the template applies to other packages too', () => {
    const d = createWinfoPackage({ watchedPackage: 'dialog' });
    assert.equal(d.name, 'dialog.winfo');
    assert.equal(parsed(d.watcherInfoBody({ resource: CAROL, watchers: [] }, ctx(0, true))).lists[0]!.package, 'dialog');
  });
});
