/**
 * RFC 3261 §16.7: a response that matches no client transaction of the proxy is processed as a stateless proxy
 * would (§16.11): our Via removed, sent where the next Via says (§18.2.2). That is how a callee's 200,
 * retransmitted after our INVITE transaction ended or after presenced was restarted (kill -9 under load),
 * still reaches the caller, which then ACKs it; dropped, the call is lost although both ends answered.
 * Real UDP sockets on 127.0.0.1 around the proxy stack.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { startProxyStack, type ProxyStack } from '../support/proxy-stack.js';

function bind(): Promise<Socket> {
  const s = createSocket('udp4');
  return new Promise((resolve) => s.bind(0, '127.0.0.1', () => resolve(s)));
}

/** The next datagram on `s`, or undefined after `ms`. */
function next(s: Socket, ms: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const t = setTimeout(() => {
      s.off('message', on);
      resolve(undefined);
    }, ms);
    const on = (m: Buffer): void => {
      clearTimeout(t);
      s.off('message', on);
      resolve(m.toString('utf8'));
    };
    s.on('message', on);
  });
}

function ok200(topVia: string, callerPort: number, callId: string): string {
  return [
    'SIP/2.0 200 OK',
    `Via: ${topVia}`,
    `Via: SIP/2.0/UDP 127.0.0.1:${callerPort};branch=z9hG4bK-caller-${callId};rport=${callerPort};received=127.0.0.1`,
    'Record-Route: <sip:127.0.0.1;lr>',
    'From: <sip:alice@example.com>;tag=a1',
    'To: <sip:bob@example.com>;tag=b1',
    `Call-ID: ${callId}`,
    'CSeq: 1 INVITE',
    'Contact: <sip:bob@127.0.0.1:5999>',
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
}

describe('responses matching no transaction of the proxy (§16.7, §16.11)', () => {
  let stack: ProxyStack;
  let caller: Socket;
  let callee: Socket;

  before(async () => {
    stack = await startProxyStack();
    caller = await bind();
    callee = await bind();
  });

  after(async () => {
    caller.close();
    callee.close();
    await stack.stop();
  });

  test('a 2xx with our Via on top goes on to the next Via without ours; one with another top Via is dropped', async () => {
    const callerPort = caller.address().port;
    const ours = `SIP/2.0/UDP 127.0.0.1:${stack.udpPort};branch=z9hG4bKgone-after-restart;rport`;
    const got = next(caller, 2000);
    callee.send(ok200(ours, callerPort, 'stray-1'), stack.udpPort, '127.0.0.1');
    const text = await got;
    assert.ok(text !== undefined, 'the caller got the 200');
    assert.match(text, /^SIP\/2\.0 200 OK\r\n/);
    const vias = text.split('\r\n').filter((l) => /^(Via|v):/i.test(l));
    assert.deepEqual(vias, [`Via: SIP/2.0/UDP 127.0.0.1:${callerPort};branch=z9hG4bK-caller-stray-1;rport=${callerPort};received=127.0.0.1`]);
    assert.match(text, /\r\nCall-ID: stray-1\r\n/);
    assert.equal(stack.wiring.proxy?.stats().strayForwarded, 1);

    // Not ours on top (a response for someone else sent to us): never relayed.
    const none = next(caller, 400);
    callee.send(ok200('SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKother', callerPort, 'stray-2'), stack.udpPort, '127.0.0.1');
    assert.equal(await none, undefined);
    assert.equal(stack.wiring.proxy?.stats().strayForwarded, 1);
  });
});
