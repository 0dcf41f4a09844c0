/** `presenced ctl` against a running admin server (real core) on 127.0.0.1: output, --json, errors, exit codes. */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { ctl } from '../../src/cli/ctl.js';
import type { CliIo } from '../../src/cli/serve.js';
import { Watcher } from '../unit/core/support.js';
import { adminOnRealCore, pidf } from './admin-fixtures.js';

interface Run {
  code: number;
  out: string;
  err: string;
}

describe('presenced ctl', () => {
  let base: string;
  let stop: () => Promise<void>;
  let h: Awaited<ReturnType<typeof adminOnRealCore>>['h'];
  const run = async (args: string[], env: Record<string, string> = {}): Promise<Run> => {
    let out = '';
    let err = '';
    const io: CliIo = {
      env: { PRESENCED_URL: base, PRESENCED_TOKEN: 'sekret', ...env },
      cwd: process.cwd(),
      stdout: (t) => (out += t),
      stderr: (t) => (err += t),
    };
    const code = await ctl(args, io);
    return { code, out, err };
  };

  before(async () => {
    const started = await adminOnRealCore({ tokens: ['sekret'] });
    ({ stop, h } = started);
    base = await started.admin.start();
  });
  after(() => stop());

  test('publish prints the entity-tag; --json prints the API answer', async () => {
    const r = await run(['publish', '--presentity', 'sip:alice@example.com', '--content-type', 'application/pidf+xml', '--body', pidf('sip:alice@example.com', 'open'), '--expires', '120']);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^etag \S+ \(expires in 120s\)\n$/);
    const j = await run(['publish', '--json', '--presentity', 'sip:bob@example.com', '--content-type', 'application/pidf+xml', '--body', pidf('sip:bob@example.com', 'closed')]);
    assert.equal(j.code, 0);
    const json = JSON.parse(j.out);
    assert.equal(json.expires, 3600);
    const removed = await run(['publish', '--presentity', 'sip:bob@example.com', '--etag', json.etag, '--expires', '0']);
    assert.match(removed.out, /^removed \(etag /);
  });

  test('list-presentities prints a table with a total, and filters', async () => {
    const r = await run(['list-presentities']);
    assert.equal(r.code, 0, r.err);
    const lines = r.out.trim().split('\n');
    assert.match(lines[0]!, /^PRESENTITY\s+EVENT\s+PUBLICATIONS\s+WATCHERS\s+EXPIRES$/);
    assert.ok(lines.some((l) => /^sip:alice@example\.com\s+presence\s+1\s+0\s+120s$/.test(l)), r.out);
    assert.match(lines.at(-1)!, /^\d+ in total$/);
    const none = await run(['list-presentities', '--uri', 'sip:nobody*', '--json']);
    assert.deepEqual(JSON.parse(none.out).items, []);
    const bodies = await run(['list-presentities', '--bodies', '--uri', 'sip:alice@*']);
    assert.match(bodies.out, /<basic>open<\/basic>/);
  });

  test('show-presentity, list-subscriptions, show-subscription', async () => {
    const show = await run(['show-presentity', 'sip:alice@example.com']);
    assert.equal(show.code, 0);
    assert.match(show.out, /\[presence\] 1 publication\(s\), 0 watcher\(s\)/);
    assert.equal((await new Watcher({ presentity: 'sip:alice@example.com', watcher: 'sip:carol@example.com' }).subscribe(h.core, 300)).status, 200);
    const subs = await run(['list-subscriptions', '--presentity', 'sip:alice@example.com']);
    assert.equal(subs.code, 0);
    assert.match(subs.out, /^sip:alice@example\.com\s+sip:carol@example\.com\s+presence\s+active\s+300s\s+\S+$/m);
    const id = JSON.parse((await run(['list-subscriptions', '--json'])).out).items[0].id as string;
    const one = await run(['show-subscription', id]);
    assert.equal(one.code, 0);
    assert.equal(JSON.parse(one.out).id, id);
  });

  test('refresh-watchers, cleanup, expose, stats', async () => {
    const refresh = await run(['refresh-watchers', 'sip:alice@example.com', '--type', '1']);
    assert.equal(refresh.out, 'notified 1 watcher(s)\n');
    const cleanup = await run(['cleanup']);
    assert.match(cleanup.out, /^removed \d+ expired publication\(s\) and \d+ subscription\(s\)\n$/);
    const expose = await run(['expose', '--filter', '^sip:alice@']);
    assert.equal(expose.out, 'exposed 1 publication(s) as events\n');
    const stats = await run(['stats']);
    assert.equal(JSON.parse(stats.out).core.presentitiesByEvent.presence, 1);
  });

  test('usage errors exit 2 without a request', async () => {
    for (const args of [
      [],
      ['frobnicate'],
      ['publish', '--body', 'x'],
      ['refresh-watchers'],
      ['refresh-watchers', 'sip:a@b', '--type', '3'],
      ['list-presentities', '--limit', 'ten'],
      ['list-presentities', '--colour', 'red'],
      ['cleanup', '--url', 'ftp://x'],
    ]) {
      const r = await run(args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.err}`);
      assert.match(r.err, /presenced ctl|Usage/);
    }
    const help = await run(['--help']);
    assert.equal(help.code, 0);
    assert.match(help.out, /list-presentities/);
  });

  test('API errors and an unreachable server exit 1 with the reason', async () => {
    const bad = await run(['cleanup'], { PRESENCED_TOKEN: 'wrong' });
    assert.equal(bad.code, 1);
    assert.match(bad.err, /API_ERR_UNAUTHORIZED: invalid bearer token/);
    assert.match(bad.err, /PRESENCED_TOKEN/);
    const missing = await run(['show-presentity', 'sip:ghost@example.com']);
    assert.equal(missing.code, 1);
    assert.match(missing.err, /API_ERR_NOT_FOUND: no presentity sip:ghost@example.com/);
    const invalid = await run(['publish', '--presentity', 'not-a-uri', '--etag', 'x']);
    assert.equal(invalid.code, 1);
    assert.match(invalid.err, /API_ERR_BAD_REQUEST: body.presentity/);
    // A port nobody listens on: bind one, note it, close it.
    const port = await new Promise<number>((resolve) => {
      const s = createServer();
      s.listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    const down = await run(['stats', '--url', `http://127.0.0.1:${port}`]);
    assert.equal(down.code, 1);
    assert.match(down.err, /cannot reach http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\)/);
  });
});
