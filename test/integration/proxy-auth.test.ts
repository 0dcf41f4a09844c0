/**
 * Authentication of calls and messages through the proxy (RFC 3261 §22.3, §16.3 step 6) on the real server over
 * UDP: a caller claiming one of our users gets 407 with Proxy-Authenticate (SHA-256 and MD5), its authorized retry
 * is forwarded without our Proxy-Authorization, the From must be the authenticated user, in-dialog requests and
 * CANCEL are not challenged, wrong passwords count towards the brute-force block shared with REGISTER, inbound
 * calls from other domains reach our users, and nobody relays from elsewhere to elsewhere.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SipResponse } from '../../src/sip/index.js';
import { answer, inviteFinal, inviteSpec, routeSet } from '../support/call-ua.js';
import { ackNon2xx, authorization, challengeFor, challengesOf, registerSpec, requestWithAuth, seedUsers } from '../support/digest-ua.js';
import { randomToken, SipTestClient, tagOf, type RequestSpec } from '../support/sip-test-client.js';
import { freePort, startTestServer, type TestServer } from '../support/test-server.js';

const DOMAIN = 'example.com';
const ALICE = `sip:alice@${DOMAIN}`;
const BOB = `sip:bob@${DOMAIN}`;
const ALICE_CREDS = { user: 'alice', password: 'alice-pw', algorithm: 'SHA-256' as const };
const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function serverWithUsers(overrides: Record<string, unknown> = {}): Promise<TestServer> {
  const dir = mkdtempSync(join(tmpdir(), 'presenced-proxy-auth-'));
  dirs.push(dir);
  await seedUsers(dir, [
    [ALICE, 'alice-pw'],
    [BOB, 'bob-pw'],
    [`sip:carol@${DOMAIN}`, 'carol-pw'],
  ]);
  return startTestServer({ domain: DOMAIN, ...overrides }, { dir });
}

async function registerBob(server: TestServer, bob: SipTestClient): Promise<void> {
  const spec = registerSpec({ aor: BOB, domain: DOMAIN, contact: `<${bob.contactUri('bob')}>`, expires: 300 });
  const r = await requestWithAuth(bob, spec, { user: 'bob', password: 'bob-pw', algorithm: 'MD5' });
  assert.equal(r.response.status, 200, `Bob registered (server on ${server.udpPort})`);
}

function messageSpec(to: string, from: string, text: string): RequestSpec {
  return { method: 'MESSAGE', uri: to, from: `<${from}>;tag=${randomToken(4)}`, to: `<${to}>`, contentType: 'text/plain', body: text };
}

/** The 407 of a first attempt, with the spec and identifiers it was sent with (for the ACK and the retry). */
async function challenged(ua: SipTestClient, spec: RequestSpec): Promise<{ res: SipResponse; sent: RequestSpec & { branch: string; callId: string; cseq: number } }> {
  const built = ua.send(spec);
  const res = await ua.waitResponse(built.branch);
  assert.equal(res.status, 407, `${spec.method} from one of our users is challenged`);
  const sent = { ...spec, branch: built.branch, callId: built.callId, cseq: built.cseq };
  if (spec.method === 'INVITE') ackNon2xx(ua, sent, res);
  return { res, sent };
}

/** The retry of a challenged request (§22.3: same Call-ID and From tag, CSeq + 1) with these extra headers. */
function retry(sent: { callId: string; cseq: number } & RequestSpec, headers: Array<[string, string]>): RequestSpec {
  return { ...sent, branch: undefined, cseq: sent.cseq + 1, headers: [...(sent.headers ?? []), ...headers] };
}

