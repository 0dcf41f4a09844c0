import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cliFlags, configKeys } from '../../src/config/index.js';
import { repoRoot, runBin } from '../support/child-process.js';

// Runs the compiled bin (runBin: dist/src/cli/main.js), whether this file runs from dist/ or through tsx.
const packageJson = join(repoRoot(), 'package.json');

const run = runBin;

describe('presenced command line', () => {
  test('--help documents every flag and every environment variable, and exits 0', async () => {
    const r = await run(['--help']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
    assert.match(r.stdout, /Usage: presenced/);
    for (const flag of cliFlags()) assert.ok(r.stdout.includes(`--${flag.name}`), `--help lacks --${flag.name}`);
    for (const key of configKeys()) {
      assert.ok(r.stdout.includes(key.env), `--help lacks ${key.env}`);
      assert.ok(r.stdout.includes(key.path), `--help lacks ${key.path}`);
    }
    assert.ok(r.stdout.includes('PRESENCED_CONFIG'));
    assert.match(r.stdout, /udp:0\.0\.0\.0:5060/, 'defaults are shown');
  });

  test('-h is --help', async () => {
    const r = await run(['-h']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /Usage: presenced/);
  });

  test('--version prints the package.json version and exits 0', async () => {
    const { version } = JSON.parse(readFileSync(packageJson, 'utf8')) as { version: string };
    const r = await run(['--version']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `presenced ${version}\n`);
  });

  test('--help works even when the configuration is broken', async () => {
    const r = await run(['--help'], { PRESENCED_MAX_EXPIRES_PUBLISH: 'abc' });
    assert.equal(r.code, 0);
  });

  test('an unknown flag exits 2 with a message on stderr', async () => {
    const r = await run(['--no-such-flag']);
    assert.equal(r.code, 2);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /^config: Unknown option '--no-such-flag'; see --help\n$/);
  });

  test('a bad value exits 2 and names the key and its origin', async () => {
    const r = await run(['--listen', 'udp:127.0.0.1:5160'], { PRESENCED_MAX_EXPIRES_PUBLISH: 'abc' });
    assert.equal(r.code, 2);
    assert.equal(
      r.stderr,
      'config: maxExpiresPublish: expected a number >= 1, got "abc" (from PRESENCED_MAX_EXPIRES_PUBLISH)\n',
    );
  });

  test('an unknown command word exits 2', async () => {
    const r = await run(['frobnicate']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /Unexpected argument 'frobnicate'/);
  });
});
