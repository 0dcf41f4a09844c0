/**
 * Calls through the stateful proxy (RFC 3261 §16) over real sockets, with scripted user agents: forking to
 * two devices, CANCEL of the other branch, ACK and BYE along the Record-Route, the caller's CANCEL, 404,
 * 480, 486, MESSAGE, and the dialog-info lamps a BLF watcher of the callee sees (pua_dialoginfo).
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { answer, inviteFinal, inviteSpec, lamp, routeSet, subscribeDialog, untilLamp, udpBinding } from '../support/call-ua.js';
import { DOMAIN, startProxyStack, type ProxyStack } from '../support/proxy-stack.js';
import { branchOf, newBranch, randomToken, SipTestClient, tagOf } from '../support/sip-test-client.js';

const BOB = `sip:bob@${DOMAIN}`;
const ALICE = `sip:alice@${DOMAIN}`;

describe('stateful proxy: a call between registered users', () => {
  let stack: ProxyStack;
  let alice: SipTestClient;
  let b1: SipTestClient;
  let b2: SipTestClient;
  let watcher: SipTestClient;

  before(async () => {
    stack = await startProxyStack();
    const open = (): Promise<SipTestClient> => SipTestClient.open({ transport: 'udp', serverPort: stack.udpPort });
    [alice, b1, b2, watcher] = await Promise.all([open(), open(), open(), open()]);
    stack.bindings.set(ALICE, [udpBinding(alice, 'alice')]);
    stack.bindings.set(BOB, [udpBinding(b1, 'bob'), udpBinding(b2, 'bob')]);
    stack.users.add(`sip:carol@${DOMAIN}`);
  });

  after(async () => {
    await Promise.all([alice, b1, b2, watcher].map((c) => c.close()));
    await stack.stop();
  });

  test('forking: both devices ring, one answers, the other is cancelled; ACK and BYE traverse the proxy; BLF lamps follow', async () => {
    await subscribeDialog(watcher, BOB);
    const inv = alice.send(inviteSpec(alice, BOB));
    const trying = await alice.waitResponse(inv.branch, 2000, true);
    assert.equal(trying.status, 100, '100 Trying at once (§16.2)');

    const [r1, r2] = await Promise.all([b1.nextRequest('INVITE'), b2.nextRequest('INVITE')]);
    for (const [r, ua] of [
      [r1, b1],
      [r2, b2],
    ] as const) {
      assert.equal(r.request.uri, ua.contactUri('bob'), 'Request-URI is the binding contact (§16.5)');
      assert.equal(r.request.headers.get('Max-Forwards'), '69', 'Max-Forwards decremented (§16.6 step 3)');
      assert.equal(r.request.headers.getAll('Via').length, 2, 'our Via on top of the caller one');
      const rr = r.request.headers.getAll('Record-Route');
      assert.equal(rr.length, 1);
      assert.match(rr[0], new RegExp(`^<sip:127\\.0\\.0\\.1:${stack.udpPort};lr>$`), 'Record-Route with ;lr (§16.6 step 4)');
      assert.match(branchOf(r.request) ?? '', /^z9hG4bK/);
    }
    assert.notEqual(branchOf(r1.request), branchOf(r2.request), 'one branch per target');
    const trySeen = await untilLamp(watcher, 'trying');
    assert.deepEqual(trySeen, ['trying']);

    answer(b1, r1, 180, { tag: 'b1tag', contact: b1.contactUri('bob') });
    answer(b2, r2, 180, { tag: 'b2tag', contact: b2.contactUri('bob') });
    const ringing = await alice.waitReceivedResponse(inv.branch, 2000, true).then(async () => {
      for (let i = 0; i < 50 && !alice.responsesFor(inv.branch).some((r) => r.status === 180); i++) await new Promise((r) => setTimeout(r, 10));
      return alice.responsesFor(inv.branch).find((r) => r.status === 180);
    });
    assert.ok(ringing, 'the 180 reached the caller');
    assert.equal(ringing.headers.getAll('Via').length, 1, 'our Via removed from the response (§16.7 step 3)');
    const early = lamp(await watcher.acceptNotify());
    assert.equal(early.state, 'early');
    assert.equal(early.direction, 'recipient');
    assert.equal(early.remote, ALICE, 'remote identity: the caller');

    answer(b1, r1, 200, { tag: 'b1tag', contact: b1.contactUri('bob') });
    const ok = await alice.waitResponse(inv.branch);
    assert.equal(ok.status, 200);
    assert.equal(tagOf(ok.headers.get('To')), 'b1tag');

    // §16.7 step 10: the other branch is cancelled.
    const cancel = await b2.nextRequest('CANCEL');
    assert.equal(branchOf(cancel.request), branchOf(r2.request), 'CANCEL reuses the INVITE branch (§9.1)');
    assert.equal(cancel.request.headers.get('CSeq')?.split(' ')[1], 'CANCEL');
    answer(b2, cancel, 200);
    answer(b2, r2, 487, { tag: 'b2tag' });
    const ack487 = await b2.nextRequest('ACK');
    assert.equal(branchOf(ack487.request), branchOf(r2.request), 'hop-by-hop ACK of the 487 (§17.1.1.3)');

    assert.deepEqual(await untilLamp(watcher, 'confirmed'), ['confirmed']);

    // The caller ACKs and hangs up along the route set (Record-Route reversed, loose routing).
    const routes = routeSet(ok);
    assert.equal(routes.length, 1);
    const dialog = { uri: b1.contactUri('bob'), from: inv.fromTag, callId: inv.callId, to: ok.headers.get('To') ?? '' };
    alice.send({
      method: 'ACK',
      uri: dialog.uri,
      from: `"Alice" <${ALICE}>;tag=${dialog.from}`,
      to: dialog.to,
      callId: dialog.callId,
      cseq: inv.cseq,
      headers: routes.map((r): [string, string] => ['Route', r]),
    });
    const ack = await b1.nextRequest('ACK');
    assert.equal(ack.request.uri, dialog.uri);
    assert.equal(ack.request.headers.getAll('Route').length, 0, 'our Route popped (§16.4)');
    assert.equal(ack.request.headers.getAll('Via').length, 2);

    const bye = alice.send({
      method: 'BYE',
      uri: dialog.uri,
      from: `"Alice" <${ALICE}>;tag=${dialog.from}`,
      to: dialog.to,
      callId: dialog.callId,
      cseq: inv.cseq + 1,
      headers: routes.map((r): [string, string] => ['Route', r]),
    });
    const byeAtBob = await b1.nextRequest('BYE');
    answer(b1, byeAtBob, 200);
    assert.equal((await alice.waitResponse(bye.branch)).status, 200);
    const end = await untilLamp(watcher, 'terminated');
    assert.deepEqual(end, ['terminated']);
    // The publication is removed a little later: the lamp goes idle.
    assert.deepEqual(await untilLamp(watcher, 'idle', 8000), ['idle']);
    assert.equal(stack.wiring.stats().proxy?.calls, 1, 'the ended call lingers briefly for late requests');
  });

  test('the callee hangs up: its BYE reaches the caller at its source address', async () => {
    stack.bindings.set(BOB, [udpBinding(b1, 'bob')]);
    const inv = alice.send(inviteSpec(alice, BOB));
    const r1 = await b1.nextRequest('INVITE');
    answer(b1, r1, 200, { tag: 'bt2', contact: b1.contactUri('bob') });
    const ok = await alice.waitResponse(inv.branch);
    // Bob's route set is the Record-Route in order; his BYE targets Alice's Contact.
    const routes = r1.request.headers.getAll('Record-Route');
    const bye = b1.send({
      method: 'BYE',
      uri: alice.contactUri('alice'),
      from: `<${BOB}>;tag=bt2`,
      to: `"Alice" <${ALICE}>;tag=${inv.fromTag}`,
      callId: inv.callId,
      cseq: 1,
      headers: routes.map((r): [string, string] => ['Route', r]),
    });
    const atAlice = await alice.nextRequest('BYE');
    assert.equal(atAlice.request.uri, alice.contactUri('alice'));
    answer(alice, atAlice, 200);
    assert.equal((await b1.waitResponse(bye.branch)).status, 200);
    assert.equal(ok.status, 200);
    stack.bindings.set(BOB, [udpBinding(b1, 'bob'), udpBinding(b2, 'bob')]);
  });

  test('a CANCEL from the caller cancels every branch and the caller gets 487', async () => {
    const inv = alice.send(inviteSpec(alice, BOB));
    const [r1, r2] = await Promise.all([b1.nextRequest('INVITE'), b2.nextRequest('INVITE')]);
    answer(b1, r1, 180, { tag: 'c1' });
    answer(b2, r2, 180, { tag: 'c2' });
    await alice.waitResponse(inv.branch, 2000, true);
    for (let i = 0; i < 100 && alice.responsesFor(inv.branch).filter((r) => r.status === 180).length < 2; i++) await new Promise((r) => setTimeout(r, 10));
    const cancel = alice.send({
      method: 'CANCEL',
      uri: BOB,
      branch: inv.branch,
      from: `"Alice" <${ALICE}>;tag=${inv.fromTag}`,
      to: `<${BOB}>`,
      callId: inv.callId,
      cseq: inv.cseq,
    });
    assert.equal((await alice.waitResponse(cancel.branch)).headers.get('CSeq'), `${inv.cseq} CANCEL`);
    const [c1, c2] = await Promise.all([b1.nextRequest('CANCEL'), b2.nextRequest('CANCEL')]);
    answer(b1, c1, 200);
    answer(b2, c2, 200);
    answer(b1, r1, 487, { tag: 'c1' });
    answer(b2, r2, 487, { tag: 'c2' });
    const final = await inviteFinal(alice, inv.branch);
    assert.equal(final.status, 487);
    // Our final response is ACKed hop by hop: the ACK stops at the proxy.
    alice.send({ method: 'ACK', uri: BOB, branch: inv.branch, from: `"Alice" <${ALICE}>;tag=${inv.fromTag}`, to: final.headers.get('To') ?? '', callId: inv.callId, cseq: inv.cseq });
    // The devices got the proxy's own ACK for their 487s, and nothing more.
    await Promise.all([b1.nextRequest('ACK'), b2.nextRequest('ACK')]);
    await b1.expectNoRequest('ACK', 200);
    watcher.drainRequests();
  });

  test('404 for an unknown user, 480 for a known user with no binding', async () => {
    const unknown = await alice.request(inviteSpec(alice, `sip:nobody@${DOMAIN}`));
    assert.equal(unknown.status, 404);
    const carol = await alice.request(inviteSpec(alice, `sip:carol@${DOMAIN}`));
    assert.equal(carol.status, 480);
  });

  test('a busy callee: 486 propagates to the caller', async () => {
    stack.bindings.set(BOB, [udpBinding(b1, 'bob')]);
    const inv = alice.send(inviteSpec(alice, BOB));
    const r1 = await b1.nextRequest('INVITE');
    answer(b1, r1, 486, { reason: 'Busy Here' });
    const ack = await b1.nextRequest('ACK');
    assert.equal(ack.request.headers.get('CSeq')?.split(' ')[1], 'ACK');
    const res = await alice.waitResponse(inv.branch);
    assert.equal(res.status, 486);
    stack.bindings.set(BOB, [udpBinding(b1, 'bob'), udpBinding(b2, 'bob')]);
  });

  test('forking: a 486 on one device and a 603 on the other: the 6xx wins (§16.7 step 6)', async () => {
    const inv = alice.send(inviteSpec(alice, BOB));
    const [r1, r2] = await Promise.all([b1.nextRequest('INVITE'), b2.nextRequest('INVITE')]);
    answer(b1, r1, 486);
    answer(b2, r2, 603, { reason: 'Decline' });
    assert.equal((await alice.waitResponse(inv.branch)).status, 603);
    await Promise.all([b1.nextRequest('ACK'), b2.nextRequest('ACK')]);
  });

  test('MESSAGE is forked and the first 2xx is forwarded', async () => {
    const msg = alice.send({
      method: 'MESSAGE',
      uri: BOB,
      from: `<${ALICE}>;tag=${randomToken(4)}`,
      to: `<${BOB}>`,
      contentType: 'text/plain',
      body: 'hello',
    });
    const [m1, m2] = await Promise.all([b1.nextRequest('MESSAGE'), b2.nextRequest('MESSAGE')]);
    assert.equal(m1.request.body.toString(), 'hello');
    assert.equal(m1.request.headers.getAll('Record-Route').length, 0, 'no Record-Route outside dialogs');
    answer(b1, m1, 200);
    assert.equal((await alice.waitResponse(msg.branch)).status, 200);
    answer(b2, m2, 200);
  });

  test('a SIPS Request-URI gets 416: we cannot keep it on TLS hop by hop (RFC 3261 §26.2.2)', async () => {
    const res = await alice.request(inviteSpec(alice, `sips:bob@${DOMAIN}`));
    assert.equal(res.status, 416);
  });

  test('no relaying: an initial request for a foreign domain is refused', async () => {
    const res = await alice.request(inviteSpec(alice, 'sip:someone@elsewhere.example.net'));
    assert.equal(res.status, 403);
  });

  test('an in-dialog request that did not come through us is refused 481', async () => {
    const res = await alice.request({
      method: 'BYE',
      uri: b1.contactUri('bob'),
      from: `<${ALICE}>;tag=x1`,
      to: `<${BOB}>;tag=x2`,
    });
    assert.equal(res.status, 481);
  });

  test('no relaying in dialogs either: our Route towards a target that is no call of ours and no registered contact gets 403', async () => {
    const res = await alice.request({
      method: 'MESSAGE',
      uri: 'sip:victim@198.51.100.99:5060',
      from: `<${ALICE}>;tag=x3`,
      to: '<sip:victim@elsewhere.example.net>;tag=x4',
      headers: [['Route', `<sip:127.0.0.1:${stack.udpPort};lr>`]],
    });
    assert.equal(res.status, 403);
  });

  test('a request that loops back to us is answered 482 (§16.3 step 4)', async () => {
    // A binding whose contact is the proxy itself, in the AOR's own name: the copy comes straight back.
    stack.bindings.set(`sip:loop@${DOMAIN}`, [{ uri: `sip:loop@${DOMAIN}`, path: [], flow: { protocol: 'udp', address: '127.0.0.1', port: stack.udpPort, flowId: undefined } }]);
    const res = await alice.request(inviteSpec(alice, `sip:loop@${DOMAIN}`), 5000);
    assert.equal(res.status, 482);
    assert.ok((stack.wiring.stats().proxy?.loops ?? 0) >= 1);
  });

  test('OPTIONS lists the proxied methods in Allow', async () => {
    const res = await alice.request({ method: 'OPTIONS', uri: `sip:127.0.0.1:${stack.udpPort}`, branch: newBranch() });
    const allow = res.headers.getAll('Allow');
    for (const m of ['INVITE', 'ACK', 'BYE', 'CANCEL', 'UPDATE', 'INFO', 'MESSAGE', 'REFER', 'PRACK']) assert.ok(allow.includes(m), m);
  });
});

describe('stateful proxy: caller on TCP, callee on UDP', () => {
  let stack: ProxyStack;
  let alice: SipTestClient;
  let bob: SipTestClient;

  before(async () => {
    stack = await startProxyStack();
    alice = await SipTestClient.open({ transport: 'tcp', serverPort: stack.tcpPort });
    bob = await SipTestClient.open({ transport: 'udp', serverPort: stack.udpPort });
    stack.bindings.set(BOB, [udpBinding(bob, 'bob')]);
  });

  after(async () => {
    await Promise.all([alice.close(), bob.close()]);
    await stack.stop();
  });

  test('double Record-Route (RFC 5658): each side routes to the listener it uses; BYE from the callee reaches the caller over its connection', async () => {
    const inv = alice.send(inviteSpec(alice, BOB));
    const r = await bob.nextRequest('INVITE');
    assert.deepEqual(r.request.headers.getAll('Record-Route'), [
      `<sip:127.0.0.1:${stack.udpPort};lr>`,
      `<sip:127.0.0.1:${stack.tcpPort};transport=tcp;lr>`,
    ]);
    answer(bob, r, 200, { tag: 'tb', contact: bob.contactUri('bob') });
    const ok = await alice.waitResponse(inv.branch);
    assert.equal(ok.status, 200);
    const aliceRoutes = routeSet(ok);
    assert.equal(aliceRoutes[0], `<sip:127.0.0.1:${stack.tcpPort};transport=tcp;lr>`, 'the caller first reaches our TCP side');
    alice.send({
      method: 'ACK',
      uri: bob.contactUri('bob'),
      from: `"Alice" <${ALICE}>;tag=${inv.fromTag}`,
      to: ok.headers.get('To') ?? '',
      callId: inv.callId,
      cseq: inv.cseq,
      headers: aliceRoutes.map((v): [string, string] => ['Route', v]),
    });
    const ack = await bob.nextRequest('ACK');
    assert.equal(ack.request.headers.getAll('Route').length, 0, 'both of our Route values popped');
    const bye = bob.send({
      method: 'BYE',
      uri: alice.contactUri('alice'),
      from: `<${BOB}>;tag=tb`,
      to: `"Alice" <${ALICE}>;tag=${inv.fromTag}`,
      callId: inv.callId,
      cseq: 1,
      headers: r.request.headers.getAll('Record-Route').map((v): [string, string] => ['Route', v]),
    });
    const atAlice = await alice.nextRequest('BYE');
    assert.equal(atAlice.overClientConnection, true, 'over the connection the caller opened (its flow)');
    answer(alice, atAlice, 200);
    assert.equal((await bob.waitResponse(bye.branch)).status, 200);
  });
});
