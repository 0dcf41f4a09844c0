/**
 * RFC 4475 torture messages, driven from test/vectors/torture/{valid,invalid}/*.sip
 * (regenerate with `npx tsx test/vectors/torture/make-vectors.ts`).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  SipParseError,
  parseContactList,
  parseExpires,
  parseMediaType,
  parseMessage,
  parseNameAddr,
  parseTokenList,
  parseUri,
  serializeMessage,
  validateRequest,
  validateResponse,
  type SipErrorCode,
  type SipMessage,
  type SipRequest,
  type SipResponse,
  type RequestCore,
} from '../../../src/sip/index.js';
import { VECTORS } from '../../vectors/torture/make-vectors.js';
import { vectorDir } from './helpers.js';

const root = vectorDir();

function files(dir: 'valid' | 'invalid'): string[] {
  return readdirSync(join(root, dir))
    .filter((f) => f.endsWith('.sip'))
    .map((f) => f.slice(0, -4))
    .sort();
}

function load(dir: 'valid' | 'invalid', name: string): Buffer {
  return readFileSync(join(root, dir, `${name}.sip`));
}

function parsed(bytes: Buffer): SipMessage {
  const m = parseMessage(bytes);
  if (m instanceof SipParseError) assert.fail(`parse failed: ${m.code} ${m.message}`);
  return m;
}

function validated(m: SipMessage): unknown {
  return m.kind === 'request' ? validateRequest(m) : validateResponse(m);
}

function core(m: SipMessage): RequestCore {
  assert.equal(m.kind, 'request');
  const c = validateRequest(m as SipRequest);
  if (c instanceof SipParseError) assert.fail(`validation failed: ${c.code} ${c.message}`);
  return c;
}

/** Extra checks of what the RFC says each valid message exercises. */
const VALID_CHECKS: Record<string, (m: SipMessage) => void> = {
  wsinv(m) {
    const c = core(m);
    assert.equal(c.to.params.get('tag'), '1918181833n');
    assert.equal(c.from.displayName, 'J Rosenberg \\"');
    assert.equal(c.from.params.get('tag'), '98asjd8');
    assert.equal(c.maxForwards, 68);
    assert.deepEqual(c.cseq, { seq: 9, method: 'INVITE' });
    assert.deepEqual(c.via.map((v) => [v.transport, v.host, v.branch]), [
      ['UDP', '192.0.2.2', '390skdjuw'],
      ['TCP', 'spindle.example.com', 'z9hG4bK9ikj8'],
      ['UDP', '192.168.255.111', 'z9hG4bK30239'],
    ]);
    assert.equal(m.headers.get('NewFangledHeader'), 'newfangled value continued newfangled value');
    assert.equal(m.headers.get('UnknownHeaderWithUnusualValue'), ';;,,;;,;');
    assert.equal(m.headers.get('Subject'), '');
    const contacts = parseContactList(m.headers.getAll('Contact'));
    assert.ok(!(contacts instanceof SipParseError));
    assert.equal(contacts.contacts[0].displayName, 'Quoted string ""');
    assert.equal(contacts.contacts[0].params.get('newparam'), 'newvalue');
    assert.equal(contacts.contacts[0].params.get('secondparam'), null);
    assert.equal(contacts.contacts[0].params.get('q'), '0.33');
    const route = parseNameAddr(m.headers.get('Route') ?? '');
    assert.ok(!(route instanceof SipParseError));
    assert.equal(route.uri.params.get('unknownwith'), 'value');
    assert.equal(route.uri.params.get('unknown-no-value'), null);
    assert.equal(m.body.length, 150);
  },
  intmeth(m) {
    const c = core(m);
    assert.equal((m as SipRequest).method, "!interesting-Method0123456789_*+`.%indeed'~");
    assert.equal(c.requestUri.user, "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*");
    assert.equal(c.requestUri.password, "&it+has=1,weird!*pas$wo~d_too.(doesn't-it)");
    assert.equal(c.to.displayName, 'BEL:\x07 NUL:\x00 DEL:\x7f');
    assert.equal(c.from.displayName, "token1~` token2'+_ token3*%!.-");
    assert.equal(c.from.params.get("fromparam''~+*_!.-%"), '"работающий"');
    assert.equal(c.from.params.get('tag'), "_token~1'+`*%!-.");
    assert.equal(c.via[0].branch, "z9hG4bK-.!%66*_+`'~");
    assert.equal(m.headers.get("extensionHeader-!.%*+_`'~"), '\ufeff大停電');
  },
  esc01(m) {
    const c = core(m);
    assert.equal(c.requestUri.user, 'sips:user@example.com');
    assert.equal(c.requestUri.host, 'example.net');
    assert.equal(c.to.uri.user, 'user');
    assert.equal(c.from.uri.user, 'I have spaces');
    const contacts = parseContactList(m.headers.getAll('Contact'));
    assert.ok(!(contacts instanceof SipParseError));
    const uri = contacts.contacts[0].uri;
    assert.equal(uri.user, 'caller');
    // Unescaping is never recursive: "v%61lue%25%34%31" is "value%41", not "valueA".
    assert.deepEqual([...uri.params], [['lr', null], ['name', 'value%41']]);
  },
  escnull(m) {
    const c = core(m);
    assert.equal(c.to.uri.user, 'null-\x00-null');
    const contacts = parseContactList(m.headers.getAll('Contact'));
    assert.ok(!(contacts instanceof SipParseError));
    assert.deepEqual(contacts.contacts.map((x) => x.uri.user), ['\x00', '\x00\x00']);
  },
  esc02(m) {
    const c = core(m);
    assert.equal((m as SipRequest).method, 'RE%47IST%45R');
    assert.equal(c.to.displayName, '%Z%45');
    assert.equal(m.headers.getAll('Contact').length, 2, 'C%6Fntact is not Contact');
    assert.equal(m.headers.get('C%6Fntact'), '<sip:alias2@host2.example.com>');
  },
  lwsdisp(m) {
    assert.equal(core(m).from.displayName, 'caller');
  },
  longreq(m) {
    const c = core(m);
    assert.equal(c.via.length, 34);
    assert.equal(c.to.uri.port, 6000);
    assert.equal(c.from.params.get('tag'), `12${'982'.repeat(50)}424`);
    assert.equal(c.callId, `longreq.one${'really'.repeat(20)}longcallid`);
  },
  dblreq(m) {
    assert.equal((m as SipRequest).method, 'REGISTER');
    assert.equal(m.body.length, 0);
    core(m);
  },
  semiuri(m) {
    const c = core(m);
    assert.equal(c.requestUri.user, 'user;par=u@example.net');
    assert.equal(c.requestUri.params.size, 0);
    assert.equal(m.headers.getAll('Accept').length, 6);
  },
  transports(m) {
    assert.deepEqual(core(m).via.map((v) => v.transport), ['UDP', 'SCTP', 'TLS', 'UNKNOWN', 'TCP']);
  },
  mpart01(m) {
    core(m);
    assert.equal(m.body.length, 553);
    const ct = parseMediaType(m.headers.get('Content-Type') ?? '');
    assert.ok(!(ct instanceof SipParseError));
    assert.equal(ct.type, 'multipart/mixed');
    assert.equal(ct.params.get('boundary'), '7a9cbec02ceef655');
    // Binary bytes survive untouched (no decoding of bodies).
    assert.ok(m.body.includes(Buffer.from([0x30, 0x82, 0x01, 0x52, 0x06, 0x09, 0x2a, 0x86, 0x0d, 0x0a, 0x48])));
  },
  unreason(m) {
    assert.equal((m as SipResponse).reason, '= 2**3 * 5**2 но сто девяносто девять - простое');
  },
  noreason(m) {
    assert.equal((m as SipResponse).status, 100);
    assert.equal((m as SipResponse).reason, '');
  },
  badbranch(m) {
    assert.equal(core(m).via[0].branch, 'z9hG4bK');
  },
  inv2543(m) {
    const c = core(m);
    assert.equal(c.maxForwards, undefined);
    assert.equal(c.via[0].branch, undefined);
    assert.equal(c.from.params.has('tag'), false);
    // addr-spec form: ";user=phone" after the URI is a To header parameter (RFC 3261 §20.10).
    assert.equal(c.to.params.get('user'), 'phone');
    assert.equal(c.to.uri.params.size, 0);
  },
  zeromf(m) {
    assert.equal(core(m).maxForwards, 0);
  },
  cparam01(m) {
    const contacts = parseContactList(m.headers.getAll('Contact'));
    assert.ok(!(contacts instanceof SipParseError));
    // addr-spec form: ";unknownparam" is a Contact header parameter, not a URI parameter (§20.10).
    assert.equal(contacts.contacts[0].params.has('unknownparam'), true);
    assert.equal(contacts.contacts[0].uri.params.size, 0);
  },
  cparam02(m) {
    const contacts = parseContactList(m.headers.getAll('Contact'));
    assert.ok(!(contacts instanceof SipParseError));
    assert.equal(contacts.contacts[0].uri.params.has('unknownparam'), true);
    assert.equal(contacts.contacts[0].params.size, 0);
  },
  regescrt(m) {
    const contacts = parseContactList(m.headers.getAll('Contact'));
    assert.ok(!(contacts instanceof SipParseError));
    assert.equal(contacts.contacts[0].uri.headers.get('Route'), '<sip:sip.example.com>');
  },
  regaut01(m) {
    assert.equal(m.headers.get('Authorization'), 'NoOneKnowsThisScheme opaque-data=here');
  },
  sdp01(m) {
    assert.equal(m.headers.get('Accept'), 'text/nobodyKnowsThis');
  },
};

