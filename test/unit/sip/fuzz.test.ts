/**
 * Property tests: the syntax layer never throws on untrusted input (architecture.md §7.1). Every run is
 * bounded (numRuns) and seeded by fast-check, which prints the seed and the shrunk input on failure.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import fc from 'fast-check';
import {
  SipParseError,
  StreamFramer,
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
  parseUri,
  parseVia,
  formatNameAddr,
  formatUri,
  formatVia,
  serializeMessage,
  validateRequest,
  validateResponse,
  createResponse,
  type SipMessage,
} from '../../../src/sip/index.js';
import { publishBytes, subscribeBytes, vectorDir } from './helpers.js';

const RUNS = 1500;

const vectors = vectorDir();
const SEEDS: Buffer[] = [publishBytes(), subscribeBytes()];
for (const dir of ['valid', 'invalid']) {
  for (const f of readdirSync(vectors + dir)) if (f.endsWith('.sip')) SEEDS.push(readFileSync(`${vectors}${dir}/${f}`));
}

const HEADER_PARSERS: Array<[string, (s: string) => unknown]> = [
  ['parseUri', parseUri],
  ['parseNameAddr', parseNameAddr],
  ['parseVia', parseVia],
  ['parseCSeq', parseCSeq],
  ['parseEvent', parseEvent],
  ['parseSubscriptionState', parseSubscriptionState],
  ['parseExpires', parseExpires],
  ['parseMediaType', parseMediaType],
  ['parseAccept', parseAccept],
  ['parseContactList', (s) => parseContactList([s])],
  ['parseTokenList', (s) => parseTokenList([s])],
];

/** Characters that matter to SIP grammars, so random strings reach deep into the parsers. */
const SIP_CHARS = [...'sipSIPtel:@;=<>",\\%[]/?&.-_+*!~\'()`abcAZ019 \t#$', '%2', '%zz', 'sip:', 'SIP/2.0/UDP ', ';tag=', '"', '\\"', '::', '\u00e9', '\u0000', '\r', '\n'];
const sipish = fc.array(fc.constantFrom(...SIP_CHARS), { maxLength: 60 }).map((a) => a.join(''));
const anyString = fc.oneof(fc.string({ maxLength: 80 }), fc.string({ unit: 'binary', maxLength: 80 }), sipish);

/** Exercises everything a layer above might call on a parsed message. */
function exercise(m: SipMessage | SipParseError): void {
  if (m instanceof SipParseError) {
    assert.match(m.message, /^[\x20-\x7e]*$/);
    assert.ok(m.status >= 400 && m.status < 600);
    return;
  }
  const core = m.kind === 'request' ? validateRequest(m) : validateResponse(m);
  if (core instanceof SipParseError) assert.match(core.message, /^[\x20-\x7e]*$/);
  else if (m.kind === 'request') {
    const c = validateRequest(m);
    if (!(c instanceof SipParseError)) serializeMessage(createResponse(m, c, 200, { toTag: 'x' }));
    for (const v of c instanceof SipParseError ? [] : c.via) parseVia(formatVia(v));
  }
  for (const [, value] of m.headers) for (const [, p] of HEADER_PARSERS) p(value);
  parseContactList(m.headers.getAll('Contact'));
  const wire = serializeMessage(m);
  // Whatever parsed once parses again after serialisation, with the same headers and body.
  const again = parseMessage(wire);
  assert.ok(!(again instanceof SipParseError), again instanceof SipParseError ? again.message : '');
  const noCl = (x: SipMessage) => [...x.headers].filter(([n]) => n !== 'Content-Length');
  assert.deepEqual(noCl(again), noCl(m));
  assert.deepEqual(again.body, m.body);
}

