import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  SipParseError,
  createRequest,
  createResponse,
  parseMessage,
  serializeMessage,
  validateRequest,
  validateResponse,
  type SipRequest,
} from '../../../src/sip/index.js';
import { PIDF, crlf, publishBytes, subscribeBytes } from './helpers.js';

function req(data: Buffer): SipRequest {
  const m = parseMessage(data);
  if (m instanceof SipParseError) assert.fail(`unexpected error ${m.code}: ${m.message}`);
  assert.equal(m.kind, 'request');
  return m as SipRequest;
}

function err(data: unknown): SipParseError {
  const m = Buffer.isBuffer(data) ? parseMessage(data) : data;
  assert.ok(m instanceof SipParseError, 'expected a SipParseError');
  return m;
}

const BASE = [
  'Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK776asdhds',
  'Max-Forwards: 70',
  'To: <sip:bob@example.com>',
  'From: "Alice" <sip:alice@example.com>;tag=1928301774',
  'Call-ID: a84b4c76e66710@pc33.example.com',
];

describe('parseMessage: start line (RFC 3261 §7.1, §7.2)', () => {
  test('parses the benchmark PUBLISH with its PIDF body intact', () => {
    const m = req(publishBytes());
    assert.equal(m.method, 'PUBLISH');
    assert.equal(m.uri, 'sip:u42@example.com');
    assert.equal(m.body.toString('utf8'), PIDF);
    assert.equal(m.headers.get('event'), 'presence');
    assert.equal(m.headers.get('CONTENT-TYPE'), 'application/pidf+xml');
  });

  test('a response keeps status and a UTF-8 reason phrase', () => {
    const m = parseMessage(crlf(['SIP/2.0 200 Très bien', ...BASE, 'CSeq: 1 OPTIONS', 'Content-Length: 0']));
    assert.ok(!(m instanceof SipParseError) && m.kind === 'response');
    assert.equal(m.status, 200);
    assert.equal(m.reason, 'Très bien');
  });

  test('an empty reason phrase is accepted, with or without the SP', () => {
    for (const line of ['SIP/2.0 100 ', 'SIP/2.0 100']) {
      const m = parseMessage(crlf([line, ...BASE, 'CSeq: 1 OPTIONS']));
      assert.ok(!(m instanceof SipParseError) && m.kind === 'response');
      assert.equal(m.reason, '');
    }
  });

  test('another SIP version is answered 505', () => {
    const e = err(crlf(['OPTIONS sip:a@example.com SIP/7.0', ...BASE, 'CSeq: 1 OPTIONS']));
    assert.equal(e.code, 'SIP_ERR_VERSION');
    assert.equal(e.status, 505);
    const r = err(crlf(['SIP/3.0 200 OK', ...BASE, 'CSeq: 1 OPTIONS']));
    assert.equal(r.status, 505);
  });

  test('extra or trailing spaces in the request line are errors', () => {
    for (const line of ['OPTIONS  sip:a@example.com SIP/2.0', 'OPTIONS sip:a@example.com SIP/2.0 ', 'OPTIONS sip:a@example.com; lr SIP/2.0']) {
      assert.equal(err(crlf([line, ...BASE, 'CSeq: 1 OPTIONS'])).code, 'SIP_ERR_START_LINE', line);
    }
  });

  test('status codes must be three digits in 100-699', () => {
    for (const line of ['SIP/2.0 4294967301 Big', 'SIP/2.0 99 Low', 'SIP/2.0 700 High', 'SIP/2.0 2x0 OK']) {
      assert.equal(err(crlf([line, ...BASE, 'CSeq: 1 OPTIONS'])).code, 'SIP_ERR_START_LINE', line);
    }
  });

  test('empty input and CRLF only are SIP_ERR_EMPTY', () => {
    assert.equal(err(Buffer.alloc(0)).code, 'SIP_ERR_EMPTY');
    assert.equal(err(Buffer.from('\r\n\r\n')).code, 'SIP_ERR_EMPTY');
  });

  test('leading CRLFs before the start line are ignored (§7.5)', () => {
    const m = req(Buffer.concat([Buffer.from('\r\n\r\n'), publishBytes()]));
    assert.equal(m.method, 'PUBLISH');
  });
});

