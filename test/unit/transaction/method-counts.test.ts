/**
 * SIP traffic by method and status code in TransactionLayer.stats() (the metrics presenced_sip_requests_*
 * and presenced_sip_responses_*): new requests only, final responses only, retransmissions excluded, and a
 * bounded label space whatever methods a peer invents.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createRequest, createResponse } from '../../../src/sip/index.js';
import { ManualClock, TransactionLayer } from '../../../src/transaction/index.js';
import { methodLabel, MethodCounts } from '../../../src/transaction/method-counts.js';
import type { Destination } from '../../../src/transport/index.js';
import { FakeTransport, request, responseTo, silentLogger } from './fake-transport.js';

const UDP_DEST: Destination = { protocol: 'udp', address: '127.0.0.1', port: 5070 };

function setup(status: (method: string) => number | null = () => 200): { clock: ManualClock; transport: FakeTransport; layer: TransactionLayer } {
  const clock = new ManualClock();
  const transport = new FakeTransport(() => clock.now());
  const layer = new TransactionLayer(
    transport,
    {
      onRequest(tx) {
        const s = status(tx.request.method);
        if (s !== null) tx.respond(createResponse(tx.request, tx.core, s, { toTag: 'tu' }));
      },
    },
    { clock, logger: silentLogger, serverHeader: 'x', supported: [] },
  );
  return { clock, transport, layer };
}

function notify(callId: string): ReturnType<typeof createRequest> {
  return createRequest('NOTIFY', 'sip:alice@127.0.0.1:5070', [
    ['From', '<sip:bob@example.com>;tag=srv'],
    ['To', '<sip:alice@example.com>;tag=cli'],
    ['Call-ID', callId],
    ['CSeq', '2 NOTIFY'],
    ['Event', 'presence'],
    ['Subscription-State', 'active;expires=600'],
  ]);
}

describe('requests received and responses sent, by method and code', () => {
  test('a retransmitted request and its re-sent response are counted once', () => {
    const { transport, layer } = setup((m) => (m === 'PUBLISH' ? 412 : 200));
    transport.deliver(request({ method: 'SUBSCRIBE' }));
    transport.deliver(request({ method: 'SUBSCRIBE' })); // retransmission: absorbed
    transport.deliver(request({ method: 'PUBLISH', branch: 'z9hG4bK-p1', callId: 'c2' }));
    transport.deliver(request({ method: 'PUBLISH', branch: 'z9hG4bK-p2', callId: 'c3' }));
    const s = layer.stats();
    assert.deepEqual(s.requestsReceived, { SUBSCRIBE: 1, PUBLISH: 2 });
    assert.deepEqual(s.responsesSent, { SUBSCRIBE: { '200': 1 }, PUBLISH: { '412': 2 } });
    assert.equal(s.requestRetransmissionsAbsorbed, 1);
    assert.equal(s.responsesRetransmitted, 1);
  });

  test('responses the layer generates itself (483 for Max-Forwards 0) count too; stateless replies do not', () => {
    const { transport, layer } = setup();
    transport.deliver(request({ method: 'SUBSCRIBE', maxForwards: '0' }));
    transport.deliver(request({ method: 'SUBSCRIBE', branch: 'z9hG4bK-x2', callId: 'c9', omit: ['Call-ID'] }));
    const s = layer.stats();
    assert.deepEqual(s.responsesSent, { SUBSCRIBE: { '483': 1 } });
    assert.equal(s.statelessReplies, 1, 'the request without Call-ID got a stateless 400');
  });

  test('methods outside the registered set share the label "other", so a peer cannot grow the label space', () => {
    const { transport, layer } = setup(() => 501);
    for (let i = 0; i < 50; i++) transport.deliver(request({ method: `FOO${i}`, branch: `z9hG4bK-f${i}`, callId: `f${i}` }));
    const s = layer.stats();
    assert.deepEqual(s.requestsReceived, { other: 50 });
    assert.deepEqual(s.responsesSent, { other: { '501': 50 } });
    assert.equal(methodLabel('NOTIFY'), 'NOTIFY');
    assert.equal(methodLabel('notify'), 'other', 'methods are case-sensitive (RFC 3261 §7.1)');
  });
});

describe('requests sent and responses received', () => {
  test('Timer E retransmissions are not requests sent; only the first final response is counted', async () => {
    const { clock, transport, layer } = setup();
    const p1 = layer.sendRequest(notify('n1'), UDP_DEST);
    clock.advance(1600); // two retransmissions (500, 1500)
    assert.equal(transport.sent.length, 3);
    const final = responseTo(transport.sent[0].text, 200);
    transport.deliver(final);
    transport.deliver(final); // a retransmitted final, absorbed in Completed
    assert.equal((await p1).status, 200);
    const p2 = layer.sendRequest(notify('n2'), UDP_DEST);
    transport.deliver(responseTo(transport.sent.at(-1)!.text, 481, 'Call/Transaction Does Not Exist'));
    assert.equal((await p2).status, 481);
    const s = layer.stats();
    assert.deepEqual(s.requestsSent, { NOTIFY: 2 });
    assert.deepEqual(s.responsesReceived, { NOTIFY: { '200': 1, '481': 1 } });
    assert.equal(s.requestsRetransmitted, 2);
  });

  test('a provisional response and a locally synthesized 408 are not responses received', async () => {
    const { clock, transport, layer } = setup();
    const p = layer.sendRequest(notify('n3'), UDP_DEST);
    transport.deliver(responseTo(transport.sent[0].text, 100, 'Trying'));
    clock.advance(32_000);
    assert.equal((await p).status, 408);
    const s = layer.stats();
    assert.deepEqual(s.requestsSent, { NOTIFY: 1 });
    assert.deepEqual(s.responsesReceived, {});
  });
});

test('snapshots are copies: later counting does not change a snapshot already taken', () => {
  const c = new MethodCounts();
  c.responseSent('SUBSCRIBE', 200);
  const before = c.snapshot();
  c.responseSent('SUBSCRIBE', 200);
  c.requestReceived('SUBSCRIBE');
  assert.deepEqual(before.responsesSent, { SUBSCRIBE: { '200': 1 } });
  assert.deepEqual(before.requestsReceived, {});
  assert.deepEqual(c.snapshot().responsesSent, { SUBSCRIBE: { '200': 2 } });
});
