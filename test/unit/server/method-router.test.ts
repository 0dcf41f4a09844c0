import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger } from '../../../src/observability/index.js';
import { parseMessage, validateRequest, SipParseError, type SipRequest, type SipResponse } from '../../../src/sip/index.js';
import type { ServerTransaction } from '../../../src/transaction/index.js';
import { MethodRouter, type MethodHandler } from '../../../src/server/method-router.js';

const logger = createLogger({ level: 'silent' });

function request(method: string, extra = ''): SipRequest {
  const text =
    `${method} sip:alice@example.com SIP/2.0\r\n` +
    'Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKunit1\r\n' +
    'From: <sip:bob@example.com>;tag=f1\r\nTo: <sip:alice@example.com>\r\n' +
    `Call-ID: unit@test\r\nCSeq: 1 ${method}\r\nMax-Forwards: 70\r\n${extra}Content-Length: 0\r\n\r\n`;
  const msg = parseMessage(Buffer.from(text));
  if (msg instanceof SipParseError || msg.kind !== 'request') throw new Error('bad fixture');
  return msg;
}

function tx(method: string): { tx: ServerTransaction; responses: SipResponse[] } {
  const req = request(method);
  const core = validateRequest(req);
  if (core instanceof SipParseError) throw core;
  const responses: SipResponse[] = [];
  return {
    responses,
    tx: {
      request: req,
      core,
      inbound: { remote: { protocol: 'udp', address: '192.0.2.1', port: 5060 }, localAddress: '127.0.0.1', localPort: 5060, flowId: undefined, receivedAt: 0 },
      respond: (r) => {
        if (!responses.some((x) => x.status >= 200)) responses.push(r);
      },
    },
  };
}

function router(handlers: Array<[string, MethodHandler]> = []): MethodRouter {
  return new MethodRouter({
    handlers: new Map(handlers),
    allowEvents: () => ['presence', 'dialog'],
    acceptedTypes: () => ['application/pidf+xml'],
    supported: [],
    logger,
  });
}

describe('MethodRouter', () => {
  test('dispatches a method to its handler exactly once', () => {
    let calls = 0;
    const r = router([['PUBLISH', () => void calls++]]);
    r.onRequest(tx('PUBLISH').tx);
    assert.equal(calls, 1);
  });

  test('Allow lists the handled methods plus OPTIONS, NOTIFY, ACK and CANCEL (RFC 3261 §20.5)', () => {
    const r = router([['PUBLISH', () => undefined], ['SUBSCRIBE', () => undefined]]);
    assert.deepEqual(r.allow.split(', ').sort(), ['ACK', 'CANCEL', 'NOTIFY', 'OPTIONS', 'PUBLISH', 'SUBSCRIBE']);
  });

  test('OPTIONS: 200 with Allow, Allow-Events, Accept, Accept-Encoding, Accept-Language, Supported and a To-tag (§11.2)', () => {
    const t = tx('OPTIONS');
    router([['SUBSCRIBE', () => undefined]]).onRequest(t.tx);
    const res = t.responses[0];
    assert.equal(res.status, 200);
    assert.deepEqual(res.headers.getAll('Allow-Events'), ['presence', 'dialog']);
    assert.deepEqual(res.headers.getAll('Accept'), ['application/pidf+xml']);
    assert.ok(res.headers.has('Accept-Encoding') && res.headers.has('Accept-Language') && res.headers.has('Supported'));
    assert.match(res.headers.get('To') ?? '', /;tag=\S+/);
  });

  test('known methods we do not serve get 405 with Allow; unknown ones 501 (§8.2.1, §21.5.2)', () => {
    for (const m of ['INVITE', 'REGISTER', 'BYE', 'INFO', 'MESSAGE', 'REFER', 'UPDATE', 'PRACK']) {
      const t = tx(m);
      router().onRequest(t.tx);
      assert.equal(t.responses[0]?.status, 405, m);
      assert.ok(t.responses[0]?.headers.get('Allow'));
    }
    const t = tx('FOO');
    router().onRequest(t.tx);
    assert.equal(t.responses[0]?.status, 501);
  });

  test('NOTIFY outside any dialog of ours gets 481; a stray ACK gets nothing', () => {
    const n = tx('NOTIFY');
    router().onRequest(n.tx);
    assert.equal(n.responses[0]?.status, 481);
    const a = tx('ACK');
    router().onRequest(a.tx);
    assert.equal(a.responses.length, 0);
  });

  test('a handler that throws or rejects is answered 500 with Retry-After', async () => {
    const t1 = tx('PUBLISH');
    router([['PUBLISH', () => { throw new Error('boom'); }]]).onRequest(t1.tx);
    assert.equal(t1.responses[0]?.status, 500);
    assert.ok(t1.responses[0]?.headers.get('Retry-After'));
    const t2 = tx('PUBLISH');
    router([['PUBLISH', () => Promise.reject(new Error('later'))]]).onRequest(t2.tx);
    await new Promise((r) => setImmediate(r));
    assert.equal(t2.responses[0]?.status, 500);
  });
});
