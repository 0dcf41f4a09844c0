/**
 * Server side of the transaction layer, RFC 3261 §17.2 and the UAS checks of §8.2, against a fake
 * transport and a manual clock.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createResponse, parseNameAddr, parseVia, SipParseError } from '../../../src/sip/index.js';
import { ManualClock, TransactionLayer, type ServerTransaction } from '../../../src/transaction/index.js';
import { FakeTransport, request, silentLogger, tcpInbound, udpInbound } from './fake-transport.js';

interface Harness {
  clock: ManualClock;
  transport: FakeTransport;
  layer: TransactionLayer;
  seen: ServerTransaction[];
}

/** A layer whose TU answers every request with `status` (or never, when status is null). */
function setup(status: number | null = 200, supported: string[] = ['eventlist']): Harness {
  const clock = new ManualClock();
  const transport = new FakeTransport(() => clock.now());
  const seen: ServerTransaction[] = [];
  const layer = new TransactionLayer(
    transport,
    {
      onRequest(tx) {
        seen.push(tx);
        if (status !== null) tx.respond(createResponse(tx.request, tx.core, status, { toTag: 'tu-tag' }));
      },
    },
    { clock, logger: silentLogger, serverHeader: 'presenced/test', supported },
  );
  return { clock, transport, layer, seen };
}

function toTag(h: Harness, i = -1): string | undefined {
  const r = h.transport.responses.at(i);
  assert.ok(r, 'a response was sent');
  const to = parseNameAddr(r.response.headers.get('to') ?? '');
  assert.ok(!(to instanceof SipParseError));
  return to.params.get('tag') ?? undefined;
}

