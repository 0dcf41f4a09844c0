/**
 * `presenced ctl` from the installed bin (dist/src/cli/main.js, as npm links it): the subcommand table routes
 * it to ctl, its own help and exit codes, and the server's --help points to it.
 */
import { createServer } from 'node:net';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { runBin, type BinRun } from '../support/child-process.js';

const run = (args: string[]): Promise<BinRun> => runBin(args);

/** A port on 127.0.0.1 with nothing listening (bound, then released). */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe('presenced ctl through the bin', () => {
  test('ctl --help prints the ctl usage and exits 0 (not the server\'s flags)', async () => {
    const r = await run(['ctl', '--help']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^Usage: presenced ctl <command> \[options\]/);
    assert.match(r.stdout, /list-presentities/);
    assert.match(r.stdout, /subscribe/);
    assert.doesNotMatch(r.stdout, /Configuration keys/);
  });

  test('an unknown ctl command is a usage error (exit 2)', async () => {
    const r = await run(['ctl', 'no-such-command']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /unknown command "no-such-command"/);
  });

  test('a server that is not running: exit 1 with a message naming the URL', async () => {
    const port = await closedPort();
    const r = await run(['ctl', 'stats', '--url', `http://127.0.0.1:${port}`]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`cannot reach http://127\\.0\\.0\\.1:${port}`));
  });

  test('presenced --help mentions the ctl subcommand', async () => {
    const r = await run(['--help']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /presenced ctl <command>/);
  });
});
