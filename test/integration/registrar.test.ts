/**
 * The registrar over real sockets (RFC 3261 §10.3): bindings listed with their expiry, removal by Expires 0 and
 * `*`, 423, bindings that survive a restart; presence from registration (watcher sees open then closed) and
 * the reg event package (RFC 3680) NOTIFYs.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SipTestClient } from '../support/sip-test-client.js';
import { startTestServer, type TestServer } from '../support/test-server.js';
import { registerSpec, requestWithAuth, seedUsers } from '../support/digest-ua.js';
import { basics, WatcherDialog } from '../support/presence-ua.js';
import { parseRegInfo } from '../../src/packages/reg/index.js';

const ALICE = 'sip:alice@example.com';
const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'presenced-reg-'));
  dirs.push(d);
  return d;
}

async function withClient(server: TestServer, fn: (c: SipTestClient) => Promise<void>): Promise<void> {
  const client = await SipTestClient.open({ transport: 'udp', serverPort: server.port('udp') });
  try {
    await fn(client);
  } finally {
    await client.close();
  }
}

describe('registrar (RFC 3261 §10.3)', () => {
  test('bindings are listed with their remaining expiry; Expires 0 removes one, * with Expires 0 all; 423 below the minimum', async () => {
    const server = await startTestServer({ domain: 'example.com', registrar: { minExpires: 120 } });
    try {
      await withClient(server, async (client) => {
        const callId = 'reg-list-1';
        let cseq = 1;
        const reg = (contact: string, expires?: number) =>
          client.request(registerSpec({ aor: ALICE, domain: 'example.com', contact, callId, cseq: cseq++, ...(expires !== undefined && { expires }) }));
        const a = await reg('<sip:alice@127.0.0.1:5071>;expires=600');
        assert.equal(a.status, 200);
        const b = await reg('<sip:alice@127.0.0.1:5072>', 300);
        assert.deepEqual(b.headers.getAll('Contact').sort(), ['<sip:alice@127.0.0.1:5071>;expires=600', '<sip:alice@127.0.0.1:5072>;expires=300']);
        assert.ok(b.headers.get('Date'));
        const tooBrief = await reg('<sip:alice@127.0.0.1:5073>', 30);
        assert.equal(tooBrief.status, 423);
        assert.equal(tooBrief.headers.get('Min-Expires'), '120');
        const removeOne = await reg('<sip:alice@127.0.0.1:5071>', 0);
        assert.deepEqual(removeOne.headers.getAll('Contact'), ['<sip:alice@127.0.0.1:5072>;expires=300']);
        const badStar = await reg('*', 60);
        assert.equal(badStar.status, 400);
        const all = await reg('*', 0);
        assert.equal(all.status, 200);
        assert.deepEqual(all.headers.getAll('Contact'), []);
        assert.equal((await reg('<sip:alice@127.0.0.1:5071>', 600)).status, 200);
        // Step 7: the binding exists with this Call-ID and a higher CSeq: an older request must fail.
        const stale = await client.request(registerSpec({ aor: ALICE, domain: 'example.com', contact: '<sip:alice@127.0.0.1:5071>', callId, cseq: 1, expires: 0 }));
        assert.equal(stale.status, 400, 'same Call-ID, lower CSeq');
        const query = await client.request({ ...registerSpec({ aor: ALICE, domain: 'example.com', contact: '' }), contact: null });
        assert.deepEqual(query.headers.getAll('Contact').length, 1, 'the binding is untouched');
      });
    } finally {
      await server.stop();
    }
  });

  test('bindings survive a restart (durable) and keep counting down', async () => {
    const dir = tempDir();
    const first = await startTestServer({ domain: 'example.com' }, { dir });
    await withClient(first, async (client) => {
      const r = await client.request(registerSpec({ aor: ALICE, domain: 'example.com', contact: '<sip:alice@127.0.0.1:5071;transport=tcp>;+sip.instance="<urn:uuid:aaaa>"', expires: 900 }));
      assert.equal(r.status, 200);
    });
    await first.stop();
    const second = await startTestServer({ domain: 'example.com' }, { dir });
    try {
      await withClient(second, async (client) => {
        const q = await client.request({ ...registerSpec({ aor: ALICE, domain: 'example.com', contact: '' }), contact: null });
        assert.equal(q.status, 200);
        const contacts = q.headers.getAll('Contact');
        assert.equal(contacts.length, 1);
        assert.match(contacts[0]!, /^<sip:alice@127\.0\.0\.1:5071;transport=tcp>;\+sip\.instance="<urn:uuid:aaaa>";expires=(89\d|900)$/);
      });
    } finally {
      await second.stop();
    }
  });

  test('a binding past its expiry is no longer listed (real time: 1 s registration)', async () => {
    const server = await startTestServer({ domain: 'example.com', registrar: { minExpires: 1, defaultExpires: 60 } });
    try {
      await withClient(server, async (client) => {
        const r = await client.request(registerSpec({ aor: ALICE, domain: 'example.com', contact: '<sip:alice@127.0.0.1:5071>', expires: 1 }));
        assert.deepEqual(r.headers.getAll('Contact'), ['<sip:alice@127.0.0.1:5071>;expires=1']);
        await new Promise((res) => setTimeout(res, 1300));
        const q = await client.request({ ...registerSpec({ aor: ALICE, domain: 'example.com', contact: '' }), contact: null });
        assert.deepEqual(q.headers.getAll('Contact'), []);
      });
    } finally {
      await server.stop();
    }
  });

  test('REGISTER for a domain not served: 404', async () => {
    const server = await startTestServer({ domain: 'example.com' });
    try {
      await withClient(server, async (client) => {
        const r = await client.request(registerSpec({ aor: 'sip:alice@elsewhere.net', domain: 'elsewhere.net', contact: '<sip:a@127.0.0.1>' }));
        assert.equal(r.status, 404);
      });
    } finally {
      await server.stop();
    }
  });
});

describe('presence from registration (pua_usrloc)', () => {
  for (const enabled of [true, false]) {
    test(`${enabled ? 'on' : 'off'}: a watcher ${enabled ? 'sees open when alice registers, closed when she unregisters' : 'sees nothing from registrations'}`, async () => {
      const server = await startTestServer({ domain: 'example.com', presenceFromRegistration: { enabled } });
      const watcherClient = await SipTestClient.open({ transport: 'udp', serverPort: server.port('udp') });
      const phone = await SipTestClient.open({ transport: 'udp', serverPort: server.port('udp') });
      try {
        const w = new WatcherDialog(watcherClient, { presentity: ALICE, watcher: 'sip:bob@example.com' });
        assert.equal((await w.subscribe(600)).status, 200);
        const initial = await w.notify();
        assert.deepEqual(basics(initial.request.body), []);
        const spec = registerSpec({ aor: ALICE, domain: 'example.com', contact: `<${phone.contactUri('alice')}>`, expires: 600, callId: 'pfr-1', cseq: 1 });
        assert.equal((await phone.request(spec)).status, 200);
        if (!enabled) {
          await watcherClient.expectNoRequest('NOTIFY', 500);
          return;
        }
        const open = await w.notify();
        assert.deepEqual(basics(open.request.body), ['open']);
        assert.equal((await phone.request({ ...spec, cseq: 2, headers: [['Expires', '0']] })).status, 200);
        const closed = await w.notify();
        assert.deepEqual(basics(closed.request.body), ['closed']);
      } finally {
        await watcherClient.close();
        await phone.close();
        await server.stop();
      }
    });
  }
});

describe('reg event package (RFC 3680)', () => {
  test('alice subscribes to her own registrations (authenticated): full state v0, then partial NOTIFYs with increasing versions', async () => {
    const dir = tempDir();
    await seedUsers(dir, [[ALICE, 'pw'], ['sip:bob@example.com', 'pw2']]);
    const server = await startTestServer({ domain: 'example.com', auth: { subscribe: true } }, { dir });
    const client = await SipTestClient.open({ transport: 'udp', serverPort: server.port('udp') });
    try {
      const creds = { user: 'alice', password: 'pw', algorithm: 'SHA-256' as const };
      const sub = await requestWithAuth(
        client,
        {
          method: 'SUBSCRIBE',
          uri: ALICE,
          from: `<${ALICE}>;tag=s1`,
          contact: `<${client.contactUri('alice')}>`,
          headers: [['Event', 'reg'], ['Accept', 'application/reginfo+xml'], ['Expires', '600']],
        },
        creds,
      );
      assert.equal(sub.first.status, 401);
      assert.equal(sub.response.status, 200);
      const n0 = await client.acceptNotify();
      assert.equal(n0.request.headers.get('Event'), 'reg');
      assert.equal(n0.request.headers.get('Content-Type'), 'application/reginfo+xml');
      const d0 = parseRegInfo(n0.request.body.toString('utf8'));
      assert.ok(d0.ok);
      assert.deepEqual([d0.doc.version, d0.doc.state, d0.doc.registrations[0]?.state], [0, 'full', 'init']);

      const reg = await requestWithAuth(client, registerSpec({ aor: ALICE, domain: 'example.com', contact: '<sip:alice@127.0.0.1:5090>', expires: 600 }), creds);
      assert.equal(reg.response.status, 200);
      const n1 = await client.acceptNotify();
      const d1 = parseRegInfo(n1.request.body.toString('utf8'));
      assert.ok(d1.ok);
      assert.deepEqual([d1.doc.version, d1.doc.state], [1, 'partial']);
      assert.deepEqual(d1.doc.registrations[0]!.contacts.map((c) => [c.uri, c.state, c.event]), [['sip:alice@127.0.0.1:5090', 'active', 'registered']]);

      const unreg = await requestWithAuth(client, registerSpec({ aor: ALICE, domain: 'example.com', contact: '<sip:alice@127.0.0.1:5090>', expires: 0 }), creds);
      assert.equal(unreg.response.status, 200);
      const n2 = await client.acceptNotify();
      const d2 = parseRegInfo(n2.request.body.toString('utf8'));
      assert.ok(d2.ok);
      assert.equal(d2.doc.version, 2);
      assert.equal(d2.doc.registrations[0]!.state, 'terminated');
      assert.deepEqual(d2.doc.registrations[0]!.contacts.map((c) => [c.state, c.event]), [['terminated', 'unregistered']]);
    } finally {
      await client.close();
      await server.stop();
    }
  });

  test("bob (authenticated) watching alice's registrations sees no contacts", async () => {
    const dir = tempDir();
    await seedUsers(dir, [[ALICE, 'pw'], ['sip:bob@example.com', 'pw2']]);
    const server = await startTestServer({ domain: 'example.com', auth: { subscribe: true } }, { dir });
    const client = await SipTestClient.open({ transport: 'udp', serverPort: server.port('udp') });
    try {
      const reg = await requestWithAuth(client, registerSpec({ aor: ALICE, domain: 'example.com', contact: '<sip:alice@127.0.0.1:5090>', expires: 600 }), { user: 'alice', password: 'pw' });
      assert.equal(reg.response.status, 200);
      const sub = await requestWithAuth(
        client,
        { method: 'SUBSCRIBE', uri: ALICE, from: '<sip:bob@example.com>;tag=b1', contact: `<${client.contactUri('bob')}>`, headers: [['Event', 'reg'], ['Expires', '600']] },
        { user: 'bob', password: 'pw2' },
      );
      // forceActive (the default) accepts the subscription; the package then shows bob no contacts.
      assert.equal(sub.response.status, 200);
      const n = await client.acceptNotify();
      const d = parseRegInfo(n.request.body.toString('utf8'));
      assert.ok(d.ok);
      assert.equal(d.doc.registrations[0]!.state, 'active');
      assert.deepEqual(d.doc.registrations[0]!.contacts, []);
    } finally {
      await client.close();
      await server.stop();
    }
  });
});
