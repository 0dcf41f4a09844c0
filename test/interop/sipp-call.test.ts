/**
 * A call between two sipp instances through presenced (Debian's sip-tester as independent UAs): sipp registers
 * Bob from a port, a sipp UAS on that same port (the binding's flow) rings and answers, a sipp UAC calls
 * sip:bob@example.com and sends ACK and BYE along the route set it learned from the 200 (rrs, [routes]). sipp's
 * exit codes are the verdict for the SIP side; a BLF watcher of Bob checks the dialog-info lamps on ours.
 * Then a bounded load of such calls (sipp -r/-m), every one of which must succeed, with the proxy's counters
 * read from /metrics. Skipped, with the reason, when sipp is not installed.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { subscribeDialog, untilLamp } from '../support/call-ua.js';
import { SipTestClient } from '../support/sip-test-client.js';
import { freePort, repoRoot, startTestServer, type TestServer } from '../support/test-server.js';
import { ciRequires } from '../support/ci-requires.js';

const HAVE_SIPP = spawnSync('sipp', ['-v'], { timeout: 5000 }).error === undefined;

interface Run {
  code: number | null;
  out: string;
}

function sipp(args: string[], cwd: string, timeoutMs = 30_000): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn('sipp', args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const keep = (d: Buffer): void => {
      out = (out + d.toString('utf8')).slice(-8000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(t);
      resolve({ code, out });
    });
  });
}

const scenario = (name: string): string => join(repoRoot(), 'test', 'interop', 'scenarios', name);

describe('sipp call through the proxy', { skip: ciRequires(HAVE_SIPP ? false : 'sipp is not installed (apt-get install sip-tester)') }, () => {
  let server: TestServer;
  let dir: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'presenced-sipp-call-'));
    server = await startTestServer({ domain: 'example.com' });
  });

  after(async () => {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('register, INVITE / 180 / 200 / ACK / BYE / 200 between two sipp UAs; the watcher of Bob sees the call', { timeout: 60_000 }, async () => {
    const target = `127.0.0.1:${server.port('udp')}`;
    const common = ['-m', '1', '-i', '127.0.0.1', '-timeout', '20', '-timeout_error', '-recv_timeout', '10000', '-nostdin', '-trace_err'];
    const bobPort = await freePort();
    const reg = await sipp(['-sf', scenario('call-register.xml'), ...common, '-p', String(bobPort), target], dir);
    assert.equal(reg.code, 0, `sipp REGISTER failed:\n${reg.out}`);

    const watcher = await SipTestClient.open({ transport: 'udp', serverPort: server.port('udp') });
    try {
      await subscribeDialog(watcher, 'sip:bob@example.com');
      // The watcher answers its NOTIFYs while the call runs (an unanswered NOTIFY holds later changes back).
      const lamps = untilLamp(watcher, 'terminated', 30_000);
      const uas = sipp(['-sf', scenario('call-uas.xml'), ...common, '-p', String(bobPort), target], dir);
      // The UAS must be listening before the INVITE arrives; sipp binds within a few milliseconds.
      await new Promise((r) => setTimeout(r, 300));
      const uac = await sipp(['-sf', scenario('call-uac.xml'), ...common, '-p', String(await freePort()), target], dir);
      const bob = await uas;
      assert.equal(uac.code, 0, `sipp caller failed:\n${uac.out}`);
      assert.equal(bob.code, 0, `sipp callee failed:\n${bob.out}`);
      const seen = await lamps;
      assert.ok(seen.includes('confirmed'), `lamps seen: ${seen.join(', ')}`);
    } finally {
      await watcher.close();
    }
  });
});

/** One sample of a Prometheus text exposition (first line whose name and labels start with `prefix`). */
function metric(text: string, prefix: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(prefix));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

describe('sipp calls through the proxy under a bounded load', { skip: ciRequires(HAVE_SIPP ? false : 'sipp is not installed (apt-get install sip-tester)') }, () => {
  let server: TestServer;
  let dir: string;
  let http: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'presenced-sipp-load-'));
    http = `127.0.0.1:${await freePort()}`;
    server = await startTestServer({ domain: 'example.com', http });
  });

  after(async () => {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  // Modest on purpose (CI has 2 cores shared with sipp itself): the point is that no call is lost on the
  // way (each one's ACK and BYE follow the Record-Route), not the rate; docs/proxy.md has the measured figures.
  test('300 calls at 60 calls/s: none fails, every INVITE, ACK and BYE went through the proxy', { timeout: 90_000 }, async () => {
    const calls = 300;
    const target = `127.0.0.1:${server.port('udp')}`;
    const common = ['-i', '127.0.0.1', '-timeout', '60', '-timeout_error', '-nostdin', '-trace_err'];
    const bobPort = await freePort();
    const reg = await sipp(['-sf', scenario('call-register.xml'), '-m', '1', ...common, '-p', String(bobPort), target], dir);
    assert.equal(reg.code, 0, `sipp REGISTER failed:\n${reg.out}`);
    const uas = sipp(['-sf', scenario('call-uas.xml'), '-m', String(calls), ...common, '-p', String(bobPort), target], dir, 80_000);
    await new Promise((r) => setTimeout(r, 300));
    const uac = await sipp(
      ['-sf', scenario('call-uac.xml'), '-m', String(calls), '-r', '60', '-l', String(calls), ...common, '-p', String(await freePort()), target],
      dir,
      80_000,
    );
    const bob = await uas;
    // sipp exits 0 only when every call of the scenario succeeded (-m reached, no failed call).
    assert.equal(uac.code, 0, `sipp caller failed:\n${uac.out}`);
    assert.equal(bob.code, 0, `sipp callee failed:\n${bob.out}`);

    const text = await (await fetch(`http://${http}/metrics`)).text();
    assert.equal(metric(text, 'presenced_proxy_forwarded_total'), 2 * calls, 'each INVITE and each BYE forwarded once');
    // An ACK re-sent for a retransmitted 200 is forwarded again: at least one per call.
    assert.ok((metric(text, 'presenced_proxy_acks_forwarded_total') ?? 0) >= calls);
    assert.equal(metric(text, 'presenced_proxy_rejected_total'), undefined, 'nothing refused (no 481, no 503)');
    assert.equal(metric(text, 'presenced_proxy_overload_rejected_total'), 0);
    assert.equal(metric(text, 'presenced_sip_responses_sent_total{method="BYE",code="200"}'), calls);
  });
});
