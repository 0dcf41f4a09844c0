/**
 * The pure parts of the proxy: route preprocessing (RFC 3261 §16.4), the per-branch copy (§16.6), loop
 * detection (§16.3 step 4), best-response selection (§16.7 steps 6-7).
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createResponseMessage, parseMessage, SipParseError, validateRequest, type RequestCore, type SipRequest, type SipUri } from '../../../src/sip/index.js';
import { authenticateHeaders, chooseBest, needsCallerAuth } from '../../../src/proxy/index.js';
import { removeConsumedCredentials } from '../../../src/proxy/caller-auth.js';
import { branchCopy, preprocessRoutes } from '../../../src/proxy/forward-request.js';
import { hasLooped, loopHash, proxyBranch } from '../../../src/proxy/loop-detection.js';

const US = '192.0.2.1';
const isUs = (u: SipUri): boolean => u.user === undefined && u.host === US && (u.port ?? 5060) === 5060;

function req(lines: string[], method = 'INVITE', uri = 'sip:bob@example.com'): SipRequest {
  const text = [
    `${method} ${uri} SIP/2.0`,
    'Via: SIP/2.0/UDP 198.51.100.7:5062;branch=z9hG4bKabc;rport',
    'From: <sip:alice@example.com>;tag=a1',
    'To: <sip:bob@example.com>',
    'Call-ID: c1',
    `CSeq: 1 ${method}`,
    ...lines,
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
  const m = parseMessage(Buffer.from(text));
  assert.ok(!(m instanceof SipParseError) && m.kind === 'request');
  return m;
}

function core(r: SipRequest): RequestCore {
  const c = validateRequest(r);
  assert.ok(!(c instanceof SipParseError));
  return c;
}

describe('route preprocessing (§16.4)', () => {
  test('our own Route values are removed, two of them after double record-routing; others stay', () => {
    const r = req([`Route: <sip:${US};lr>, <sip:${US}:5060;transport=tcp;lr>`, 'Route: <sip:edge.example.net;lr>']);
    const pre = preprocessRoutes(r, core(r).requestUri, isUs);
    assert.equal(pre.poppedOwnRoutes, 2);
    assert.deepEqual(pre.routes, ['<sip:edge.example.net;lr>']);
    assert.deepEqual(pre.headers.getAll('Route'), ['<sip:edge.example.net;lr>']);
    assert.equal(r.headers.getAll('Route').length, 3, 'the received request is untouched');
  });

  test('a Request-URI that is our Record-Route (a strict router before us): the last Route is the real target', () => {
    const r = req(['Route: <sip:bob@198.51.100.9:5070>'], 'BYE', `sip:${US};lr`);
    const pre = preprocessRoutes(r, core(r).requestUri, isUs);
    assert.equal(pre.requestUri, 'sip:bob@198.51.100.9:5070');
    assert.deepEqual(pre.routes, []);
    assert.equal(pre.headers.has('Route'), false);
  });
});

describe('the forwarded copy (§16.6)', () => {
  test('new Request-URI, Max-Forwards decremented, Record-Route on top in order, Path as preloaded Route', () => {
    const r = req(['Max-Forwards: 10', 'Record-Route: <sip:upstream.example.net;lr>']);
    const pre = preprocessRoutes(r, core(r).requestUri, isUs);
    const copy = branchCopy(pre, r, core(r), {
      requestUri: 'sip:bob@203.0.113.5:5062',
      recordRoute: ['<sip:192.0.2.1:5060;transport=tcp;lr>', '<sip:192.0.2.1:5060;lr>'],
      preloadedRoutes: ['<sip:edge.example.com;lr>'],
    });
    assert.equal(copy.uri, 'sip:bob@203.0.113.5:5062');
    assert.equal(copy.headers.get('Max-Forwards'), '9');
    assert.deepEqual(copy.headers.getAll('Record-Route'), [
      '<sip:192.0.2.1:5060;transport=tcp;lr>',
      '<sip:192.0.2.1:5060;lr>',
      '<sip:upstream.example.net;lr>',
    ]);
    assert.deepEqual(copy.headers.getAll('Route'), ['<sip:edge.example.com;lr>']);
    assert.equal(r.headers.get('Max-Forwards'), '10');
  });

  test('Max-Forwards absent: 70 is added (§16.6 step 3)', () => {
    const r = req([]);
    const copy = branchCopy(preprocessRoutes(r, core(r).requestUri, isUs), r, core(r), { requestUri: r.uri, recordRoute: [], preloadedRoutes: [] });
    assert.equal(copy.headers.get('Max-Forwards'), '70');
  });

  test('a next hop without ;lr is a strict router: it becomes the Request-URI, which moves to the end of the Route set', () => {
    const r = req(['Max-Forwards: 70']);
    const pre = preprocessRoutes(r, core(r).requestUri, isUs);
    const copy = branchCopy(pre, r, core(r), { requestUri: 'sip:bob@203.0.113.5', recordRoute: [], preloadedRoutes: ['<sip:strict.example.net>'] });
    assert.equal(copy.uri, 'sip:strict.example.net');
    assert.deepEqual(copy.headers.getAll('Route'), ['<sip:bob@203.0.113.5>']);
  });
});

describe('loop detection (§16.3 step 4)', () => {
  const ours = (host: string, port: number | undefined): boolean => host === US && (port ?? 5060) === 5060;

  test('the same request back with our Via and our hash has looped', () => {
    const first = req([]);
    const branch = proxyBranch(loopHash(first, core(first)));
    const back = req([`Via: SIP/2.0/UDP ${US}:5060;branch=${branch};rport`]);
    assert.equal(hasLooped(back, core(back), ours), true);
  });

  test('a spiral (Request-URI changed on the way) is not a loop', () => {
    const first = req([]);
    const branch = proxyBranch(loopHash(first, core(first)));
    const spiral = req([`Via: SIP/2.0/UDP ${US}:5060;branch=${branch};rport`], 'INVITE', 'sip:bob-mobile@example.com');
    assert.equal(hasLooped(spiral, core(spiral), ours), false);
  });

  test('branches of one request differ but share the hash prefix', () => {
    const r = req([]);
    const h = loopHash(r, core(r));
    const a = proxyBranch(h);
    const b = proxyBranch(h);
    assert.notEqual(a, b);
    assert.ok(a.startsWith(`z9hG4bK${h}.`) && b.startsWith(`z9hG4bK${h}.`));
  });
});

describe('best response (§16.7 steps 6-7)', () => {
  const res = (status: number, headers: Array<[string, string]> = []) =>
    ({ status, response: createResponseMessage(status, 'x', headers) }) as const;

  test('a 6xx wins over anything; otherwise the lowest class', () => {
    assert.equal(chooseBest([res(486), res(603), res(302)])?.status, 603);
    assert.equal(chooseBest([res(486), res(500), res(404)])?.status, 486);
    assert.equal(chooseBest([res(500), res(302)])?.status, 302);
  });

  test('within 4xx, 401/407/415/420/484 are preferred; received responses beat local decisions', () => {
    assert.equal(chooseBest([res(404), res(407), res(486)])?.status, 407);
    assert.equal(chooseBest([{ status: 408, response: undefined }, res(480)])?.status, 480);
    assert.equal(chooseBest([{ status: 487, response: undefined }])?.status, 487);
    assert.equal(chooseBest([]), undefined);
  });

  test('challenges of every 401/407 are gathered (§16.7 step 7)', () => {
    const h = authenticateHeaders([
      res(401, [['WWW-Authenticate', 'Digest realm="a", nonce="1"']]),
      res(407, [['Proxy-Authenticate', 'Digest realm="b", nonce="2"']]),
      res(401, [['WWW-Authenticate', 'Digest realm="c", nonce="3"']]),
      res(486),
    ]);
    assert.deepEqual(h.www, ['Digest realm="a", nonce="1"', 'Digest realm="c", nonce="3"']);
    assert.deepEqual(h.proxy, ['Digest realm="b", nonce="2"']);
  });
});

describe('caller authentication policy (§16.3 step 6, §22.3)', () => {
  const ours = (h: string): boolean => h === 'example.com';
  const withTo = (r: SipRequest, to: string): SipRequest => {
    r.headers.set('To', to);
    return r;
  };

  test('initial requests From our domain need it; in-dialog, ACK, CANCEL and other domains do not', () => {
    for (const method of ['INVITE', 'MESSAGE', 'REFER', 'BYE']) {
      const r = req([], method);
      assert.equal(needsCallerAuth(r, core(r), ours), true, method);
    }
    const inDialog = withTo(req([], 'BYE'), '<sip:bob@example.com>;tag=b1');
    assert.equal(needsCallerAuth(inDialog, core(inDialog), ours), false, 'To tag: in a dialog');
    const reInvite = withTo(req([]), '<sip:bob@example.com>;tag=b1');
    assert.equal(needsCallerAuth(reInvite, core(reInvite), ours), false, 're-INVITE');
    for (const method of ['ACK', 'CANCEL']) {
      const r = req([], method);
      assert.equal(needsCallerAuth(r, core(r), ours), false, method);
    }
    const inbound = req([]);
    inbound.headers.set('From', '<sip:dave@other.example.net>;tag=d1');
    assert.equal(needsCallerAuth(inbound, core(inbound), ours), false, 'a caller from another domain');
    const gateway = req([]);
    gateway.headers.set('From', '<tel:+15551234>;tag=g1');
    assert.equal(needsCallerAuth(gateway, core(gateway), ours), false, 'a tel: From names no domain of ours');
  });

  test('only the consumed Proxy-Authorization values are removed from the forwarded copy', () => {
    const mine = 'Digest username="alice", realm="example.com", nonce="n", uri="sip:bob@example.com", response="11"';
    const theirs = 'Digest username="alice", realm="carrier.example.net", nonce="m", uri="sip:bob@example.com", response="22"';
    const r = req([`Proxy-Authorization: ${theirs}`, `Proxy-Authorization: ${mine}`]);
    const pre = preprocessRoutes(r, core(r).requestUri, isUs);
    removeConsumedCredentials(pre.headers, [mine]);
    assert.deepEqual(pre.headers.getAll('Proxy-Authorization'), [theirs]);
    assert.equal(r.headers.getAll('Proxy-Authorization').length, 2, 'the received request is untouched');
    removeConsumedCredentials(pre.headers, [theirs]);
    assert.equal(pre.headers.has('Proxy-Authorization'), false);
  });

  test('the loop hash leaves out consumed credentials: the forwarded copy coming back is a loop', () => {
    const mine = 'Digest username="alice", realm="example.com", nonce="n", uri="sip:bob@example.com", response="11"';
    const received = req([`Proxy-Authorization: ${mine}`]);
    const hash = loopHash(received, core(received), [mine]);
    const back = req([`Via: SIP/2.0/UDP ${US}:5060;branch=${proxyBranch(hash)}`]);
    assert.equal(hasLooped(back, core(back), (h, p) => h === US && (p ?? 5060) === 5060), true);
    assert.notEqual(loopHash(received, core(received)), hash, 'without the consumed values the hash differs');
  });
});
