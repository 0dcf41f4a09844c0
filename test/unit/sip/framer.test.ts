import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { SipParseError, StreamFramer, parseMessage, type FrameEvent } from '../../../src/sip/index.js';
import { crlf, publishBytes, subscribeBytes } from './helpers.js';

function drain(f: StreamFramer): FrameEvent[] {
  const out: FrameEvent[] = [];
  for (let i = 0; i < 10_000; i++) {
    const ev = f.next();
    if (ev === undefined) return out;
    out.push(ev);
  }
  assert.fail('framer did not settle');
}

function messages(events: FrameEvent[]): Buffer[] {
  return events.filter((e): e is { kind: 'message'; data: Buffer } => e.kind === 'message').map((e) => e.data);
}

describe('StreamFramer (RFC 3261 §18.3, RFC 5626 §3.5.1)', () => {
  const a = publishBytes();
  const b = subscribeBytes();

  test('a message split at every byte position comes out whole, once', () => {
    for (let cut = 0; cut <= a.length; cut++) {
      const f = new StreamFramer({ maxMessageSize: 4096 });
      f.push(a.subarray(0, cut));
      const first = drain(f);
      f.push(a.subarray(cut));
      const events = [...first, ...drain(f)];
      assert.equal(events.length, 1, `cut at ${cut}`);
      assert.deepEqual(messages(events)[0], a);
    }
  });

  test('byte-by-byte delivery of two messages', () => {
    const f = new StreamFramer({ maxMessageSize: 4096 });
    const all = Buffer.concat([a, b]);
    const events: FrameEvent[] = [];
    for (let i = 0; i < all.length; i++) {
      f.push(all.subarray(i, i + 1));
      events.push(...drain(f));
    }
    assert.deepEqual(messages(events), [a, b]);
  });

  test('two messages in one chunk', () => {
    const f = new StreamFramer({ maxMessageSize: 4096 });
    f.push(Buffer.concat([a, b]));
    const events = drain(f);
    assert.deepEqual(messages(events), [a, b]);
    assert.ok(!(parseMessage(messages(events)[1]) instanceof SipParseError));
  });

  test('CRLFCRLF is a ping and a lone CRLF a pong, between messages', () => {
    const f = new StreamFramer({ maxMessageSize: 4096 });
    f.push(Buffer.concat([Buffer.from('\r\n\r\n'), a, Buffer.from('\r\n\r\n\r\n\r\n'), b]));
    assert.deepEqual(
      drain(f).map((e) => e.kind),
      ['ping', 'message', 'ping', 'ping', 'message'],
    );
    f.push(Buffer.from('\r\n'));
    assert.deepEqual(drain(f).map((e) => e.kind), ['pong']);
  });

  test('CRLF CR waits for the fourth byte before deciding', () => {
    const f = new StreamFramer({ maxMessageSize: 4096 });
    f.push(Buffer.from('\r\n\r'));
    assert.deepEqual(drain(f), []);
    f.push(Buffer.from('\n'));
    assert.deepEqual(drain(f).map((e) => e.kind), ['ping']);
  });

  test('a missing Content-Length is an error that carries the header block', () => {
    const f = new StreamFramer({ maxMessageSize: 4096 });
    const noCl = crlf(['OPTIONS sip:a@example.com SIP/2.0', 'Via: SIP/2.0/TCP h;branch=z9hG4bK1', 'CSeq: 1 OPTIONS']);
    f.push(noCl);
    const [ev, ...rest] = drain(f);
    assert.equal(rest.length, 0);
    assert.ok(ev.kind === 'error');
    assert.equal(ev.error.code, 'SIP_ERR_CONTENT_LENGTH');
    assert.deepEqual(ev.headers, noCl);
    assert.equal(f.failed, true);
    f.push(a);
    assert.equal(f.next(), undefined, 'nothing after an error');
  });

  test('an oversized message is an error with its headers available for a 413', () => {
    const f = new StreamFramer({ maxMessageSize: 600 });
    f.push(a.subarray(0, 500));
    const [ev] = drain(f);
    assert.ok(ev !== undefined && ev.kind === 'error');
    assert.equal(ev.error.code, 'SIP_ERR_TOO_LARGE');
    assert.equal(ev.error.status, 413);
    assert.ok(ev.headers !== undefined);
    const head = parseMessage(ev.headers, { ignoreBody: true });
    assert.ok(!(head instanceof SipParseError) && head.kind === 'request');
    assert.equal(head.method, 'PUBLISH');
  });

  test('endless headers without an empty line are cut at the size limit', () => {
    const f = new StreamFramer({ maxMessageSize: 1000 });
    let ev: FrameEvent | undefined;
    for (let i = 0; i < 100 && ev === undefined; i++) {
      f.push(Buffer.from('X-Junk: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n'));
      ev = f.next();
    }
    assert.ok(ev !== undefined && ev.kind === 'error');
    assert.equal(ev.error.code, 'SIP_ERR_TOO_LARGE');
    assert.equal(ev.headers, undefined);
  });

  test('a message of exactly the maximum size passes; one byte more fails', () => {
    const ok = new StreamFramer({ maxMessageSize: a.length });
    ok.push(a);
    assert.deepEqual(messages(drain(ok)), [a]);
    const tooBig = new StreamFramer({ maxMessageSize: a.length - 1 });
    tooBig.push(a);
    const [ev] = drain(tooBig);
    assert.ok(ev.kind === 'error');
  });

  test('the body ends exactly at the chunk boundary, and the next message starts in the next chunk', () => {
    const f = new StreamFramer({ maxMessageSize: 4096 });
    f.push(a);
    assert.deepEqual(messages(drain(f)), [a]);
    assert.equal(f.buffered, 0);
    f.push(b);
    assert.deepEqual(messages(drain(f)), [b]);
  });

  test('a bad Content-Length is an error', () => {
    for (const cl of ['Content-Length: -1', 'Content-Length: x', 'l: 1', 'Content-Length: 99999999999']) {
      const f = new StreamFramer({ maxMessageSize: 4096 });
      const lines = ['OPTIONS sip:a@example.com SIP/2.0', 'Content-Length: 0', cl];
      f.push(crlf(cl === 'Content-Length: 99999999999' || cl.startsWith('Content-Length: -') || cl.endsWith('x') ? [lines[0], cl] : lines));
      const [ev] = drain(f);
      assert.ok(ev !== undefined && ev.kind === 'error', cl);
    }
  });

  test('returned messages are copies: later pushes do not change them', () => {
    const f = new StreamFramer({ maxMessageSize: 4096 });
    f.push(a);
    const [m] = messages(drain(f));
    const copy = Buffer.from(m);
    for (let i = 0; i < 20; i++) f.push(b);
    drain(f);
    assert.deepEqual(m, copy);
  });
});