describe('parseMessage: header fields (§7.3)', () => {
  test('folded values are unfolded to one SP; names are case-insensitive with compact forms', () => {
    const m = req(
      crlf([
        'OPTIONS sip:bob@example.com SIP/2.0',
        'v: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1',
        'f: <sip:alice@example.com>',
        '  ;tag=88',
        't: sip:bob@example.com',
        'i: abc@def',
        'CSEQ: 7 OPTIONS',
        'mAx-fOrWaRdS: 70',
        'Subject: one',
        '\ttwo',
        'l: 0',
      ]),
    );
    assert.equal(m.headers.get('From'), '<sip:alice@example.com> ;tag=88');
    assert.equal(m.headers.get('subject'), 'one two');
    assert.equal(m.headers.get('Call-ID'), 'abc@def');
    assert.deepEqual([...m.headers].map(([n]) => n), ['Via', 'From', 'To', 'Call-ID', 'CSeq', 'Max-Forwards', 'Subject', 'Content-Length']);
    const core = validateRequest(m);
    assert.ok(!(core instanceof SipParseError));
    assert.equal(core.from.params.get('tag'), '88');
    assert.equal(core.cseq.seq, 7);
  });

  test('multiple lines and comma lists of one header give all values in order', () => {
    const m = req(
      crlf([
        'OPTIONS sip:bob@example.com SIP/2.0',
        'Via: SIP/2.0/UDP a.example.com;branch=z9hG4bK1, SIP/2.0/TCP b.example.com;branch=z9hG4bK2',
        'Via: SIP/2.0/UDP [2001:db8::1]:5070;branch=z9hG4bK3',
        ...BASE.slice(1),
        'CSeq: 1 OPTIONS',
        'Contact: "Doe, John" <sip:j@a.example.com;x=1,2>, <sip:k@b.example.com>',
        'Allow: INVITE, ACK',
        'Allow: SUBSCRIBE',
        'WWW-Authenticate: Digest realm="a", nonce="b"',
      ]),
    );
    assert.deepEqual(m.headers.getAll('Allow'), ['INVITE', 'ACK', 'SUBSCRIBE']);
    assert.deepEqual(m.headers.getAll('m'), ['"Doe, John" <sip:j@a.example.com;x=1,2>', '<sip:k@b.example.com>']);
    assert.deepEqual(m.headers.getAll('WWW-Authenticate'), ['Digest realm="a", nonce="b"']);
    assert.equal(m.headers.get('Via'), 'SIP/2.0/UDP a.example.com;branch=z9hG4bK1');
    const core = validateRequest(m);
    assert.ok(!(core instanceof SipParseError));
    assert.deepEqual(core.via.map((v) => v.branch), ['z9hG4bK1', 'z9hG4bK2', 'z9hG4bK3']);
    assert.equal(core.via[2].host, '[2001:db8::1]');
    assert.equal(core.via[2].port, 5070);
  });

  test('a line without a colon or a bad header name is a syntax error', () => {
    assert.equal(err(crlf(['OPTIONS sip:a@b SIP/2.0', 'Via SIP/2.0/UDP x'])).code, 'SIP_ERR_HEADER_SYNTAX');
    assert.equal(err(crlf(['OPTIONS sip:a@b SIP/2.0', 'Bad Name: x'])).code, 'SIP_ERR_HEADER_SYNTAX');
    assert.equal(err(crlf(['OPTIONS sip:a@b SIP/2.0', ' folded-first: x'])).code, 'SIP_ERR_HEADER_SYNTAX');
  });

  test('header names with unusual but legal token characters', () => {
    const m = req(crlf(['OPTIONS sip:a@b SIP/2.0', "X-!%*_+`'~.Odd: yes"]));
    assert.equal(m.headers.get("x-!%*_+`'~.odd"), 'yes');
  });

  test('very long header values are kept whole (bounded only by the message size)', () => {
    const long = 'x'.repeat(60_000);
    const m = req(crlf(['OPTIONS sip:a@b SIP/2.0', `X-Long: ${long}`, `Subject: ${'é'.repeat(10_000)}`]));
    assert.equal(m.headers.get('X-Long'), long);
    assert.equal(m.headers.get('Subject')?.length, 10_000);
  });

  test('more than 1024 header lines is refused with 513', () => {
    const lines = ['OPTIONS sip:a@b SIP/2.0'];
    for (let i = 0; i < 1100; i++) lines.push(`X-H${i}: v`);
    const e = err(crlf(lines));
    assert.equal(e.code, 'SIP_ERR_TOO_LARGE');
    assert.equal(e.status, 513);
  });

  test('a bare CR inside a header value is refused (it could split the header when re-sent)', () => {
    assert.equal(err(crlf(['OPTIONS sip:a@b SIP/2.0', 'Subject: a\rEvil: 1'])).code, 'SIP_ERR_HEADER_SYNTAX');
  });

  test('headers print and serialise to JSON as name/value pairs', () => {
    const m = req(crlf(['OPTIONS sip:a@b SIP/2.0', 'i: x@y']));
    assert.equal(JSON.stringify(m.headers), '[["Call-ID","x@y"]]');
  });

  test('a missing empty line is an error', () => {
    assert.equal(err(Buffer.from('OPTIONS sip:a@b SIP/2.0\r\nVia: x\r\n')).code, 'SIP_ERR_HEADER_SYNTAX');
  });

  test('bare LF line ends are tolerated', () => {
    const m = req(Buffer.from('OPTIONS sip:a@b SIP/2.0\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\nContent-Length: 2\n\nhi'));
    assert.equal(m.body.toString(), 'hi');
  });
});

