import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { SipParseError, aorKey, formatUri, parseUri, uriEquals, type SipUri } from '../../../src/sip/index.js';

function ok(text: string): SipUri {
  const u = parseUri(text);
  if (u instanceof SipParseError) assert.fail(`${text}: ${u.message}`);
  return u;
}

describe('parseUri (RFC 3261 §19.1, RFC 3966)', () => {
  test('user, password, host, port, parameters and headers', () => {
    const u = ok('sip:alice:secretword@atlanta.com:5060;transport=TCP;lr?subject=project%20x&priority=urgent');
    assert.equal(u.scheme, 'sip');
    assert.equal(u.user, 'alice');
    assert.equal(u.password, 'secretword');
    assert.equal(u.host, 'atlanta.com');
    assert.equal(u.port, 5060);
    assert.deepEqual([...u.params], [['transport', 'TCP'], ['lr', null]]);
    assert.deepEqual([...u.headers], [['subject', 'project x'], ['priority', 'urgent']]);
  });

  test('sips and IPv6 references', () => {
    const u = ok('SIPS:bob@[2001:db8::10]:5061;maddr=[2001:db8::1]');
    assert.equal(u.scheme, 'sips');
    assert.equal(u.host, '[2001:db8::10]');
    assert.equal(u.port, 5061);
    assert.equal(u.params.get('maddr'), '[2001:db8::1]');
    assert.equal(ok('sip:[::ffff:192.0.2.1]').host, '[::ffff:192.0.2.1]');
    assert.equal(ok('sip:[2001:db8:0:0:0:0:0:1]').host, '[2001:db8:0:0:0:0:0:1]');
  });

  test('escapes are resolved in user, parameters and headers (UTF-8 octets)', () => {
    const u = ok('sip:%C3%A9l%C3%A8ve@example.com;n%61me=v%61lue%25%34%31?Route=%3Csip:x%3E');
    assert.equal(u.user, 'élève');
    assert.equal(u.params.get('name'), 'value%41');
    assert.equal(u.headers.get('Route'), '<sip:x>');
  });

  test('user parts holding telephone-subscribers with ";"', () => {
    const u = ok('sip:+1-212-555-1212;phone-context=example.com@gw.example.com;user=phone');
    assert.equal(u.user, '+1-212-555-1212;phone-context=example.com');
    assert.equal(u.params.get('user'), 'phone');
  });

  test('tel URIs', () => {
    const u = ok('tel:+1-201-555-0123;ext=42');
    assert.equal(u.scheme, 'tel');
    assert.equal(u.user, '+1-201-555-0123');
    assert.equal(u.host, '');
    assert.equal(u.params.get('ext'), '42');
    assert.equal(ok('tel:7042;phone-context=example.com').params.get('phone-context'), 'example.com');
  });

  test('malformed URIs and other schemes', () => {
    for (const t of [
      '', 'sip:', 'sip:@host', 'sip:user@', 'sip:host:99999', 'sip:host:', 'sip:us er@host', '<sip:a@b>', 'sip:a@b;',
      'sip:a@b;=x', 'sip:a@b?x', 'sip:a@b%zz', 'sip:[2001:db8::1', 'sip:[::1::2]', 'sip:a@b c', 'tel:', 'tel:+1 2',
      'nocolon', '1sip:a@b',
    ]) {
      assert.equal((parseUri(t) as SipParseError).code, 'SIP_ERR_URI', t);
    }
    const other = parseUri('http://example.com/');
    assert.ok(other instanceof SipParseError);
    assert.equal(other.code, 'SIP_ERR_UNSUPPORTED_URI_SCHEME');
    assert.equal(other.status, 416);
  });

  test('formatUri re-escapes and round-trips', () => {
    for (const t of [
      'sip:alice@atlanta.com',
      'sips:alice:pw@[2001:db8::1]:5061;transport=tls;lr?subject=a%20b',
      'sip:I%20have%20spaces@example.net',
      'sip:%00@host5.example.com',
      'tel:+1-201-555-0123;ext=42',
    ]) {
      const u = ok(t);
      const again = ok(formatUri(u));
      assert.ok(uriEquals(u, again), t);
      assert.deepEqual(again, u);
    }
    assert.equal(formatUri(ok('sip:%75se%72@example.com')), 'sip:user@example.com');
  });
});

describe('uriEquals (RFC 3261 §19.1.4 examples)', () => {
  const equal: Array<[string, string]> = [
    ['sip:%61lice@atlanta.com;transport=TCP', 'sip:alice@AtLanTa.CoM;Transport=Tcp'],
    ['sip:carol@chicago.com', 'sip:carol@chicago.com;newparam=5'],
    ['sip:carol@chicago.com', 'sip:carol@chicago.com;security=on'],
    ['sip:carol@chicago.com;newparam=5', 'sip:carol@chicago.com;security=on'],
    ['sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com', 'sip:biloxi.com;method=REGISTER;transport=tcp?to=sip:bob%40biloxi.com'],
    ['sip:alice@atlanta.com?subject=project%20x&priority=urgent', 'sip:alice@atlanta.com?priority=urgent&subject=project%20x'],
    ['tel:+1-201-555-0123', 'tel:+1.201.555.0123'],
  ];
  const different: Array<[string, string]> = [
    ['SIP:ALICE@AtLanTa.CoM;Transport=udp', 'sip:alice@AtLanTa.CoM;Transport=UDP'],
    ['sip:bob@biloxi.com', 'sip:bob@biloxi.com:5060'],
    ['sip:bob@biloxi.com', 'sip:bob@biloxi.com;transport=udp'],
    ['sip:bob@biloxi.com', 'sip:bob@biloxi.com:6000;transport=tcp'],
    ['sip:carol@chicago.com', 'sip:carol@chicago.com?Subject=next%20meeting'],
    ['sip:bob@phone21.boxesbybob.com', 'sip:bob@192.0.2.4'],
    ['sip:a@b', 'sips:a@b'],
    ['sip:a@b;maddr=x', 'sip:a@b'],
    ['sip:a@b;user=phone', 'sip:a@b'],
  ];
  for (const [a, b] of equal) test(`${a} == ${b}`, () => assert.ok(uriEquals(ok(a), ok(b)) && uriEquals(ok(b), ok(a))));
  for (const [a, b] of different) test(`${a} != ${b}`, () => assert.ok(!uriEquals(ok(a), ok(b)) && !uriEquals(ok(b), ok(a))));
});

describe('aorKey', () => {
  test('sips folds to sip, host lower-cased, no port, params or headers', () => {
    assert.equal(aorKey(ok('sips:Alice@AtLanTa.CoM:5061;transport=tls?x=y')), 'sip:Alice@atlanta.com');
    assert.equal(aorKey(ok('sip:%61lice@atlanta.com')), 'sip:alice@atlanta.com');
    assert.equal(aorKey(ok('sip:example.com')), 'sip:example.com');
    assert.equal(aorKey(ok('tel:+1-201-555-0123;ext=1')), 'tel:+12015550123');
    assert.equal(aorKey(ok('sip:I%20have%20spaces@example.net')), 'sip:I%20have%20spaces@example.net');
  });
});
