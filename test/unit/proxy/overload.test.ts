/**
 * Admission of new calls under overload (src/proxy/overload.ts): the event loop utilization over a sliding
 * window, sampled on a ManualClock from an injected busy/idle counter, and the proxy refusing initial
 * requests with 503 + Retry-After while overloaded, yet forwarding the requests of calls already set up (BYE).
 * Before the guard, a proxy past its capacity took every new INVITE and lost the calls already answered.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { parseMessage, SipParseError, validateRequest, type SipRequest, type SipResponse } from '../../../src/sip/index.js';
import { LoopOverload, StatefulProxy, type ProxyNetwork, type ProxyTransactions } from '../../../src/proxy/index.js';
import { ManualClock, type InviteClientHandle, type ServerTransaction } from '../../../src/transaction/index.js';
import type { Destination, InboundContext } from '../../../src/transport/index.js';

const log = pino({ level: 'silent' });

/** A loop counter the test drives: `busy` share of each ms that passes on the clock. */
function fakeLoop(clock: ManualClock): { busy: number; sample: () => { active: number; idle: number } } {
  const state = { busy: 0, active: 0, idle: 0, at: clock.now() };
  return {
    get busy() {
      return state.busy;
    },
    set busy(v: number) {
      state.busy = v;
    },
    sample: () => {
      const dt = clock.now() - state.at;
      state.at = clock.now();
      state.active += dt * state.busy;
      state.idle += dt * (1 - state.busy);
      return { active: state.active, idle: state.idle };
    },
  };
}

describe('event loop overload detection', () => {
  test('a full window at or above the threshold is overload; a burst shorter than the window is not', () => {
    const clock = new ManualClock();
    const loop = fakeLoop(clock);
    const o = new LoopOverload({ clock, threshold: 0.95, windowMs: 1000, slots: 10, sample: loop.sample });
    o.start();
    loop.busy = 1;
    clock.advance(500);
    assert.equal(o.overloaded(), false, 'half a window is not a full one (start-up)');
    clock.advance(500);
    assert.equal(o.overloaded(), true, 'a second of a saturated loop');
    assert.equal(o.episodes, 1);
    loop.busy = 0.5;
    clock.advance(300);
    assert.equal(o.overloaded(), false, '0.7 + 0.15 over the last second');
    loop.busy = 0.8;
    clock.advance(2000);
    assert.equal(o.overloaded(), false, 'a busy loop without a backlog');
    loop.busy = 1;
    clock.advance(400);
    assert.equal(o.overloaded(), false, 'a burst (GC, a commit) of 400 ms');
    clock.advance(1000);
    assert.equal(o.overloaded(), true);
    assert.equal(o.episodes, 2);
    assert.ok(Math.abs(o.utilization() - 1) < 1e-9);
    o.stop();
    assert.equal(o.overloaded(), false);
    assert.equal(clock.pending, 0, 'stop() leaves no timer');
  });
});

// ------------------------------------------------------------------ the proxy refusing new calls

const PROXY = { protocol: 'udp', host: '127.0.0.1', port: 5060 } as const;
const CALLER: InboundContext = { remote: { protocol: 'udp', address: '127.0.0.1', port: 5070 }, localAddress: '127.0.0.1', localPort: 5060, flowId: undefined, receivedAt: 0 };

function request(text: string[]): SipRequest {
  const m = parseMessage(Buffer.from([...text, 'Content-Length: 0', '', ''].join('\r\n')));
  assert.ok(!(m instanceof SipParseError) && m.kind === 'request');
  return m;
}

function serverTx(req: SipRequest): ServerTransaction & { responses: SipResponse[] } {
  const core = validateRequest(req);
  assert.ok(!(core instanceof SipParseError));
  const responses: SipResponse[] = [];
  return { request: req, core, inbound: CALLER, responses, respond: (r) => void responses.push(r), setCancelHandler: () => {} };
}

const invite = (callId: string): SipRequest =>
  request([
    'INVITE sip:bob@example.com SIP/2.0',
    'Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-' + callId + ';rport',
    'From: <sip:alice@example.com>;tag=a1',
    'To: <sip:bob@example.com>',
    `Call-ID: ${callId}`,
    'CSeq: 1 INVITE',
    'Contact: <sip:alice@127.0.0.1:5070>',
    'Max-Forwards: 70',
  ]);

const bye = request([
  'BYE sip:bob@127.0.0.1:5080 SIP/2.0',
  'Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-bye1;rport',
  'Route: <sip:127.0.0.1:5060;lr>',
  'From: <sip:alice@example.com>;tag=a1',
  'To: <sip:bob@example.com>;tag=b1',
  'Call-ID: up-before',
  'CSeq: 2 BYE',
  'Max-Forwards: 70',
]);

describe('the proxy under overload', () => {
  test('initial INVITEs get 503 with Retry-After while overloaded, before any 100; a BYE of a call set up is forwarded', async () => {
    const clock = new ManualClock();
    let overloaded = true;
    const invites: string[] = [];
    const requests: string[] = [];
    const transactions: ProxyTransactions = {
      sendInvite: (r) => {
        invites.push(r.headers.get('Call-ID') ?? '');
        return { cancel: () => {} } as unknown as InviteClientHandle;
      },
      sendRequest: async (r) => {
        requests.push(r.method);
        return { status: 200, response: undefined } as never;
      },
    };
    const network: ProxyNetwork = {
      addresses: () => [{ protocol: 'udp', address: '127.0.0.1', port: 5060 }] as never,
      localSentBy: (_d: Destination) => PROXY,
      hasFlow: () => false,
      send: async () => {},
      sendResponse: async () => {},
    };
    const proxy = new StatefulProxy({
      transactions,
      network,
      location: { lookup: () => [{ uri: 'sip:bob@127.0.0.1:5080', path: [], q: undefined, flow: { protocol: 'udp', address: '127.0.0.1', port: 5080, flowId: undefined } }] },
      clock,
      logger: log,
      domains: ['example.com'],
      overload: { overloaded: () => overloaded },
    });

    const refused = serverTx(invite('new-1'));
    await proxy.handle(refused);
    assert.deepEqual(
      refused.responses.map((r) => r.status),
      [503],
      'refused at once: no 100 Trying, no branch',
    );
    assert.equal(refused.responses[0].headers.get('Retry-After'), '2');
    assert.deepEqual(invites, []);

    const inDialog = serverTx(bye);
    await proxy.handle(inDialog);
    assert.deepEqual(requests, ['BYE'], 'the BYE of a call already set up still goes through');
    assert.equal(proxy.stats().shed, 1);

    overloaded = false;
    const taken = serverTx(invite('new-2'));
    await proxy.handle(taken);
    assert.deepEqual(
      taken.responses.map((r) => r.status),
      [100],
    );
    assert.deepEqual(invites, ['new-2']);
    proxy.stop();
  });
});
