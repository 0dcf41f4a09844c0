/**
 * Durability across a crash (issue 3, "Storage"): a PUBLISH or SUBSCRIBE answered 2xx survives `kill -9`.
 * After a restart on the same database and port, watchers are re-notified (paced) with the published state,
 * with a NOTIFY CSeq above every one sent before the crash (RFC 3261 §12.2.1.1); publications keep working;
 * a subscription that expired while the server was down is gone.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SipTestClient, pidf, randomToken, subscriptionState, type TestTransport } from '../support/sip-test-client.js';
import { freePort, spawnServerProcess, type ServerChild } from '../support/test-server.js';
import { basics, cseqNumber, publish, tupleIds, WatcherDialog } from '../support/presence-ua.js';

const dirs: string[] = [];
const children: ServerChild[] = [];

after(async () => {
  for (const c of children) await c.stop(2000).catch(() => undefined);
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function spawnOn(port: number, db: string): Promise<ServerChild> {
  const child = await spawnServerProcess([
    '--listen', `udp:127.0.0.1:${port}`,
    '--listen', `tcp:127.0.0.1:${port}`,
    '--db', `sqlite:${db}`,
    '--http', 'off',
    '--domain', 'example.com',
    '--set', 'minExpires=1',
    '--set', 'cleanPeriod=1',
  ]);
  children.push(child);
  return child;
}

/** Answers (200) and drops every NOTIFY already queued; returns the highest CSeq seen. */
function drainNotifies(w: WatcherDialog): number {
  let max = Math.max(0, ...w.notifyCSeqs);
  for (const r of [...w.client.pendingRequests()]) {
    if (r.request.method === 'NOTIFY' && r.request.headers.get('Call-ID') === w.callId) max = Math.max(max, cseqNumber(r.request));
  }
  return max;
}

for (const transport of ['udp', 'tcp'] as TestTransport[]) {
  describe(`kill -9 and restart (${transport.toUpperCase()} watcher)`, () => {
    test('acknowledged state survives; watchers are re-notified with a higher CSeq; expired subscriptions are gone', { timeout: 60000 }, async () => {
      const dir = mkdtempSync(join(tmpdir(), 'presenced-recovery-'));
      dirs.push(dir);
      const db = join(dir, 'presenced.db');
      const port = await freePort();
      let server = await spawnOn(port, db);

      const publisher = await SipTestClient.open({ transport: 'udp', serverPort: port });
      const watcherClient = await SipTestClient.open({ transport, serverPort: port });
      const shortClient = await SipTestClient.open({ transport: 'udp', serverPort: port });
      try {
        const p = `sip:crash-${randomToken(3)}@example.com`;
        const w = new WatcherDialog(watcherClient, { presentity: p });
        assert.equal((await w.subscribe(300)).status, 200);
        await w.notify();
        const first = await publish(publisher, { aor: p, body: pidf(p, 'dev', 'open', 'before'), expires: 300 });
        assert.equal(first.status, 200);
        await w.notify();

        // A subscription that will expire while the server is down.
        const short = new WatcherDialog(shortClient, { presentity: p });
        assert.equal((await short.subscribe(1)).status, 200);
        await short.notify();

        // The change the crash must not lose: acknowledged, then SIGKILL at once.
        const etag = first.headers.get('SIP-ETag') ?? '';
        const modified = await publish(publisher, { aor: p, etag, body: pidf(p, 'dev', 'closed', 'after'), expires: 300 });
        assert.equal(modified.status, 200);
        await server.kill9();
        const cseqBefore = drainNotifies(w);
        // NOTIFYs the short watcher got before the crash (the modification, while it was still active) are history.
        shortClient.drainRequests();
        // Let the short subscription expire while nothing runs.
        await new Promise((r) => setTimeout(r, 2000));

        server = await spawnOn(port, db);
        // Over TCP our old connection died with the server: the NOTIFY must come over a new connection the
        // server opens to our Contact (the flow is gone, RFC 5626 §4.5 / RFC 3261 §18.1.1).
        // Paced recovery: the watcher gets the state it missed.
        let n = await w.notify({ timeoutMs: 10000 }).catch((err: unknown) => {
          throw new Error(`no NOTIFY reached the watcher after the restart (${transport}): ${String(err)}`);
        });
        while (cseqNumber(n.request) <= cseqBefore && w.notifyCSeqs.length < 10) n = await w.notify({ timeoutMs: 10000 });
        assert.ok(cseqNumber(n.request) > cseqBefore, `recovery NOTIFY CSeq ${cseqNumber(n.request)} must exceed ${cseqBefore}`);
        assert.equal(subscriptionState(n.request).state, 'active');
        assert.deepEqual(basics(n.request.body), ['closed'], 'the acknowledged modification survived');
        assert.deepEqual(tupleIds(n.request.body), ['dev']);

        // The entity-tag is durable too: the publisher can keep modifying.
        const etag2 = modified.headers.get('SIP-ETag') ?? '';
        const again = await publish(publisher, { aor: p, etag: etag2, body: pidf(p, 'dev', 'open', 'again'), expires: 300 });
        assert.equal(again.status, 200);
        const n2 = await w.notify({ timeoutMs: 5000 });
        assert.deepEqual(basics(n2.request.body), ['open']);
        assert.ok(cseqNumber(n2.request) > cseqNumber(n.request));

        // The expired subscription is gone: if anything reaches it, it is a termination; a refresh is 481.
        for (const r of shortClient.pendingRequests()) {
          if (r.request.method === 'NOTIFY' && r.request.headers.get('Call-ID') === short.callId) {
            assert.equal(subscriptionState(r.request).state, 'terminated');
          }
        }
        const refresh = await short.subscribe(60);
        assert.equal(refresh.status, 481);
      } finally {
        await publisher.close();
        await watcherClient.close();
        await shortClient.close();
        await server.stop();
      }
    });
  });
}