interface InvalidExpectation {
  section: string;
  /** Where the defect is caught: by parseMessage, by validateRequest/Response, or by a header parser later. */
  stage: 'parse' | 'validate' | 'later';
  code: SipErrorCode;
  status?: number;
  /** For stage 'later': the check the UAS runs when it uses that header. */
  later?: (m: SipMessage) => unknown;
}

const INVALID: Record<string, InvalidExpectation> = {
  badinv01: { section: '3.1.2.1', stage: 'validate', code: 'SIP_ERR_BAD_HEADER' },
  clerr: { section: '3.1.2.2', stage: 'parse', code: 'SIP_ERR_BODY_TRUNCATED' },
  ncl: { section: '3.1.2.3', stage: 'parse', code: 'SIP_ERR_CONTENT_LENGTH' },
  scalar02: { section: '3.1.2.4', stage: 'validate', code: 'SIP_ERR_BAD_HEADER' },
  scalarlg: { section: '3.1.2.5', stage: 'validate', code: 'SIP_ERR_BAD_HEADER' },
  quotbal: { section: '3.1.2.6', stage: 'validate', code: 'SIP_ERR_BAD_HEADER' },
  ltgtruri: { section: '3.1.2.7', stage: 'validate', code: 'SIP_ERR_URI' },
  lwsruri: { section: '3.1.2.8', stage: 'parse', code: 'SIP_ERR_START_LINE' },
  lwsstart: { section: '3.1.2.9', stage: 'parse', code: 'SIP_ERR_START_LINE' },
  trws: { section: '3.1.2.10', stage: 'parse', code: 'SIP_ERR_START_LINE' },
  escruri: { section: '3.1.2.11', stage: 'validate', code: 'SIP_ERR_URI' },
  regbadct: {
    section: '3.1.2.13',
    stage: 'later',
    code: 'SIP_ERR_BAD_HEADER',
    later: (m) => parseContactList(m.headers.getAll('Contact')),
  },
  badaspec: { section: '3.1.2.14', stage: 'validate', code: 'SIP_ERR_BAD_HEADER' },
  baddn: { section: '3.1.2.15', stage: 'validate', code: 'SIP_ERR_BAD_HEADER' },
  badvers: { section: '3.1.2.16', stage: 'parse', code: 'SIP_ERR_VERSION', status: 505 },
  mismatch01: { section: '3.1.2.17', stage: 'validate', code: 'SIP_ERR_CSEQ_METHOD_MISMATCH' },
  mismatch02: { section: '3.1.2.18', stage: 'validate', code: 'SIP_ERR_CSEQ_METHOD_MISMATCH' },
  bigcode: { section: '3.1.2.19', stage: 'parse', code: 'SIP_ERR_START_LINE' },
  insuf: { section: '3.3.1', stage: 'validate', code: 'SIP_ERR_MISSING_HEADER' },
  unksm: { section: '3.3.2', stage: 'validate', code: 'SIP_ERR_UNSUPPORTED_URI_SCHEME', status: 416 },
  novelsc: { section: '3.3.3', stage: 'validate', code: 'SIP_ERR_UNSUPPORTED_URI_SCHEME', status: 416 },
  multi01: { section: '3.3.8', stage: 'validate', code: 'SIP_ERR_DUPLICATE_HEADER' },
  mcl01: { section: '3.3.9', stage: 'parse', code: 'SIP_ERR_CONTENT_LENGTH' },
};

