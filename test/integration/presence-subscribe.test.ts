/**
 * SUBSCRIBE / NOTIFY as seen on the wire (RFC 6665, RFC 3856, issue 3), over UDP and TCP: responses and
 * their headers, the immediate NOTIFY and its contents, refresh, unsubscribe, expiry, dialog errors, the
 * route set, flows, NOTIFY failures and the notifyOfflineBody / 202 options.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  SipTestClient,
  branchOf,
  pidf,
  randomToken,
  subscriptionState,
  tagOf,
  type TestTransport,
} from '../support/sip-test-client.js';
import { startTestServer, type TestServer } from '../support/test-server.js';
import { basics, publish, tupleIds, WatcherDialog } from '../support/presence-ua.js';

const TRANSPORTS: TestTransport[] = ['udp', 'tcp'];
const MIN_EXPIRES = 2;

let server: TestServer;
/** notifyOfflineBody and 202 answers (legacy mode). */
let legacy: TestServer;

before(async () => {
  server = await startTestServer({ domain: 'example.com', minExpires: MIN_EXPIRES, cleanPeriod: 1 });
  legacy = await startTestServer({ domain: 'example.com', notifyOfflineBody: true, subscribeReplyCode: 202 });
});

after(async () => {
  await server.stop();
  await legacy.stop();
});

function aor(tag: string): string {
  return `sip:${tag}-${randomToken(3)}@example.com`;
}

async function open(transport: TestTransport, s: TestServer = server): Promise<SipTestClient> {
  return SipTestClient.open({ transport, serverPort: s.port(transport) });
}

async function withClient(transport: TestTransport, fn: (c: SipTestClient) => Promise<void>, s: TestServer = server): Promise<void> {
  const c = await open(transport, s);
  try {
    await fn(c);
  } finally {
    await c.close();
  }
}

