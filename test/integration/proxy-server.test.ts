/**
 * A full call through the real server: users with digest credentials register (Alice once, Bob from two
 * devices), Alice calls Bob (challenged with 407 first), both devices ring, one answers, the other is cancelled, ACK and BYE go through
 * the Record-Route, and a BLF watcher of Bob sees the lamp go trying/early -> confirmed -> terminated -> idle.
 * Also: 480 for a user with nothing registered, 404 for an unknown one, mixDialogPresence fed by the calls
 * (a presence watcher sees on-the-phone), and the proxy switched off (405).
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { answer, inviteSpec, lamp, routeSet, subscribeDialog, untilLamp } from '../support/call-ua.js';
import { ackNon2xx, authorization, challengeFor, registerSpec, requestWithAuth, seedUsers } from '../support/digest-ua.js';
import { branchOf, SipTestClient, tagOf } from '../support/sip-test-client.js';
import { startTestServer } from '../support/test-server.js';

const DOMAIN = 'example.com';
const ALICE = `sip:alice@${DOMAIN}`;
const BOB = `sip:bob@${DOMAIN}`;
const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'presenced-proxy-'));
  dirs.push(d);
  return d;
}

describe('calls through presenced (registrar + digest + stateful proxy + presence from calls)', () => {
  test('A calls B (two devices): forking, CANCEL of the other device, ACK/BYE via Record-Route, BLF lamps of B', { timeout: 30_000 }, async () => {
    const dir = tempDir();
    await seedUsers(dir, [
      [ALICE, 'alice-pw'],
      [BOB, 'bob-pw'],
      [`sip:carol@${DOMAIN}`, 'carol-pw'],
    ]);
    const server = await startTestServer({ domain: DOMAIN }, { dir });
    const open = (t: 'udp' | 'tcp' = 'udp'): Promise<SipTestClient> => SipTestClient.open({ transport: t, serverPort: server.port(t) });
    const [alice, b1, b2, watcher] = await Promise.all([open(), open(), open('tcp'), open()]);
    try {
      const reg = async (ua: SipTestClient, aor: string, user: string, password: string, algorithm: 'MD5' | 'SHA-256'): Promise<void> => {
        const r = await requestWithAuth(ua, registerSpec({ aor, domain: DOMAIN, contact: `<${ua.contactUri(user)}>`, expires: 300 }), { user, password, algorithm });
        assert.equal(r.first.status, 401, 'challenged first');
        assert.equal(r.response.status, 200, `registered ${aor} from ${ua.transport}`);
      };
      await reg(alice, ALICE, 'alice', 'alice-pw', 'SHA-256');
      await reg(b1, BOB, 'bob', 'bob-pw', 'MD5');
      await reg(b2, BOB, 'bob', 'bob-pw', 'SHA-256');

      await subscribeDialog(watcher, BOB);
      // Alice is one of our users: the proxy challenges her INVITE (407) and forwards the authenticated retry.
      const invSpec = inviteSpec(alice, BOB);
      const first = await alice.request(invSpec);
      assert.equal(first.status, 407, 'a call from one of our users is authenticated (RFC 3261 §22.3)');
      ackNon2xx(alice, { ...invSpec, branch: branchOf(first)!, callId: first.headers.get('Call-ID')!, cseq: Number.parseInt(first.headers.get('CSeq')!, 10) }, first);
      const proxyAuth = authorization(challengeFor(first, 'SHA-256'), { user: 'alice', password: 'alice-pw', algorithm: 'SHA-256' }, 'INVITE', BOB);
      const inv = alice.send({
        ...invSpec,
        callId: first.headers.get('Call-ID')!,
        cseq: Number.parseInt(first.headers.get('CSeq')!, 10) + 1,
        headers: [['Proxy-Authorization', proxyAuth]],
      });
      const [r1, r2] = await Promise.all([b1.nextRequest('INVITE'), b2.nextRequest('INVITE')]);
      assert.equal(r1.request.headers.has('Proxy-Authorization'), false, 'our credentials are consumed, not forwarded');
      assert.equal(r1.request.uri, b1.contactUri('bob'));
      assert.equal(r2.request.uri, b2.contactUri('bob'));
      assert.equal(r2.overClientConnection, true, 'the TCP device is reached over the connection it registered on');
      assert.ok(r1.request.headers.getAll('Record-Route').every((v) => v.endsWith(';lr>')));
      assert.deepEqual(await untilLamp(watcher, 'trying'), ['trying']);

      answer(b1, r1, 180, { tag: 'd1', contact: b1.contactUri('bob') });
      answer(b2, r2, 180, { tag: 'd2', contact: b2.contactUri('bob') });
      const early = await untilLamp(watcher, 'early');
      assert.deepEqual(early, ['early']);

      answer(b2, r2, 200, { tag: 'd2', contact: b2.contactUri('bob') });
      const ok = await alice.waitResponse(inv.branch);
      assert.equal(ok.status, 200);
      assert.equal(tagOf(ok.headers.get('To')), 'd2');
      const cancel = await b1.nextRequest('CANCEL');
      assert.equal(branchOf(cancel.request), branchOf(r1.request));
      answer(b1, cancel, 200);
      answer(b1, r1, 487, { tag: 'd1' });
      await b1.nextRequest('ACK');
      const confirmed = await watcher.acceptNotify();
      assert.equal(lamp(confirmed).state, 'confirmed');
      assert.equal(lamp(confirmed).direction, 'recipient');

      const routes = routeSet(ok);
      const inDialog = { uri: b2.contactUri('bob'), from: `"Alice" <${ALICE}>;tag=${inv.fromTag}`, to: ok.headers.get('To') ?? '', callId: inv.callId };
      alice.send({ method: 'ACK', ...inDialog, cseq: inv.cseq, headers: routes.map((v): [string, string] => ['Route', v]) });
      await b2.nextRequest('ACK');
      const bye = alice.send({ method: 'BYE', ...inDialog, cseq: inv.cseq + 1, headers: routes.map((v): [string, string] => ['Route', v]) });
      const byeAtBob = await b2.nextRequest('BYE');
      answer(b2, byeAtBob, 200);
      assert.equal((await alice.waitResponse(bye.branch)).status, 200);
      assert.deepEqual(await untilLamp(watcher, 'terminated'), ['terminated']);
      assert.deepEqual(await untilLamp(watcher, 'idle', 10_000), ['idle'], 'the publication is removed after the call');

      // 480: a user with nothing registered; 404: nobody of that name (once Alice proved who she is).
      const creds = { user: 'alice', password: 'alice-pw', algorithm: 'MD5' as const };
      assert.equal((await requestWithAuth(alice, inviteSpec(alice, `sip:carol@${DOMAIN}`), creds)).response.status, 480);
      assert.equal((await requestWithAuth(alice, inviteSpec(alice, `sip:nobody@${DOMAIN}`), creds)).response.status, 404);
    } finally {
      await Promise.all([alice, b1, b2, watcher].map((c) => c.close()));
      await server.stop();
    }
  });

  test('mixDialogPresence: a presence watcher of the callee sees "on the phone" while the call lasts (open mode)', { timeout: 30_000 }, async () => {
    const server = await startTestServer({ domain: DOMAIN, mixDialogPresence: true });
    const open = (): Promise<SipTestClient> => SipTestClient.open({ transport: 'udp', serverPort: server.port('udp') });
    const [alice, bob, watcher] = await Promise.all([open(), open(), open()]);
    try {
      for (const [ua, aor, user] of [
        [alice, ALICE, 'alice'],
        [bob, BOB, 'bob'],
      ] as const) {
        assert.equal((await ua.request(registerSpec({ aor, domain: DOMAIN, contact: `<${ua.contactUri(user)}>`, expires: 300 }))).status, 200);
      }
      const sub = await watcher.request({
        method: 'SUBSCRIBE',
        uri: BOB,
        from: `<sip:watcher@${DOMAIN}>;tag=w1`,
        to: `<${BOB}>`,
        contact: `<${watcher.contactUri('watcher')}>`,
        headers: [
          ['Event', 'presence'],
          ['Accept', 'application/pidf+xml'],
          ['Expires', '600'],
        ],
      });
      assert.equal(sub.status, 200);
      const onThePhone = (n: { request: { body: Buffer } }): boolean => /on-the-phone/.test(n.request.body.toString('utf8'));
      assert.equal(onThePhone(await watcher.acceptNotify()), false);
      // Take NOTIFYs as they come, answering each, until one says (or stops saying) on-the-phone.
      const until = async (want: boolean): Promise<void> => {
        for (let i = 0; i < 10; i++) if (onThePhone(await watcher.acceptNotify(5000)) === want) return;
        assert.fail(`no NOTIFY with on-the-phone=${want}`);
      };
      const busy = until(true);
      const inv = alice.send(inviteSpec(alice, BOB));
      const r = await bob.nextRequest('INVITE');
      answer(bob, r, 200, { tag: 'mx', contact: bob.contactUri('bob') });
      const ok = await alice.waitResponse(inv.branch);
      await busy;
      const routes = routeSet(ok);
      const inDialog = { uri: bob.contactUri('bob'), from: `"Alice" <${ALICE}>;tag=${inv.fromTag}`, to: ok.headers.get('To') ?? '', callId: inv.callId };
      alice.send({ method: 'ACK', ...inDialog, cseq: inv.cseq, headers: routes.map((v): [string, string] => ['Route', v]) });
      const idle = until(false);
      alice.send({ method: 'BYE', ...inDialog, cseq: inv.cseq + 1, headers: routes.map((v): [string, string] => ['Route', v]) });
      answer(bob, await bob.nextRequest('BYE'), 200);
      await idle;
    } finally {
      await Promise.all([alice, bob, watcher].map((c) => c.close()));
      await server.stop();
    }
  });

  test('proxy.enabled false: INVITE gets 405 and Allow no longer lists it', async () => {
    const server = await startTestServer({ domain: DOMAIN, proxy: { enabled: false } });
    const ua = await SipTestClient.open({ transport: 'udp', serverPort: server.port('udp') });
    try {
      const res = await ua.request(inviteSpec(ua, BOB));
      assert.equal(res.status, 405);
      assert.ok(!res.headers.getAll('Allow').includes('INVITE'));
    } finally {
      await ua.close();
      await server.stop();
    }
  });
});