describe('non-INVITE server transaction (RFC 3261 §17.2.2)', () => {
  test('a retransmitted request gets the same final response and never reaches the TU again', () => {
    const h = setup(202);
    h.transport.deliver(request());
    h.clock.advance(500);
    h.transport.deliver(request());
    h.clock.advance(1000);
    h.transport.deliver(request());
    assert.equal(h.seen.length, 1);
    assert.equal(h.transport.responses.length, 3);
    const [a, b, c] = h.transport.responses;
    assert.equal(a.response.status, 202);
    assert.deepEqual(b.data, a.data, 'byte-identical retransmission');
    assert.deepEqual(c.data, a.data);
    assert.equal(a.response.headers.get('server'), 'presenced/test');
    assert.deepEqual(a.dest, { protocol: 'udp', address: '127.0.0.1', port: 5070, flowId: undefined });
    assert.deepEqual(a.local, { address: '127.0.0.1', port: 5060 });
    const s = h.layer.stats();
    assert.equal(s.requestRetransmissionsAbsorbed, 2);
    assert.equal(s.responsesRetransmitted, 2);
  });

  test('a retransmission in Trying (no response yet) is absorbed silently', () => {
    const h = setup(null);
    h.transport.deliver(request());
    h.transport.deliver(request());
    assert.equal(h.seen.length, 1);
    assert.equal(h.transport.responses.length, 0);
    h.seen[0].respond(createResponse(h.seen[0].request, h.seen[0].core, 200, { toTag: 'x' }));
    assert.equal(h.transport.responses.length, 1);
  });

  test('Timer J (64*T1 on UDP) keeps the state, then frees it', () => {
    const h = setup(200);
    h.transport.deliver(request());
    assert.equal(h.layer.stats().serverTransactions, 1);
    h.clock.advance(31_999);
    assert.equal(h.layer.stats().serverTransactions, 1);
    h.clock.advance(1);
    assert.equal(h.layer.stats().serverTransactions, 0);
    // After Timer J the same request is new again.
    h.transport.deliver(request());
    assert.equal(h.seen.length, 2);
  });

  test('Timer J is zero over TCP', () => {
    const h = setup(200);
    h.transport.deliver(request(), tcpInbound());
    assert.equal(h.transport.responses.length, 1);
    assert.equal(h.layer.stats().serverTransactions, 0);
  });

  test('branch, sent-by and method all take part in matching (§17.2.3)', () => {
    const h = setup(200);
    h.transport.deliver(request());
    h.transport.deliver(request({ branch: 'z9hG4bK-other', cseq: 2 }));
    h.transport.deliver(request({ viaHost: '127.0.0.1:5071', cseq: 3 }));
    assert.equal(h.seen.length, 3);
  });

  test('RFC 2543 requests (no magic cookie) match on Request-URI, tags, Call-ID, CSeq and top Via', () => {
    const h = setup(200);
    h.transport.deliver(request({ branch: 'old-style-1' }));
    h.transport.deliver(request({ branch: 'old-style-1' }));
    assert.equal(h.seen.length, 1);
    assert.equal(h.transport.responses.length, 2);
    h.transport.deliver(request({ branch: 'old-style-1', cseq: 2 }));
    assert.equal(h.seen.length, 2);
  });

  test('the top Via of the request is stamped with received and rport (§18.2.1, RFC 3581 §4)', () => {
    const h = setup(200);
    h.transport.deliver(request({ viaHost: 'client.invalid:5070', viaParams: ';rport' }), udpInbound(40123));
    const tx = h.seen[0];
    assert.equal(tx.core.via[0].received, '127.0.0.1');
    assert.equal(tx.core.via[0].rport, 40123);
    const via = parseVia(h.transport.lastResponse().headers.get('via') ?? '');
    assert.ok(!(via instanceof SipParseError));
    assert.equal(via.received, '127.0.0.1');
    assert.equal(via.rport, 40123);
  });

  test('the Server header and a To tag are added to a TU response lacking them', () => {
    const h = setup(null);
    h.transport.deliver(request());
    const tx = h.seen[0];
    tx.respond(createResponse(tx.request, tx.core, 200));
    assert.ok(toTag(h));
    assert.equal(h.transport.lastResponse().headers.get('server'), 'presenced/test');
  });

  test('responses after the final one are ignored', () => {
    const h = setup(200);
    h.transport.deliver(request());
    h.seen[0].respond(createResponse(h.seen[0].request, h.seen[0].core, 500, { toTag: 'x' }));
    assert.equal(h.transport.responses.length, 1);
    assert.equal(h.transport.lastResponse().status, 200);
  });

  test('RFC 4320 §4.1: no provisional other than 100, and no 100 on UDP before T2', () => {
    const h = setup(null);
    h.transport.deliver(request());
    const tx = h.seen[0];
    tx.respond(createResponse(tx.request, tx.core, 180));
    tx.respond(createResponse(tx.request, tx.core, 100));
    assert.equal(h.transport.responses.length, 0);
    h.clock.advance(4000);
    tx.respond(createResponse(tx.request, tx.core, 100));
    assert.equal(h.transport.responses.length, 1);
    // Proceeding: a retransmission gets the 100 again.
    h.transport.deliver(request());
    assert.equal(h.transport.responses.length, 2);
    assert.equal(h.transport.lastResponse().status, 100);
  });

  test('a request the TU never answers gets 500 after 64*T1, and its state is freed', () => {
    const h = setup(null);
    h.transport.deliver(request());
    h.clock.advance(32_000);
    assert.equal(h.transport.lastResponse().status, 500);
    assert.equal(h.layer.stats().unanswered, 1);
    h.clock.advance(32_000);
    assert.equal(h.layer.stats().serverTransactions, 0);
  });

  test('a TU that throws yields 500', () => {
    const clock = new ManualClock();
    const transport = new FakeTransport();
    new TransactionLayer(
      transport,
      {
        onRequest() {
          throw new Error('bug');
        },
      },
      { clock, logger: silentLogger, serverHeader: '', supported: [] },
    );
    transport.deliver(request());
    assert.equal(transport.lastResponse().status, 500);
    assert.equal(transport.lastResponse().headers.has('server'), false, "serverHeader '' adds none");
  });
});

