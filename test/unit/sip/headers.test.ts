import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  SipHeaders,
  SipParseError,
  formatNameAddr,
  formatVia,
  parseAccept,
  parseCSeq,
  parseContactList,
  parseEvent,
  parseExpires,
  parseMediaType,
  parseMessage,
  parseNameAddr,
  parseSubscriptionState,
  parseTokenList,
  parseVia,
  unquote,
  formatSubscriptionState,
  formatEvent,
  mediaTypeMatches,
  reasonPhrase,
} from '../../../src/sip/index.js';

function ok<T>(v: T | SipParseError): T {
  if (v instanceof SipParseError) assert.fail(`unexpected ${v.code}: ${v.message}`);
  return v;
}

function bad(v: unknown): SipParseError {
  assert.ok(v instanceof SipParseError, `expected an error, got ${JSON.stringify(v)}`);
  return v;
}

describe('SipHeaders (RFC 3261 §7.3)', () => {
  test('every compact form maps to its long name', () => {
    const pairs: Array<[string, string]> = [
      ['i', 'Call-ID'], ['f', 'From'], ['t', 'To'], ['v', 'Via'], ['m', 'Contact'], ['l', 'Content-Length'],
      ['c', 'Content-Type'], ['e', 'Content-Encoding'], ['o', 'Event'], ['k', 'Supported'], ['s', 'Subject'],
      ['u', 'Allow-Events'], ['r', 'Refer-To'], ['x', 'Session-Expires'], ['y', 'Identity'], ['a', 'Accept-Contact'],
      ['b', 'Referred-By'], ['j', 'Reject-Contact'], ['d', 'Request-Disposition'], ['n', 'Identity-Info'],
    ];
    for (const [compact, long] of pairs) {
      const h = new SipHeaders([[compact.toUpperCase(), 'x']]);
      assert.equal(h.get(long), 'x', compact);
      assert.equal(h.get(compact), 'x', compact);
      assert.deepEqual([...h], [[long, 'x']]);
    }
  });

  test('canonical names keep RFC capitalisation', () => {
    const h = new SipHeaders([
      ['call-id', '1'], ['cseq', '2'], ['www-authenticate', '3'], ['sip-etag', '4'], ['sip-if-match', '5'],
      ['allow-events', '6'], ['min-expires', '7'], ['subscription-state', '8'], ['x-custom-Thing', '9'],
    ]);
    assert.deepEqual([...h].map(([n]) => n), [
      'Call-ID', 'CSeq', 'WWW-Authenticate', 'SIP-ETag', 'SIP-If-Match', 'Allow-Events', 'Min-Expires', 'Subscription-State', 'x-custom-Thing',
    ]);
  });

  test('set replaces all lines in place; append, prepend, delete, has', () => {
    const h = new SipHeaders([['Via', 'a'], ['To', 't'], ['Via', 'b'], ['From', 'f']]);
    h.prepend('Via', 'top');
    assert.deepEqual(h.getAll('Via'), ['top', 'a', 'b']);
    h.set('Via', ['x', 'y']);
    assert.deepEqual([...h], [['Via', 'x'], ['Via', 'y'], ['To', 't'], ['From', 'f']]);
    h.delete('v');
    assert.equal(h.has('Via'), false);
    h.append('Expires', '60');
    assert.equal(h.get('expires'), '60');
    assert.equal(h.countLines('To'), 1);
    const copy = h.clone();
    copy.set('To', 'changed');
    assert.equal(h.get('To'), 't');
  });

  test('list splitting respects quotes (with escapes) and angle brackets', () => {
    const h = new SipHeaders([['Contact', '"A, \\"B\\"" <sip:a@x;p=1,2>, sip:b@y, <sip:c@z?h=1,2>']]);
    assert.deepEqual(h.getAll('Contact'), ['"A, \\"B\\"" <sip:a@x;p=1,2>', 'sip:b@y', '<sip:c@z?h=1,2>']);
    assert.equal(h.get('Contact'), '"A, \\"B\\"" <sip:a@x;p=1,2>');
    const auth = new SipHeaders([['Authorization', 'Digest a="1", b="2"']]);
    assert.deepEqual(auth.getAll('Authorization'), ['Digest a="1", b="2"']);
  });
});

