/** RFC 3261 §18.2.1/§18.2.2 and RFC 3581 §4: what the server writes into the top Via and where responses go. */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { formatVia, parseVia, SipParseError, type Via } from '../../../src/sip/index.js';
import { responseDestination, stampVia, type InboundContext } from '../../../src/transport/index.js';

function via(text: string): Via {
  const v = parseVia(text);
  assert.ok(!(v instanceof SipParseError), `parses: ${text}`);
  return v;
}

function inbound(protocol: 'udp' | 'tcp', address: string, port: number): InboundContext {
  return {
    remote: { protocol, address, port },
    localAddress: '127.0.0.1',
    localPort: 5060,
    flowId: protocol === 'tcp' ? 'f1' : undefined,
    receivedAt: 0,
  };
}

describe('stampVia', () => {
  test('sent-by equal to the source and no rport: unchanged (same object)', () => {
    const v = via('SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1');
    assert.strictEqual(stampVia(v, { protocol: 'udp', address: '127.0.0.1', port: 5070 }), v);
  });

  test('sent-by host differing from the source: received added (§18.2.1)', () => {
    const v = stampVia(via('SIP/2.0/UDP pc33.example.com:5070;branch=z9hG4bK1'), {
      protocol: 'udp',
      address: '127.0.0.1',
      port: 5070,
    });
    assert.equal(v.received, '127.0.0.1');
    assert.equal(formatVia(v), 'SIP/2.0/UDP pc33.example.com:5070;branch=z9hG4bK1;received=127.0.0.1');
  });

  test('rport requested: rport filled with the source port and received added even when equal (RFC 3581 §4)', () => {
    const v = stampVia(via('SIP/2.0/UDP 127.0.0.1:5070;rport;branch=z9hG4bK1'), {
      protocol: 'udp',
      address: '127.0.0.1',
      port: 40000,
    });
    assert.equal(v.rport, 40000);
    assert.equal(v.received, '127.0.0.1');
    assert.equal(formatVia(v), 'SIP/2.0/UDP 127.0.0.1:5070;rport=40000;branch=z9hG4bK1;received=127.0.0.1');
  });

  test('IPv6 sent-by in another textual form counts as equal', () => {
    const v = via('SIP/2.0/UDP [0:0:0:0:0:0:0:1]:5070;branch=z9hG4bK1');
    assert.strictEqual(stampVia(v, { protocol: 'udp', address: '::1', port: 5070 }), v);
  });

  test('a forged received equal-host request is cleaned', () => {
    const v = stampVia(via('SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1;received=127.0.0.9'), {
      protocol: 'udp',
      address: '127.0.0.1',
      port: 5070,
    });
    assert.equal(v.received, undefined);
  });
});

describe('responseDestination (§18.2.2)', () => {
  test('UDP without rport: source address, sent-by port', () => {
    const v = stampVia(via('SIP/2.0/UDP host.invalid:5080;branch=z9hG4bK1'), { protocol: 'udp', address: '127.0.0.1', port: 40000 });
    assert.deepEqual(responseDestination(v, inbound('udp', '127.0.0.1', 40000)), {
      protocol: 'udp',
      address: '127.0.0.1',
      port: 5080,
      flowId: undefined,
    });
  });

  test('UDP without rport and without a sent-by port: 5060', () => {
    const v = via('SIP/2.0/UDP 127.0.0.1;branch=z9hG4bK1');
    assert.equal(responseDestination(v, inbound('udp', '127.0.0.1', 40000)).port, 5060);
  });

  test('UDP with rport: source address and source port (RFC 3581 §4)', () => {
    const v = stampVia(via('SIP/2.0/UDP 127.0.0.1:5080;rport;branch=z9hG4bK1'), { protocol: 'udp', address: '127.0.0.1', port: 40000 });
    assert.deepEqual(responseDestination(v, inbound('udp', '127.0.0.1', 40000)), {
      protocol: 'udp',
      address: '127.0.0.1',
      port: 40000,
      flowId: undefined,
    });
  });

  test('maddr is not honoured (reflection risk): still the source address', () => {
    const v = via('SIP/2.0/UDP 127.0.0.1:5080;maddr=127.0.0.9;branch=z9hG4bK1');
    assert.equal(responseDestination(v, inbound('udp', '127.0.0.1', 40000)).address, '127.0.0.1');
  });

  test('TCP: the same flow, falling back to the source address and sent-by port', () => {
    const v = via('SIP/2.0/TCP 127.0.0.1:5090;branch=z9hG4bK1');
    assert.deepEqual(responseDestination(v, inbound('tcp', '127.0.0.1', 40001)), {
      protocol: 'tcp',
      address: '127.0.0.1',
      port: 5090,
      flowId: 'f1',
    });
  });
});
