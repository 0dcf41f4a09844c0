import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { buildStatelessReply, requestLineMethod, scanHead, splitTopLevel } from '../../../src/transaction/stateless.js';

describe('lenient head scan for stateless replies', () => {
  test('finds the start line and the five fields, compact forms and folding included', () => {
    const raw = Buffer.from(
      '\r\nSUBSCRIBE sip:bob@example.com SIP/2.0\r\n' +
        'v: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1,\r\n SIP/2.0/UDP 127.0.0.2;branch=z9hG4bK2\r\n' +
        'f: <sip:a@example.com>;tag=1\r\nt: <sip:b@example.com>\r\ni: cid\r\nCSeq: 3 SUBSCRIBE\r\nX: ignored\r\nBroken\r\n\r\nbody: no\r\n',
    );
    const head = scanHead(raw);
    assert.equal(head.startLine, 'SUBSCRIBE sip:bob@example.com SIP/2.0');
    assert.deepEqual(
      head.fields.map(([n]) => n),
      ['via', 'from', 'to', 'call-id', 'cseq'],
    );
    assert.equal(head.fields[0][1], 'SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1, SIP/2.0/UDP 127.0.0.2;branch=z9hG4bK2');
  });

  test('request lines are told from status lines and garbage', () => {
    assert.equal(requestLineMethod('NOTIFY sip:x SIP/2.0'), 'NOTIFY');
    assert.equal(requestLineMethod('SIP/2.0 200 OK'), undefined);
    assert.equal(requestLineMethod('garbage'), undefined);
  });

  test('splitTopLevel respects quotes', () => {
    assert.deepEqual(splitTopLevel('a;x="1,2", b'), ['a;x="1,2"', 'b']);
  });

  test('builds a routable reply with all Vias, a To tag and the stamped top Via', () => {
    const reply = buildStatelessReply(
      [
        ['via', 'SIP/2.0/UDP host.invalid:5070;rport;branch=z9hG4bK1, SIP/2.0/UDP 127.0.0.2;branch=z9hG4bK2'],
        ['from', '<sip:a@example.com>;tag=1'],
        ['to', '<sip:b@example.com>'],
        ['call-id', 'cid'],
        ['cseq', '3 SUBSCRIBE'],
      ],
      {
        status: 400,
        reason: 'Missing header: Event',
        toTag: 'T',
        serverHeader: 'presenced',
        remote: { protocol: 'udp', address: '127.0.0.1', port: 40000 },
      },
    );
    assert.ok(reply);
    assert.equal(reply.status, 400);
    assert.equal(reply.reason, 'Missing header: Event');
    assert.deepEqual(reply.headers.getAll('via'), [
      'SIP/2.0/UDP host.invalid:5070;rport=40000;branch=z9hG4bK1;received=127.0.0.1',
      'SIP/2.0/UDP 127.0.0.2;branch=z9hG4bK2',
    ]);
    assert.equal(reply.headers.get('to'), '<sip:b@example.com>;tag=T');
    assert.equal(reply.headers.get('server'), 'presenced');
  });

  test('no reply without a parsable top Via', () => {
    const opts = {
      status: 400,
      reason: 'x',
      toTag: 'T',
      serverHeader: '',
      remote: { protocol: 'udp' as const, address: '127.0.0.1', port: 1 },
    };
    assert.equal(buildStatelessReply([['from', 'x']], opts), undefined);
    assert.equal(buildStatelessReply([['via', 'nonsense']], opts), undefined);
  });
});