/**
 * Messages of the invalid set that are well formed as far as this layer can tell: the RFC expects the
 * defect to be caught above the parser (by the UAS core or the transport). The check here proves the
 * layer hands that layer what it needs.
 */
const DETECTED_ABOVE: Record<string, { section: string; why: string; check: (m: SipMessage) => void }> = {
  bext01: {
    section: '3.3.5',
    why: 'unknown option-tags in Require: the UAS core answers 420 with Unsupported (RFC 3261 §8.2.2.3)',
    check(m) {
      assert.deepEqual(parseTokenList(m.headers.getAll('Require')), ['nothingSupportsThis', 'nothingSupportsThisEither']);
    },
  },
  invut: {
    section: '3.3.6',
    why: 'unknown body type: the UAS core answers 415 with Accept (RFC 3261 §8.2.3)',
    check(m) {
      const ct = parseMediaType(m.headers.get('Content-Type') ?? '');
      assert.ok(!(ct instanceof SipParseError));
      assert.equal(ct.type, 'application/unknownformat');
      assert.equal(m.body.length, 40);
    },
  },
  bcast: {
    section: '3.3.10',
    why: 'a Via sent-by of 255.255.255.255: the transport must not send responses to a broadcast address',
    check(m) {
      const c = validateResponse(m as SipResponse);
      assert.ok(!(c instanceof SipParseError));
      assert.equal(c.via[1].host, '255.255.255.255');
    },
  },
};

