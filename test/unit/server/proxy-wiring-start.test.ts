/**
 * The proxy's start-up window (src/server/proxy-wiring.ts): requests and ACKs that arrive after the sockets
 * opened but before the proxy exists (the core recovers first after a restart) wait for it instead of getting
 * 503, so that the BYEs and ACKs of calls that were up when presenced was killed still go through; stopping
 * before the start answers the waiting ones 503.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { parseMessage, SipParseError, validateRequest, type SipRequest, type SipResponse } from '../../../src/sip/index.js';
import type { ProxyNetwork, ProxyTransactions } from '../../../src/proxy/index.js';
import { ProxyWiring, type ProxyOpenDeps } from '../../../src/server/proxy-wiring.js';
import { ManualClock, type ServerTransaction } from '../../../src/transaction/index.js';
import type { InboundContext } from '../../../src/transport/index.js';

const log = pino({ level: 'silent' });
const INBOUND: InboundContext = { remote: { protocol: 'udp', address: '127.0.0.1', port: 5070 }, localAddress: '127.0.0.1', localPort: 5060, flowId: undefined, receivedAt: 0 };

function request(lines: string[]): SipRequest {
  const m = parseMessage(Buffer.from([...lines, 'Max-Forwards: 70', 'Content-Length: 0', '', ''].join('\r\n')));
  assert.ok(!(m instanceof SipParseError) && m.kind === 'request');
  return m;
}

const inDialog = (method: 'BYE' | 'ACK', branch: string): SipRequest =>
  request([
    `${method} sip:bob@127.0.0.1:5080 SIP/2.0`,
    `Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-${branch};rport`,
    'Route: <sip:127.0.0.1:5060;lr>',
    'From: <sip:alice@example.com>;tag=a1',
    'To: <sip:bob@example.com>;tag=b1',
    'Call-ID: up-before-the-restart',
    `CSeq: 2 ${method}`,
  ]);

function serverTx(req: SipRequest): ServerTransaction & { responses: SipResponse[] } {
  const core = validateRequest(req);
  assert.ok(!(core instanceof SipParseError));
  const responses: SipResponse[] = [];
  return { request: req, core, inbound: INBOUND, responses, respond: (r) => void responses.push(r) };
}

function deps(sent: string[]): ProxyOpenDeps {
  const transactions: ProxyTransactions = {
    sendInvite: () => {
      throw new Error('no INVITE here');
    },
    sendRequest: async (r) => {
      sent.push(r.method);
      return { status: 200, response: undefined };
    },
  };
  const network: ProxyNetwork = {
    addresses: () => [{ protocol: 'udp', address: '127.0.0.1', port: 5060 }] as never,
    localSentBy: () => ({ protocol: 'udp', host: '127.0.0.1', port: 5060 }),
    hasFlow: () => false,
    send: async () => void sent.push('ACK'),
    sendResponse: async () => {},
  };
  return {
    transactions,
    network,
    location: { lookup: () => [{ uri: 'sip:bob@127.0.0.1:5080', path: [], q: undefined, flow: { protocol: 'udp', address: '127.0.0.1', port: 5080, flowId: undefined } }] },
    clock: new ManualClock(),
    core: { publish: async () => ({ ok: false, status: 500, reason: 'unused', headers: [] }), getPresentity: () => undefined },
    domains: ['example.com'],
    localHosts: [],
  };
}

const settle = async (): Promise<void> => {
  for (let i = 0; i < 5; i++) await new Promise<void>((r) => setImmediate(r));
};

describe('proxy wiring before the proxy exists', () => {
  test('a BYE and an ACK received before open() are forwarded once it opens, not refused', async () => {
    const wiring = new ProxyWiring({ enabled: true, publishDialogs: false, overloadThreshold: 0 }, log);
    const route = wiring.route!;
    const bye = serverTx(inDialog('BYE', 'bye1'));
    await route.handle(bye);
    const ack = inDialog('ACK', 'ack1');
    const ackCore = validateRequest(ack);
    assert.ok(!(ackCore instanceof SipParseError));
    route.onAck(ack, ackCore, INBOUND);
    assert.deepEqual(bye.responses, [], 'held, not answered 503');

    const sent: string[] = [];
    wiring.open(deps(sent));
    await settle();
    assert.deepEqual(sent.sort(), ['ACK', 'BYE']);
    assert.equal(wiring.stats().proxy?.forwarded, 1);
    assert.equal(wiring.stats().proxy?.acksForwarded, 1);
    await wiring.stop();
  });

  test('stopped before it opened: the waiting requests get 503', async () => {
    const wiring = new ProxyWiring({ enabled: true, publishDialogs: false, overloadThreshold: 0 }, log);
    const bye = serverTx(inDialog('BYE', 'bye2'));
    await wiring.route!.handle(bye);
    await wiring.stop();
    assert.deepEqual(
      bye.responses.map((r) => r.status),
      [503],
    );
  });
});
