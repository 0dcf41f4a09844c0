/**
 * Call tracking for presence from calls: the RFC 4235 dialog states a call goes through in the proxy, the
 * timeouts that end calls nobody hung up (early timeout, RFC 4028 session timer, maximum duration), forked
 * legs, and the per-side destinations in-dialog requests are routed to. Manual clock, no sockets.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { parseMessage, SipParseError, validateRequest, type RequestCore, type SipRequest, type SipResponse } from '../../../src/sip/index.js';
import { CallTracker, type CallSnapshot } from '../../../src/proxy/index.js';
import { ManualClock, TimerQueue } from '../../../src/transaction/index.js';
import type { Destination, InboundContext } from '../../../src/transport/index.js';

const log = pino({ level: 'silent' });
const CALLER_IN: InboundContext = { remote: { protocol: 'udp', address: '203.0.113.7', port: 40000 }, localAddress: '127.0.0.1', localPort: 5060, flowId: undefined, receivedAt: 0 };
const B1: Destination = { protocol: 'udp', address: '198.51.100.1', port: 5062 };
const B2: Destination = { protocol: 'tcp', address: '198.51.100.2', port: 51000, flowId: 'f2' };

function msg(text: string[]): SipRequest | SipResponse {
  const m = parseMessage(Buffer.from([...text, 'Content-Length: 0', '', ''].join('\r\n')));
  assert.ok(!(m instanceof SipParseError));
  return m;
}

function invite(extra: string[] = []): { req: SipRequest; core: RequestCore } {
  const req = msg([
    'INVITE sip:bob@example.com SIP/2.0',
    'Via: SIP/2.0/UDP 10.0.0.7:5060;branch=z9hG4bK1',
    'From: "Alice A" <sip:alice@example.com>;tag=a1',
    'To: <sip:bob@example.com>',
    'Call-ID: call-1',
    'CSeq: 1 INVITE',
    'Contact: <sip:alice@10.0.0.7:5060>',
    ...extra,
  ]) as SipRequest;
  const core = validateRequest(req);
  assert.ok(!(core instanceof SipParseError));
  return { req, core };
}

function resp(status: number, toTag: string, extra: string[] = []): SipResponse {
  return msg([
    `SIP/2.0 ${status} R`,
    'Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKp',
    'From: "Alice A" <sip:alice@example.com>;tag=a1',
    `To: <sip:bob@example.com>;tag=${toTag}`,
    'Call-ID: call-1',
    'CSeq: 1 INVITE',
    `Contact: <sip:bob@${toTag}.example.com>`,
    ...extra,
  ]) as SipResponse;
}

function inDialog(method: string, fromTag: string, toTag: string, cseq = 2): RequestCore {
  const req = msg([
    `${method} sip:x@example.com SIP/2.0`,
    'Via: SIP/2.0/UDP 10.0.0.7:5060;branch=z9hG4bK2',
    `From: <sip:a@example.com>;tag=${fromTag}`,
    `To: <sip:b@example.com>;tag=${toTag}`,
    'Call-ID: call-1',
    `CSeq: ${cseq} ${method}`,
  ]) as SipRequest;
  const core = validateRequest(req);
  assert.ok(!(core instanceof SipParseError));
  return core;
}

function setup(opts: { maxDurationMs?: number; earlyTimeoutMs?: number; maxCalls?: number } = {}): { clock: ManualClock; calls: CallTracker; seen: CallSnapshot[] } {
  const clock = new ManualClock();
  const calls = new CallTracker({ clock, timers: new TimerQueue(clock), logger: log, lingerMs: 1000, ...opts });
  const seen: CallSnapshot[] = [];
  calls.onChange((c) => seen.push(c));
  return { clock, calls, seen };
}

describe('call tracking (RFC 4235 dialog states through the proxy)', () => {
  test('trying -> early (1xx with To tag) -> confirmed (2xx) -> terminated (BYE from the callee)', () => {
    const { calls, seen } = setup();
    const { req, core } = invite();
    calls.inviteForwarded(req, core, CALLER_IN, undefined);
    calls.inviteResponse(resp(180, 'b1'), B1);
    calls.inviteResponse(resp(200, 'b1'), B1);
    calls.inDialogRequest(msg(['BYE sip:alice@10.0.0.7 SIP/2.0', 'Via: SIP/2.0/UDP 1.2.3.4;branch=z9hG4bKx', 'From: <sip:bob@example.com>;tag=b1', 'To: <sip:alice@example.com>;tag=a1', 'Call-ID: call-1', 'CSeq: 9 BYE']) as SipRequest, inDialog('BYE', 'b1', 'a1'));
    assert.deepEqual(
      seen.map((s) => s.state),
      ['trying', 'early', 'confirmed', 'terminated'],
    );
    const last = seen.at(-1)!;
    assert.equal(last.endReason, 'remote-bye', 'told from the caller side: the callee hung up');
    assert.equal(last.caller.display, 'Alice A');
    assert.equal(last.caller.aor, 'sip:alice@example.com');
    assert.equal(last.caller.target, 'sip:alice@10.0.0.7:5060');
    assert.equal(last.callee.target, 'sip:bob@b1.example.com');
    assert.equal(last.calleeTag, 'b1');
  });

  test('in-dialog routing: requests from the caller go to the answering leg, from the callee to the caller source', () => {
    const { calls } = setup();
    const { req, core } = invite();
    calls.inviteForwarded(req, core, CALLER_IN, undefined);
    calls.inviteResponse(resp(180, 'b1'), B1);
    calls.inviteResponse(resp(200, 'b2'), B2);
    assert.deepEqual(calls.destinationFor(inDialog('ACK', 'a1', 'b2', 1)), B2);
    assert.deepEqual(calls.destinationFor(inDialog('INFO', 'a1', 'b1')), B1, 'the early leg is known too');
    assert.deepEqual(calls.destinationFor(inDialog('BYE', 'b2', 'a1')), { protocol: 'udp', address: '203.0.113.7', port: 40000, flowId: undefined });
    assert.equal(calls.destinationFor(inDialog('BYE', 'zz', 'yy')), undefined);
  });

  test('a BYE for a second forked 2xx leg does not end the answered call', () => {
    const { calls, seen } = setup();
    const { req, core } = invite();
    calls.inviteForwarded(req, core, CALLER_IN, undefined);
    calls.inviteResponse(resp(200, 'b1'), B1);
    calls.inviteResponse(resp(200, 'b2'), B2);
    calls.inDialogRequest(msg(['BYE sip:x SIP/2.0']) as SipRequest, inDialog('BYE', 'a1', 'b2'));
    assert.equal(seen.at(-1)!.state, 'confirmed');
    calls.inDialogRequest(msg(['BYE sip:x SIP/2.0']) as SipRequest, inDialog('BYE', 'a1', 'b1'));
    assert.equal(seen.at(-1)!.state, 'terminated');
    assert.equal(seen.at(-1)!.endReason, 'local-bye');
  });

  test('rejected and cancelled calls end with their code; the record lingers, then is forgotten', () => {
    const { clock, calls, seen } = setup();
    const { req, core } = invite();
    calls.inviteForwarded(req, core, CALLER_IN, undefined);
    calls.inviteRejected('call-1', 'a1', 486, false);
    assert.equal(seen.at(-1)!.endReason, 'rejected');
    assert.equal(seen.at(-1)!.endCode, 486);
    assert.equal(calls.size, 1);
    clock.advance(1000);
    assert.equal(calls.size, 0);
  });

  test('a call that never gets answered ends at the early timeout', () => {
    const { clock, calls, seen } = setup({ earlyTimeoutMs: 60_000 });
    const { req, core } = invite();
    calls.inviteForwarded(req, core, CALLER_IN, undefined);
    calls.inviteResponse(resp(180, 'b1'), B1);
    clock.advance(59_999);
    assert.equal(seen.at(-1)!.state, 'early');
    clock.advance(1);
    assert.equal(seen.at(-1)!.state, 'terminated');
    assert.equal(seen.at(-1)!.endReason, 'timeout');
  });

  test('a confirmed call without BYE ends after the maximum duration', () => {
    const { clock, calls, seen } = setup({ maxDurationMs: 3600_000 });
    const { req, core } = invite();
    calls.inviteForwarded(req, core, CALLER_IN, undefined);
    calls.inviteResponse(resp(200, 'b1'), B1);
    clock.advance(3599_999);
    assert.equal(seen.at(-1)!.state, 'confirmed');
    clock.advance(1);
    assert.equal(seen.at(-1)!.endReason, 'timeout');
  });

  test('with a session timer (RFC 4028) the call ends when no refresh comes, and a refresh extends it', () => {
    const { clock, calls, seen } = setup();
    const { req, core } = invite(['Session-Expires: 90']);
    calls.inviteForwarded(req, core, CALLER_IN, undefined);
    calls.inviteResponse(resp(200, 'b1', ['Session-Expires: 90;refresher=uac']), B1);
    clock.advance(100_000);
    // A re-INVITE answered 200 with Session-Expires refreshes the session.
    calls.inDialogResponse(inDialog('INVITE', 'a1', 'b1'), resp(200, 'b1', ['Session-Expires: 90;refresher=uac']));
    clock.advance(100_000);
    assert.equal(seen.at(-1)!.state, 'confirmed');
    clock.advance(22_000);
    assert.equal(seen.at(-1)!.state, 'terminated');
    assert.equal(seen.at(-1)!.endReason, 'timeout');
  });

  test('beyond maxCalls new calls are proxied but not tracked', () => {
    const { calls } = setup({ maxCalls: 1 });
    const a = invite();
    calls.inviteForwarded(a.req, a.core, CALLER_IN, undefined);
    const b = invite();
    (b.core as { callId: string }).callId = 'call-2';
    calls.inviteForwarded(b.req, b.core, CALLER_IN, undefined);
    assert.equal(calls.size, 1);
    assert.equal(calls.untracked, 1);
  });
});