for (const transport of TRANSPORTS) {
  describe(`SUBSCRIBE/NOTIFY over ${transport.toUpperCase()} (RFC 6665, RFC 3856)`, () => {
    test('200 with Expires and Contact, then at once a NOTIFY with the current state (§4.2.1.1, §4.2.1.2)', () =>
      withClient(transport, async (c) => {
        const p = aor('alice');
        const pub = await publish(c, { aor: p, body: pidf(p, 'dev1', 'open'), expires: 300 });
        assert.equal(pub.status, 200);

        const w = new WatcherDialog(c, { presentity: p, event: 'presence;id=sub7' });
        const spec = w.spec(600);
        const sent = c.send(spec);
        const res = await c.waitResponse(sent.branch);
        assert.equal(res.status, 200);
        const granted = Number(res.headers.get('Expires'));
        assert.ok(granted > 0 && granted <= 600, `Expires ${granted} must not exceed the request (§4.2.1.1)`);
        assert.ok(res.headers.get('Contact'), '2xx to SUBSCRIBE carries a Contact (§4.2.1.1)');
        const toTag = tagOf(res.headers.get('To'));
        assert.ok(toTag !== undefined);
        w.toTag = toTag;

        const n = await w.notify({ timeoutMs: 1000 });
        const r = n.request;
        assert.equal(r.uri, c.contactUri('watcher'), 'Request-URI is the subscriber Contact (§12.2.1.1)');
        assert.match(r.headers.get('Event') ?? '', /^presence\s*;\s*id=sub7$/, 'Event with its id echoed (§8.2.1)');
        const state = subscriptionState(r);
        assert.equal(state.state, 'active');
        const left = Number(state.params.get('expires'));
        assert.ok(left > 0 && left <= granted, `expires=${left}`);
        assert.equal(r.headers.get('Max-Forwards'), '70');
        assert.match(branchOf(r) ?? '', /^z9hG4bK/);
        assert.ok(r.headers.get('Contact'));
        assert.equal(tagOf(r.headers.get('From')), toTag, 'NOTIFY From-tag is the dialog local tag');
        assert.equal(tagOf(r.headers.get('To')), w.fromTag);
        assert.equal(r.headers.get('Call-ID'), w.callId);
        assert.match(r.headers.get('Content-Type') ?? '', /^application\/pidf\+xml/);
        assert.deepEqual(tupleIds(r.body), ['dev1']);
        assert.deepEqual(basics(r.body), ['open']);
        assert.equal(c.responses.findIndex((x) => x.response === res) >= 0, true);
      }));

    test('no Expires: 3600 s default (RFC 3856 §6.4); above max_expires_subscribe: lowered', () =>
      withClient(transport, async (c) => {
        const w = new WatcherDialog(c, { presentity: aor('defexp') });
        const res = await w.subscribe(undefined);
        assert.equal(res.status, 200);
        assert.equal(res.headers.get('Expires'), '3600');
        await w.notify();
        const w2 = new WatcherDialog(c, { presentity: aor('maxexp') });
        const res2 = await w2.subscribe(100000);
        assert.equal(res2.status, 200);
        assert.equal(res2.headers.get('Expires'), '3600');
        await w2.notify();
      }));

    test('Expires below the minimum: 423 with Min-Expires (§4.2.1.1)', () =>
      withClient(transport, async (c) => {
        const w = new WatcherDialog(c, { presentity: aor('brief') });
        const res = await w.subscribe(MIN_EXPIRES - 1);
        assert.equal(res.status, 423);
        assert.equal(res.headers.get('Min-Expires'), String(MIN_EXPIRES));
      }));

    test('unknown or missing Event: 489 with Allow-Events (§4.2.1.1, §8.3.2)', () =>
      withClient(transport, async (c) => {
        for (const event of ['no-such-package', null]) {
          const w = new WatcherDialog(c, { presentity: aor('badevent'), event });
          const res = await w.subscribe(60);
          assert.equal(res.status, 489, `Event ${String(event)}`);
          assert.ok(res.headers.getAll('Allow-Events').map((e) => e.trim()).includes('presence'));
        }
      }));

    test('Accept without application/pidf+xml: 406 (RFC 3856 §6.5, RFC 3261 §21.4.7)', () =>
      withClient(transport, async (c) => {
        const w = new WatcherDialog(c, { presentity: aor('accept'), accept: 'text/plain' });
        const res = await w.subscribe(60);
        assert.equal(res.status, 406);
      }));

    test('no Accept header means PIDF (RFC 3856 §6.5)', () =>
      withClient(transport, async (c) => {
        const w = new WatcherDialog(c, { presentity: aor('noaccept'), accept: null });
        const res = await w.subscribe(60);
        assert.equal(res.status, 200);
        await w.notify();
      }));

    test('every PUBLISH change is notified, with strictly increasing CSeq (RFC 3261 §12.2.1.1)', () =>
      withClient(transport, async (c) => {
        const p = aor('changes');
        const w = new WatcherDialog(c, { presentity: p });
        assert.equal((await w.subscribe(300)).status, 200);
        await w.notify();
        let etag: string | undefined;
        for (const basic of ['open', 'closed', 'open'] as const) {
          const res = await publish(c, { aor: p, body: pidf(p, 'dev', basic), expires: 300, ...(etag ? { etag } : {}) });
          assert.equal(res.status, 200);
          etag = res.headers.get('SIP-ETag');
          const n = await w.notify();
          assert.deepEqual(basics(n.request.body), [basic]);
        }
        for (let i = 1; i < w.notifyCSeqs.length; i++) {
          assert.ok(w.notifyCSeqs[i] > w.notifyCSeqs[i - 1], `CSeq ${w.notifyCSeqs.join(',')} must increase`);
        }
      }));

    test('refresh in the dialog: 200 and a NOTIFY (§4.2.1.2)', () =>
      withClient(transport, async (c) => {
        const w = new WatcherDialog(c, { presentity: aor('refresh') });
        assert.equal((await w.subscribe(300)).status, 200);
        await w.notify();
        const res = await w.subscribe(600);
        assert.equal(res.status, 200);
        assert.equal(tagOf(res.headers.get('To')), w.toTag, 'same dialog');
        const n = await w.notify();
        assert.equal(subscriptionState(n.request).state, 'active');
        assert.ok(Number(subscriptionState(n.request).params.get('expires')) > 300);
      }));

    test('Expires: 0 unsubscribes: 200 and a final NOTIFY terminated; later changes are not sent (§4.2.1.1)', () =>
      withClient(transport, async (c) => {
        const p = aor('unsub');
        const w = new WatcherDialog(c, { presentity: p });
        assert.equal((await w.subscribe(300)).status, 200);
        await w.notify();
        const res = await w.subscribe(0);
        assert.equal(res.status, 200);
        const n = await w.notify();
        assert.equal(subscriptionState(n.request).state, 'terminated');
        const pub = await publish(c, { aor: p, body: pidf(p, 'x', 'open'), expires: 60 });
        assert.equal(pub.status, 200);
        await c.expectNoRequest('NOTIFY', 500);
        // The dialog is gone: a refresh is 481 (§4.2.1.4 / RFC 3261 §12.2.2).
        const again = await w.subscribe(300);
        assert.equal(again.status, 481);
      }));

    test('fetch: SUBSCRIBE with Expires 0 and no subscription gets 200 and one terminated NOTIFY with the state (§4.4.3)', () =>
      withClient(transport, async (c) => {
        const p = aor('fetch');
        await publish(c, { aor: p, body: pidf(p, 'f1', 'open'), expires: 60 });
        const w = new WatcherDialog(c, { presentity: p });
        const res = await w.subscribe(0);
        assert.equal(res.status, 200);
        const n = await w.notify();
        assert.equal(subscriptionState(n.request).state, 'terminated');
        assert.deepEqual(tupleIds(n.request.body), ['f1']);
      }));

    test('a subscription that is not refreshed ends with NOTIFY terminated;reason=timeout (§4.2.2)', () =>
      withClient(transport, async (c) => {
        const w = new WatcherDialog(c, { presentity: aor('timeout') });
        const res = await w.subscribe(MIN_EXPIRES);
        assert.equal(res.status, 200);
        await w.notify();
        const n = await w.notify({ timeoutMs: (MIN_EXPIRES + 3) * 1000 });
        const st = subscriptionState(n.request);
        assert.equal(st.state, 'terminated');
        assert.equal(st.params.get('reason'), 'timeout');
      }));

    test('in-dialog SUBSCRIBE for an unknown dialog: 481 (RFC 3261 §12.2.2)', () =>
      withClient(transport, async (c) => {
        const w = new WatcherDialog(c, { presentity: aor('nodialog') });
        w.toTag = 'not-a-dialog-of-ours';
        const res = await w.subscribe(60);
        assert.equal(res.status, 481);
      }));

    test('NOTIFY follows the route set of Record-Route, to the first hop (RFC 3261 §12.1.1, §12.2.1.1)', () =>
      withClient(transport, async (c) => {
        const p = aor('routes');
        // The "proxy" is the client itself; the Contact names a port nobody listens on, so a NOTIFY that arrives
        // proves it went via the Route set.
        const param = transport === 'tcp' ? ';transport=tcp' : '';
        const hop1 = `<sip:127.0.0.1:${c.port}${param};lr>`;
        const hop2 = '<sip:proxy2.example.com;lr>';
        const w = new WatcherDialog(c, { presentity: p, contact: `sip:watcher@127.0.0.1:9${param}` });
        const res = await w.subscribe(300, [['Record-Route', `${hop1}, ${hop2}`]]);
        assert.equal(res.status, 200);
        assert.ok(res.headers.getAll('Record-Route').length === 2, '2xx copies Record-Route (§12.1.1)');
        const n = await w.notify();
        assert.deepEqual(n.request.headers.getAll('Route').map((r) => r.replace(/\s+/g, '')), [hop1, hop2]);
        assert.equal(n.request.uri, `sip:watcher@127.0.0.1:9${param}`, 'Request-URI stays the remote target with loose routing');
      }));

    test('no NOTIFY while the previous one is unanswered; changes meanwhile are coalesced into the latest state (issue 3)', () =>
      withClient(transport, async (c) => {
        const p = aor('coalesce');
        const w = new WatcherDialog(c, { presentity: p });
        assert.equal((await w.subscribe(300)).status, 200);
        await w.notify();
        const first = await publish(c, { aor: p, body: pidf(p, 'dev', 'open', 'one'), expires: 300 });
        // Hold the NOTIFY for change 1 unanswered (less than T1, so UDP does not retransmit it yet).
        const pending = await w.notify({ status: null });
        assert.deepEqual(basics(pending.request.body), ['open']);
        const second = await publish(c, { aor: p, etag: first.headers.get('SIP-ETag') ?? '', body: pidf(p, 'dev', 'closed', 'two'), expires: 300 });
        await publish(c, { aor: p, etag: second.headers.get('SIP-ETag') ?? '', body: pidf(p, 'dev', 'open', 'three'), expires: 300 });
        await c.expectNoRequest('NOTIFY', 150);
        c.respond(pending, 200, 'OK');
        const latest = await w.notify();
        assert.match(latest.request.body.toString(), /three/);
        await c.expectNoRequest('NOTIFY', 300);
      }));

    test('in-dialog SUBSCRIBE with a CSeq lower than the last one: 500 (RFC 3261 §12.2.2)', () =>
      withClient(transport, async (c) => {
        const w = new WatcherDialog(c, { presentity: aor('oldcseq') });
        w.cseq = 10;
        assert.equal((await w.subscribe(300)).status, 200);
        await w.notify();
        w.cseq = 3;
        const res = await w.subscribe(300);
        assert.equal(res.status, 500);
      }));

    test('NOTIFY answered 481 ends the subscription (RFC 6665 §4.2.2)', () =>
      withClient(transport, async (c) => {
        const p = aor('gone');
        const w = new WatcherDialog(c, { presentity: p });
        assert.equal((await w.subscribe(300)).status, 200);
        await w.notify();
        await publish(c, { aor: p, body: pidf(p, 'a', 'open'), expires: 60 });
        await w.notify({ status: 481 });
        await publish(c, { aor: p, body: pidf(p, 'b', 'closed'), expires: 60 });
        await c.expectNoRequest('NOTIFY', 600);
        const refresh = await w.subscribe(300);
        assert.equal(refresh.status, 481);
      }));
  });
}

