/**
 * Start and stop of the composition root: stop() is quick even with open connections and live
 * subscriptions, releases its ports, sends no NOTIFY on the way down (subscriptions survive a restart),
 * and SIGTERM ends the CLI process cleanly (issue 2: graceful shutdown within a few seconds).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SipTestClient, pidf, subscriptionState } from '../support/sip-test-client.js';
import { freePort, spawnServerProcess, startTestServer } from '../support/test-server.js';
import { basics, publish, WatcherDialog } from '../support/presence-ua.js';

describe('server lifecycle', () => {
  test('stop() finishes within 3 s with open TCP connections and subscriptions; no NOTIFY is sent on the way down; a restart keeps them', { timeout: 30000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'presenced-lifecycle-'));
    const udpPort = await freePort();
    const tcpPort = await freePort();
    try {
      let server = await startTestServer({ domain: 'example.com' }, { dir, udpPort, tcpPort });
      const tcp = await SipTestClient.open({ transport: 'tcp', serverPort: tcpPort });
      const udp = await SipTestClient.open({ transport: 'udp', serverPort: udpPort });
      try {
        const p = 'sip:lifecycle@example.com';
        const w = new WatcherDialog(udp, { presentity: p });
        assert.equal((await w.subscribe(600)).status, 200);
        await w.notify();
        assert.equal((await publish(tcp, { aor: p, body: pidf(p, 'd', 'open'), expires: 600 })).status, 200);
        await w.notify();

        const t0 = performance.now();
        await server.stop();
        const took = performance.now() - t0;
        assert.ok(took < 3000, `stop() took ${took.toFixed(0)} ms`);
        await tcp.waitClosed(2000);
        // Subscriptions survive a shutdown: nothing (no terminated NOTIFY) was sent to the watcher.
        await udp.expectNoRequest('NOTIFY', 300);

        // The ports are free again, and the state is back after a restart on the same database.
        server = await startTestServer({ domain: 'example.com' }, { dir, udpPort, tcpPort });
        const n = await w.notify({ timeoutMs: 5000 });
        assert.equal(subscriptionState(n.request).state, 'active');
        assert.deepEqual(basics(n.request.body), ['open']);
        await server.stop();
      } finally {
        await tcp.close();
        await udp.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a NOTIFY still unanswered at shutdown does not cost the subscription', { timeout: 30000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'presenced-inflight-'));
    const udpPort = await freePort();
    const tcpPort = await freePort();
    try {
      let server = await startTestServer({ domain: 'example.com' }, { dir, udpPort, tcpPort });
      const c = await SipTestClient.open({ transport: 'udp', serverPort: udpPort });
      try {
        const p = 'sip:inflight@example.com';
        const w = new WatcherDialog(c, { presentity: p });
        assert.equal((await w.subscribe(600)).status, 200);
        await w.notify();
        assert.equal((await publish(c, { aor: p, body: pidf(p, 'd', 'closed'), expires: 600 })).status, 200);
        // Leave this NOTIFY unanswered: its client transaction is still running when the server stops.
        await w.notify({ status: null });
        await server.stop();
        c.drainRequests();
        server = await startTestServer({ domain: 'example.com' }, { dir, udpPort, tcpPort });
        const n = await w.notify({ timeoutMs: 5000 });
        assert.equal(subscriptionState(n.request).state, 'active');
        assert.deepEqual(basics(n.request.body), ['closed']);
        await server.stop();
      } finally {
        await c.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('requests during shutdown are not lost silently: the server answers or is gone', { timeout: 20000 }, async () => {
    const server = await startTestServer();
    const c = await SipTestClient.open({ transport: 'udp', serverPort: server.udpPort });
    try {
      const p = 'sip:shutdown@example.com';
      const sent = c.send({
        method: 'PUBLISH',
        uri: p,
        from: `<${p}>;tag=s1`,
        headers: [['Event', 'presence'], ['Expires', '60']],
        contentType: 'application/pidf+xml',
        body: pidf(p, 'x', 'open'),
      });
      await server.stop();
      // Either the PUBLISH made it (200, durable) or it was refused (503 with Retry-After), or the socket was already closed.
      const got = c.responsesFor(sent.branch);
      for (const r of got) {
        assert.ok(r.status === 200 || r.status === 503, `status ${r.status}`);
        if (r.status === 503) assert.ok(r.headers.get('Retry-After'));
      }
    } finally {
      await c.close();
    }
  });

  test('SIGTERM: the CLI process stops cleanly (exit 0) within a few seconds', { timeout: 30000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'presenced-sigterm-'));
    try {
      const port = await freePort();
      const child = await spawnServerProcess([
        '--listen', `udp:127.0.0.1:${port}`, '--listen', `tcp:127.0.0.1:${port}`,
        '--db', `sqlite:${join(dir, 'p.db')}`, '--http', 'off',
      ]);
      const c = await SipTestClient.open({ transport: 'tcp', serverPort: port });
      try {
        assert.equal((await c.request({ method: 'OPTIONS', uri: `sip:ping@127.0.0.1:${port}` })).status, 200);
        const t0 = performance.now();
        const code = await child.stop(8000);
        assert.equal(code, 0, child.lines.slice(-10).join('\n'));
        assert.ok(performance.now() - t0 < 5000);
        assert.ok(child.lines.some((l) => l.includes('presenced stopped')));
      } finally {
        await c.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
