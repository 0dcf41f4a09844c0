import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { parseAccept, parseEvent, SipParseError, type EventHeader, type MediaType } from '../../../src/sip/index.js';
import { EventRegistry, acceptableTypes, packageAccepts, type EventPackage } from '../../../src/core/index.js';

function pkg(name: string, contentTypes: string[] = ['application/x-' + name.replace(/[^a-z]/g, '')], publishable = true): EventPackage {
  return { name, contentTypes, expires: { default: 3600 }, publishable };
}

function ev(text: string): EventHeader {
  const e = parseEvent(text);
  assert.ok(!(e instanceof SipParseError));
  return e;
}

function accept(text: string): MediaType[] {
  const a = parseAccept(text);
  assert.ok(!(a instanceof SipParseError));
  return a;
}

describe('EventRegistry: package selection by Event header', () => {
  const reg = new EventRegistry();
  const presence = pkg('presence', ['application/pidf+xml']);
  const dialog = pkg('dialog', ['application/dialog-info+xml']);
  const sla = pkg('dialog;sla', ['application/dialog-info+xml']);
  const winfo = pkg('presence.winfo', ['application/watcherinfo+xml'], false);
  reg.register(presence);
  reg.register(sla); // registered before the less specific one on purpose
  reg.register(dialog);
  reg.register(winfo);

  test('the most specific package wins: "dialog;sla" selects dialog;sla, "dialog" selects dialog', () => {
    assert.equal(reg.lookup(ev('dialog;sla')), sla);
    assert.equal(reg.lookup(ev('dialog;sla;id=7')), sla);
    assert.equal(reg.lookup(ev('dialog')), dialog);
    assert.equal(reg.lookup(ev('dialog;call-id=abc;from-tag=x')), dialog);
  });

  test('template packages are their own names (presence.winfo)', () => {
    assert.equal(reg.lookup(ev('presence.winfo')), winfo);
    assert.equal(reg.lookup(ev('presence')), presence);
  });

  test('event types compare byte for byte (RFC 6665 §8.2.1)', () => {
    assert.equal(reg.lookup(ev('Presence')), undefined);
    assert.equal(reg.lookup(ev('presence-x')), undefined);
  });

  test('Allow-Events lists each event type once, without parameters (RFC 6665 §8.2.2)', () => {
    assert.deepEqual(reg.allowEvents(), ['presence', 'dialog', 'presence.winfo']);
  });

  test('acceptedTypes is the union of all packages\' types', () => {
    assert.deepEqual(reg.acceptedTypes().sort(), ['application/dialog-info+xml', 'application/pidf+xml', 'application/watcherinfo+xml']);
  });

  test('registering a name twice, a bad name or no content type is a programming error', () => {
    assert.throws(() => reg.register(pkg('presence')));
    assert.throws(() => reg.register(pkg('bad name')));
    assert.throws(() => reg.register(pkg('x;id=1')));
    assert.throws(() => reg.register({ ...pkg('empty'), contentTypes: [] }));
  });
});

describe('Accept negotiation (RFC 3261 §20.1, RFC 3856 §6.5)', () => {
  const presence = pkg('presence', ['application/pidf+xml']);

  test('exact, type/* and */* match; q=0 excludes', () => {
    assert.deepEqual(acceptableTypes(presence, accept('application/pidf+xml')), ['application/pidf+xml']);
    assert.deepEqual(acceptableTypes(presence, accept('application/*')), ['application/pidf+xml']);
    assert.deepEqual(acceptableTypes(presence, accept('*/*')), ['application/pidf+xml']);
    assert.deepEqual(acceptableTypes(presence, accept('application/pidf+xml;q=0')), []);
    assert.deepEqual(acceptableTypes(presence, accept('text/*, application/xpidf+xml')), []);
  });

  test('packageAccepts compares lower-case types', () => {
    assert.equal(packageAccepts(pkg('x', ['Application/Foo']), 'application/foo'), true);
    assert.equal(packageAccepts(presence, 'text/plain'), false);
  });
});