/**
 * Expected deviations from RFC 4475, each with its reason. A behaviour change makes these tests fail
 * so that the list is revisited rather than silently outdated.
 */
const EXPECTED_DEVIATIONS: Record<string, { section: string; reason: string; check: (m: SipMessage | SipParseError) => void }> = {
  baddate: {
    section: '3.1.2.12',
    reason:
      'The Date header is never parsed here: a presence server makes no decision on it, and RFC 4475 itself lets an element ignore the malformed Date; the message is accepted.',
    check(m) {
      assert.ok(!(m instanceof SipParseError));
      assert.ok(!(validated(m) instanceof SipParseError));
      assert.equal(m.headers.get('Date'), 'Fri, 01 Jan 2010 16:00:00 EST');
    },
  },
  unksm2: {
    section: '3.3.4',
    reason:
      'RFC 4475 asks to accept non-SIP URIs in To/From; our SipUri type models sip/sips/tel only and a presence server cannot serve such an AOR, so validateRequest answers 400 (Bad header From).',
    check(m) {
      assert.ok(!(m instanceof SipParseError));
      const v = validated(m);
      assert.ok(v instanceof SipParseError);
      assert.equal(v.code, 'SIP_ERR_BAD_HEADER');
      assert.equal(v.status, 400);
    },
  },
};