describe('UAS checks below the TU (RFC 3261 §8.2, §16.3)', () => {
  test('Max-Forwards: 0 is answered 483, except OPTIONS which reaches the TU', () => {
    const h = setup(200);
    h.transport.deliver(request({ maxForwards: '0' }));
    assert.equal(h.transport.lastResponse().status, 483);
    assert.ok(toTag(h));
    assert.equal(h.seen.length, 0);
    h.transport.deliver(request({ method: 'OPTIONS', maxForwards: '0', branch: 'z9hG4bK-opt' }));
    assert.equal(h.seen.length, 1);
    assert.equal(h.transport.lastResponse().status, 200);
  });

  test('a request without Max-Forwards is answered 400 naming it (§8.1.1), unless RFC 2543 leniency is chosen', () => {
    const h = setup(200);
    h.transport.deliver(request({ maxForwards: null }));
    const r = h.transport.lastResponse();
    assert.equal(r.status, 400);
    assert.match(r.reason, /Max-Forwards/);
    assert.equal(h.seen.length, 0);

    const clock = new ManualClock();
    const transport = new FakeTransport();
    const seen: ServerTransaction[] = [];
    new TransactionLayer(
      transport,
      { onRequest: (tx) => { seen.push(tx); tx.respond(createResponse(tx.request, tx.core, 200, { toTag: 'x' })); } },
      { clock, logger: silentLogger, serverHeader: '', supported: [], requireMaxForwards: false },
    );
    transport.deliver(request({ maxForwards: null }));
    assert.equal(seen.length, 1);
    assert.equal(transport.lastResponse().status, 200);
  });

  test('Require with unknown option tags is answered 420 listing them in Unsupported (§8.2.2.3)', () => {
    const h = setup(200, ['eventlist']);
    h.transport.deliver(request({ extra: ['Require: eventlist, foo', 'Require: bar'] }));
    const r = h.transport.lastResponse();
    assert.equal(r.status, 420);
    assert.deepEqual(r.headers.getAll('unsupported'), ['foo', 'bar']);
    assert.equal(h.seen.length, 0);
    h.transport.deliver(request({ branch: 'z9hG4bK-2', cseq: 2, extra: ['Require: EventList'] }));
    assert.equal(h.seen.length, 1, 'supported tags pass');
  });

  test('a merged request (§8.2.2.2) is answered 482 and the original is untouched', () => {
    const h = setup(null);
    h.transport.deliver(request({ branch: 'z9hG4bK-path1' }));
    h.transport.deliver(request({ branch: 'z9hG4bK-path2' }));
    assert.equal(h.seen.length, 1);
    assert.equal(h.transport.lastResponse().status, 482);
    // A retransmission of the merged copy gets the same 482 from its own transaction.
    h.transport.deliver(request({ branch: 'z9hG4bK-path2' }));
    assert.equal(h.transport.responses.length, 2);
    assert.equal(h.transport.lastResponse().status, 482);
    assert.equal(h.seen.length, 1);
    // With a To tag (in-dialog) the check does not apply.
    h.transport.deliver(request({ branch: 'z9hG4bK-path3', toTag: 'd1', cseq: 5 }));
    h.transport.deliver(request({ branch: 'z9hG4bK-path4', toTag: 'd1', cseq: 5 }));
    assert.equal(h.seen.length, 3);
  });
});