describe('the proxy authenticates callers claiming our users (407 Proxy-Authenticate)', () => {
  let server: TestServer;
  let alice: SipTestClient;
  let bob: SipTestClient;

  before(async () => {
    server = await serverWithUsers();
    const open = (): Promise<SipTestClient> => SipTestClient.open({ transport: 'udp', serverPort: server.port('udp') });
    [alice, bob] = await Promise.all([open(), open()]);
    await registerBob(server, bob);
  });

  after(async () => {
    await Promise.all([alice, bob].map((c) => c.close()));
    await server.stop();
  });

  test('INVITE: 407 offers SHA-256 then MD5; the retry reaches Bob without our credentials (others kept); ACK and BYE in the dialog are not challenged', async () => {
    const { res, sent } = await challenged(alice, inviteSpec(alice, BOB));
    const ch = challengesOf(res);
    assert.deepEqual(ch.map((c) => c['algorithm']), ['SHA-256', 'MD5']);
    assert.ok(ch.every((c) => c['qop'] === 'auth' && c['realm'] === DOMAIN && c['nonce'] !== undefined && c['opaque'] !== undefined));
    assert.equal(res.headers.has('WWW-Authenticate'), false, 'a proxy challenges with Proxy-Authenticate only');
    assert.deepEqual(
      alice.responsesFor(sent.branch).map((r) => r.status).filter((s) => s < 200),
      [],
      'challenged before any 100 Trying',
    );

    // Credentials for another proxy on the way travel on (§20.28: only the proxy of that realm consumes them).
    const foreign = 'Digest username="alice", realm="carrier.example.net", nonce="n1", uri="sip:bob@example.com", response="0123456789abcdef0123456789abcdef"';
    const ours = authorization(challengeFor(res, 'SHA-256'), ALICE_CREDS, 'INVITE', BOB);
    const inv = alice.send(retry(sent, [['Proxy-Authorization', ours], ['Proxy-Authorization', foreign]]));
    const atBob = await bob.nextRequest('INVITE');
    assert.deepEqual(atBob.request.headers.getAll('Proxy-Authorization'), [foreign], 'our Proxy-Authorization is removed, the other realm kept');
    assert.equal(atBob.request.uri, bob.contactUri('bob'));

    answer(bob, atBob, 200, { tag: 'pa1', contact: bob.contactUri('bob') });
    const ok = await alice.waitResponse(inv.branch);
    assert.equal(ok.status, 200);
    const routes = routeSet(ok).map((v): [string, string] => ['Route', v]);
    const dialog = { uri: bob.contactUri('bob'), from: sent.from, to: ok.headers.get('To') ?? '', callId: sent.callId };
    alice.send({ method: 'ACK', ...dialog, cseq: sent.cseq + 1, headers: routes });
    await bob.nextRequest('ACK');
    const bye = alice.send({ method: 'BYE', ...dialog, cseq: sent.cseq + 2, headers: routes });
    const byeAtBob = await bob.nextRequest('BYE');
    answer(bob, byeAtBob, 200);
    assert.equal((await alice.waitResponse(bye.branch)).status, 200, 'BYE within the dialog passes without credentials');
  });

  test('MESSAGE: 407, then delivered with MD5 credentials, which Bob does not see', async () => {
    const { res, sent } = await challenged(alice, messageSpec(BOB, ALICE, 'hello'));
    const md5 = { ...ALICE_CREDS, algorithm: 'MD5' as const };
    const m = alice.send(retry(sent, [['Proxy-Authorization', authorization(challengeFor(res, 'MD5'), md5, 'MESSAGE', BOB)]]));
    const atBob = await bob.nextRequest('MESSAGE');
    assert.equal(atBob.request.body.toString('utf8'), 'hello');
    assert.equal(atBob.request.headers.has('Proxy-Authorization'), false);
    answer(bob, atBob, 200);
    assert.equal((await alice.waitResponse(m.branch)).status, 200);
  });

  test('From another of our users with Alice\'s credentials: 403, nothing forwarded', async () => {
    const spoofed = inviteSpec(alice, BOB, {}, `sip:carol@${DOMAIN}`);
    const { res, sent } = await challenged(alice, spoofed);
    const again = alice.send(retry(sent, [['Proxy-Authorization', authorization(challengeFor(res, 'SHA-256'), ALICE_CREDS, 'INVITE', BOB)]]));
    const r = await alice.waitResponse(again.branch);
    ackNon2xx(alice, { ...sent, branch: again.branch, cseq: again.cseq }, r);
    assert.equal(r.status, 403);
    assert.match(r.reason, /not your address of record/);
    await bob.expectNoRequest('INVITE', 300);
  });

  test('CANCEL of a challenged-then-authorized INVITE: 200 to the CANCEL, Bob is cancelled, the caller gets 487', async () => {
    const { res, sent } = await challenged(alice, inviteSpec(alice, BOB));
    const again = retry(sent, [['Proxy-Authorization', authorization(challengeFor(res, 'SHA-256'), ALICE_CREDS, 'INVITE', BOB)]]);
    const inv = alice.send(again);
    const atBob = await bob.nextRequest('INVITE');
    answer(bob, atBob, 180, { tag: 'pc1', contact: bob.contactUri('bob') });
    await alice.waitResponse(inv.branch, 2000, true);
    // §9.1: the CANCEL has the INVITE's Request-URI, Call-ID, From, To, CSeq number and branch; no credentials.
    alice.send({ method: 'CANCEL', uri: BOB, from: sent.from, to: `<${BOB}>`, callId: sent.callId, cseq: sent.cseq + 1, branch: inv.branch });
    const cancelAtBob = await bob.nextRequest('CANCEL');
    answer(bob, cancelAtBob, 200);
    answer(bob, atBob, 487, { tag: 'pc1' });
    const final = await inviteFinal(alice, inv.branch);
    assert.equal(final.status, 487);
    const cancelled = alice.responsesFor(inv.branch).find((r) => r.headers.get('CSeq')?.endsWith('CANCEL'));
    assert.equal(cancelled?.status, 200, 'the CANCEL itself is accepted');
  });

  test('a caller from another domain reaches one of our users without a challenge (inbound call)', async () => {
    const spec = inviteSpec(alice, BOB, {}, 'sip:dave@other.example.net');
    const inv = alice.send(spec);
    const atBob = await bob.nextRequest('INVITE');
    assert.equal(tagOf(atBob.request.headers.get('From')), tagOf(spec.from));
    answer(bob, atBob, 486, { tag: 'pi1' });
    const final = await inviteFinal(alice, inv.branch);
    assert.equal(final.status, 486);
    ackNon2xx(alice, { ...spec, branch: inv.branch, callId: inv.callId, cseq: inv.cseq }, final);
    assert.equal(alice.responsesFor(inv.branch).some((r) => r.status === 407), false);
  });

  test('from another domain to another domain: 403, never relayed; from our user to another domain: 407, then 403', async () => {
    const relay = await alice.request(messageSpec('sip:x@elsewhere.example.org', 'sip:dave@other.example.net', 'relay me'));
    assert.equal(relay.status, 403);
    const invRelay = inviteSpec(alice, 'sip:x@elsewhere.example.org', {}, 'sip:dave@other.example.net');
    const built = alice.send(invRelay);
    const r = await alice.waitResponse(built.branch);
    assert.equal(r.status, 403);
    ackNon2xx(alice, { ...invRelay, branch: built.branch, callId: built.callId, cseq: built.cseq }, r);

    const out = await requestWithAuth(alice, messageSpec('sip:x@elsewhere.example.org', ALICE, 'out'), ALICE_CREDS);
    assert.equal(out.first.status, 407, 'our users prove who they are before anything else');
    assert.equal(out.response.status, 403, 'and still may not use us as a relay');
    await bob.expectNoRequest('MESSAGE', 200);
  });
});