describe('RFC 4475 torture vectors', () => {
  test('the files on disk are those make-vectors.ts writes', () => {
    for (const dir of ['valid', 'invalid'] as const) {
      assert.deepEqual(files(dir), Object.keys(VECTORS[dir]).sort());
      for (const [name, bytes] of Object.entries(VECTORS[dir])) assert.deepEqual(load(dir, name), bytes, name);
    }
  });

  test('every file has an expectation', () => {
    for (const name of files('valid')) assert.ok(name in VALID_CHECKS, `no check for valid/${name}`);
    for (const name of files('invalid')) {
      const n = [name in INVALID, name in DETECTED_ABOVE, name in EXPECTED_DEVIATIONS].filter(Boolean).length;
      assert.equal(n, 1, `invalid/${name} needs exactly one expectation`);
    }
  });

  describe('valid messages parse and validate (RFC 4475 §3.1.1, §3.2, §3.3, §3.4)', () => {
    for (const name of files('valid')) {
      test(name, () => {
        const m = parsed(load('valid', name));
        const v = validated(m);
        assert.ok(!(v instanceof SipParseError), v instanceof SipParseError ? v.message : '');
        VALID_CHECKS[name](m);
        // Round trip: serialising and parsing again yields the same headers and body bytes
        // (serialisation always writes a Content-Length, even where the datagram had none).
        const again = parsed(serializeMessage(m));
        const noCl = (h: Iterable<[string, string]>) => [...h].filter(([n]) => n !== 'Content-Length');
        assert.deepEqual(noCl(again.headers), noCl(m.headers));
        assert.equal(again.headers.get('Content-Length'), String(m.body.length));
        assert.deepEqual(again.body, m.body);
      });
    }
  });

  describe('invalid messages are rejected with the expected code', () => {
    for (const [name, exp] of Object.entries(INVALID)) {
      test(`${name} (§${exp.section}) -> ${exp.code} at ${exp.stage}`, () => {
        const m = parseMessage(load('invalid', name));
        let err: unknown;
        if (exp.stage === 'parse') err = m;
        else {
          assert.ok(!(m instanceof SipParseError), m instanceof SipParseError ? `unexpected parse error ${m.code}` : '');
          err = exp.stage === 'validate' ? validated(m) : exp.later?.(m);
        }
        assert.ok(err instanceof SipParseError, `expected a SipParseError, got ${String(err)}`);
        assert.equal(err.code, exp.code, err.message);
        assert.equal(err.status, exp.status ?? 400);
        assert.match(err.message, /^[\x20-\x7e]+$/, 'reason phrase is one printable ASCII line');
      });
    }
  });

  describe('invalid messages whose defect is caught above the syntax layer', () => {
    for (const [name, d] of Object.entries(DETECTED_ABOVE)) {
      test(`${name} (§${d.section}): ${d.why}`, () => {
        const m = parsed(load('invalid', name));
        assert.ok(!(validated(m) instanceof SipParseError));
        d.check(m);
      });
    }
  });

  describe('expected deviations', () => {
    for (const [name, d] of Object.entries(EXPECTED_DEVIATIONS)) {
      test(`${name} (§${d.section}): ${d.reason}`, () => d.check(parseMessage(load('invalid', name))));
    }
  });

  test('scalar02 also carries out-of-range Expires, Max-Forwards and Contact expires', () => {
    const m = parsed(load('invalid', 'scalar02'));
    assert.ok(parseExpires(m.headers.get('Expires') ?? '') instanceof SipParseError);
    const c = parseContactList(m.headers.getAll('Contact'));
    assert.ok(!(c instanceof SipParseError));
    assert.equal(c.contacts[0].params.get('expires'), '280297596632815');
    m.headers.set('CSeq', '1 REGISTER');
    const v = validated(m);
    assert.ok(v instanceof SipParseError);
    assert.equal(v.header, 'Max-Forwards');
  });

  test('a Request-URI with an unknown scheme is still a URI-shaped token', () => {
    assert.equal((parseUri('nobodyKnowsThisScheme:totallyopaquecontent') as SipParseError).status, 416);
  });
});
