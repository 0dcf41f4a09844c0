/**
 * A busy-lamp field driven by an independent SIP implementation (sipp, run as a black box): a sipp watcher
 * subscribes to Event: dialog of an extension (bench/scenarios/blf-watcher.xml), a sipp "PBX" publishes the
 * call trying -> confirmed -> terminated and removes it (blf-publisher.xml). The watcher scenario checks each
 * NOTIFY with regular expressions (state, version 0..4, full state) and sipp's exit code says whether every
 * check held. Skipped, with the reason, when sipp is not installed (CI installs it).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, repoRoot, startTestServer, type TestServer } from '../support/test-server.js';
import { ciRequires } from '../support/ci-requires.js';

const HAVE_SIPP = spawnSync('sipp', ['-v'], { encoding: 'utf8', timeout: 5000 }).error === undefined;

interface Run {
  code: number | null;
  out: string;
}

/** Runs sipp without blocking the event loop (the server under test lives in this process). */
function sipp(args: string[], cwd: string, timeoutMs: number): { done: Promise<Run> } {
  const child = spawn('sipp', args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const keep = (d: string): void => {
    out = (out + d).slice(-20000);
  };
  child.stdout.setEncoding('utf8').on('data', keep);
  child.stderr.setEncoding('utf8').on('data', keep);
  const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  return {
    done: new Promise((resolve) => {
      child.on('close', (code) => {
        clearTimeout(t);
        resolve({ code, out });
      });
    }),
  };
}

function getJson(port: number, path: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (d: string) => (text += d)).on('end', () => {
        try {
          resolve(JSON.parse(text));
        } catch (err) {
          reject(err);
        }
      });
    });
    req.on('error', reject);
    req.end();
  });
}

let server: TestServer;
let dir: string;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'presenced-blf-'));
  server = await startTestServer({ domain: 'example.com', http: '127.0.0.1:0' });
});

after(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('sipp busy-lamp field (RFC 4235 over RFC 6665 / RFC 3903)', { skip: ciRequires(HAVE_SIPP ? false : 'sipp is not installed (apt-get install sip-tester)') }, () => {
  test('a sipp watcher sees idle -> trying -> confirmed -> terminated -> idle, versions 0..4; sipp exits 0', { timeout: 60000 }, async () => {
    const ext = String(3000 + Math.floor(Math.random() * 6000));
    const target = `127.0.0.1:${server.port('udp')}`;
    const common = ['-key', 'ext', ext, '-m', '1', '-i', '127.0.0.1', '-timeout', '20', '-timeout_error', '-recv_timeout', '5000', '-nostdin', '-trace_err'];
    const scenario = (name: string): string => join(repoRoot(), 'bench', 'scenarios', name);
    const watcher = sipp(['-sf', scenario('blf-watcher.xml'), '-p', String(await freePort()), ...common, target], dir, 30000);

    // Publish only once the subscription exists (the management API lists it): no sleeps, no race.
    const httpPort = server.port('http' as 'udp');
    const deadline = Date.now() + 10000;
    for (;;) {
      const page = (await getJson(httpPort, `/api/subscriptions?event=dialog&presentity=${encodeURIComponent(`sip:${ext}@example.com`)}`)) as { items?: unknown[] };
      if ((page.items?.length ?? 0) > 0) break;
      assert.ok(Date.now() < deadline, 'the sipp watcher did not subscribe within 10 s');
      await new Promise((r) => setTimeout(r, 50));
    }
    const publisher = await sipp(['-sf', scenario('blf-publisher.xml'), '-p', String(await freePort()), ...common, target], dir, 30000).done;
    assert.equal(publisher.code, 0, `sipp publisher failed:\n${publisher.out}`);
    const w = await watcher.done;
    assert.equal(w.code, 0, `sipp watcher failed (a NOTIFY did not match its checks):\n${w.out}`);
  });
});