describe('wrong passwords through the proxy', () => {
  test('407 again (not stale), counted; at auth.maxFailures the source gets 403 for calls and REGISTER alike', async () => {
    const httpPort = await freePort();
    const server = await serverWithUsers({ auth: { maxFailures: 3 }, http: `127.0.0.1:${httpPort}` });
    const alice = await SipTestClient.open({ transport: 'udp', serverPort: server.port('udp') });
    try {
      const wrong = { ...ALICE_CREDS, password: 'guess' };
      const statuses: number[] = [];
      for (let i = 0; i < 3; i++) {
        const { res, sent } = await challenged(alice, messageSpec(BOB, ALICE, `try ${i}`));
        const r = await alice.request(retry(sent, [['Proxy-Authorization', authorization(challengeFor(res, 'SHA-256'), wrong, 'MESSAGE', BOB)]]));
        statuses.push(r.status);
        if (r.status === 407) assert.ok(challengesOf(r).every((c) => c['stale'] !== 'true'), 'a wrong password is not a stale nonce');
      }
      assert.deepEqual(statuses, [407, 407, 403]);
      const metrics = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
      assert.match(metrics, /^presenced_auth_failures_total 3$/m);
      assert.match(metrics, /^presenced_auth_proxy_challenges_total 5$/m, 'three first attempts and two wrong answers');

      // Blocked: even the right password, and REGISTER (one limiter for every digest check).
      const right = await requestWithAuth(alice, messageSpec(BOB, ALICE, 'right'), ALICE_CREDS);
      assert.equal(right.first.status, 403);
      assert.match(right.first.reason, /too many failed authentications/);
      const reg = await alice.request(registerSpec({ aor: ALICE, domain: DOMAIN, contact: `<${alice.contactUri('alice')}>` }));
      assert.equal(reg.status, 403);
      assert.ok(server.logs.some((l) => /source blocked after repeated authentication failures/.test(l)));
    } finally {
      await alice.close();
      await server.stop();
    }
  });
});

describe('when the proxy does not authenticate', () => {
  for (const [what, overrides] of [
    ['auth.proxy false', { auth: { proxy: false } }],
    ['auth.mode off (--auth off)', { auth: { mode: 'off' } }],
  ] as const) {
    test(`${what}: a MESSAGE from one of our users is routed without a challenge`, async () => {
      const server = await serverWithUsers(overrides);
      const [alice, bob] = await Promise.all([0, 1].map(() => SipTestClient.open({ transport: 'udp', serverPort: server.port('udp') })));
      try {
        // Carol exists but has nothing registered: the answer is the proxy's routing decision, not a challenge.
        assert.equal((await alice.request(messageSpec(`sip:carol@${DOMAIN}`, ALICE, 'hi'))).status, 480);
        await registerBob(server, bob);
        const m = alice.send(messageSpec(BOB, ALICE, 'hi bob'));
        answer(bob, await bob.nextRequest('MESSAGE'), 200);
        assert.equal((await alice.waitResponse(m.branch)).status, 200);
      } finally {
        await Promise.all([alice, bob].map((c) => c.close()));
        await server.stop();
      }
    });
  }

  test('open mode (no users): calls are routed without a challenge', async () => {
    const server = await startTestServer({ domain: DOMAIN });
    const alice = await SipTestClient.open({ transport: 'udp', serverPort: server.port('udp') });
    try {
      // Nobody registered in open mode: 404 straight from the location lookup.
      assert.equal((await alice.request(messageSpec(BOB, ALICE, 'hi'))).status, 404);
    } finally {
      await alice.close();
      await server.stop();
    }
  });
});
