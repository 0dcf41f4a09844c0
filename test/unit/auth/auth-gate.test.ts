import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { AuthGate, computeHa1, digestHash, UserDirectory, type AuthGateOptions, type DigestAlgorithm } from '../../../src/auth/index.js';
import { MemoryStore } from '../../../src/store/index.js';
import { inbound, makeTx, silentLogger, type FakeTx } from '../core/support.js';

interface Setup {
  gate: AuthGate;
  users: UserDirectory;
  clock: { now: number };
}

async function setup(over: Partial<AuthGateOptions> = {}, withUser = true): Promise<Setup> {
  const clock = { now: 1_700_000_000_000 };
  const users = new UserDirectory(new MemoryStore(), () => clock.now);
  if (withUser) {
    await users.set('sip:alice@example.com', 'secret');
    await users.set('sip:pbx@example.com', 'pbx-pass');
  }
  const gate = new AuthGate({
    users,
    mode: 'auto',
    methods: { REGISTER: true, PUBLISH: true, SUBSCRIBE: false },
    trustedPublishers: ['sip:pbx@example.com'],
    nonceTtlSeconds: 30,
    maxTrackedNonces: 1000,
    limiter: { maxFailures: 3, windowSeconds: 60, blockSeconds: 300, maxSources: 100 },
    now: () => clock.now,
    logger: silentLogger,
    ...over,
  });
  return { gate, users, clock };
}

function request(method: string, uri: string, from: string, to: string, extra: Array<[string, string]> = [], source = '192.0.2.10'): FakeTx {
  return makeTx(
    method,
    uri,
    [
      ['From', `<${from}>;tag=f1`],
      ['To', `<${to}>`],
      ['Call-ID', 'c1@test'],
      ['CSeq', `1 ${method}`],
      ...extra,
    ],
    undefined,
    inbound({ remote: { protocol: 'udp', address: source, port: 5070 } }),
  );
}

