/**
 * Non-INVITE client transactions (RFC 3261 §17.1.2) for requests we originate (NOTIFY), against a fake
 * transport and a manual clock.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createRequest, parseVia, SipParseError, type SipRequest } from '../../../src/sip/index.js';
import {
  ManualClock,
  TransactionLayer,
  type ClientTransactionOutcome,
} from '../../../src/transaction/index.js';
import type { Destination } from '../../../src/transport/index.js';
import { FakeTransport, responseTo, silentLogger } from './fake-transport.js';

const UDP_DEST: Destination = { protocol: 'udp', address: '127.0.0.1', port: 5070 };
const TCP_DEST: Destination = { protocol: 'tcp', address: '127.0.0.1', port: 5070, flowId: 'f1' };

function notify(body = ''): SipRequest {
  return createRequest(
    'NOTIFY',
    'sip:alice@127.0.0.1:5070',
    [
      ['From', '<sip:bob@example.com>;tag=srv'],
      ['To', '<sip:alice@example.com>;tag=cli'],
      ['Call-ID', 'notify-1'],
      ['CSeq', '7 NOTIFY'],
      ['Event', 'presence'],
      ['Subscription-State', 'active;expires=600'],
    ],
    Buffer.from(body),
  );
}

function setup(opts: { udpMtu?: number } = {}): { clock: ManualClock; transport: FakeTransport; layer: TransactionLayer } {
  const clock = new ManualClock();
  const transport = new FakeTransport(() => clock.now());
  const layer = new TransactionLayer(
    transport,
    { onRequest() {} },
    { clock, logger: silentLogger, serverHeader: 'x', supported: [], ...opts },
  );
  return { clock, transport, layer };
}

/** Records the outcome once the promise settles (promises settle on the microtask queue). */
function track(p: Promise<ClientTransactionOutcome>): { outcome(): ClientTransactionOutcome | undefined } {
  let outcome: ClientTransactionOutcome | undefined;
  void p.then((o) => {
    outcome = o;
  });
  // A method, so that an assertion on one read does not narrow the type of later reads.
  return { outcome: () => outcome };
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('request construction', () => {
  test('a top Via with z9hG4bK branch and rport, and Max-Forwards 70, are added; the input is untouched', () => {
    const { transport, layer } = setup();
    const req = notify();
    void layer.sendRequest(req, UDP_DEST);
    const text = transport.sent[0].text;
    const viaLine = /^Via: (.*)\r$/m.exec(text)?.[1] ?? '';
    const via = parseVia(viaLine);
    assert.ok(!(via instanceof SipParseError));
    assert.equal(via.transport, 'UDP');
    assert.equal(via.host, '127.0.0.1');
    assert.equal(via.port, 5060);
    assert.match(via.branch ?? '', /^z9hG4bK./);
    assert.equal(via.rport, true);
    assert.match(text, /^Max-Forwards: 70\r$/m);
    assert.ok(text.startsWith('NOTIFY sip:alice@127.0.0.1:5070 SIP/2.0\r\nVia: '), 'Via is the first header');
    assert.equal(req.headers.has('via'), false);
    assert.equal(req.headers.has('max-forwards'), false);
  });

  test('over TCP the Via names TCP and the TCP listener; an existing Max-Forwards is kept', () => {
    const { transport, layer } = setup();
    const req = notify();
    req.headers.set('Max-Forwards', '10');
    void layer.sendRequest(req, TCP_DEST);
    assert.match(transport.sent[0].text, /^Via: SIP\/2\.0\/TCP 127\.0\.0\.1:5062;branch=z9hG4bK\S+;rport\r$/m);
    assert.match(transport.sent[0].text, /^Max-Forwards: 10\r$/m);
    assert.deepEqual(transport.sent[0].dest, TCP_DEST);
  });

  test('each request gets a fresh branch', () => {
    const { transport, layer } = setup();
    void layer.sendRequest(notify(), UDP_DEST);
    void layer.sendRequest(notify(), UDP_DEST);
    const branches = transport.sent.map((s) => /branch=([^;\r]+)/.exec(s.text)?.[1]);
    assert.notEqual(branches[0], branches[1]);
  });
});

describe('Timers E and F over UDP (§17.1.2.2)', () => {
  test('retransmits at T1, doubling to T2 (500, 1000, 2000, 4000, 4000 ...), then Timer F yields 408', async () => {
    const { clock, transport, layer } = setup();
    const box = track(layer.sendRequest(notify(), UDP_DEST));
    clock.advance(31_999);
    await tick();
    assert.equal(box.outcome(), undefined);
    const times = transport.sent.map((s) => s.at);
    assert.deepEqual(times, [0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500]);
    assert.ok(transport.sent.every((s) => s.text === transport.sent[0].text), 'retransmissions are identical');
    clock.advance(1);
    await tick();
    assert.deepEqual(box.outcome(), { status: 408, response: undefined, localReason: 'timeout' });
    assert.equal(layer.stats().timeouts, 1);
    assert.equal(layer.stats().clientTransactions, 0);
    clock.advance(60_000);
    assert.equal(transport.sent.length, 11, 'nothing after Timer F');
  });

  test('a 1xx moves to Proceeding: retransmissions continue every T2; the final response resolves', async () => {
    const { clock, transport, layer } = setup();
    const box = track(layer.sendRequest(notify(), UDP_DEST));
    clock.advance(600); // one retransmission at 500
    transport.deliver(responseTo(transport.sent[0].text, 100, 'Trying'));
    clock.advance(400); // Timer E fires at 1500 (set before the 1xx)
    clock.advance(500);
    assert.deepEqual(transport.sent.map((s) => s.at), [0, 500, 1500]);
    clock.advance(4000);
    assert.deepEqual(transport.sent.map((s) => s.at), [0, 500, 1500, 5500], 'then every T2');
    await tick();
    assert.equal(box.outcome(), undefined, '1xx does not resolve');
    transport.deliver(responseTo(transport.sent[0].text, 200));
    await tick();
    assert.equal(box.outcome()?.status, 200);
    assert.equal(box.outcome()?.response?.status, 200);
    assert.equal(box.outcome()?.localReason, undefined);
    clock.advance(10_000);
    assert.equal(transport.sent.length, 4, 'no retransmission after the final response');
  });

  test('Timer K (T4) absorbs retransmitted finals, then the state is freed', async () => {
    const { clock, transport, layer } = setup();
    const p = layer.sendRequest(notify(), UDP_DEST);
    const resp = responseTo(transport.sent[0].text, 481, 'Call/Transaction Does Not Exist');
    transport.deliver(resp);
    assert.equal((await p).status, 481);
    transport.deliver(resp);
    assert.equal(layer.stats().responseRetransmissionsAbsorbed, 1);
    assert.equal(layer.stats().clientTransactions, 1);
    clock.advance(5000);
    assert.equal(layer.stats().clientTransactions, 0);
    transport.deliver(resp);
    assert.equal(layer.stats().strayResponses, 1);
  });
});

describe('reliable transport and failures', () => {
  test('over TCP nothing is retransmitted, but Timer F still applies', async () => {
    const { clock, transport, layer } = setup();
    const box = track(layer.sendRequest(notify(), TCP_DEST));
    clock.advance(32_000);
    await tick();
    assert.equal(transport.sent.length, 1);
    assert.equal(box.outcome()?.status, 408);
  });

  test('over TCP the final response ends the transaction at once (Timer K = 0)', async () => {
    const { transport, layer } = setup();
    const p = layer.sendRequest(notify(), TCP_DEST);
    transport.deliver(responseTo(transport.sent[0].text, 200));
    assert.equal((await p).status, 200);
    assert.equal(layer.stats().clientTransactions, 0);
  });

  test('a transport error is reported as 503 transport-error (§17.1.4)', async () => {
    const { clock, transport, layer } = setup();
    transport.failSends = () => new Error('ECONNREFUSED');
    const outcome = await layer.sendRequest(notify(), TCP_DEST);
    assert.deepEqual(outcome, { status: 503, response: undefined, localReason: 'transport-error' });
    assert.equal(layer.stats().transportErrors, 1);
    assert.equal(layer.stats().clientTransactions, 0);
    clock.advance(40_000);
    assert.equal(clock.pending, 0, 'no timer left behind');
  });

  test('stop() resolves pending requests with 503', async () => {
    const { layer } = setup();
    const p = layer.sendRequest(notify(), UDP_DEST);
    layer.stop();
    assert.equal((await p).status, 503);
    assert.equal((await layer.sendRequest(notify(), UDP_DEST)).status, 503);
  });
});

describe('response matching (§17.1.3, §18.1.2)', () => {
  test('a response with another branch, another CSeq method or another sent-by is dropped', async () => {
    const { transport, layer } = setup();
    const box = track(layer.sendRequest(notify(), UDP_DEST));
    const sent = transport.sent[0].text;
    transport.deliver(responseTo(sent.replace(/branch=[^;\r]+/, 'branch=z9hG4bKnope'), 200));
    transport.deliver(responseTo(sent.replace('7 NOTIFY', '7 SUBSCRIBE'), 200));
    transport.deliver(responseTo(sent.replace('127.0.0.1:5060', '127.0.0.1:5999'), 200));
    await tick();
    assert.equal(box.outcome(), undefined);
    assert.equal(layer.stats().strayResponses, 3);
  });

  test('a response failing validation is dropped and counted', () => {
    const { transport, layer } = setup();
    void layer.sendRequest(notify(), UDP_DEST);
    transport.deliver(responseTo(transport.sent[0].text, 200).replace('Call-ID: notify-1\r\n', ''));
    assert.equal(layer.stats().malformedDropped, 1);
  });
});

describe('size-based transport choice (§18.1.1)', () => {
  test('a UDP request over the MTU bound goes over TCP', async () => {
    const { transport, layer } = setup();
    const p = layer.sendRequest(notify('x'.repeat(1400)), UDP_DEST);
    assert.equal(transport.sent[0].dest.protocol, 'tcp');
    assert.match(transport.sent[0].text, /^Via: SIP\/2\.0\/TCP /m);
    transport.deliver(responseTo(transport.sent[0].text, 200));
    assert.equal((await p).status, 200);
    assert.equal(layer.stats().mtuSwitchedToTcp, 1);
  });

  test('when the TCP connection fails it falls back to UDP, same branch, with Timer E', async () => {
    const { clock, transport, layer } = setup();
    transport.failSends = (d) => (d.protocol === 'tcp' ? new Error('ECONNREFUSED') : undefined);
    const box = track(layer.sendRequest(notify('x'.repeat(1400)), UDP_DEST));
    await tick();
    assert.deepEqual(transport.sent.map((s) => s.dest.protocol), ['tcp', 'udp']);
    const udpText = transport.sent[1].text;
    assert.match(udpText, /^Via: SIP\/2\.0\/UDP /m);
    assert.equal(/branch=([^;\r]+)/.exec(udpText)?.[1], /branch=([^;\r]+)/.exec(transport.sent[0].text)?.[1]);
    clock.advance(500);
    assert.equal(transport.sent.length, 3);
    transport.deliver(responseTo(udpText, 200));
    await tick();
    assert.equal(box.outcome()?.status, 200);
    assert.equal(layer.stats().mtuFallbacksToUdp, 1);
  });

  test('udpMtu: 0 disables the switch', () => {
    const { transport, layer } = setup({ udpMtu: 0 });
    void layer.sendRequest(notify('x'.repeat(1400)), UDP_DEST);
    assert.equal(transport.sent[0].dest.protocol, 'udp');
  });
});
