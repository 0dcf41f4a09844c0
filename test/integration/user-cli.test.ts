/**
 * `presenced user add|del|list` and the HTTP user endpoints: directly on the database (server stopped) and
 * through a running server's API, where a new user switches open mode to enforced authentication at once.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { userCommand } from '../../src/cli/user.js';
import type { CliIo } from '../../src/cli/serve.js';
import { SqliteStore } from '../../src/store/index.js';
import { SipTestClient } from '../support/sip-test-client.js';
import { freePort, startTestServer } from '../support/test-server.js';
import { registerSpec, requestWithAuth } from '../support/digest-ua.js';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

interface Run {
  code: number;
  out: string;
  err: string;
}

async function run(args: string[], stdin = '', env: Record<string, string> = {}): Promise<Run> {
  let out = '';
  let err = '';
  const io: CliIo = { env, cwd: process.cwd(), stdout: (t) => (out += t), stderr: (t) => (err += t) };
  const code = await userCommand(args, io, { readStdin: () => Promise.resolve(stdin) });
  return { code, out, err };
}

describe('presenced user (directly on the database)', () => {
  test('add with --password-stdin stores only H(A1); list shows it; add again changes the password; del removes it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'presenced-user-cli-'));
    dirs.push(dir);
    const db = `sqlite:${join(dir, 'presenced.db')}`;
    const add = await run(['add', 'alice@Example.COM', '--password-stdin', '--db', db], 'correct horse\n');
    assert.equal(add.code, 0, add.err);
    assert.match(add.out, /created: sip:alice@example\.com/);
    const store = await SqliteStore.open(join(dir, 'presenced.db'));
    const [u] = (await store.load()).users;
    await store.close();
    assert.equal(u?.aor, 'sip:alice@example.com');
    assert.equal(u?.realm, 'example.com');
    assert.equal(u?.ha1Md5.length, 32);
    assert.equal(u?.ha1Sha256.length, 64);
    assert.ok(!JSON.stringify(u).includes('correct horse'), 'no plaintext at rest');

    const list = await run(['list', '--db', db]);
    assert.equal(list.code, 0);
    assert.match(list.out, /sip:alice@example\.com/);
    const again = await run(['add', 'sip:alice@example.com', '--password', 'other', '--db', db]);
    assert.match(again.out, /password changed/);
    assert.match(again.err, /visible to other local users/);
    const json = JSON.parse((await run(['list', '--json', '--db', db])).out) as { items: Array<{ aor: string }> };
    assert.deepEqual(json.items.map((i) => i.aor), ['sip:alice@example.com']);
    assert.equal((await run(['del', 'sip:alice@example.com', '--db', db])).code, 0);
    assert.equal((await run(['del', 'sip:alice@example.com', '--db', db])).code, 1);
    assert.match((await run(['list', '--db', db])).out, /no users/);
  });

  test('usage errors exit 2: no password source, both, a bad AOR, an unknown command, an empty password', async () => {
    const db = 'sqlite:/nonexistent/never-opened.db';
    assert.equal((await run(['add', 'sip:a@example.com', '--db', db])).code, 2);
    assert.equal((await run(['add', 'sip:a@example.com', '--password', 'x', '--password-stdin', '--db', db])).code, 2);
    assert.equal((await run(['add', 'not an aor', '--password', 'x', '--db', db])).code, 2);
    assert.equal((await run(['add', 'sip:example.com', '--password', 'x', '--db', db])).code, 2);
    assert.equal((await run(['frobnicate'])).code, 2);
    assert.equal((await run(['add', 'sip:a@example.com', '--password-stdin', '--db', db], '\n')).code, 2);
    assert.equal((await run([])).code, 2);
    assert.equal((await run(['--help'])).code, 0);
  });
});

describe('presenced user through a running server (HTTP API)', () => {
  test('adding the first user over the API makes REGISTER need authentication at once; list and del work', async () => {
    const httpPort = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'presenced-user-api-'));
    dirs.push(dir);
    const server = await startTestServer({ domain: 'example.com', http: `127.0.0.1:${httpPort}`, api: { tokens: ['t0k'] } }, { dir });
    const client = await SipTestClient.open({ transport: 'udp', serverPort: server.port('udp') });
    try {
      const url = `http://127.0.0.1:${httpPort}`;
      const spec = registerSpec({ aor: 'sip:alice@example.com', domain: 'example.com', contact: `<${client.contactUri('alice')}>`, expires: 600 });
      assert.equal((await client.request(spec)).status, 200, 'open mode before');

      const unauthorised = await run(['add', 'sip:alice@example.com', '--password-stdin', '--url', url], 'pw\n');
      assert.equal(unauthorised.code, 1);
      assert.match(unauthorised.err, /API_ERR_UNAUTHORIZED/);
      const add = await run(['add', 'sip:alice@example.com', '--password-stdin', '--url', url, '--token', 't0k'], 'pw\n');
      assert.equal(add.code, 0, add.err);
      assert.match(add.out, /created: sip:alice@example\.com \(via http/);

      const challenged = await requestWithAuth(client, spec, { user: 'alice', password: 'pw' });
      assert.equal(challenged.first.status, 401, 'authentication enforced right away');
      assert.equal(challenged.response.status, 200);

      const list = await run(['list', '--json', '--url', url], '', { PRESENCED_TOKEN: 't0k' });
      const items = (JSON.parse(list.out) as { items: Array<Record<string, unknown>> }).items;
      assert.deepEqual(items.map((i) => i['aor']), ['sip:alice@example.com']);
      assert.ok(items.every((i) => !('ha1Md5' in i) && !('ha1Sha256' in i)), 'no secrets over the API');

      const regs = await fetch(`${url}/api/registrations?aor=${encodeURIComponent('sip:alice@example.com')}`, { headers: { authorization: 'Bearer t0k' } });
      const body = (await regs.json()) as { items: Array<{ uri: string; expires: number; flow: { protocol: string } }>; total: number };
      assert.equal(body.total, 1);
      assert.equal(body.items[0]!.uri, client.contactUri('alice'));
      assert.ok(body.items[0]!.expires > 590 && body.items[0]!.expires <= 600);
      assert.equal(body.items[0]!.flow.protocol, 'udp');

      const bad = await fetch(`${url}/api/users`, {
        method: 'POST',
        headers: { authorization: 'Bearer t0k', 'content-type': 'application/json' },
        body: JSON.stringify({ aor: 'sip:nouser.example.com', password: 'x' }),
      });
      assert.equal(bad.status, 400);
      assert.equal(((await bad.json()) as { error: { code: string } }).error.code, 'API_ERR_BAD_REQUEST');

      assert.equal((await run(['del', 'sip:alice@example.com', '--url', url, '--token', 't0k'])).code, 0);
      const gone = await run(['del', 'sip:alice@example.com', '--url', url, '--token', 't0k']);
      assert.equal(gone.code, 1);
      assert.match(gone.err, /API_ERR_NOT_FOUND/);
      assert.equal((await client.request({ ...spec, callId: 'after-del' })).status, 200, 'open mode again with no users');

      // With only the configuration file, the command finds the running server by its http listener...
      const cfg = join(dir, 'presenced.yaml');
      writeFileSync(cfg, `db: sqlite:${server.dbPath}\nhttp: 127.0.0.1:${httpPort}\napi:\n  tokens: [t0k]\n`);
      const viaConfig = await run(['add', 'sip:carol@example.com', '--password-stdin', '--config', cfg], 'pw3\n');
      assert.equal(viaConfig.code, 0, viaConfig.err);
      assert.match(viaConfig.out, /via http:\/\/127\.0\.0\.1/);
      await client.close();
      await server.stop();
      // ...and writes the database itself once the server is gone.
      const offline = await run(['list', '--config', cfg]);
      assert.equal(offline.code, 0, offline.err);
      assert.match(offline.out, /sip:carol@example\.com/);
    } finally {
      await client.close();
      await server.stop();
    }
  });
});