type Mutation = (b: Buffer) => Buffer;

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }).map(({ at, byte }) => (b: Buffer) => {
    const c = Buffer.from(b);
    if (c.length > 0) c[at % c.length] = byte;
    return c;
  }),
  fc.nat().map((n) => (b: Buffer) => b.subarray(0, n % (b.length + 1))),
  fc.record({ from: fc.nat(), len: fc.nat({ max: 200 }), to: fc.nat() }).map(({ from, len, to }) => (b: Buffer) => {
    const start = from % (b.length + 1);
    const piece = b.subarray(start, start + len);
    const at = to % (b.length + 1);
    return Buffer.concat([b.subarray(0, at), piece, b.subarray(at)]);
  }),
  fc.record({ seed: fc.nat() }).map(({ seed }) => (b: Buffer) => {
    // Shuffle the header lines (not the start line), keeping the body.
    const text = b.toString('latin1');
    const end = text.indexOf('\r\n\r\n');
    if (end < 0) return b;
    const lines = text.slice(0, end).split('\r\n');
    const head = lines.slice(1);
    let s = seed;
    for (let i = head.length - 1; i > 0; i--) {
      s = (s * 1103515245 + 12345) >>> 0;
      const j = s % (i + 1);
      [head[i], head[j]] = [head[j], head[i]];
    }
    return Buffer.from([lines[0], ...head].join('\r\n') + text.slice(end), 'latin1');
  }),
  fc.record({ at: fc.nat(), junk: fc.uint8Array({ maxLength: 16 }) }).map(({ at, junk }) => (b: Buffer) => {
    const i = at % (b.length + 1);
    return Buffer.concat([b.subarray(0, i), Buffer.from(junk), b.subarray(i)]);
  }),
  fc.constantFrom<Mutation>(
    (b) => Buffer.from(b.toString('latin1').replace(/\r\n/g, '\n'), 'latin1'),
    (b) => Buffer.from(b.toString('latin1').replace(/: /g, ':\r\n '), 'latin1'),
    (b) => Buffer.from(b.toString('latin1').replace(/\r\n/, '\r\n' + 'X-Long: ' + 'a'.repeat(5000) + '\r\n'), 'latin1'),
  ),
);