function challenges(tx: FakeTx): Array<Record<string, string>> {
  return tx.final.headers.getAll('WWW-Authenticate').map((v) => {
    const out: Record<string, string> = {};
    for (const m of v.matchAll(/(\w+)=(?:"([^"]*)"|([^,\s]+))/g)) out[m[1]!] = m[2] ?? m[3]!;
    return out;
  });
}

function answer(
  ch: Record<string, string>,
  o: { method: string; uri: string; user: string; password: string; algorithm: DigestAlgorithm; nc?: number; cnonce?: string; realm?: string },
): string {
  const realm = o.realm ?? ch['realm']!;
  const ha1 = computeHa1(o.algorithm, o.user, realm, o.password);
  const ha2 = digestHash(o.algorithm, `${o.method}:${o.uri}`);
  const nc = (o.nc ?? 1).toString(16).padStart(8, '0');
  const cnonce = o.cnonce ?? 'c0ffee';
  const response = digestHash(o.algorithm, `${ha1}:${ch['nonce']}:${nc}:${cnonce}:auth:${ha2}`);
  return (
    `Digest username="${o.user}", realm="${realm}", nonce="${ch['nonce']}", uri="${o.uri}", response="${response}", ` +
    `algorithm=${o.algorithm}, qop=auth, nc=${nc}, cnonce="${cnonce}", opaque="${ch['opaque']}"`
  );
}

describe('AuthGate (RFC 3261 §22, RFC 7616, RFC 8760)', () => {
  test('UserDirectory.get takes any AOR form and answers undefined for text that names no user', async () => {
    const { users } = await setup();
    assert.equal(users.get('sips:alice@EXAMPLE.com')?.aor, 'sip:alice@example.com');
    assert.equal(users.get('sip:example.com'), undefined);
    assert.equal(users.get('tel:+15551234'), undefined);
    assert.equal(users.get('not a uri'), undefined);
  });

  test('open mode while no user exists (auto): everything passes, without identity', async () => {
    const { gate } = await setup({}, false);
    assert.equal(gate.enforced, false);
    const tx = request('REGISTER', 'sip:example.com', 'sip:alice@example.com', 'sip:alice@example.com');
    const passed = gate.check(tx);
    assert.equal(passed?.identity, undefined);
    assert.equal(passed, tx);
  });

  test('mode off never challenges; mode on challenges even without users', async () => {
    const off = await setup({ mode: 'off' });
    assert.ok(off.gate.check(request('REGISTER', 'sip:example.com', 'sip:alice@example.com', 'sip:alice@example.com')));
    const on = await setup({ mode: 'on' }, false);
    const tx = request('REGISTER', 'sip:example.com', 'sip:alice@example.com', 'sip:alice@example.com');
    assert.equal(on.gate.check(tx), undefined);
    assert.equal(tx.final.status, 401);
  });

  test('401 offers SHA-256 then MD5, qop=auth, realm = From domain, one nonce, opaque; not stale', async () => {
    const { gate } = await setup();
    const tx = request('REGISTER', 'sip:example.com', 'sip:alice@example.com', 'sip:alice@example.com');
    assert.equal(gate.check(tx), undefined);
    assert.equal(tx.final.status, 401);
    assert.ok(tx.final.headers.get('To')?.includes('tag='), 'a To-tag on the 401');
    const ch = challenges(tx);
    assert.deepEqual(ch.map((c) => c['algorithm']), ['SHA-256', 'MD5']);
    for (const c of ch) {
      assert.equal(c['realm'], 'example.com');
      assert.equal(c['qop'], 'auth');
      assert.ok(c['opaque']);
      assert.equal(c['stale'], undefined);
    }
    assert.equal(ch[0]!['nonce'], ch[1]!['nonce']);
  });

  for (const algorithm of ['SHA-256', 'MD5'] as const) {
    test(`right ${algorithm} credentials pass with identity = the user's AOR`, async () => {
      const { gate } = await setup();
      const first = request('REGISTER', 'sip:example.com', 'sip:alice@example.com', 'sip:alice@example.com');
      gate.check(first);
      const ch = challenges(first).find((c) => c['algorithm'] === algorithm)!;
      const auth = answer(ch, { method: 'REGISTER', uri: 'sip:example.com', user: 'alice', password: 'secret', algorithm });
      const second = request('REGISTER', 'sip:example.com', 'sip:alice@example.com', 'sip:alice@example.com', [['Authorization', auth]]);
      const passed = gate.check(second);
      assert.ok(passed, `answered ${second.responses[0]?.status}`);
      assert.equal(passed.identity, 'sip:alice@example.com');
      assert.equal(second.responses.length, 0);
    });
  }

  test('wrong password: 401 again (not stale), then 403 once the source reaches the failure limit', async () => {
    const { gate } = await setup();
    const first = request('REGISTER', 'sip:example.com', 'sip:alice@example.com', 'sip:alice@example.com');
    gate.check(first);
    let ch = challenges(first)[0]!;
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) {
      const tx = request('REGISTER', 'sip:example.com', 'sip:alice@example.com', 'sip:alice@example.com', [
        ['Authorization', answer(ch, { method: 'REGISTER', uri: 'sip:example.com', user: 'alice', password: 'guess', algorithm: 'SHA-256' })],
      ]);
      assert.equal(gate.check(tx), undefined);
      statuses.push(tx.final.status);
      if (tx.final.status === 401) {
        ch = challenges(tx)[0]!;
        assert.equal(ch['stale'], undefined);
      }
    }
    assert.deepEqual(statuses, [401, 401, 403]);
    // Now even the right password is refused from that source, while another source is fine.
    const right = answer(ch, { method: 'REGISTER', uri: 'sip:example.com', user: 'alice', password: 'secret', algorithm: 'SHA-256' });
    const blocked = request('REGISTER', 'sip:example.com', 'sip:alice@example.com', 'sip:alice@example.com', [['Authorization', right]]);
    assert.equal(gate.check(blocked), undefined);
    assert.equal(blocked.final.status, 403);
    const elsewhere = request('REGISTER', 'sip:example.com', 'sip:alice@example.com', 'sip:alice@example.com', [['Authorization', right]], '198.51.100.7');
    assert.ok(gate.check(elsewhere));
    assert.equal(gate.stats().failures, 3);
    assert.equal(gate.stats().blockedSources, 1);
  });

  test('unknown user is a failure like a wrong password (no user enumeration)', async () => {
    const { gate } = await setup();
    const first = request('REGISTER', 'sip:example.com', 'sip:mallory@example.com', 'sip:mallory@example.com');
    gate.check(first);
    const ch = challenges(first)[0]!;
    const tx = request('REGISTER', 'sip:example.com', 'sip:mallory@example.com', 'sip:mallory@example.com', [
      ['Authorization', answer(ch, { method: 'REGISTER', uri: 'sip:example.com', user: 'mallory', password: 'x', algorithm: 'MD5' })],
    ]);
    gate.check(tx);
    assert.equal(tx.final.status, 401);
    assert.equal(gate.stats().failures, 1);
  });

  test('an expired nonce with the right password gets a new challenge with stale=true', async () => {
    const { gate, clock } = await setup();
    const first = request('REGISTER', 'sip:example.com', 'sip:alice@example.com', 'sip:alice@example.com');
    gate.check(first);
    const ch = challenges(first)[0]!;
    clock.now += 31_000;
    const tx = request('REGISTER', 'sip:example.com', 'sip:alice@example.com', 'sip:alice@example.com', [
      ['Authorization', answer(ch, { method: 'REGISTER', uri: 'sip:example.com', user: 'alice', password: 'secret', algorithm: 'SHA-256' })],
    ]);
    assert.equal(gate.check(tx), undefined);
    assert.equal(tx.final.status, 401);
    const again = challenges(tx);
    assert.ok(again.every((c) => c['stale'] === 'true'));
    assert.notEqual(again[0]!['nonce'], ch['nonce']);
    assert.equal(gate.stats().failures, 0, 'stale is not a failure');
  });

  test('a replayed nonce count is refused (stale=true); a higher count on the same nonce passes', async () => {
    const { gate } = await setup();
    const first = request('REGISTER', 'sip:example.com', 'sip:alice@example.com', 'sip:alice@example.com');
    gate.check(first);
    const ch = challenges(first)[0]!;
    const auth1 = answer(ch, { method: 'REGISTER', uri: 'sip:example.com', user: 'alice', password: 'secret', algorithm: 'SHA-256', nc: 1 });
    const ok = request('REGISTER', 'sip:example.com', 'sip:alice@example.com', 'sip:alice@example.com', [['Authorization', auth1]]);
    assert.ok(gate.check(ok));
    const replay = request('REGISTER', 'sip:example.com', 'sip:alice@example.com', 'sip:alice@example.com', [['Authorization', auth1]]);
    assert.equal(gate.check(replay), undefined);
    assert.equal(replay.final.status, 401);
    assert.equal(challenges(replay)[0]!['stale'], 'true');
    const auth2 = answer(ch, { method: 'REGISTER', uri: 'sip:example.com', user: 'alice', password: 'secret', algorithm: 'SHA-256', nc: 2 });
    assert.ok(gate.check(request('REGISTER', 'sip:example.com', 'sip:alice@example.com', 'sip:alice@example.com', [['Authorization', auth2]])));
    assert.equal(gate.stats().replays, 1);
  });

  test('PUBLISH for another AOR: 403; a trusted publisher may; REGISTER for another AOR: 403', async () => {
    const { gate } = await setup();
    const run = (method: string, uri: string, from: string, to: string, user: string, password: string): number | 'passed' => {
      const first = request(method, uri, from, to);
      gate.check(first);
      const ch = challenges(first)[0]!;
      const tx = request(method, uri, from, to, [['Authorization', answer(ch, { method, uri, user, password, algorithm: 'SHA-256' })]]);
      return gate.check(tx) !== undefined ? 'passed' : tx.final.status;
    };
    assert.equal(run('PUBLISH', 'sip:bob@example.com', 'sip:alice@example.com', 'sip:bob@example.com', 'alice', 'secret'), 403);
    assert.equal(run('PUBLISH', 'sip:alice@example.com', 'sip:alice@example.com', 'sip:alice@example.com', 'alice', 'secret'), 'passed');
    assert.equal(run('PUBLISH', 'sip:bob@example.com', 'sip:pbx@example.com', 'sip:bob@example.com', 'pbx', 'pbx-pass'), 'passed', 'trusted publisher');
    assert.equal(run('REGISTER', 'sip:example.com', 'sip:alice@example.com', 'sip:bob@example.com', 'alice', 'secret'), 403);
    assert.equal(gate.stats().forbidden, 2);
  });

  test('SUBSCRIBE passes unauthenticated unless configured; when required, identity is the user', async () => {
    const { gate } = await setup();
    const tx = request('SUBSCRIBE', 'sip:bob@example.com', 'sip:alice@example.com', 'sip:bob@example.com');
    assert.equal(gate.check(tx), tx);
    const strict = await setup({ methods: { REGISTER: true, PUBLISH: true, SUBSCRIBE: true } });
    const first = request('SUBSCRIBE', 'sip:bob@example.com', 'sip:alice@example.com', 'sip:bob@example.com');
    assert.equal(strict.gate.check(first), undefined);
    const ch = challenges(first)[1]!;
    const second = request('SUBSCRIBE', 'sip:bob@example.com', 'sip:alice@example.com', 'sip:bob@example.com', [
      ['Authorization', answer(ch, { method: 'SUBSCRIBE', uri: 'sip:bob@example.com', user: 'alice', password: 'secret', algorithm: 'MD5' })],
    ]);
    assert.equal(strict.gate.check(second)?.identity, 'sip:alice@example.com');
  });

  test('malformed credentials, a digest-uri that is not the Request-URI and unknown algorithms get 400', async () => {
    const { gate } = await setup();
    const first = request('REGISTER', 'sip:example.com', 'sip:alice@example.com', 'sip:alice@example.com');
    gate.check(first);
    const ch = challenges(first)[0]!;
    const cases = [
      'Digest username="alice", realm="example.com"',
      answer(ch, { method: 'REGISTER', uri: 'sip:other.example.com', user: 'alice', password: 'secret', algorithm: 'SHA-256' }),
      answer(ch, { method: 'REGISTER', uri: 'sip:example.com', user: 'alice', password: 'secret', algorithm: 'SHA-256' }).replace('SHA-256', 'SHA-512-256'),
      answer(ch, { method: 'REGISTER', uri: 'sip:example.com', user: 'alice', password: 'secret', algorithm: 'MD5' }).replace('nc=00000001', 'nc=1'),
    ];
    for (const auth of cases) {
      const tx = request('REGISTER', 'sip:example.com', 'sip:alice@example.com', 'sip:alice@example.com', [['Authorization', auth]]);
      assert.equal(gate.check(tx), undefined);
      assert.equal(tx.final.status, 400, auth);
    }
    assert.equal(gate.stats().failures, 0);
  });

  test('algorithms [MD5]: one MD5 challenge only, and a SHA-256 answer is refused (for clients like libre 1.x)', async () => {
    const { gate } = await setup({ algorithms: ['MD5'] });
    const first = request('REGISTER', 'sip:example.com', 'sip:alice@example.com', 'sip:alice@example.com');
    gate.check(first);
    const ch = challenges(first);
    assert.deepEqual(ch.map((c) => c['algorithm']), ['MD5']);
    const sha = request('REGISTER', 'sip:example.com', 'sip:alice@example.com', 'sip:alice@example.com', [
      ['Authorization', answer(ch[0]!, { method: 'REGISTER', uri: 'sip:example.com', user: 'alice', password: 'secret', algorithm: 'SHA-256' })],
    ]);
    assert.equal(gate.check(sha), undefined);
    assert.equal(sha.final.status, 400);
    const md5 = request('REGISTER', 'sip:example.com', 'sip:alice@example.com', 'sip:alice@example.com', [
      ['Authorization', answer(ch[0]!, { method: 'REGISTER', uri: 'sip:example.com', user: 'alice', password: 'secret', algorithm: 'MD5' })],
    ]);
    assert.ok(gate.check(md5));
  });

  test('credentials for another realm are ignored: the request is challenged for ours', async () => {
    const { gate } = await setup();
    const tx = request('REGISTER', 'sip:example.com', 'sip:alice@example.com', 'sip:alice@example.com', [
      ['Authorization', 'Digest username="alice", realm="elsewhere.net", nonce="x", uri="sip:example.com", response="00"'],
    ]);
    gate.check(tx);
    assert.equal(tx.final.status, 401);
  });
});