describe('stateless rejection of malformed requests (§8.1.1, §21.4)', () => {
  test('a missing mandatory header is answered 400 naming it', () => {
    const h = setup(200);
    h.transport.deliver(request({ omit: ['Call-ID'] }));
    const r = h.transport.lastResponse();
    assert.equal(r.status, 400);
    assert.match(r.reason, /Call-ID/);
    assert.ok(toTag(h), '400 carries a To tag');
    assert.equal(r.headers.get('cseq'), '1 SUBSCRIBE');
    assert.equal(h.seen.length, 0);
    assert.equal(h.layer.stats().statelessReplies, 1);
  });

  test('a malformed Max-Forwards is answered 400', () => {
    const h = setup(200);
    h.transport.deliver(request({ maxForwards: 'many' }));
    assert.equal(h.transport.lastResponse().status, 400);
    assert.match(h.transport.lastResponse().reason, /Max-Forwards/);
  });

  test('a CSeq method that differs from the request method is answered 400', () => {
    const h = setup(200);
    h.transport.deliver(request({ cseqMethod: 'PUBLISH' }));
    const r = h.transport.lastResponse();
    assert.equal(r.status, 400);
    assert.match(r.reason, /CSeq/);
  });

  test('an ACK is never answered, however malformed', () => {
    const h = setup(200);
    h.transport.deliver(request({ method: 'ACK', omit: ['Call-ID'] }));
    assert.equal(h.transport.responses.length, 0);
  });

  test('unparsable bytes with a readable Via get 400 with the parser message; the Via is stamped', () => {
    const h = setup(200);
    const raw = request({ viaParams: ';rport', extra: ['Bad Header Without Colon'] });
    h.transport.deliver(raw, udpInbound(41000));
    const r = h.transport.lastResponse();
    assert.equal(r.status, 400);
    const via = parseVia(r.headers.get('via') ?? '');
    assert.ok(!(via instanceof SipParseError));
    assert.equal(via.rport, 41000);
    assert.equal(r.headers.get('call-id'), 'call-1@127.0.0.1');
  });

  test('a bad SIP version is answered 505', () => {
    const h = setup(200);
    h.transport.deliver(request().replace('SIP/2.0\r\n', 'SIP/3.0\r\n'));
    assert.equal(h.transport.lastResponse().status, 505);
  });

  test('bytes without a usable Via, and responses, are dropped and counted', () => {
    const h = setup(200);
    h.transport.deliverParseError(
      new SipParseError('SIP_ERR_HEADER_SYNTAX', 'Bad header'),
      Buffer.from('SUBSCRIBE sip:x SIP/2.0\r\nVia: ???\r\n\r\n'),
    );
    h.transport.deliverParseError(
      new SipParseError('SIP_ERR_HEADER_SYNTAX', 'Bad header'),
      Buffer.from('SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bK1\r\n\r\n'),
    );
    h.transport.deliverParseError(new SipParseError('SIP_ERR_EMPTY', 'Empty'), Buffer.alloc(0));
    assert.equal(h.transport.responses.length, 0);
    assert.equal(h.layer.stats().malformedDropped, 3);
  });

  test('an oversized message whose header block parses is answered with the error status', () => {
    const h = setup(200);
    const head = request().replace('Content-Length: 0', 'Content-Length: 100000');
    h.transport.deliverParseError(new SipParseError('SIP_ERR_TOO_LARGE', 'Message too large'), Buffer.from(head));
    assert.equal(h.transport.lastResponse().status, 413);
  });
});

