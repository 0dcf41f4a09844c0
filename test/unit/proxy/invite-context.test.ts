/**
 * The INVITE response context (RFC 3261 §16.7, §16.8, §16.10) against fake transactions and a manual clock:
 * forwarding of provisionals and 2xx, cancelling the other branches, the caller's CANCEL, Timer C, and the
 * final response chosen once every branch has ended.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { createRequest, parseMessage, SipParseError, validateRequest, type SipRequest, type SipResponse } from '../../../src/sip/index.js';
import {
  ManualClock,
  TimerQueue,
  type ClientTransactionOutcome,
  type InviteClientEvents,
  type InviteClientHandle,
  type ServerTransaction,
} from '../../../src/transaction/index.js';
import type { Destination } from '../../../src/transport/index.js';
import { InviteContext, type ProxyTarget } from '../../../src/proxy/invite-context.js';

const log = pino({ level: 'silent' });
const DEST: Destination = { protocol: 'udp', address: '127.0.0.1', port: 5070 };

class FakeHandle implements InviteClientHandle {
  cancels = 0;
  provisionalReceived = false;
  constructor(
    readonly branch: string,
    readonly request: SipRequest,
    readonly events: InviteClientEvents,
  ) {}
  cancel(): void {
    this.cancels++;
  }
  provisional(status: number): void {
    this.provisionalReceived = true;
    this.events.onProvisional(response(status, this.branch));
  }
  final(status: number, headers: string[] = []): void {
    this.events.onFinal({ status, response: response(status, this.branch, headers) });
  }
  local(o: ClientTransactionOutcome): void {
    this.events.onFinal(o);
  }
}

function response(status: number, branch: string, headers: string[] = []): SipResponse {
  const m = parseMessage(
    Buffer.from(
      [
        `SIP/2.0 ${status} R`,
        `Via: SIP/2.0/UDP 127.0.0.1:5060;branch=${branch}`,
        'Via: SIP/2.0/UDP 127.0.0.1:5080;branch=z9hG4bKcaller;received=127.0.0.1;rport=5080',
        'From: <sip:alice@example.com>;tag=a',
        `To: <sip:bob@example.com>${status > 100 ? ';tag=t-' + branch : ''}`,
        'Call-ID: c1',
        'CSeq: 1 INVITE',
        ...headers,
        'Content-Length: 0',
        '',
        '',
      ].join('\r\n'),
    ),
  );
  assert.ok(!(m instanceof SipParseError) && m.kind === 'response');
  return m;
}

class FakeServerTx implements ServerTransaction {
  readonly request: SipRequest;
  readonly core;
  readonly inbound = { remote: { protocol: 'udp' as const, address: '127.0.0.1', port: 5080 }, localAddress: '127.0.0.1', localPort: 5060, flowId: undefined, receivedAt: 0 };
  terminated = false;
  readonly sent: SipResponse[] = [];
  cancelHandler: (() => void) | undefined;
  constructor() {
    this.request = createRequest('INVITE', 'sip:bob@example.com', [
      ['Via', 'SIP/2.0/UDP 127.0.0.1:5080;branch=z9hG4bKcaller;received=127.0.0.1;rport=5080'],
      ['From', '<sip:alice@example.com>;tag=a'],
      ['To', '<sip:bob@example.com>'],
      ['Call-ID', 'c1'],
      ['CSeq', '1 INVITE'],
      ['Max-Forwards', '70'],
    ]);
    const c = validateRequest(this.request);
    assert.ok(!(c instanceof SipParseError));
    this.core = c;
  }
  respond(r: SipResponse): void {
    this.sent.push(r);
  }
  setCancelHandler(h: () => void): void {
    this.cancelHandler = h;
  }
  statuses(): number[] {
    return this.sent.map((r) => r.status);
  }
}

function setup(n: number): { clock: ManualClock; tx: FakeServerTx; handles: FakeHandle[]; stateless: SipResponse[]; done: () => boolean; rejected: Array<[number, boolean]> } {
  const clock = new ManualClock();
  const timers = new TimerQueue(clock);
  const tx = new FakeServerTx();
  const handles: FakeHandle[] = [];
  const stateless: SipResponse[] = [];
  const rejected: Array<[number, boolean]> = [];
  let done = false;
  const ctx = new InviteContext(
    tx,
    {
      transactions: {
        sendInvite(request, _dest, events, options) {
          const h = new FakeHandle(options.branch, request, events);
          handles.push(h);
          return h;
        },
      },
      sendResponse: async (r) => {
        stateless.push(r);
      },
      timers,
      logger: log,
      timerCMs: 181_000,
    },
    {
      onBranchResponse: () => undefined,
      onRejected: (s, c) => rejected.push([s, c]),
      onDone: () => {
        done = true;
      },
    },
  );
  const targets: ProxyTarget[] = [];
  for (let i = 0; i < n; i++) targets.push({ request: createRequest('INVITE', `sip:bob@127.0.0.1:${5070 + i}`, []), dest: DEST, branch: `z9hG4bKb${i}` });
  ctx.start(targets);
  return { clock, tx, handles, stateless, done: () => done, rejected };
}

describe('INVITE response context', () => {
  test('provisionals other than 100 go upstream at once, without our Via; 100 does not', () => {
    const h = setup(1);
    h.handles[0].provisional(100);
    h.handles[0].provisional(180);
    assert.deepEqual(h.tx.statuses(), [180]);
    assert.equal(h.tx.sent[0].headers.getAll('Via').length, 1);
  });

  test('a 2xx is forwarded at once and the other branches are cancelled (§16.7 step 10); later 2xx too', () => {
    const h = setup(3);
    h.handles[0].provisional(180);
    h.handles[1].provisional(180);
    h.handles[0].final(200);
    assert.deepEqual(h.tx.statuses(), [180, 180, 200], 'each device ringing is forwarded');
    assert.deepEqual(
      h.handles.map((x) => x.cancels),
      [0, 1, 1],
    );
    h.handles[1].final(487);
    // A second fork answering 200 in the race is still forwarded (the caller ACKs and BYEs it).
    h.handles[1].final(200);
    assert.deepEqual(h.tx.statuses(), [180, 180, 200, 200]);
    assert.equal(h.done(), true, 'branch 2 never answered: counted as cancelled at once');
  });

  test('the caller CANCEL cancels every branch; unanswered ones count as 487 at once; the caller gets 487', () => {
    const h = setup(2);
    h.handles[0].provisional(180);
    h.tx.cancelHandler?.();
    assert.deepEqual(
      h.handles.map((x) => x.cancels),
      [1, 1],
    );
    assert.deepEqual(h.tx.statuses(), [180], 'waits for the ringing branch to answer its CANCEL');
    h.handles[0].final(487);
    assert.deepEqual(h.tx.statuses(), [180, 487]);
    assert.deepEqual(h.rejected, [[487, true]]);
  });

  test('Timer C: without a provisional the branch counts as 408; with one it is cancelled (§16.8)', () => {
    const h = setup(2);
    h.handles[1].provisional(183);
    h.clock.advance(181_000);
    assert.equal(h.handles[0].cancels, 1);
    assert.equal(h.handles[1].cancels, 1);
    h.handles[1].final(487);
    assert.deepEqual(h.tx.statuses(), [183, 487], 'the received 487 beats the local 408 within 4xx');
  });

  test('a provisional restarts Timer C', () => {
    const h = setup(1);
    h.handles[0].provisional(180);
    h.clock.advance(100_000);
    h.handles[0].provisional(182);
    h.clock.advance(100_000);
    assert.equal(h.handles[0].cancels, 0);
    h.clock.advance(81_000);
    assert.equal(h.handles[0].cancels, 1);
  });

  test('a 6xx cancels the others and wins once all are final', () => {
    const h = setup(2);
    h.handles[1].provisional(180);
    h.handles[0].final(603);
    assert.equal(h.handles[1].cancels, 1);
    h.handles[1].final(487);
    assert.deepEqual(h.tx.statuses(), [180, 603]);
  });

  test('a received 503 becomes 500; branches we could not reach at all give 480', () => {
    const a = setup(1);
    a.handles[0].final(503);
    assert.deepEqual(a.tx.statuses(), [500]);
    const b = setup(2);
    b.handles[0].local({ status: 503, response: undefined, localReason: 'transport-error' });
    b.handles[1].local({ status: 503, response: undefined, localReason: 'transport-error' });
    assert.deepEqual(b.tx.statuses(), [480]);
  });

  test('401 and 407 challenges of all branches are gathered into the one sent upstream', () => {
    const h = setup(2);
    h.handles[0].final(401, ['WWW-Authenticate: Digest realm="a", nonce="1"']);
    h.handles[1].final(407, ['Proxy-Authenticate: Digest realm="b", nonce="2"']);
    const sent = h.tx.sent.at(-1)!;
    assert.ok(sent.status === 401 || sent.status === 407);
    assert.deepEqual(sent.headers.getAll('WWW-Authenticate'), ['Digest realm="a", nonce="1"']);
    assert.deepEqual(sent.headers.getAll('Proxy-Authenticate'), ['Digest realm="b", nonce="2"']);
  });

  test('a 2xx after the server transaction is gone is forwarded statelessly', () => {
    const h = setup(1);
    h.handles[0].final(200);
    h.tx.terminated = true;
    h.handles[0].final(200);
    assert.equal(h.tx.sent.length, 1);
    assert.equal(h.stateless.length, 1);
    assert.equal(h.stateless[0].headers.getAll('Via').length, 1);
  });
});