describe('parseMessage: body framing (§18.3, §20.14)', () => {
  const head = ['MESSAGE sip:a@b SIP/2.0', ...BASE, 'CSeq: 1 MESSAGE'];

  test('Content-Length counts bytes of a UTF-8 body', () => {
    const body = 'héllo ✓';
    const m = req(crlf([...head, `Content-Length: ${Buffer.byteLength(body)}`], body));
    assert.equal(m.body.toString('utf8'), body);
  });

  test('binary bodies stay bytes', () => {
    const bin = Buffer.from([0, 255, 13, 10, 13, 10, 128, 1]);
    const m = req(Buffer.concat([crlf([...head, 'Content-Length: 8']), bin]));
    assert.deepEqual(m.body, bin);
  });

  test('bytes beyond Content-Length are ignored; a shorter body is an error', () => {
    assert.equal(req(crlf([...head, 'Content-Length: 2'], 'abcdef')).body.toString(), 'ab');
    assert.equal(err(crlf([...head, 'Content-Length: 20'], 'abc')).code, 'SIP_ERR_BODY_TRUNCATED');
  });

  test('without Content-Length the body is the rest of the datagram', () => {
    assert.equal(req(crlf(head, 'rest')).body.toString(), 'rest');
  });

  test('negative, non-numeric, huge or repeated Content-Length is an error', () => {
    for (const cl of ['Content-Length: -999', 'Content-Length: abc', 'Content-Length: 99999999999999999999']) {
      assert.equal(err(crlf([...head, cl])).code, 'SIP_ERR_CONTENT_LENGTH', cl);
    }
    assert.equal(err(crlf([...head, 'Content-Length: 0', 'l: 0'])).code, 'SIP_ERR_CONTENT_LENGTH');
  });
});