describe('Via (§20.42, RFC 3581)', () => {
  test('IPv6 sent-by with port, rport, received and branch', () => {
    const v = ok(parseVia('SIP/2.0/UDP [2001:db8::9:1]:5070;rport=5071;received=2001:db8::9:255;branch=z9hG4bKas3-111'));
    assert.equal(v.transport, 'UDP');
    assert.equal(v.host, '[2001:db8::9:1]');
    assert.equal(v.port, 5070);
    assert.equal(v.rport, 5071);
    assert.equal(v.received, '2001:db8::9:255');
    assert.equal(v.branch, 'z9hG4bKas3-111');
  });

  test('rport without a value, lower-case transport, LWS around / and :', () => {
    const v = ok(parseVia('SIP / 2.0 / tcp  host.example.com : 5061 ; rport ; branch = z9hG4bK1'));
    assert.equal(v.transport, 'TCP');
    assert.equal(v.port, 5061);
    assert.equal(v.rport, true);
    assert.equal(v.branch, 'z9hG4bK1');
  });

  test('compact v: in a message, with two values on one line', () => {
    const m = parseMessage(Buffer.from('OPTIONS sip:a@b SIP/2.0\r\nv: SIP/2.0/WSS df7jal23ls0d.invalid;branch=z9hG4bKa, SIP/2.0/UDP [::1];branch=z9hG4bKb\r\n\r\n'));
    assert.ok(!(m instanceof SipParseError));
    const vias = m.headers.getAll('Via').map((x) => ok(parseVia(x)));
    assert.deepEqual(vias.map((x) => [x.transport, x.host]), [['WSS', 'df7jal23ls0d.invalid'], ['UDP', '[::1]']]);
  });

  test('bad Vias are errors', () => {
    for (const text of [
      '', 'SIP/2.0/UDP', 'SIP/2.0 UDP host', 'SIP/2.0/UDP host:99999', 'SIP/2.0/UDP [2001:db8::1', 'SIP/2.0/UDP [zz::1]',
      'SIP/2.0/UDP host;branch', 'SIP/2.0/UDP host;rport=abc', 'SIP/2.0/UDP host;received=bad host', 'SIP/2.0/UDP host;;',
      'SIP/2.0/UDP host extra', 'SIP/2.0/UDP host;ttl=256',
    ]) {
      assert.equal(bad(parseVia(text)).code, 'SIP_ERR_BAD_HEADER', text);
    }
  });

  test('formatVia writes typed received/rport over the parameters', () => {
    const v = ok(parseVia('SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKx;rport;foo=bar'));
    assert.equal(formatVia({ ...v, received: '192.0.2.7', rport: 40000 }), 'SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKx;rport=40000;foo=bar;received=192.0.2.7');
    assert.deepEqual(ok(parseVia(formatVia(v))), v);
  });
});