describe('flows (issue 3, RFC 5626 spirit)', () => {
  test('over TCP, NOTIFYs use the connection the SUBSCRIBE came on', () =>
    withClient('tcp', async (c) => {
      const p = aor('flow');
      const w = new WatcherDialog(c, { presentity: p });
      assert.equal((await w.subscribe(300)).status, 200);
      const n1 = await w.notify();
      assert.equal(n1.overClientConnection, true);
      await publish(c, { aor: p, body: pidf(p, 'x', 'open'), expires: 60 });
      const n2 = await w.notify();
      assert.equal(n2.overClientConnection, true);
    }));

  test('over UDP, NOTIFYs come from the address the SUBSCRIBE was sent to', () =>
    withClient('udp', async (c) => {
      const w = new WatcherDialog(c, { presentity: aor('udpflow') });
      assert.equal((await w.subscribe(300)).status, 200);
      const n = await w.notify();
      assert.equal(n.remote.address, '127.0.0.1');
      assert.equal(n.remote.port, server.port('udp'));
    }));
});

describe('options: notifyOfflineBody and subscribeReplyCode 202', () => {
  for (const transport of TRANSPORTS) {
    test(`${transport}: 202 Accepted and a closed PIDF when nothing is published`, () =>
      withClient(
        transport,
        async (c) => {
          const p = aor('offline');
          const w = new WatcherDialog(c, { presentity: p });
          const res = await w.subscribe(300);
          assert.equal(res.status, 202);
          const n = await w.notify();
          assert.match(n.request.headers.get('Content-Type') ?? '', /^application\/pidf\+xml/);
          assert.deepEqual(basics(n.request.body), ['closed']);
          assert.match(n.request.body.toString(), new RegExp(`entity="${p}"`));
        },
        legacy,
      ));
  }

  test('without notifyOfflineBody, a NOTIFY for an unpublished presentity has no body', () =>
    withClient('udp', async (c) => {
      const w = new WatcherDialog(c, { presentity: aor('empty') });
      assert.equal((await w.subscribe(300)).status, 200);
      const n = await w.notify();
      assert.equal(n.request.body.length, 0);
    }));
});