describe('validateRequest (§8.1.1)', () => {
  for (const missing of ['Via', 'From', 'To', 'Call-ID', 'CSeq']) {
    test(`a request without ${missing} is rejected with 400`, () => {
      const m = req(subscribeBytes());
      m.headers.delete(missing);
      const e = err(validateRequest(m));
      assert.equal(e.code, 'SIP_ERR_MISSING_HEADER');
      assert.equal(e.status, 400);
      assert.equal(e.message, `Missing header: ${missing}`);
      assert.equal(e.header, missing);
    });
  }

  test('Max-Forwards may be absent (RFC 2543 peers) but must be 0-255 when present', () => {
    const m = req(subscribeBytes());
    m.headers.delete('Max-Forwards');
    const core = validateRequest(m);
    assert.ok(!(core instanceof SipParseError));
    assert.equal(core.maxForwards, undefined);
    m.headers.set('Max-Forwards', '300');
    assert.equal(err(validateRequest(m)).code, 'SIP_ERR_BAD_HEADER');
  });

  test('CSeq method must equal the request method', () => {
    const m = req(subscribeBytes());
    m.headers.set('CSeq', '1 PUBLISH');
    const e = err(validateRequest(m));
    assert.equal(e.code, 'SIP_ERR_CSEQ_METHOD_MISMATCH');
    assert.equal(e.message, 'Bad header CSeq: method PUBLISH does not match request method SUBSCRIBE');
  });

  test('CSeq must be below 2^31', () => {
    const m = req(subscribeBytes());
    m.headers.set('CSeq', '2147483648 SUBSCRIBE');
    assert.equal(err(validateRequest(m)).code, 'SIP_ERR_BAD_HEADER');
    m.headers.set('CSeq', '2147483647 SUBSCRIBE');
    assert.ok(!(validateRequest(m) instanceof SipParseError));
  });

  test('duplicated single-valued headers are rejected', () => {
    const m = req(subscribeBytes());
    m.headers.append('Call-ID', 'other@host');
    assert.equal(err(validateRequest(m)).code, 'SIP_ERR_DUPLICATE_HEADER');
  });

  test('an unsupported Request-URI scheme gives 416; URI headers in the Request-URI give 400', () => {
    const m = req(subscribeBytes());
    m.uri = 'http://example.com/';
    const e = err(validateRequest(m));
    assert.equal(e.code, 'SIP_ERR_UNSUPPORTED_URI_SCHEME');
    assert.equal(e.status, 416);
    m.uri = 'sip:u@example.com?Route=%3Csip:x%3E';
    assert.equal(err(validateRequest(m)).code, 'SIP_ERR_URI');
    m.uri = '<sip:u@example.com>';
    assert.equal(err(validateRequest(m)).code, 'SIP_ERR_URI');
  });

  test('results are cached and invalidated by header changes', () => {
    const m = req(subscribeBytes());
    const a = validateRequest(m);
    assert.equal(validateRequest(m), a);
    m.headers.set('CSeq', '2 SUBSCRIBE');
    const b = validateRequest(m);
    assert.notEqual(b, a);
    assert.ok(!(b instanceof SipParseError));
    assert.equal(b.cseq.seq, 2);
  });

  test('validateResponse checks the same headers except Max-Forwards', () => {
    const m = parseMessage(crlf(['SIP/2.0 200 OK', ...BASE.filter((l) => !l.startsWith('Max')), 'CSeq: 3 NOTIFY']));
    assert.ok(!(m instanceof SipParseError) && m.kind === 'response');
    const core = validateResponse(m);
    assert.ok(!(core instanceof SipParseError));
    assert.equal(core.cseq.method, 'NOTIFY');
    m.headers.delete('From');
    assert.equal(err(validateResponse(m)).code, 'SIP_ERR_MISSING_HEADER');
  });
});

