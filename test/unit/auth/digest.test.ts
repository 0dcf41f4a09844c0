import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  computeHa1,
  expectedResponse,
  formatChallenge,
  parseDigestCredentials,
  type DigestCredentials,
} from '../../../src/auth/index.js';

describe('digest hashing (RFC 2617 §3.5, RFC 7616 §3.9.1 examples)', () => {
  test('RFC 2617 MD5 example with qop=auth', () => {
    const ha1 = computeHa1('MD5', 'Mufasa', 'testrealm@host.com', 'Circle Of Life');
    const c = parseDigestCredentials(
      'Digest username="Mufasa", realm="testrealm@host.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", ' +
        'uri="/dir/index.html", qop=auth, nc=00000001, cnonce="0a4f113b", ' +
        'response="6629fae49393a05397450978507c4ef1", opaque="5ccc069c403ebaf9f0171e9517f40e41"',
    ) as DigestCredentials;
    assert.equal(typeof c, 'object');
    assert.equal(expectedResponse('MD5', ha1, 'GET', c), '6629fae49393a05397450978507c4ef1');
    assert.equal(c.response, '6629fae49393a05397450978507c4ef1');
    assert.equal(c.opaque, '5ccc069c403ebaf9f0171e9517f40e41');
  });

  test('RFC 7616 §3.9.1: the same credentials under SHA-256 and MD5', () => {
    const base = {
      username: 'Mufasa',
      realm: 'http-auth@example.org',
      nonce: '7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v',
      uri: '/dir/index.html',
      qop: 'auth',
      nc: '00000001',
      cnonce: 'f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ',
      algorithm: undefined,
      opaque: undefined,
      response: '',
    } satisfies DigestCredentials;
    const md5 = computeHa1('MD5', 'Mufasa', 'http-auth@example.org', 'Circle of Life');
    const sha = computeHa1('SHA-256', 'Mufasa', 'http-auth@example.org', 'Circle of Life');
    assert.equal(expectedResponse('MD5', md5, 'GET', base), '8ca523f5e9506fed4657c9700eebdbec');
    assert.equal(expectedResponse('SHA-256', sha, 'GET', base), '753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1');
  });

  test('RFC 2069 form (no qop): H(HA1:nonce:HA2)', () => {
    const ha1 = computeHa1('MD5', 'bob', 'example.com', 'pw');
    const c = parseDigestCredentials('Digest username="bob",realm="example.com",nonce="n1",uri="sip:example.com",response="x"') as DigestCredentials;
    assert.equal(c.qop, undefined);
    assert.equal(expectedResponse('MD5', ha1, 'REGISTER', c).length, 32);
  });
});

describe('parseDigestCredentials', () => {
  test('tolerates LWS, unquoted tokens, escaped quotes, any parameter order and case', () => {
    const c = parseDigestCredentials(
      'digest   Realm = "example.com" ,USERNAME="a\\"b",\r\n nonce="abc", uri="sip:example.com", algorithm=SHA-256, response="ABCDEF", qop=auth, nc=0000000a, cnonce="x y"',
    );
    assert.ok(typeof c === 'object');
    assert.equal(c.username, 'a"b');
    assert.equal(c.realm, 'example.com');
    assert.equal(c.algorithm, 'SHA-256');
    assert.equal(c.response, 'abcdef');
    assert.equal(c.nc, '0000000a');
    assert.equal(c.cnonce, 'x y');
  });

  for (const [name, value] of [
    ['another scheme', 'Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=='],
    ['a missing response', 'Digest username="a", realm="r", nonce="n", uri="sip:r"'],
    ['a duplicate parameter', 'Digest username="a", username="b", realm="r", nonce="n", uri="sip:r", response="x"'],
    ['an unterminated quote', 'Digest username="a, realm="r", nonce="n", uri="sip:r", response="x'],
    ['a missing comma', 'Digest username="a" realm="r"'],
    ['a parameter without value', 'Digest username, realm="r"'],
  ] as const) {
    test(`refuses ${name} with a reason`, () => {
      assert.equal(typeof parseDigestCredentials(value), 'string');
    });
  }

  test('refuses over-long values', () => {
    assert.equal(typeof parseDigestCredentials(`Digest username="${'a'.repeat(5000)}"`), 'string');
  });

  test('never throws on arbitrary input (fast-check)', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (s) => {
        const r = parseDigestCredentials(`Digest ${s}`);
        assert.ok(typeof r === 'string' || typeof r === 'object');
      }),
      { numRuns: 2000 },
    );
  });
});

describe('formatChallenge', () => {
  test('qop="auth", the algorithm, opaque, and stale=true only when asked', () => {
    const fresh = formatChallenge({ realm: 'example.com', nonce: 'N', opaque: 'O', algorithm: 'SHA-256', stale: false });
    assert.equal(fresh, 'Digest realm="example.com", nonce="N", opaque="O", algorithm=SHA-256, qop="auth"');
    const stale = formatChallenge({ realm: 'example.com', nonce: 'N', opaque: 'O', algorithm: 'MD5', stale: true });
    assert.match(stale, /algorithm=MD5, qop="auth", stale=true$/);
  });
});