describe('CANCEL (RFC 3261 §9.2)', () => {
  test('a CANCEL matching no transaction is answered 481', () => {
    const h = setup(200);
    h.transport.deliver(request({ method: 'CANCEL' }));
    assert.equal(h.transport.lastResponse().status, 481);
    assert.equal(h.seen.length, 0);
  });

  test('a CANCEL for a pending INVITE: 200 to the CANCEL and 487 to the INVITE, same To tag', () => {
    const h = setup(null);
    h.transport.deliver(request({ method: 'INVITE' }));
    h.transport.deliver(request({ method: 'CANCEL' }));
    const [ok, terminated] = h.transport.responses.map((r) => r.response);
    assert.equal(ok.status, 200);
    assert.equal(ok.headers.get('cseq'), '1 CANCEL');
    assert.equal(terminated.status, 487);
    assert.equal(terminated.headers.get('cseq'), '1 INVITE');
    assert.equal(toTag(h, 0), toTag(h, 1));
    // The TU's late answer is ignored; a retransmitted CANCEL gets the same 200.
    h.seen[0].respond(createResponse(h.seen[0].request, h.seen[0].core, 405, { toTag: 'x' }));
    h.transport.deliver(request({ method: 'CANCEL' }));
    assert.equal(h.transport.responses.length, 3);
    assert.equal(h.transport.lastResponse().status, 200);
  });

  test('a CANCEL for a pending non-INVITE is answered 200 and has no other effect', () => {
    const h = setup(null);
    h.transport.deliver(request());
    h.transport.deliver(request({ method: 'CANCEL' }));
    assert.equal(h.transport.responses.length, 1);
    assert.equal(h.transport.lastResponse().status, 200);
    h.seen[0].respond(createResponse(h.seen[0].request, h.seen[0].core, 202, { toTag: 'x' }));
    assert.equal(h.transport.lastResponse().status, 202);
  });

  test('a CANCEL for a completed non-INVITE (Timer J) finds it: 200; after Timer J it is 481', () => {
    const h = setup(202);
    h.transport.deliver(request());
    h.transport.deliver(request({ method: 'CANCEL' }));
    assert.deepEqual(
      h.transport.responses.map((r) => r.response.status),
      [202, 200],
    );
    h.clock.advance(64 * 500 + 1);
    assert.equal(h.layer.stats().serverTransactions, 0, 'both ended (Timer J for each)');
    h.transport.deliver(request({ method: 'CANCEL' }));
    assert.equal(h.transport.lastResponse().status, 481);
  });

  test('a CANCEL after the final response is answered 200 and changes nothing', () => {
    const h = setup(405);
    h.transport.deliver(request({ method: 'INVITE' }));
    h.transport.deliver(request({ method: 'CANCEL' }));
    assert.deepEqual(
      h.transport.responses.map((r) => r.response.status),
      [405, 200],
    );
  });
});

describe('INVITE server transaction, as far as rejecting INVITE (RFC 3261 §17.2.1)', () => {
  test('the non-2xx final is retransmitted by Timer G until the ACK, which is absorbed', () => {
    const h = setup(405);
    h.transport.deliver(request({ method: 'INVITE' }));
    assert.equal(h.transport.responses.length, 1);
    h.clock.advance(500);
    h.clock.advance(1000);
    h.clock.advance(2000);
    assert.deepEqual(
      h.transport.responses.map((r) => r.at),
      [0, 500, 1500, 3500],
    );
    h.transport.deliver(request({ method: 'ACK', cseqMethod: 'ACK', toTag: 'tu-tag' }));
    h.clock.advance(10_000);
    assert.equal(h.transport.responses.length, 4, 'no retransmission after ACK');
    assert.equal(h.seen.length, 1, 'the ACK never reaches the TU');
    assert.equal(h.layer.stats().serverTransactions, 0, 'Timer I elapsed');
  });

  test('Timer G doubles up to T2, and Timer H ends the transaction without an ACK', () => {
    const h = setup(501);
    h.transport.deliver(request({ method: 'INVITE' }));
    h.clock.advance(40_000);
    const times = h.transport.responses.map((r) => r.at);
    assert.deepEqual(times.slice(0, 6), [0, 500, 1500, 3500, 7500, 11500]);
    assert.ok(times.at(-1)! <= 32_000);
    assert.equal(h.layer.stats().serverTransactions, 0);
  });

  test('an INVITE the TU does not answer within 200 ms gets 100 Trying; a retransmission gets it again', () => {
    const h = setup(null);
    h.transport.deliver(request({ method: 'INVITE' }));
    h.clock.advance(200);
    assert.equal(h.transport.lastResponse().status, 100);
    assert.equal(toTag(h), undefined, '100 Trying carries no To tag');
    h.transport.deliver(request({ method: 'INVITE' }));
    assert.equal(h.transport.responses.length, 2);
    assert.equal(h.transport.lastResponse().status, 100);
  });

  test('a stray ACK (no matching INVITE transaction) is absorbed and counted', () => {
    const h = setup(200);
    h.transport.deliver(request({ method: 'ACK', cseqMethod: 'ACK', toTag: 'x' }));
    assert.equal(h.transport.responses.length, 0);
    assert.equal(h.seen.length, 0);
    assert.equal(h.layer.stats().strayAcks, 1);
  });

  test('over TCP there is no Timer G, and the ACK ends the transaction at once', () => {
    const h = setup(405);
    h.transport.deliver(request({ method: 'INVITE' }), tcpInbound());
    h.clock.advance(5000);
    assert.equal(h.transport.responses.length, 1);
    h.transport.deliver(request({ method: 'ACK', cseqMethod: 'ACK', toTag: 'tu-tag' }), tcpInbound());
    assert.equal(h.layer.stats().serverTransactions, 0);
  });
});