describe('fast-check properties of the syntax layer', () => {
  test('random bytes: parseMessage returns a message or a SipParseError, never throws', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
        exercise(parseMessage(Buffer.from(bytes)));
      }),
      { numRuns: RUNS },
    );
  });

  test('random text shaped like a message', () => {
    const line = fc.tuple(sipish, sipish).map(([a, b]) => `${a}:${b}`);
    fc.assert(
      fc.property(fc.constantFrom('OPTIONS sip:a@b SIP/2.0', 'SIP/2.0 200 OK', 'NOTIFY sip:x SIP/2.0'), fc.array(line, { maxLength: 12 }), sipish, (start, lines, body) => {
        exercise(parseMessage(Buffer.from([start, ...lines].join('\r\n') + '\r\n\r\n' + body, 'utf8')));
      }),
      { numRuns: RUNS },
    );
  });

  test('mutated valid messages (byte flips, truncation, duplication, header shuffles, junk, folding)', () => {
    fc.assert(
      fc.property(fc.constantFrom(...SEEDS), fc.array(mutation, { minLength: 1, maxLength: 4 }), (seed, muts) => {
        let b = seed;
        for (const m of muts) b = m(b);
        exercise(parseMessage(b));
      }),
      { numRuns: RUNS * 2 },
    );
  });

  for (const [name, parse] of HEADER_PARSERS) {
    test(`${name} never throws on random strings`, () => {
      fc.assert(
        fc.property(anyString, (s) => {
          const r = parse(s);
          assert.ok(r !== undefined && r !== null);
          if (r instanceof SipParseError) assert.match(r.message, /^[\x20-\x7e]*$/);
        }),
        { numRuns: RUNS },
      );
    });
  }

  test('formatting what parsed gives text that parses to the same value', () => {
    fc.assert(
      fc.property(sipish, (s) => {
        const u = parseUri(s);
        if (!(u instanceof SipParseError)) assert.deepEqual(parseUri(formatUri(u)), u);
        const na = parseNameAddr(s);
        if (!(na instanceof SipParseError)) assert.ok(!(parseNameAddr(formatNameAddr(na)) instanceof SipParseError));
        const v = parseVia(s);
        if (!(v instanceof SipParseError)) assert.ok(!(parseVia(formatVia(v)) instanceof SipParseError));
      }),
      { numRuns: RUNS },
    );
  });

  test('any URI built from parts survives formatUri -> parseUri unchanged (escaping is complete)', () => {
    const text = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 8 });
    const lowerName = fc.stringMatching(/^[a-z0-9%!~*'()._-]{1,8}$/).map((x) => x.replace(/%/g, '_'));
    const host = fc.oneof(
      fc.stringMatching(/^[a-z0-9]([a-z0-9.-]{0,20}[a-z0-9])?$/),
      fc.constantFrom('[2001:db8::1]', '[::1]', '192.0.2.7', '[::ffff:192.0.2.1]'),
    );
    const uri = fc
      .record({
        scheme: fc.constantFrom('sip' as const, 'sips' as const),
        user: fc.option(text, { nil: undefined }),
        password: fc.option(text, { nil: undefined }),
        host,
        port: fc.option(fc.integer({ min: 0, max: 65535 }), { nil: undefined }),
        params: fc.uniqueArray(fc.tuple(lowerName, fc.option(text, { nil: null })), { selector: ([k]) => k, maxLength: 4 }),
        headers: fc.uniqueArray(fc.tuple(text, fc.string({ maxLength: 6 })), { selector: ([k]) => k, maxLength: 3 }),
      })
      .map((r) => ({
        scheme: r.scheme,
        user: r.user,
        password: r.user === undefined ? undefined : r.password,
        host: r.host,
        port: r.port,
        params: new Map<string, string | null>(r.params),
        headers: new Map<string, string>(r.headers),
      }));
    fc.assert(
      fc.property(uri, fc.option(fc.string({ unit: 'grapheme', maxLength: 10 }).filter((d) => !/[\r\n]/.test(d) && d.trim() === d && d.length > 0), { nil: undefined }), (u, displayName) => {
        const text = formatUri(u);
        assert.deepEqual(parseUri(text), u, text);
        const na = { displayName, uri: u, uriText: text, params: new Map<string, string | null>([['tag', 'a1']]) };
        const again = parseNameAddr(formatNameAddr(na));
        assert.ok(!(again instanceof SipParseError), formatNameAddr(na));
        assert.deepEqual(again, na);
      }),
      { numRuns: RUNS },
    );
  });

  test('the framer never throws and never yields more bytes than were pushed', () => {
    const stream = fc.array(
      fc.oneof(
        fc.constantFrom(...SEEDS.slice(0, 6)),
        fc.constantFrom(Buffer.from('\r\n\r\n'), Buffer.from('\r\n'), Buffer.from('\n')),
        fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a)),
      ),
      { maxLength: 8 },
    );
    fc.assert(
      fc.property(stream, fc.array(fc.integer({ min: 1, max: 300 }), { minLength: 1, maxLength: 10 }), fc.integer({ min: 1, max: 3000 }), (parts, cuts, max) => {
        const all = Buffer.concat(parts);
        const f = new StreamFramer({ maxMessageSize: max });
        let pushed = 0;
        let yielded = 0;
        let errors = 0;
        let pos = 0;
        let k = 0;
        const drain = () => {
          for (let i = 0; i < 10_000; i++) {
            const ev = f.next();
            if (ev === undefined) return;
            if (ev.kind === 'message') {
              yielded += ev.data.length;
              assert.ok(ev.data.length <= max);
              exercise(parseMessage(ev.data));
            } else if (ev.kind === 'ping') yielded += 4;
            else if (ev.kind === 'pong') yielded += 2;
            else {
              errors++;
              if (ev.headers !== undefined) parseMessage(ev.headers, { ignoreBody: true });
            }
            assert.ok(yielded <= pushed, 'yielded more bytes than pushed');
          }
          assert.fail('framer did not settle');
        };
        while (pos < all.length) {
          const n = cuts[k++ % cuts.length];
          const chunk = all.subarray(pos, pos + n);
          pos += chunk.length;
          pushed += chunk.length;
          f.push(chunk);
          drain();
        }
        assert.ok(errors <= 1, 'an error is terminal');
      }),
      { numRuns: RUNS },
    );
  });
});