describe('AuthGate.checkProxied (RFC 3261 §22.3: 407 and Proxy-Authorization for requests the proxy routes)', () => {
  const proxyChallenges = (tx: FakeTx): Array<Record<string, string>> =>
    tx.final.headers.getAll('Proxy-Authenticate').map((v) => {
      const out: Record<string, string> = {};
      for (const m of v.matchAll(/(\w+)=(?:"([^"]*)"|([^,\s]+))/g)) out[m[1]!] = m[2] ?? m[3]!;
      return out;
    });
  const invite = (from: string, extra: Array<[string, string]> = [], source?: string): FakeTx =>
    request('INVITE', 'sip:bob@example.com', from, 'sip:bob@example.com', extra, source);
  const proxyAnswer = (ch: Record<string, string>, user: string, password: string): string =>
    answer(ch, { method: 'INVITE', uri: 'sip:bob@example.com', user, password, algorithm: 'SHA-256' });

  test('407 with one Proxy-Authenticate per algorithm and no WWW-Authenticate; counted as a proxy challenge', async () => {
    const { gate } = await setup({ proxy: true });
    const tx = invite('sip:alice@example.com');
    assert.equal(gate.checkProxied(tx), undefined);
    assert.equal(tx.final.status, 407);
    assert.equal(tx.final.headers.has('WWW-Authenticate'), false);
    const ch = proxyChallenges(tx);
    assert.deepEqual(ch.map((c) => c['algorithm']), ['SHA-256', 'MD5']);
    assert.ok(ch.every((c) => c['realm'] === 'example.com' && c['qop'] === 'auth'));
    assert.equal(gate.stats().proxyChallenges, 1);
    assert.equal(gate.stats().challenges, 1);
  });

  test('right credentials pass with the identity and every value for our realm as consumed; other realms are not ours', async () => {
    const { gate } = await setup({ proxy: true });
    const first = invite('sip:alice@example.com');
    gate.checkProxied(first);
    const ours = proxyAnswer(proxyChallenges(first)[0]!, 'alice', 'secret');
    const foreign = 'Digest username="alice", realm="carrier.example.net", nonce="n", uri="sip:bob@example.com", response="00"';
    const tx = invite('sip:alice@example.com', [
      ['Proxy-Authorization', foreign],
      ['Proxy-Authorization', ours],
    ]);
    const passed = gate.checkProxied(tx);
    assert.deepEqual(passed, { identity: 'sip:alice@example.com', consumed: [ours] });
    assert.equal(tx.responses.length, 0);
  });

  test('an Authorization header (401 credentials) does not answer a 407', async () => {
    const { gate } = await setup({ proxy: true });
    const first = invite('sip:alice@example.com');
    gate.checkProxied(first);
    const tx = invite('sip:alice@example.com', [['Authorization', proxyAnswer(proxyChallenges(first)[0]!, 'alice', 'secret')]]);
    assert.equal(gate.checkProxied(tx), undefined);
    assert.equal(tx.final.status, 407);
  });

  test('authenticated as one user with another in From: 403', async () => {
    const { gate } = await setup({ proxy: true });
    const first = invite('sip:pbx@example.com');
    gate.checkProxied(first);
    const tx = invite('sip:pbx@example.com', [['Proxy-Authorization', proxyAnswer(proxyChallenges(first)[0]!, 'alice', 'secret')]]);
    assert.equal(gate.checkProxied(tx), undefined);
    assert.equal(tx.final.status, 403);
    assert.equal(gate.stats().forbidden, 1);
  });

  test('wrong passwords count in the same limiter as REGISTER: a source blocked by calls is blocked for REGISTER', async () => {
    const { gate } = await setup({ proxy: true });
    const first = invite('sip:alice@example.com');
    gate.checkProxied(first);
    let ch = proxyChallenges(first)[0]!;
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) {
      const tx = invite('sip:alice@example.com', [['Proxy-Authorization', proxyAnswer(ch, 'alice', 'guess')]]);
      assert.equal(gate.checkProxied(tx), undefined);
      statuses.push(tx.final.status);
      if (tx.final.status === 407) ch = proxyChallenges(tx)[0]!;
    }
    assert.deepEqual(statuses, [407, 407, 403]);
    const reg = request('REGISTER', 'sip:example.com', 'sip:alice@example.com', 'sip:alice@example.com');
    assert.equal(gate.check(reg), undefined);
    assert.equal(reg.final.status, 403);
  });

  test('not enforced (open mode, mode off, or proxy: false): passes with no identity and nothing consumed', async () => {
    for (const s of [await setup({ proxy: true }, false), await setup({ proxy: true, mode: 'off' }), await setup({ proxy: false }), await setup()]) {
      const tx = invite('sip:alice@example.com', [['Proxy-Authorization', 'Digest username="alice", realm="example.com", nonce="n", uri="sip:bob@example.com", response="00"']]);
      assert.deepEqual(s.gate.checkProxied(tx), { identity: undefined, consumed: [] });
      assert.equal(tx.responses.length, 0);
    }
    assert.equal((await setup({ proxy: true })).gate.proxyEnforced, true);
    assert.equal((await setup({ proxy: true }, false)).gate.proxyEnforced, false);
  });
});
