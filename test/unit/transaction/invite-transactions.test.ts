/**
 * INVITE transactions (RFC 3261 §17.1.1, §17.2.1, with RFC 6026's Accepted state), the CANCEL of §9.1,
 * and the transaction-user hooks a proxy needs (ACK for 2xx, CANCEL handler, UAS checks skipped),
 * against a fake transport and a manual clock.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createRequest, createResponse, parseMessage, SipParseError, type SipRequest, type SipResponse } from '../../../src/sip/index.js';
import {
  ManualClock,
  TransactionLayer,
  type ClientTransactionOutcome,
  type ServerTransaction,
  type TransactionUser,
} from '../../../src/transaction/index.js';
import type { Destination } from '../../../src/transport/index.js';
import { FakeTransport, request, silentLogger, tcpInbound } from './fake-transport.js';

const UDP_DEST: Destination = { protocol: 'udp', address: '127.0.0.1', port: 5070 };
const TCP_DEST: Destination = { protocol: 'tcp', address: '127.0.0.1', port: 5070, flowId: 'f1' };

interface Harness {
  clock: ManualClock;
  transport: FakeTransport;
  layer: TransactionLayer;
  seen: ServerTransaction[];
  acks: SipRequest[];
}

function setup(user: Partial<TransactionUser> & { answer?: (tx: ServerTransaction) => void } = {}): Harness {
  const clock = new ManualClock();
  const transport = new FakeTransport(() => clock.now());
  const seen: ServerTransaction[] = [];
  const acks: SipRequest[] = [];
  const tu: TransactionUser = {
    onRequest(tx) {
      seen.push(tx);
      user.answer?.(tx);
    },
    onAck: user.onAck ?? ((req) => acks.push(req)),
    ...(user.isProxied !== undefined ? { isProxied: user.isProxied } : {}),
  };
  const layer = new TransactionLayer(transport, tu, { clock, logger: silentLogger, serverHeader: 'x', supported: [] });
  return { clock, transport, layer, seen, acks };
}

function invite(): SipRequest {
  return createRequest('INVITE', 'sip:bob@127.0.0.1:5070', [
    ['Route', '<sip:edge.example.com;lr>'],
    ['From', '"Alice" <sip:alice@example.com>;tag=a1'],
    ['To', '<sip:bob@example.com>'],
    ['Call-ID', 'call-42'],
    ['CSeq', '7 INVITE'],
    ['Contact', '<sip:alice@127.0.0.1:5080>'],
  ]);
}

/** A response to a request we sent (its text), with a To tag. */
function reply(sentText: string, status: number, toTag = 'b1', reason = 'Reason'): string {
  const t = sentText.replace(/\r/g, '');
  const via = /^Via: (.*)$/m.exec(t)?.[1];
  const cseq = /^CSeq: (.*)$/m.exec(t)?.[1];
  const from = /^From: (.*)$/m.exec(t)?.[1];
  const to = /^To: (.*)$/m.exec(t)?.[1];
  const callId = /^Call-ID: (.*)$/m.exec(t)?.[1];
  assert.ok(via && cseq && from && to && callId);
  return [
    `SIP/2.0 ${status} ${reason}`,
    `Via: ${via}`,
    `From: ${from}`,
    `To: ${status === 100 ? to : `${to};tag=${toTag}`}`,
    `Call-ID: ${callId}`,
    `CSeq: ${cseq}`,
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
}

function parsed(text: string): SipRequest {
  const m = parseMessage(Buffer.from(text, 'latin1'));
  assert.ok(!(m instanceof SipParseError) && m.kind === 'request');
  return m;
}

class Recorder {
  provisional: SipResponse[] = [];
  finals: ClientTransactionOutcome[] = [];
  readonly events = {
    onProvisional: (r: SipResponse): void => void this.provisional.push(r),
    onFinal: (o: ClientTransactionOutcome): void => void this.finals.push(o),
  };
}

describe('INVITE client transaction (RFC 3261 §17.1.1)', () => {
  test('Timer A doubles without a T2 cap over UDP, and Timer B (64*T1) ends it with a local 408', () => {
    const h = setup();
    const rec = new Recorder();
    h.layer.sendInvite(invite(), UDP_DEST, rec.events);
    h.clock.advance(40_000);
    assert.deepEqual(
      h.transport.sent.map((s) => s.at),
      [0, 500, 1500, 3500, 7500, 15500, 31500],
    );
    assert.equal(rec.finals.length, 1);
    assert.equal(rec.finals[0].status, 408);
    assert.equal(rec.finals[0].localReason, 'timeout');
    assert.equal(h.layer.stats().clientTransactions, 0);
  });

  test('a provisional response stops retransmission and Timer B: the TU (a proxy, Timer C) decides how long to wait', () => {
    const h = setup();
    const rec = new Recorder();
    h.layer.sendInvite(invite(), UDP_DEST, rec.events);
    h.transport.deliver(reply(h.transport.sent[0].text, 180));
    h.clock.advance(120_000);
    assert.equal(h.transport.sent.length, 1);
    assert.equal(rec.provisional.length, 1);
    assert.equal(rec.provisional[0].status, 180);
    assert.equal(rec.finals.length, 0);
  });

  test('a non-2xx final is ACKed by the transaction (§17.1.1.3), once to the TU, the ACK repeated for retransmissions; Timer D', () => {
    const h = setup();
    const rec = new Recorder();
    const handle = h.layer.sendInvite(invite(), UDP_DEST, rec.events);
    const sent = h.transport.sent[0].text;
    h.transport.deliver(reply(sent, 486, 'b9'));
    assert.equal(rec.finals.length, 1);
    assert.equal(rec.finals[0].status, 486);
    const ack = parsed(h.transport.sent[1].text);
    assert.equal(ack.method, 'ACK');
    assert.equal(ack.uri, 'sip:bob@127.0.0.1:5070', 'same Request-URI as the INVITE');
    assert.deepEqual(ack.headers.getAll('Via'), [handle.request.headers.getAll('Via')[0]], 'only our Via, same branch');
    assert.equal(ack.headers.get('CSeq'), '7 ACK');
    assert.equal(ack.headers.get('To'), '<sip:bob@example.com>;tag=b9', 'To of the response');
    assert.equal(ack.headers.get('From'), '"Alice" <sip:alice@example.com>;tag=a1');
    assert.equal(ack.headers.get('Call-ID'), 'call-42');
    assert.deepEqual(ack.headers.getAll('Route'), ['<sip:edge.example.com;lr>'], 'Route set of the INVITE');
    assert.equal(ack.headers.get('Max-Forwards'), '70');
    // The 486 retransmitted: the ACK goes again, the TU hears nothing.
    h.transport.deliver(reply(sent, 486, 'b9'));
    assert.equal(h.transport.sent.length, 3);
    assert.deepEqual(h.transport.sent[2].data, h.transport.sent[1].data);
    assert.equal(rec.finals.length, 1);
    h.clock.advance(31_999);
    assert.equal(h.layer.stats().clientTransactions, 1, 'Timer D still running');
    h.clock.advance(1);
    assert.equal(h.layer.stats().clientTransactions, 0);
  });

  test('a 2xx moves to Accepted (RFC 6026): no ACK from the transaction, each 2xx to the TU, Timer M ends it', () => {
    const h = setup();
    const rec = new Recorder();
    h.layer.sendInvite(invite(), UDP_DEST, rec.events);
    const sent = h.transport.sent[0].text;
    h.transport.deliver(reply(sent, 200, 'b1'));
    h.transport.deliver(reply(sent, 200, 'b1'));
    h.transport.deliver(reply(sent, 200, 'b2'));
    h.transport.deliver(reply(sent, 486, 'b3'));
    assert.deepEqual(
      rec.finals.map((f) => f.status),
      [200, 200, 200],
    );
    assert.equal(h.transport.sent.length, 1, 'the ACK for a 2xx is the TU business');
    h.clock.advance(32_000);
    assert.equal(h.layer.stats().clientTransactions, 0);
  });

  test('over TCP there is no Timer A, and a non-2xx final is ACKed and ends the transaction at once', () => {
    const h = setup();
    const rec = new Recorder();
    h.layer.sendInvite(invite(), TCP_DEST, rec.events);
    h.clock.advance(10_000);
    assert.equal(h.transport.sent.length, 1);
    assert.match(h.transport.sent[0].text, /^Via: SIP\/2\.0\/TCP /m);
    h.transport.deliver(reply(h.transport.sent[0].text, 603));
    assert.equal(h.transport.sent[1].text.split('\r\n')[0], 'ACK sip:bob@127.0.0.1:5070 SIP/2.0');
    assert.equal(h.layer.stats().clientTransactions, 0);
  });

  test('a transport failure ends the transaction with a local 503', async () => {
    const h = setup();
    h.transport.failSends = () => new Error('unreachable');
    const rec = new Recorder();
    h.layer.sendInvite(invite(), UDP_DEST, rec.events);
    await new Promise((r) => setImmediate(r));
    assert.equal(rec.finals[0]?.status, 503);
    assert.equal(rec.finals[0]?.localReason, 'transport-error');
  });
});

describe('CANCEL of a proxied INVITE (RFC 3261 §9.1)', () => {
  test('asked for before any provisional, the CANCEL waits for one; it copies the INVITE and reuses its branch', () => {
    const h = setup();
    const rec = new Recorder();
    const handle = h.layer.sendInvite(invite(), UDP_DEST, rec.events);
    handle.cancel();
    assert.equal(h.transport.sent.length, 1, 'no CANCEL before a provisional response');
    const sent = h.transport.sent[0].text;
    h.transport.deliver(reply(sent, 100));
    const cancel = parsed(h.transport.sent[1].text);
    assert.equal(cancel.method, 'CANCEL');
    assert.equal(cancel.uri, 'sip:bob@127.0.0.1:5070');
    assert.deepEqual(cancel.headers.getAll('Via'), [handle.request.headers.getAll('Via')[0]]);
    assert.equal(cancel.headers.get('CSeq'), '7 CANCEL');
    assert.equal(cancel.headers.get('To'), '<sip:bob@example.com>', 'To of the INVITE, no tag');
    assert.deepEqual(cancel.headers.getAll('Route'), ['<sip:edge.example.com;lr>']);
    handle.cancel();
    h.transport.deliver(reply(sent, 180));
    assert.equal(h.transport.sent.length, 2, 'one CANCEL only');
    // The CANCEL's 200 matches the CANCEL transaction, the 487 the INVITE's (then ACKed).
    h.transport.deliver(reply(h.transport.sent[1].text, 200));
    h.transport.deliver(reply(sent, 487));
    assert.deepEqual(
      rec.finals.map((f) => f.status),
      [487],
    );
    assert.equal(parsed(h.transport.sent[2].text).method, 'ACK');
    assert.equal(h.layer.stats().strayResponses, 0);
  });

  test('a CANCEL asked for after the final response sends nothing', () => {
    const h = setup();
    const rec = new Recorder();
    const handle = h.layer.sendInvite(invite(), UDP_DEST, rec.events);
    h.transport.deliver(reply(h.transport.sent[0].text, 200));
    handle.cancel();
    assert.equal(h.transport.sent.length, 1);
  });
});

describe('INVITE server transaction with the Accepted state (RFC 6026 §7.1)', () => {
  test('after a 2xx, INVITE retransmissions are absorbed (no second fork), 2xx retransmissions pass, Timer L ends it', () => {
    const h = setup({ answer: (tx) => tx.respond(createResponse(tx.request, tx.core, 200, { toTag: 't1' })) });
    h.transport.deliver(request({ method: 'INVITE' }));
    assert.equal(h.transport.responses.length, 1);
    h.transport.deliver(request({ method: 'INVITE' }));
    assert.equal(h.seen.length, 1, 'the retransmission never reached the TU');
    assert.equal(h.transport.responses.length, 1, 'and got no response from the transaction');
    const tx = h.seen[0];
    tx.respond(createResponse(tx.request, tx.core, 200, { toTag: 't1' }));
    assert.equal(h.transport.responses.length, 2, 'a 2xx retransmission from the TU is sent');
    assert.equal(tx.terminated, false);
    h.clock.advance(32_000);
    assert.equal(tx.terminated, true);
    assert.equal(h.layer.stats().serverTransactions, 0);
  });

  test('a TU that answers 180 at once gets no 100 Trying from the transaction', () => {
    const h = setup({ answer: (tx) => tx.respond(createResponse(tx.request, tx.core, 180, { toTag: 't1' })) });
    h.transport.deliver(request({ method: 'INVITE' }));
    h.clock.advance(1000);
    assert.deepEqual(
      h.transport.responses.map((r) => r.response.status),
      [180],
    );
  });

  test('an ACK for a 2xx (a new branch) reaches the TU through onAck; it is never answered', () => {
    const h = setup({ answer: (tx) => tx.respond(createResponse(tx.request, tx.core, 200, { toTag: 't1' })) });
    h.transport.deliver(request({ method: 'INVITE' }));
    h.transport.deliver(request({ method: 'ACK', cseqMethod: 'ACK', toTag: 't1', branch: 'z9hG4bK-ack2xx' }));
    assert.equal(h.acks.length, 1);
    assert.equal(h.acks[0].method, 'ACK');
    assert.equal(h.transport.responses.length, 1);
    assert.equal(h.layer.stats().strayAcks, 0);
  });

  test('the ACK of a non-2xx still stops at the transaction, even with an onAck hook', () => {
    const h = setup({ answer: (tx) => tx.respond(createResponse(tx.request, tx.core, 486, { toTag: 't1' })) });
    h.transport.deliver(request({ method: 'INVITE' }));
    h.transport.deliver(request({ method: 'ACK', cseqMethod: 'ACK', toTag: 't1' }));
    assert.equal(h.acks.length, 0);
  });

  test('with a cancel handler the CANCEL is the TU business: 200 to the CANCEL, no 487 until the TU sends it', () => {
    let cancelled = 0;
    const h = setup({
      answer: (tx) => {
        tx.respond(createResponse(tx.request, tx.core, 100));
        tx.setCancelHandler?.(() => {
          cancelled++;
        });
      },
    });
    h.transport.deliver(request({ method: 'INVITE' }));
    h.transport.deliver(request({ method: 'CANCEL' }));
    assert.equal(cancelled, 1);
    assert.deepEqual(
      h.transport.responses.map((r) => `${r.response.status} ${r.response.headers.get('cseq')}`),
      ['100 1 INVITE', '200 1 CANCEL'],
    );
    const tx = h.seen[0];
    tx.respond(createResponse(tx.request, tx.core, 487, { toTag: 'x' }));
    assert.equal(h.transport.lastResponse().status, 487);
  });

  test('over TCP a proxied INVITE skips the UAS checks: Require is not ours to judge (§16.3)', () => {
    const h = setup({
      isProxied: () => true,
      answer: (tx) => tx.respond(createResponse(tx.request, tx.core, 180, { toTag: 't' })),
    });
    h.transport.deliver(request({ method: 'INVITE', extra: ['Require: 100rel'] }), tcpInbound());
    assert.equal(h.seen.length, 1);
    assert.equal(h.transport.lastResponse().status, 180);
  });
});
