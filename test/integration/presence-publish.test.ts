/**
 * PUBLISH as seen on the wire (RFC 3903, issue 3), over UDP and TCP: the entity-tag lifecycle, every
 * rejection with the headers it must carry, and what watchers see of each change (aggregation, removal,
 * expiry).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { SipTestClient, pidf, randomToken, type TestTransport } from '../support/sip-test-client.js';
import { startTestServer, type TestServer } from '../support/test-server.js';
import { basics, notes, publish, tupleIds, WatcherDialog } from '../support/presence-ua.js';

const TRANSPORTS: TestTransport[] = ['udp', 'tcp'];
const MIN_EXPIRES = 2;

let server: TestServer;

before(async () => {
  // Short minimum and sweep period so expiry is observable within a test's time bound.
  server = await startTestServer({ domain: 'example.com', minExpires: MIN_EXPIRES, cleanPeriod: 1, maxExpiresPublish: 3600 });
});

after(async () => {
  await server.stop();
});

function aor(tag: string): string {
  return `sip:${tag}-${randomToken(3)}@example.com`;
}

async function open(transport: TestTransport): Promise<SipTestClient> {
  return SipTestClient.open({ transport, serverPort: server.port(transport) });
}

async function withClient(transport: TestTransport, fn: (c: SipTestClient) => Promise<void>): Promise<void> {
  const c = await open(transport);
  try {
    await fn(c);
  } finally {
    await c.close();
  }
}

/** A watcher on its own socket, subscribed, with its initial NOTIFY consumed. */
async function watch(transport: TestTransport, presentity: string): Promise<{ w: WatcherDialog; initial: Buffer; close(): Promise<void> }> {
  const c = await open(transport);
  const w = new WatcherDialog(c, { presentity });
  const res = await w.subscribe(300);
  assert.equal(res.status, 200);
  const n = await w.notify();
  return { w, initial: n.request.body, close: () => c.close() };
}