describe('name-addr and addr-spec (§20.10, §25.1)', () => {
  test('quoted display name with escapes and commas', () => {
    const na = ok(parseNameAddr('"Doe, \\"JD\\" \\\\ Jr" <sips:jd@example.com:5061;transport=tls>;tag=a1;expires=60'));
    assert.equal(na.displayName, 'Doe, "JD" \\ Jr');
    assert.equal(na.uri.scheme, 'sips');
    assert.equal(na.uri.port, 5061);
    assert.equal(na.uri.params.get('transport'), 'tls');
    assert.deepEqual([...na.params], [['tag', 'a1'], ['expires', '60']]);
    const again = ok(parseNameAddr(formatNameAddr(na)));
    assert.deepEqual(again, { ...na });
  });

  test('token display names, no display name, UTF-8 display names', () => {
    assert.equal(ok(parseNameAddr('Alice Smith <sip:a@b>')).displayName, 'Alice Smith');
    assert.equal(ok(parseNameAddr('<sip:a@b>')).displayName, undefined);
    assert.equal(ok(parseNameAddr('"Zoë ✓" <sip:a@b>')).displayName, 'Zoë ✓');
  });

  test('addr-spec: parameters after the URI belong to the header', () => {
    const na = ok(parseNameAddr('sip:alice@example.com;tag=88;transport=tcp'));
    assert.equal(na.uri.params.size, 0);
    assert.equal(na.params.get('tag'), '88');
    assert.equal(na.params.get('transport'), 'tcp');
    assert.equal(na.uriText, 'sip:alice@example.com');
  });

  test('name-addr: parameters inside <> belong to the URI; quoted header params are kept with quotes', () => {
    const na = ok(parseNameAddr('<sip:a@192.0.2.4;transport=tcp;ob>;+sip.instance="<urn:uuid:00000000-0000-1000-8000-000A95A0E128>";reg-id=1'));
    assert.deepEqual([...na.uri.params], [['transport', 'tcp'], ['ob', null]]);
    assert.equal(na.params.get('+sip.instance'), '"<urn:uuid:00000000-0000-1000-8000-000A95A0E128>"');
    assert.equal(unquote(na.params.get('+sip.instance')), '<urn:uuid:00000000-0000-1000-8000-000A95A0E128>');
  });

  test('errors: unterminated quote, spaces inside <>, "?" in addr-spec, non-token display name, missing >', () => {
    for (const t of ['"Mr. J. User <sip:j@example.com>', '< sip:a@b >', 'sip:a@b?subject=x', 'Bell, Alexander <sip:a@b>', '<sip:a@b', '', '<sip:a@b>;', '<sip:a@b> junk']) {
      bad(parseNameAddr(t));
    }
  });
});

describe('Contact (§20.10)', () => {
  test('star stands alone', () => {
    assert.deepEqual(ok(parseContactList(['*'])), { star: true, contacts: [] });
    assert.equal(bad(parseContactList(['*, <sip:a@b>'])).code, 'SIP_ERR_BAD_HEADER');
    assert.equal(bad(parseContactList(['*', '<sip:a@b>'])).header, 'Contact');
  });

  test('a folded Contact list parses into its elements', () => {
    const m = parseMessage(
      Buffer.from('REGISTER sip:example.com SIP/2.0\r\nContact: "A" <sip:a@h1>;q=0.7,\r\n  <sip:b@h2>;expires=0\r\n\r\n'),
    );
    assert.ok(!(m instanceof SipParseError));
    const c = ok(parseContactList(m.headers.getAll('Contact')));
    assert.equal(c.star, false);
    assert.deepEqual(c.contacts.map((x) => [x.uri.user, x.params.get('q') ?? x.params.get('expires')]), [['a', '0.7'], ['b', '0']]);
  });
});

describe('CSeq (§20.16)', () => {
  test('number and method, LWS tolerated, bounds', () => {
    assert.deepEqual(ok(parseCSeq('  0009   INVITE ')), { seq: 9, method: 'INVITE' });
    assert.deepEqual(ok(parseCSeq('2147483647 NOTIFY')), { seq: 2 ** 31 - 1, method: 'NOTIFY' });
    for (const t of ['2147483648 NOTIFY', '1', 'x NOTIFY', '1 NOT IFY', '-1 NOTIFY', '1NOTIFY', '99999999999999999999 A']) bad(parseCSeq(t));
  });
});

describe('Event (RFC 6665 §8.2.1)', () => {
  test('dialog;sla', () => {
    const e = ok(parseEvent('dialog;sla'));
    assert.equal(e.type, 'dialog');
    assert.equal(e.id, undefined);
    assert.deepEqual([...e.params], [['sla', null]]);
    assert.equal(formatEvent(e), 'dialog;sla');
  });

  test('presence;id=7 and template packages', () => {
    const e = ok(parseEvent('presence ; id = 7'));
    assert.equal(e.type, 'presence');
    assert.equal(e.id, '7');
    assert.equal(ok(parseEvent('presence.winfo')).type, 'presence.winfo');
    assert.equal(ok(parseEvent('message-summary')).type, 'message-summary');
  });

  test('errors', () => {
    for (const t of ['', ';id=1', 'presence;id', 'pres ence', 'presence;']) bad(parseEvent(t));
  });
});