describe('createResponse (§8.2.6.2)', () => {
  function core(m: SipRequest) {
    const c = validateRequest(m);
    if (c instanceof SipParseError) assert.fail(c.message);
    return c;
  }

  test('copies every Via in order, From, To, Call-ID and CSeq; adds the To-tag', () => {
    const m = req(
      crlf([
        'SUBSCRIBE sip:u@example.com SIP/2.0',
        'Via: SIP/2.0/UDP p1.example.com;branch=z9hG4bKa, SIP/2.0/UDP p2.example.com;branch=z9hG4bKb',
        'Via: SIP/2.0/UDP ua.example.com;branch=z9hG4bKc;received=192.0.2.9;rport=5099',
        ...BASE.slice(1),
        'CSeq: 9 SUBSCRIBE',
        'Record-Route: <sip:p1.example.com;lr>',
      ]),
    );
    const r = createResponse(m, core(m), 200, { toTag: 'xyz', copyRecordRoute: true });
    assert.equal(r.reason, 'OK');
    assert.deepEqual(r.headers.getAll('Via'), [
      'SIP/2.0/UDP p1.example.com;branch=z9hG4bKa',
      'SIP/2.0/UDP p2.example.com;branch=z9hG4bKb',
      'SIP/2.0/UDP ua.example.com;branch=z9hG4bKc;received=192.0.2.9;rport=5099',
    ]);
    assert.equal(r.headers.get('To'), '<sip:bob@example.com>;tag=xyz');
    assert.equal(r.headers.get('From'), '"Alice" <sip:alice@example.com>;tag=1928301774');
    assert.equal(r.headers.get('Call-ID'), 'a84b4c76e66710@pc33.example.com');
    assert.equal(r.headers.get('CSeq'), '9 SUBSCRIBE');
    assert.deepEqual(r.headers.getAll('Record-Route'), ['<sip:p1.example.com;lr>']);
  });

  test('100 Trying gets no To-tag, and an existing To-tag is kept', () => {
    const m = req(subscribeBytes());
    assert.equal(createResponse(m, core(m), 100, { toTag: 'x' }).headers.get('To'), '<sip:u42@example.com>');
    m.headers.set('To', '<sip:u42@example.com>;tag=existing');
    assert.equal(createResponse(m, core(m), 200, { toTag: 'x' }).headers.get('To'), '<sip:u42@example.com>;tag=existing');
  });

  test('reason, extra headers and a body with its Content-Type', () => {
    const m = req(subscribeBytes());
    const r = createResponse(m, core(m), 489, { headers: [['Allow-Events', 'presence']], body: Buffer.from('x'), contentType: 'text/plain', reason: 'Bad Event Here' });
    assert.equal(r.reason, 'Bad Event Here');
    assert.equal(r.headers.get('Allow-Events'), 'presence');
    assert.equal(r.headers.get('Content-Type'), 'text/plain');
    const wire = serializeMessage(r).toString();
    assert.match(wire, /^SIP\/2\.0 489 Bad Event Here\r\n/);
    assert.match(wire, /\r\nContent-Length: 1\r\n\r\nx$/);
  });
});

describe('serializeMessage and round trips', () => {
  test('parse -> serialize -> parse keeps headers and body bytes', () => {
    for (const bytes of [publishBytes(), subscribeBytes()]) {
      const a = req(bytes);
      const b = req(serializeMessage(a));
      assert.deepEqual([...b.headers], [...a.headers]);
      assert.deepEqual(b.body, a.body);
      assert.equal(b.uri, a.uri);
    }
  });

  test('Content-Length is always rewritten from the body bytes', () => {
    const m = createRequest('NOTIFY', 'sip:w@example.com', [['Content-Length', '999'], ['Event', 'presence']], Buffer.from('é'));
    const wire = serializeMessage(m).toString('utf8');
    assert.equal(wire, 'NOTIFY sip:w@example.com SIP/2.0\r\nContent-Length: 2\r\nEvent: presence\r\n\r\né');
    const empty = serializeMessage(createRequest('OPTIONS', 'sip:a@b')).toString();
    assert.equal(empty, 'OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 0\r\n\r\n');
  });

  test('values set by code cannot inject header lines', () => {
    const m = createRequest('OPTIONS', 'sip:a@b');
    m.headers.set('Subject', 'a\r\nEvil: 1');
    assert.equal(m.headers.get('Subject'), 'a Evil: 1');
    assert.doesNotMatch(serializeMessage(m).toString(), /\r\nEvil/);
  });
});