for (const transport of TRANSPORTS) {
  describe(`PUBLISH over ${transport.toUpperCase()} (RFC 3903)`, () => {
    test('initial PUBLISH: 200 with SIP-ETag and the granted Expires (§6 steps 6-7)', () =>
      withClient(transport, async (c) => {
        const p = aor('initial');
        const res = await publish(c, { aor: p, body: pidf(p, 't1', 'open'), expires: 120 });
        assert.equal(res.status, 200);
        const etag = res.headers.get('SIP-ETag');
        assert.ok(etag !== undefined && etag.length > 0, 'SIP-ETag');
        assert.equal(res.headers.get('Expires'), '120');
      }));

    test('Expires absent: the package default (3600 s for presence) is granted (§6 step 4)', () =>
      withClient(transport, async (c) => {
        const p = aor('default-exp');
        const res = await publish(c, { aor: p, body: pidf(p, 't1', 'open') });
        assert.equal(res.status, 200);
        assert.equal(res.headers.get('Expires'), '3600');
      }));

    test('Expires above max_expires_publish is lowered to it', () =>
      withClient(transport, async (c) => {
        const p = aor('max-exp');
        const res = await publish(c, { aor: p, body: pidf(p, 't1', 'open'), expires: 999999 });
        assert.equal(res.status, 200);
        assert.equal(res.headers.get('Expires'), '3600');
      }));

    test('Expires below the minimum: 423 with Min-Expires (§6 step 4)', () =>
      withClient(transport, async (c) => {
        const p = aor('brief');
        const res = await publish(c, { aor: p, body: pidf(p, 't1', 'open'), expires: MIN_EXPIRES - 1 });
        assert.equal(res.status, 423);
        assert.equal(res.headers.get('Min-Expires'), String(MIN_EXPIRES));
      }));

    test('initial PUBLISH without a body: 400 (§6 step 5)', () =>
      withClient(transport, async (c) => {
        const res = await publish(c, { aor: aor('nobody'), expires: 60 });
        assert.equal(res.status, 400);
      }));

    test('missing Event: 489 with Allow-Events (§6 step 2)', () =>
      withClient(transport, async (c) => {
        const p = aor('noevent');
        const res = await publish(c, { aor: p, body: pidf(p, 't1', 'open'), event: null, expires: 60 });
        assert.equal(res.status, 489);
        assert.ok(res.headers.getAll('Allow-Events').map((e) => e.trim()).includes('presence'));
      }));

    test('unknown Event package: 489 with Allow-Events', () =>
      withClient(transport, async (c) => {
        const p = aor('badevent');
        const res = await publish(c, { aor: p, body: 'x', contentType: 'text/plain', event: 'no-such-package', expires: 60 });
        assert.equal(res.status, 489);
        assert.ok(res.headers.getAll('Allow-Events').map((e) => e.trim()).includes('presence'));
      }));

    test('Content-Type the package does not accept: 415 with Accept (§6 step 5)', () =>
      withClient(transport, async (c) => {
        const p = aor('badtype');
        const res = await publish(c, { aor: p, body: 'hello', contentType: 'text/plain', expires: 60 });
        assert.equal(res.status, 415);
        assert.ok(res.headers.getAll('Accept').some((a) => a.trim().toLowerCase().startsWith('application/pidf+xml')));
      }));

    test('malformed PIDF: 400 with a reason', () =>
      withClient(transport, async (c) => {
        const p = aor('badxml');
        const res = await publish(c, { aor: p, body: '<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="x"><tuple', expires: 60 });
        assert.equal(res.status, 400);
        assert.ok(res.reason.length > 0);
      }));

    test('PIDF with a DTD (XML bomb) is refused with 400, not expanded', () =>
      withClient(transport, async (c) => {
        const p = aor('bomb');
        const bomb =
          '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>' +
          `<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="${p}"><tuple id="a"><status><basic>open</basic></status><note>&lol2;</note></tuple></presence>`;
        const res = await publish(c, { aor: p, body: bomb, expires: 60 });
        assert.equal(res.status, 400);
      }));

    test('PIDF entity not matching the Request-URI presentity: 400', () =>
      withClient(transport, async (c) => {
        const p = aor('entity');
        const res = await publish(c, { aor: p, body: pidf('sip:someone-else@example.com', 't1', 'open'), expires: 60 });
        assert.equal(res.status, 400);
      }));

    test('SIP-If-Match naming no entity-tag: 412 (§6 step 3)', () =>
      withClient(transport, async (c) => {
        const res = await publish(c, { aor: aor('noetag'), etag: 'no-such-etag', expires: 60 });
        assert.equal(res.status, 412);
      }));

    test('a domain not served: 404', () =>
      withClient(transport, async (c) => {
        const p = `sip:alice-${randomToken(3)}@not-served.example.org`;
        const res = await publish(c, { aor: p, body: pidf(p, 't1', 'open'), expires: 60 });
        assert.ok(res.status === 404 || res.status === 403, `got ${res.status}`);
      }));

    test('refresh (SIP-If-Match, no body): 200 with a new SIP-ETag; the old tag is then unknown (§4.2, §6 step 7)', () =>
      withClient(transport, async (c) => {
        const p = aor('refresh');
        const first = await publish(c, { aor: p, body: pidf(p, 't1', 'open'), expires: 60 });
        const etag1 = first.headers.get('SIP-ETag') ?? '';
        const refresh = await publish(c, { aor: p, etag: etag1, expires: 120 });
        assert.equal(refresh.status, 200);
        const etag2 = refresh.headers.get('SIP-ETag') ?? '';
        assert.ok(etag2.length > 0);
        assert.notEqual(etag2, etag1);
        assert.equal(refresh.headers.get('Expires'), '120');
        const stale = await publish(c, { aor: p, etag: etag1, expires: 60 });
        assert.equal(stale.status, 412);
      }));

    test('watchers see each change: modify, aggregation of two devices, removal of one (§4, §6)', async () => {
      const c = await open(transport);
      const p = aor('devices');
      const watcher = await watch(transport, p);
      try {
        assert.equal(tupleIds(watcher.initial).length, 0, 'nothing published yet');
        const phone = await publish(c, { aor: p, body: pidf(p, 'phone', 'open', 'on the phone'), expires: 300 });
        assert.equal(phone.status, 200);
        let n = await watcher.w.notify();
        assert.deepEqual(tupleIds(n.request.body), ['phone']);

        const desk = await publish(c, { aor: p, body: pidf(p, 'desk', 'closed', 'away from desk'), expires: 300 });
        assert.equal(desk.status, 200);
        n = await watcher.w.notify();
        assert.deepEqual(tupleIds(n.request.body).sort(), ['desk', 'phone'], 'both devices aggregated');
        assert.match(n.request.body.toString(), new RegExp(`entity="${p}"`));

        // Modify the phone's state (SIP-If-Match + body).
        const modify = await publish(c, { aor: p, etag: phone.headers.get('SIP-ETag') ?? '', body: pidf(p, 'phone', 'closed', 'gone'), expires: 300 });
        assert.equal(modify.status, 200);
        n = await watcher.w.notify();
        assert.deepEqual(tupleIds(n.request.body).sort(), ['desk', 'phone']);
        assert.ok(notes(n.request.body).includes('gone'));
        assert.ok(!notes(n.request.body).includes('on the phone'));

        // Remove the desk (Expires: 0 + SIP-If-Match): the phone stays.
        const remove = await publish(c, { aor: p, etag: desk.headers.get('SIP-ETag') ?? '', expires: 0 });
        assert.equal(remove.status, 200);
        n = await watcher.w.notify();
        assert.deepEqual(tupleIds(n.request.body), ['phone']);
        assert.deepEqual(basics(n.request.body), ['closed']);
      } finally {
        await watcher.close();
        await c.close();
      }
    });

    test('a lone device document reaches watchers as published; with two devices it is composed', async () => {
      const c = await open(transport);
      const p = aor('verbatim');
      const watcher = await watch(transport, p);
      try {
        // Own prefixes and spacing: a re-serialized document would not keep them.
        const lone = `<?xml version="1.0" encoding="UTF-8"?>\n<p:presence xmlns:p="urn:ietf:params:xml:ns:pidf" entity="${p}">\n  <p:tuple id="phone"><p:status><p:basic>open</p:basic></p:status></p:tuple>\n</p:presence>\n`;
        const phone = await publish(c, { aor: p, body: lone, expires: 300 });
        assert.equal(phone.status, 200);
        let n = await watcher.w.notify();
        assert.equal(n.request.body.toString('utf8'), lone);

        const desk = await publish(c, { aor: p, body: pidf(p, 'desk', 'closed'), expires: 300 });
        n = await watcher.w.notify();
        assert.deepEqual(tupleIds(n.request.body).sort(), ['desk', 'phone']);
        assert.doesNotMatch(n.request.body.toString(), /<p:/, 'composed: one spelling for both');

        await publish(c, { aor: p, etag: desk.headers.get('SIP-ETag') ?? '', expires: 0 });
        n = await watcher.w.notify();
        assert.equal(n.request.body.toString('utf8'), lone, 'alone again: as published');

        // A refresh keeps the body, and a new watcher gets it as published too.
        const refresh = await publish(c, { aor: p, etag: phone.headers.get('SIP-ETag') ?? '', expires: 300 });
        assert.equal(refresh.status, 200);
        const second = await watch(transport, p);
        try {
          assert.equal(second.initial.toString('utf8'), lone);
        } finally {
          await second.close();
        }
      } finally {
        await watcher.close();
        await c.close();
      }
    });

    test('a publication that is not refreshed expires, and watchers are notified (§6)', async () => {
      const c = await open(transport);
      const p = aor('expiring');
      const watcher = await watch(transport, p);
      try {
        const res = await publish(c, { aor: p, body: pidf(p, 'short', 'open'), expires: MIN_EXPIRES });
        assert.equal(res.status, 200);
        let n = await watcher.w.notify();
        assert.deepEqual(tupleIds(n.request.body), ['short']);
        // Expires after MIN_EXPIRES s (+ at most one clean period of 1 s).
        n = await watcher.w.notify({ timeoutMs: (MIN_EXPIRES + 3) * 1000 });
        assert.deepEqual(tupleIds(n.request.body), [], 'the expired publication is gone from the state');
        const refresh = await publish(c, { aor: p, etag: res.headers.get('SIP-ETag') ?? '', expires: 60 });
        assert.equal(refresh.status, 412, 'an expired entity-tag is unknown');
      } finally {
        await watcher.close();
        await c.close();
      }
    });
  });
}
