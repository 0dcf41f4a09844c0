/**
 * Digest authentication over real sockets (RFC 3261 §22, RFC 7616, RFC 8760): challenges, MD5 and SHA-256
 * answers, wrong passwords and the brute-force block, stale and replayed nonces, publisher identity, open mode.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SipTestClient, newBranch, pidf, type TestTransport } from '../support/sip-test-client.js';
import { startTestServer, type TestServer } from '../support/test-server.js';
import { authorization, challengeFor, challengesOf, registerSpec, requestWithAuth, seedUsers } from '../support/digest-ua.js';
import { publishSpec } from '../support/presence-ua.js';

const ALICE = 'sip:alice@example.com';
const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function serverWithUsers(overrides: Record<string, unknown> = {}, dir?: string): Promise<TestServer> {
  const d = dir ?? mkdtempSync(join(tmpdir(), 'presenced-auth-'));
  if (dir === undefined) {
    dirs.push(d);
    await seedUsers(d, [
      [ALICE, 'alice-secret'],
      ['sip:bob@example.com', 'bob-secret'],
      ['sip:voicemail@example.com', 'vm-secret'],
    ]);
  }
  return startTestServer(
    { domain: 'example.com', auth: { maxFailures: 3, trustedPublishers: ['sip:voicemail@example.com'] }, ...overrides },
    { dir: d },
  );
}

describe('digest authentication of REGISTER', () => {
  let server: TestServer;
  before(async () => {
    server = await serverWithUsers();
  });
  after(async () => {
    await server.stop();
  });

  for (const transport of ['udp', 'tcp'] as TestTransport[]) {
    for (const algorithm of ['MD5', 'SHA-256'] as const) {
      test(`${transport}: 401 offers SHA-256 then MD5; the ${algorithm} answer registers`, async () => {
        const client = await SipTestClient.open({ transport, serverPort: server.port(transport) });
        try {
          const spec = registerSpec({ aor: ALICE, domain: 'example.com', contact: `<${client.contactUri('alice')}>`, expires: 600 });
          const { first, response } = await requestWithAuth(client, spec, { user: 'alice', password: 'alice-secret', algorithm });
          assert.equal(first.status, 401);
          const ch = challengesOf(first);
          assert.deepEqual(ch.map((c) => c['algorithm']), ['SHA-256', 'MD5']);
          assert.ok(ch.every((c) => c['qop'] === 'auth' && c['realm'] === 'example.com' && c['nonce'] && c['opaque']));
          assert.equal(response.status, 200);
          assert.match(response.headers.getAll('Contact').join(','), /expires=600/);
        } finally {
          await client.close();
        }
      });
    }
  }

  test('a replayed nonce count gets 401 stale=true; the next count on the same nonce is accepted', async () => {
    const client = await SipTestClient.open({ transport: 'udp', serverPort: server.port('udp') });
    try {
      const spec = registerSpec({ aor: ALICE, domain: 'example.com', contact: `<${client.contactUri('alice')}>`, expires: 600, callId: 'replay-1' });
      const first = await client.request({ ...spec, cseq: 1 });
      const ch = challengeFor(first, 'SHA-256');
      const creds = { user: 'alice', password: 'alice-secret', algorithm: 'SHA-256' as const };
      const auth1 = authorization(ch, creds, 'REGISTER', 'sip:example.com', 1, 'abc');
      const ok = await client.request({ ...spec, cseq: 2, headers: [...(spec.headers ?? []), ['Authorization', auth1]] });
      assert.equal(ok.status, 200);
      // The same Authorization again (a captured request replayed as a new transaction).
      const replay = await client.request({ ...spec, cseq: 3, branch: newBranch(), headers: [...(spec.headers ?? []), ['Authorization', auth1]] });
      assert.equal(replay.status, 401);
      assert.ok(challengesOf(replay).every((c) => c['stale'] === 'true'));
      const auth2 = authorization(ch, creds, 'REGISTER', 'sip:example.com', 2, 'abd');
      const next = await client.request({ ...spec, cseq: 4, headers: [...(spec.headers ?? []), ['Authorization', auth2]] });
      assert.equal(next.status, 200);
    } finally {
      await client.close();
    }
  });

  test('PUBLISH for another user: 403; for oneself: 200; a trusted publisher may publish for anyone', async () => {
    const client = await SipTestClient.open({ transport: 'udp', serverPort: server.port('udp') });
    try {
      const bobsPresence = publishSpec({ aor: 'sip:bob@example.com', body: pidf('sip:bob@example.com', 't1', 'open'), expires: 600 });
      const asAlice = await requestWithAuth(client, { ...bobsPresence, from: `<${ALICE}>;tag=x1` }, { user: 'alice', password: 'alice-secret' });
      assert.equal(asAlice.first.status, 401);
      assert.equal(asAlice.response.status, 403);
      const own = publishSpec({ aor: ALICE, body: pidf(ALICE, 't1', 'open'), expires: 600 });
      assert.equal((await requestWithAuth(client, own, { user: 'alice', password: 'alice-secret' })).response.status, 200);
      const vm = await requestWithAuth(client, { ...bobsPresence, from: '<sip:voicemail@example.com>;tag=v1' }, { user: 'voicemail', password: 'vm-secret' });
      assert.equal(vm.response.status, 200);
    } finally {
      await client.close();
    }
  });

  test('SUBSCRIBE needs no authentication by default', async () => {
    const client = await SipTestClient.open({ transport: 'udp', serverPort: server.port('udp') });
    try {
      const res = await client.request({
        method: 'SUBSCRIBE',
        uri: ALICE,
        from: '<sip:carol@example.com>;tag=c1',
        contact: `<${client.contactUri('carol')}>`,
        headers: [['Event', 'presence'], ['Expires', '0']],
      });
      assert.equal(res.status, 200);
      await client.acceptNotify();
    } finally {
      await client.close();
    }
  });
});

describe('wrong passwords and the brute-force limit', () => {
  test('401 again for each wrong answer, then 403 for that source (even with the right password)', async () => {
    const server = await serverWithUsers();
    const client = await SipTestClient.open({ transport: 'udp', serverPort: server.port('udp') });
    try {
      const spec = registerSpec({ aor: ALICE, domain: 'example.com', contact: `<${client.contactUri('alice')}>`, expires: 600 });
      const statuses: number[] = [];
      for (let i = 0; i < 3; i++) {
        const r = await requestWithAuth(client, spec, { user: 'alice', password: `guess-${i}` });
        statuses.push(r.response.status);
        if (r.response.status === 401) assert.ok(challengesOf(r.response).every((c) => c['stale'] === undefined), 'not stale');
      }
      assert.deepEqual(statuses, [401, 401, 403]);
      const right = await client.request({ ...spec, branch: newBranch(), headers: [['Authorization', 'Digest username="alice", realm="example.com", nonce="x", uri="sip:example.com", response="0"']] });
      assert.equal(right.status, 403);
      assert.match(right.reason, /too many failed/i);
    } finally {
      await client.close();
      await server.stop();
    }
  });
});

describe('stale nonces', () => {
  test('a nonce from before a restart, with the right password: 401 stale=true, then the new nonce works', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'presenced-auth-'));
    dirs.push(dir);
    await seedUsers(dir, [[ALICE, 'alice-secret']]);
    const first = await startTestServer({ domain: 'example.com' }, { dir });
    let client = await SipTestClient.open({ transport: 'udp', serverPort: first.port('udp') });
    const spec = registerSpec({ aor: ALICE, domain: 'example.com', contact: `<sip:alice@127.0.0.1:5999>`, expires: 600, callId: 'stale-1' });
    const challenged = await client.request({ ...spec, cseq: 1 });
    const old = challengeFor(challenged, 'SHA-256');
    await client.close();
    await first.stop();

    const second = await startTestServer({ domain: 'example.com' }, { dir });
    client = await SipTestClient.open({ transport: 'udp', serverPort: second.port('udp') });
    try {
      const creds = { user: 'alice', password: 'alice-secret', algorithm: 'SHA-256' as const };
      const stale = await client.request({ ...spec, cseq: 2, headers: [...(spec.headers ?? []), ['Authorization', authorization(old, creds, 'REGISTER', 'sip:example.com')]] });
      assert.equal(stale.status, 401);
      const fresh = challengeFor(stale, 'SHA-256');
      assert.equal(fresh['stale'], 'true');
      const ok = await client.request({ ...spec, cseq: 3, headers: [...(spec.headers ?? []), ['Authorization', authorization(fresh, creds, 'REGISTER', 'sip:example.com')]] });
      assert.equal(ok.status, 200);
    } finally {
      await client.close();
      await second.stop();
    }
  });
});

describe('open mode', () => {
  test('no users: a warning at start-up, and REGISTER and PUBLISH are accepted without a challenge', async () => {
    const server = await startTestServer({ domain: 'example.com' });
    const client = await SipTestClient.open({ transport: 'udp', serverPort: server.port('udp') });
    try {
      assert.ok(server.logs.some((l) => /open mode/.test(l) && /"level":"warn"/.test(l)), 'a warning about open mode');
      const reg = await client.request(registerSpec({ aor: ALICE, domain: 'example.com', contact: `<${client.contactUri('alice')}>`, expires: 600 }));
      assert.equal(reg.status, 200);
      const pub = await client.request(publishSpec({ aor: 'sip:bob@example.com', body: pidf('sip:bob@example.com', 't', 'open') }));
      assert.equal(pub.status, 200);
    } finally {
      await client.close();
      await server.stop();
    }
  });

  test('auth.mode off (--auth off) is open whatever the users', async () => {
    const server = await serverWithUsers({ auth: { mode: 'off' } });
    const client = await SipTestClient.open({ transport: 'udp', serverPort: server.port('udp') });
    try {
      const reg = await client.request(registerSpec({ aor: ALICE, domain: 'example.com', contact: `<${client.contactUri('alice')}>`, expires: 600 }));
      assert.equal(reg.status, 200);
      assert.ok(server.logs.some((l) => /authentication is off/.test(l)));
    } finally {
      await client.close();
      await server.stop();
    }
  });
});
