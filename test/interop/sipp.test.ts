/**
 * Interoperability with independent SIP implementations driven as black boxes: Debian's sipp (sip-tester)
 * running the server-neutral scenarios of ../shared/bench at a small bounded load, and sipsak's OPTIONS ping.
 * Each test is skipped, with the reason, when its tool is not installed (CI installs both).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, repoRoot, startTestServer, type TestServer } from '../support/test-server.js';
import { ciRequires } from '../support/ci-requires.js';

function installed(cmd: string, args: string[]): boolean {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 5000 });
  return r.error === undefined;
}

const HAVE_SIPP = installed('sipp', ['-v']);
const HAVE_SIPSAK = installed('sipsak', ['--version']);

/** ../shared/bench when present (the reference scenarios), else the copies kept in bench/scenarios. */
function scenario(name: string): string {
  const shared = join(repoRoot(), '..', 'shared', 'bench', name);
  return existsSync(shared) ? shared : join(repoRoot(), 'bench', 'scenarios', name);
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a tool without blocking the event loop (the server under test lives in this process). */
function run(cmd: string, args: string[], cwd: string, timeoutMs: number): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout = (stdout + d).slice(-20000)));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-20000)));
    const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(t);
      resolve({ code, stdout, stderr });
    });
  });
}

function lastStats(file: string): Map<string, string> {
  const lines = readFileSync(file, 'utf8').split('\n').filter((l) => l.trim() !== '');
  const head = lines[0].split(';');
  const last = lines[lines.length - 1].split(';');
  return new Map(head.map((h, i) => [h, last[i] ?? '']));
}

let server: TestServer;
let dir: string;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'presenced-interop-'));
  server = await startTestServer();
});

after(async () => {
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function sipp(file: string, calls: number, rate: number): Promise<Map<string, string>> {
  const stat = join(dir, `${file}.csv`);
  const r = await run(
    'sipp',
    [
      '-sf', scenario(file), '-m', String(calls), '-r', String(rate),
      '-i', '127.0.0.1', '-p', String(await freePort()),
      '-trace_stat', '-stf', stat, '-fd', '1',
      '-timeout', '30', '-timeout_error', '-recv_timeout', '5000', '-nostdin',
      `127.0.0.1:${server.port('udp')}`,
    ],
    dir,
    45000,
  );
  assert.ok(existsSync(stat), `sipp wrote no statistics (exit ${r.code}): ${r.stderr.slice(0, 500)}`);
  return lastStats(stat);
}

describe('sipp scenarios of ../shared/bench', { skip: ciRequires(HAVE_SIPP ? false : 'sipp is not installed (apt-get install sip-tester)') }, () => {
  test('publish.xml: 200 initial PUBLISHes of PIDF documents, 0 failed calls', { timeout: 60000 }, async () => {
    const s = await sipp('publish.xml', 200, 200);
    assert.equal(s.get('SuccessfulCall(C)'), '200');
    assert.equal(s.get('FailedCall(C)'), '0');
  });

  test('subscribe.xml: 200 SUBSCRIBEs, each answered and followed by a NOTIFY, 0 failed calls', { timeout: 60000 }, async () => {
    const s = await sipp('subscribe.xml', 200, 200);
    assert.equal(s.get('SuccessfulCall(C)'), '200');
    assert.equal(s.get('FailedCall(C)'), '0');
  });
});

describe('sipsak', { skip: HAVE_SIPSAK ? false : 'sipsak is not installed (apt-get install sipsak)' }, () => {
  test('sipsak -s sip:ping@127.0.0.1:<port> gets 200 (OPTIONS)', { timeout: 30000 }, async () => {
    const r = await run('sipsak', ['-v', '-s', `sip:ping@127.0.0.1:${server.port('udp')}`], dir, 20000);
    assert.equal(r.code, 0, `sipsak exit ${r.code}: ${r.stdout} ${r.stderr}`);
    assert.match(`${r.stdout}${r.stderr}`, /200/);
  });
});
