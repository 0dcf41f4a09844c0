import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { parseNameAddr, parseUri, SipParseError, type NameAddr } from '../../../src/sip/index.js';
import {
  buildInDialogRequest,
  createUasDialog,
  destinationOfUri,
  dialogKey,
  firstRouteUri,
  nameAddrWithoutTag,
  type DialogState,
} from '../../../src/dialog/index.js';

function dialog(routes: string[] = []): DialogState {
  return createUasDialog({
    callId: 'call-1@host',
    localTag: 'ours',
    remoteTag: 'theirs',
    localUri: '<sip:alice@example.com>',
    remoteUri: '"Bob" <sip:bob@example.com>',
    remoteTarget: 'sip:bob@192.0.2.10:5070;transport=udp',
    recordRoute: routes,
    remoteSeq: 7,
    secure: false,
  });
}

function na(text: string): NameAddr {
  const r = parseNameAddr(text);
  assert.ok(!(r instanceof SipParseError));
  return r;
}

describe('RFC 3261 §12.1.1: UAS dialog state', () => {
  test('route set = Record-Route in order, remote target = Contact, remote CSeq = request CSeq, local CSeq empty', () => {
    const d = dialog(['<sip:p1.example.com;lr>', '<sip:p2.example.com;lr>']);
    assert.deepEqual(d.routeSet, ['<sip:p1.example.com;lr>', '<sip:p2.example.com;lr>']);
    assert.equal(d.remoteSeq, 7);
    assert.equal(d.localSeq, 0);
    assert.equal(d.remoteTarget, 'sip:bob@192.0.2.10:5070;transport=udp');
  });

  test('dialog keys cannot collide by shifting characters between fields', () => {
    assert.notEqual(dialogKey('a', 'bc', 'd'), dialogKey('ab', 'c', 'd'));
  });
});

describe('RFC 3261 §12.2.1.1: requests within a dialog', () => {
  test('Request-URI = remote target; From = local URI + local tag; To = remote URI + remote tag; Call-ID kept', () => {
    const d = dialog();
    const req = buildInDialogRequest(d, { method: 'NOTIFY', contact: 'sip:presence@192.0.2.1' });
    assert.equal(req.method, 'NOTIFY');
    assert.equal(req.uri, 'sip:bob@192.0.2.10:5070;transport=udp');
    assert.equal(req.headers.get('From'), '<sip:alice@example.com>;tag=ours');
    assert.equal(req.headers.get('To'), '"Bob" <sip:bob@example.com>;tag=theirs');
    assert.equal(req.headers.get('Call-ID'), 'call-1@host');
    assert.equal(req.headers.get('Max-Forwards'), '70');
    assert.equal(req.headers.get('Contact'), '<sip:presence@192.0.2.1>');
    assert.equal(req.headers.has('Route'), false);
  });

  test('the local CSeq grows by exactly one per request', () => {
    const d = dialog();
    const a = buildInDialogRequest(d, { method: 'NOTIFY', contact: 'sip:x' });
    const b = buildInDialogRequest(d, { method: 'NOTIFY', contact: 'sip:x' });
    assert.equal(a.headers.get('CSeq'), '1 NOTIFY');
    assert.equal(b.headers.get('CSeq'), '2 NOTIFY');
    assert.equal(d.localSeq, 2);
  });

  test('loose routing: Route = the route set in order, Request-URI = remote target', () => {
    const d = dialog(['<sip:p1.example.com;lr>', '<sip:p2.example.com;lr>']);
    const req = buildInDialogRequest(d, { method: 'NOTIFY', contact: 'sip:x' });
    assert.deepEqual(req.headers.getAll('Route'), ['<sip:p1.example.com;lr>', '<sip:p2.example.com;lr>']);
    assert.equal(req.uri, d.remoteTarget);
  });

  test('strict routing (first route without lr): Request-URI = first route, Route = rest + remote target', () => {
    const d = dialog(['<sip:p1.example.com>', '<sip:p2.example.com;lr>']);
    const req = buildInDialogRequest(d, { method: 'NOTIFY', contact: 'sip:x' });
    assert.equal(req.uri, 'sip:p1.example.com');
    assert.deepEqual(req.headers.getAll('Route'), ['<sip:p2.example.com;lr>', `<${d.remoteTarget}>`]);
  });

  test('a body comes with its Content-Type; extra headers are appended in order', () => {
    const d = dialog();
    const req = buildInDialogRequest(d, {
      method: 'NOTIFY',
      contact: 'sip:x',
      headers: [['Event', 'presence'], ['Subscription-State', 'active;expires=60']],
      body: Buffer.from('<x/>'),
      contentType: 'application/pidf+xml',
    });
    assert.equal(req.headers.get('Event'), 'presence');
    assert.equal(req.headers.get('Content-Type'), 'application/pidf+xml');
    assert.equal(req.body.toString(), '<x/>');
  });
});

describe('next hop', () => {
  test('the first route names the destination: transport parameter, port, maddr, IPv6 brackets', () => {
    const d = dialog(['<sip:[2001:db8::1]:5080;lr;transport=TCP>']);
    const u = firstRouteUri(d);
    assert.ok(u !== undefined);
    assert.deepEqual(destinationOfUri(u), { protocol: 'tcp', address: '2001:db8::1', port: 5080 });
    const m = parseUri('sip:proxy.example.com;maddr=192.0.2.9;lr');
    assert.ok(!(m instanceof SipParseError));
    assert.deepEqual(destinationOfUri(m), { protocol: 'udp', address: '192.0.2.9', port: 5060 });
    assert.equal(firstRouteUri(dialog()), undefined);
  });

  test('nameAddrWithoutTag keeps display name and parameters, drops the tag, always brackets the URI', () => {
    assert.equal(nameAddrWithoutTag(na('"Bob \\"B\\"" <sip:bob@example.com>;tag=1;x=y')), '"Bob \\"B\\"" <sip:bob@example.com>;x=y');
    assert.equal(nameAddrWithoutTag(na('sip:bob@example.com;tag=9')), '<sip:bob@example.com>');
  });
});