describe('Subscription-State (RFC 6665 §8.2.3)', () => {
  test('terminated;reason=timeout', () => {
    const s = ok(parseSubscriptionState('terminated;reason=timeout'));
    assert.equal(s.state, 'terminated');
    assert.equal(s.reason, 'timeout');
    assert.equal(s.expires, undefined);
  });

  test('active;expires=600 and pending with retry-after', () => {
    const s = ok(parseSubscriptionState('Active ;expires= 600'));
    assert.equal(s.state, 'active');
    assert.equal(s.expires, 600);
    const p = ok(parseSubscriptionState('terminated;reason=probation;retry-after=30'));
    assert.equal(p.retryAfter, 30);
    assert.equal(formatSubscriptionState(p), 'terminated;reason=probation;retry-after=30');
  });

  test('errors', () => {
    for (const t of ['', 'active;expires=', 'active;expires=-1', 'active;expires=4294967296', 'active;reason', 'terminated;retry-after=x']) bad(parseSubscriptionState(t));
  });
});

describe('Expires (§20.19)', () => {
  test('delta-seconds up to 2^32-1', () => {
    assert.equal(ok(parseExpires('0')), 0);
    assert.equal(ok(parseExpires(' 3600 ')), 3600);
    assert.equal(ok(parseExpires('4294967295')), 2 ** 32 - 1);
    assert.equal(ok(parseExpires('000000000000000000000000060')), 60);
    for (const t of ['4294967296', '-1', '', '1.5', 'Thu, 01 Dec 1994 16:00:00 GMT', '1'.repeat(200)]) bad(parseExpires(t));
  });
});

describe('Content-Type and Accept (§20.15, §20.1)', () => {
  test('media type with parameters', () => {
    const m = ok(parseMediaType('Multipart/Related ; type="application/rlmi+xml";start="<nXYxAE@pres.example.com>";boundary=50UBfW7LSCVLtggUPe5z'));
    assert.equal(m.type, 'multipart/related');
    assert.equal(unquote(m.params.get('type')), 'application/rlmi+xml');
    assert.equal(m.params.get('boundary'), '50UBfW7LSCVLtggUPe5z');
    for (const t of ['', 'text', 'text/', '/plain', 'text/plain;', 'text/plain junk']) bad(parseMediaType(t));
  });

  test('Accept lists, wildcards, q-values; an empty Accept accepts nothing', () => {
    const list = ok(parseAccept('application/pidf+xml;q=1, application/xpidf+xml;q=0.5, */*;q=0.1'));
    assert.deepEqual(list.map((x) => x.type), ['application/pidf+xml', 'application/xpidf+xml', '*/*']);
    assert.equal(list[1].params.get('q'), '0.5');
    assert.deepEqual(ok(parseAccept('')), []);
    assert.ok(mediaTypeMatches('application/*', 'application/pidf+xml'));
    assert.ok(mediaTypeMatches('*/*', 'text/plain'));
    assert.ok(!mediaTypeMatches('text/*', 'application/pidf+xml'));
    bad(parseAccept('application/pidf+xml, garbage'));
  });
});

describe('token lists', () => {
  test('Allow, Supported, Allow-Events values', () => {
    assert.deepEqual(ok(parseTokenList(['INVITE, ACK', 'SUBSCRIBE,NOTIFY', ''])), ['INVITE', 'ACK', 'SUBSCRIBE', 'NOTIFY']);
    assert.deepEqual(ok(parseTokenList(['presence, presence.winfo, dialog'])), ['presence', 'presence.winfo', 'dialog']);
    assert.equal(bad(parseTokenList(['100rel, bad token'], 'Supported')).header, 'Supported');
  });
});

describe('reason phrases', () => {
  test('standard phrases and class fallbacks', () => {
    assert.equal(reasonPhrase(200), 'OK');
    assert.equal(reasonPhrase(412), 'Conditional Request Failed');
    assert.equal(reasonPhrase(489), 'Bad Event');
    assert.equal(reasonPhrase(423), 'Interval Too Brief');
    assert.equal(reasonPhrase(499), 'Client Error');
  });
});
