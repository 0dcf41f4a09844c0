import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { hostForUri, normalizeAddress } from '../../../src/transport/index.js';
import { isStunMessage, stunBindingResponse } from '../../../src/transport/stun.js';
import { FlowTable } from '../../../src/transport/flow-table.js';

describe('normalizeAddress', () => {
  test('one canonical form per address', () => {
    assert.equal(normalizeAddress('[::1]'), '::1');
    assert.equal(normalizeAddress('0:0:0:0:0:0:0:1'), '::1');
    assert.equal(normalizeAddress('2001:DB8:0:0::1'), '2001:db8::1');
    assert.equal(normalizeAddress('::ffff:127.0.0.1'), '127.0.0.1');
    assert.equal(normalizeAddress('127.0.0.1'), '127.0.0.1');
    assert.equal(normalizeAddress('Host.Example.COM'), 'host.example.com');
    assert.equal(hostForUri('::1'), '[::1]');
    assert.equal(hostForUri('127.0.0.1'), '127.0.0.1');
  });
});

describe('STUN keep-alive (RFC 5626 §3.5.2, RFC 5389)', () => {
  function bindingRequest(): Buffer {
    const b = Buffer.alloc(20);
    b.writeUInt16BE(0x0001, 0);
    b.writeUInt16BE(0, 2);
    b.writeUInt32BE(0x2112a442, 4);
    for (let i = 8; i < 20; i++) b[i] = i;
    return b;
  }

  test('a Binding request gets a success response with XOR-MAPPED-ADDRESS (IPv4)', () => {
    const req = bindingRequest();
    assert.equal(isStunMessage(req), true);
    const res = stunBindingResponse(req, '127.0.0.1', 40000);
    assert.ok(res);
    assert.equal(res.readUInt16BE(0), 0x0101);
    assert.equal(res.readUInt16BE(2), 12);
    assert.deepEqual(res.subarray(4, 20), req.subarray(4, 20), 'cookie and transaction id echoed');
    assert.equal(res.readUInt16BE(20), 0x0020);
    assert.equal(res[25], 0x01);
    assert.equal(res.readUInt16BE(26) ^ 0x2112, 40000);
    const addr = [0, 1, 2, 3].map((i) => res[28 + i] ^ res[4 + i]);
    assert.deepEqual(addr, [127, 0, 0, 1]);
  });

  test('IPv6 mapped address is XORed with cookie and transaction id', () => {
    const req = bindingRequest();
    const res = stunBindingResponse(req, '::1', 5060);
    assert.ok(res);
    assert.equal(res[25], 0x02);
    const addr = Array.from({ length: 16 }, (_, i) => res[28 + i] ^ res[4 + i]);
    assert.deepEqual(addr, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
  });

  test('SIP text and other STUN methods are not answered', () => {
    assert.equal(isStunMessage(Buffer.from('OPTIONS sip:x SIP/2.0\r\n\r\n')), false);
    const ind = bindingRequest();
    ind.writeUInt16BE(0x0011, 0);
    assert.equal(stunBindingResponse(ind, '127.0.0.1', 1), undefined);
  });
});

describe('FlowTable', () => {
  test('indexes flows by id and remote endpoint and counts inbound flows per source', () => {
    const t = new FlowTable<{ id: string; outbound: boolean; remoteAddress: string; remotePort: number }>();
    const a = { id: t.newId(), outbound: false, remoteAddress: '127.0.0.1', remotePort: 1000 };
    const b = { id: t.newId(), outbound: false, remoteAddress: '127.0.0.1', remotePort: 1001 };
    const c = { id: t.newId(), outbound: true, remoteAddress: '127.0.0.1', remotePort: 5060 };
    assert.notEqual(a.id, b.id);
    for (const f of [a, b, c]) t.add(f);
    assert.equal(t.size, 3);
    assert.equal(t.sourceCount('127.0.0.1'), 2, 'outbound flows do not count against the source');
    assert.strictEqual(t.findByRemote('127.0.0.1', 5060), c);
    assert.strictEqual(t.get(b.id), b);
    t.remove(a);
    t.remove(a);
    assert.equal(t.sourceCount('127.0.0.1'), 1);
    assert.equal(t.findByRemote('127.0.0.1', 1000), undefined);
  });
});