describe('overload and shutdown', () => {
  test('beyond maxServerTransactions requests get a stateless 503 with Retry-After', () => {
    const clock = new ManualClock();
    const transport = new FakeTransport();
    const layer = new TransactionLayer(
      transport,
      { onRequest() {} },
      { clock, logger: silentLogger, serverHeader: 'x', supported: [], maxServerTransactions: 2 },
    );
    for (let i = 0; i < 3; i++) transport.deliver(request({ branch: `z9hG4bK-${i}`, cseq: i + 1 }));
    assert.equal(transport.responses.length, 1);
    assert.equal(transport.lastResponse().status, 503);
    assert.equal(transport.lastResponse().headers.get('retry-after'), '5');
    assert.equal(layer.stats().overload, 1);
    layer.stop();
    assert.equal(clock.pending, 0, 'stop() leaves no timer behind');
  });

  test('answered transactions waiting out Timer J do not count against maxServerTransactions', () => {
    const clock = new ManualClock();
    const transport = new FakeTransport(() => clock.now());
    const layer = new TransactionLayer(
      transport,
      { onRequest: (tx) => tx.respond(createResponse(tx.request, tx.core, 200, { toTag: 't' })) },
      { clock, logger: silentLogger, serverHeader: 'x', supported: [], maxServerTransactions: 2 },
    );
    for (let i = 0; i < 10; i++) transport.deliver(request({ branch: `z9hG4bK-${i}`, cseq: i + 1 }));
    assert.deepEqual(transport.responses.map((r) => r.response.status), Array(10).fill(200));
    assert.equal(layer.stats().completedServerTransactions, 10);
    assert.equal(layer.stats().overload, 0);
    layer.stop();
  });

  test('beyond maxCompletedTransactions the oldest completed one ends before Timer J; a later retransmission is new work', () => {
    const clock = new ManualClock();
    const transport = new FakeTransport(() => clock.now());
    const seen: string[] = [];
    const layer = new TransactionLayer(
      transport,
      {
        onRequest: (tx) => {
          seen.push(tx.request.headers.get('via') ?? '');
          tx.respond(createResponse(tx.request, tx.core, 200, { toTag: 't' }));
        },
      },
      { clock, logger: silentLogger, serverHeader: 'x', supported: [], maxCompletedTransactions: 3 },
    );
    for (let i = 0; i < 5; i++) transport.deliver(request({ branch: `z9hG4bK-${i}`, cseq: i + 1 }));
    const stats = layer.stats();
    assert.equal(stats.completedServerTransactions, 3);
    assert.equal(stats.serverTransactions, 3);
    assert.equal(stats.completedEvictedEarly, 2);
    // The newest are still matched: a retransmission of #4 is absorbed and answered from the record.
    transport.deliver(request({ branch: 'z9hG4bK-4', cseq: 5 }));
    assert.equal(seen.length, 5);
    assert.equal(layer.stats().requestRetransmissionsAbsorbed, 1);
    // The oldest was dropped: its retransmission reaches the TU again.
    transport.deliver(request({ branch: 'z9hG4bK-0', cseq: 1 }));
    assert.equal(seen.length, 6);
    // Timer J still ends the others on time, and the count follows.
    clock.advance(32_000);
    assert.equal(layer.stats().completedServerTransactions, 0);
    assert.equal(layer.stats().serverTransactions, 0);
    layer.stop();
  });
});
