/**
 * RFC 3261 conformance probes (the server as a non-INVITE UAS, and as the UAC of its NOTIFYs), black-box over raw SIP
 * on 127.0.0.1. One test per checklist item of shared/design/anchors-features.md §4 not already checked exactly
 * elsewhere; the items checked elsewhere are listed where they belong, with the test that checks them:
 *
 * - §8.1.1 missing To/From/Call-ID/CSeq/Max-Forwards/Via → 400: sip-foundation "missing ... gets 400", unparsable
 *   request → 400: transport "an unparsable request with a readable Via is answered 400".
 * - §8.1.1.5 CSeq method mismatch → 400: sip-foundation "CSeq method different ...".
 * - §7.3.1/§7.3.3 compact forms and folding: sip-foundation "compact header forms and folded lines".
 * - §8.2.6.2 all Vias copied in order: sip-foundation "all Via header fields are copied"; From/Call-ID/CSeq/To-tag on
 *   a 200: sip-foundation "OPTIONS gets 200 ...".
 * - §18.2.1/§18.2.2, RFC 3581 received/rport and where responses go: sip-foundation "response routing over UDP".
 * - §18.2.2 responses on the request's TCP connection: transport "two messages in one segment get two responses on
 *   the same connection"; §18.3 Content-Length mandatory on streams: transport "a missing Content-Length on a stream".
 * - §18.3 UDP body shorter than Content-Length → 400: sip-foundation "UDP body shorter than Content-Length".
 * - §17.2.2 retransmitted PUBLISH absorbed: sip-foundation "a retransmitted PUBLISH"; Timer J 64·T1 on UDP, 0 on TCP:
 *   unit/transaction/server-transactions "Timer J ...".
 * - §21.5.2 unknown method 501, §8.2.1 405 with Allow: sip-foundation; §8.2.2.1 416: sip-foundation.
 * - §8.2.2.3 420 with Unsupported: sip-foundation. §8.2.2.2 merged request in flight → 482: sip-foundation.
 * - §12.2.2 481 for an unknown dialog, 500 for a lower CSeq: presence-subscribe.
 * - §11.2 OPTIONS with Allow, Accept, Supported, Allow-Events: sip-foundation "OPTIONS gets 200 ...".
 * - §16.3 Max-Forwards 0 → 483: sip-foundation.
 * - §17.1.2.2 Timer F (64·T1 = 32 s) → 408: unit/transaction/client-transactions "retransmits at T1 ... then Timer F
 *   yields 408" (too long for a black-box run).
 * - §22 digest 401/stale=true/qop: integration/auth. §21.5.4 503 with Retry-After when shedding load:
 *   unit/transaction/server-transactions "beyond maxServerTransactions ..."; during start-up: unit/core/recovery.
 * - §10.3 registrar (Contact *, 423 Min-Expires, Call-ID/CSeq ordering, bindings listed): integration/registrar.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { SipTestClient, branchOf, newBranch, pidf, randomToken, tagOf, topViaParam } from '../support/sip-test-client.js';
import { startTestServer, type TestServer } from '../support/test-server.js';
import { cseqNumber, publish, WatcherDialog } from '../support/presence-ua.js';
import { client, closeAll } from './packages-fixtures.js';
import { aor, assertNotifyHeaders, PIDF, sleep, TcpSink, timedNotify, topVia } from './conformance-fixtures.js';

let server: TestServer;

before(async () => {
  server = await startTestServer({ domain: 'example.com' });
});

after(async () => {
  await closeAll();
  await server.stop();
});

describe('RFC 3261 as a UAS (non-INVITE)', () => {
  test('§7.3.1: header names in any case, several values on one line', async () => {
    const c = await client(server);
    const branch = newBranch();
    const callId = `case-${randomToken(6)}`;
    c.sendRaw(
      `OPTIONS sip:ping@${c.serverHostPort} SIP/2.0\r\n` +
        `vIA: SIP/2.0/UDP ${c.hostPort};branch=${branch};rport, SIP/2.0/UDP 192.0.2.9:5070;branch=z9hG4bKsecond\r\n` +
        `FROM: <sip:case@127.0.0.1>;tag=c1\r\n` +
        `tO: <sip:ping@127.0.0.1>\r\n` +
        `cALL-iD: ${callId}\r\n` +
        `CSEQ: 4 OPTIONS\r\n` +
        `MAX-forwards: 70\r\n` +
        `content-LENGTH: 0\r\n\r\n`,
    );
    const res = await c.waitResponse(branch);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('Call-ID'), callId);
    const vias = res.headers.getAll('Via');
    assert.equal(vias.length, 2, 'both Via values of the one line are copied');
    assert.match(vias[0], new RegExp(`branch=${branch}`));
    assert.match(vias[1], /^SIP\/2\.0\/UDP 192\.0\.2\.9:5070;branch=z9hG4bKsecond$/);
  });

  test('§8.2.6.2: an error response copies Via, From, Call-ID, CSeq and To, adding a To-tag; a To-tag present stays', async () => {
    const c = await client(server);
    const p = aor('copy');
    const from = `"Watcher" <sip:w@example.com;user=phone>;tag=f-${randomToken(3)};x=y`;
    const to = `"Presentity" <${p}>;foo=bar`;
    const sent = c.send({ method: 'SUBSCRIBE', uri: p, from, to, cseq: 77, contact: `<${c.contactUri()}>`, headers: [['Event', 'no-such-package']] });
    const res = await c.waitResponse(sent.branch);
    assert.equal(res.status, 489);
    assert.equal(res.headers.get('From'), from);
    assert.equal(res.headers.get('Call-ID'), sent.callId);
    assert.equal(res.headers.get('CSeq'), '77 SUBSCRIBE');
    const resTo = res.headers.get('To') ?? '';
    assert.ok(resTo.startsWith(to), `To copied: ${resTo}`);
    assert.ok(tagOf(resTo), 'a To-tag is added');
    const via = res.headers.getAll('Via');
    assert.equal(via.length, 1);
    assert.ok(via[0].startsWith(`SIP/2.0/UDP ${c.hostPort};branch=${sent.branch};rport`), via[0]);
    // In-dialog request for no dialog: the To (with its tag) comes back as it was (§12.2.2).
    const toTagged = `<${p}>;tag=theirs-${randomToken(3)}`;
    const r481 = await c.request({ method: 'SUBSCRIBE', uri: p, to: toTagged, contact: `<${c.contactUri()}>`, headers: [['Event', 'presence']] });
    assert.equal(r481.status, 481);
    assert.equal(r481.headers.get('To'), toTagged);
  });

  test('§8.2.6.1: no 100 Trying for PUBLISH or SUBSCRIBE, only the final response', async () => {
    const c = await client(server);
    const p = aor('no100');
    const pub = c.send({ method: 'PUBLISH', uri: p, from: `<${p}>;tag=a1`, headers: [['Event', 'presence'], ['Expires', '60']], contentType: PIDF, body: pidf(p, 't', 'open') });
    const w = new WatcherDialog(c, { presentity: p });
    const sub = c.send(w.spec(60));
    assert.equal((await c.waitResponse(pub.branch)).status, 200);
    assert.equal((await c.waitResponse(sub.branch)).status, 200);
    await sleep(200);
    assert.deepEqual(c.responsesFor(pub.branch).map((r) => r.status), [200]);
    assert.deepEqual(c.responsesFor(sub.branch).map((r) => r.status), [200]);
  });

  test('§8.2.2.1: a Request-URI in a domain not served gets 404 (SUBSCRIBE and PUBLISH)', async () => {
    const c = await client(server);
    const p = `sip:bob-${randomToken(3)}@not-served.example.org`;
    const w = new WatcherDialog(c, { presentity: p });
    assert.equal((await w.subscribe(60)).status, 404);
    assert.equal((await publish(c, { aor: p, body: pidf(p, 't', 'open'), expires: 60 })).status, 404);
  });

  test('§8.2.3: an unknown Content-Encoding gets 415 with Accept-Encoding', async () => {
    const c = await client(server);
    const p = aor('encoding');
    const res = await publish(c, { aor: p, body: pidf(p, 't', 'open'), expires: 60, headers: [['Content-Encoding', 'x-squeeze']] });
    assert.equal(res.status, 415);
    assert.ok(res.headers.has('Accept-Encoding'), 'Accept-Encoding lists what we take (identity)');
  });

  test('§8.2.2.2: a merged request arriving after the first was answered (its transaction still in Completed) gets 482', async () => {
    const c = await client(server);
    const p = aor('merged');
    const callId = `merge-${randomToken(6)}`;
    const spec = {
      method: 'SUBSCRIBE',
      uri: p,
      from: '<sip:m@example.com>;tag=merge2',
      callId,
      cseq: 9,
      contact: `<${c.contactUri()}>`,
      headers: [['Event', 'presence'], ['Expires', '60']] as Array<[string, string]>,
    };
    assert.equal((await c.request(spec)).status, 200);
    await c.acceptNotify();
    // Same From-tag, Call-ID and CSeq, another branch: the copy a forking proxy sent over another path.
    const copy = await c.request(spec);
    assert.equal(copy.status, 482);
    await c.expectNoRequest('NOTIFY', 300);
  });

  test('§17.2.3: a retransmitted SUBSCRIBE gets the same final response and creates one subscription', async () => {
    const c = await client(server);
    const p = aor('retrans');
    const w = new WatcherDialog(c, { presentity: p });
    const built = c.build(w.spec(60));
    c.sendRaw(built.bytes);
    const first = await c.waitResponse(built.branch);
    assert.equal(first.status, 200);
    await c.acceptNotify();
    c.sendRaw(built.bytes);
    const deadline = performance.now() + 2000;
    while (c.responsesFor(built.branch).length < 2 && performance.now() < deadline) await sleep(10);
    const all = c.responsesFor(built.branch);
    assert.equal(all.length, 2, 'the retransmission is answered from the transaction');
    assert.equal(all[1].headers.get('To'), first.headers.get('To'), 'same To-tag: the same dialog');
    assert.equal(all[1].headers.get('Expires'), first.headers.get('Expires'));
    await c.expectNoRequest('NOTIFY', 400);
  });

  test('§7.3.3: compact forms in SUBSCRIBE and PUBLISH (o Event, m Contact, c Content-Type, k Supported, l Content-Length)', async () => {
    const c = await client(server);
    const p = aor('compact');
    const b1 = newBranch();
    c.sendRaw(
      `SUBSCRIBE ${p} SIP/2.0\r\nv: SIP/2.0/UDP ${c.hostPort};branch=${b1};rport\r\nf: <sip:w@example.com>;tag=cf1\r\nt: <${p}>\r\n` +
        `i: compact-${b1}\r\nCSeq: 1 SUBSCRIBE\r\nMax-Forwards: 70\r\nm: <${c.contactUri()}>\r\no: presence;id=9\r\nk: foo\r\nExpires: 60\r\nl: 0\r\n\r\n`,
    );
    assert.equal((await c.waitResponse(b1)).status, 200);
    const first = await c.acceptNotify();
    assert.equal(first.request.headers.get('Event'), 'presence;id=9');
    const b2 = newBranch();
    const doc = pidf(p, 'cmp', 'open');
    c.sendRaw(
      `PUBLISH ${p} SIP/2.0\r\nv: SIP/2.0/UDP ${c.hostPort};branch=${b2};rport\r\nf: <${p}>;tag=cf2\r\nt: <${p}>\r\ni: compact-${b2}\r\n` +
        `CSeq: 1 PUBLISH\r\nMax-Forwards: 70\r\no: presence\r\nc: application/pidf+xml\r\nl: ${Buffer.byteLength(doc)}\r\n\r\n${doc}`,
    );
    const res = await c.waitResponse(b2);
    assert.equal(res.status, 200);
    assert.ok(res.headers.get('SIP-ETag'));
    assert.match((await c.acceptNotify()).request.body.toString(), /id="cmp"/);
  });

  test('§20.10, §20.20: without angle brackets, parameters belong to the header: From tag kept, Contact params not in the remote target', async () => {
    const c = await client(server);
    const p = aor('bare');
    const b = newBranch();
    c.sendRaw(
      `SUBSCRIBE ${p} SIP/2.0\r\nVia: SIP/2.0/UDP ${c.hostPort};branch=${b};rport\r\nFrom: sip:w@example.com;tag=bare1\r\nTo: ${p}\r\n` +
        `Call-ID: bare-${b}\r\nCSeq: 1 SUBSCRIBE\r\nMax-Forwards: 70\r\nContact: sip:watcher@${c.hostPort};expires=60\r\nEvent: presence\r\nContent-Length: 0\r\n\r\n`,
    );
    const res = await c.waitResponse(b);
    assert.equal(res.status, 200);
    assert.equal(tagOf(res.headers.get('From')), 'bare1');
    const n = (await c.acceptNotify()).request;
    assert.equal(n.uri, `sip:watcher@${c.hostPort}`, 'expires=60 is a Contact header parameter');
    assert.equal(tagOf(n.headers.get('To')), 'bare1');
  });

  test('§7.1: method names are case-sensitive: "subscribe" is an unknown method (501)', async () => {
    const c = await client(server);
    const b = newBranch();
    c.sendRaw(
      `subscribe sip:alice@example.com SIP/2.0\r\nVia: SIP/2.0/UDP ${c.hostPort};branch=${b};rport\r\nFrom: <sip:w@example.com>;tag=lc\r\n` +
        `To: <sip:alice@example.com>\r\nCall-ID: lc-${b}\r\nCSeq: 1 subscribe\r\nMax-Forwards: 70\r\nContact: <${c.contactUri()}>\r\nEvent: presence\r\nContent-Length: 0\r\n\r\n`,
    );
    assert.equal((await c.waitResponse(b)).status, 501);
    await c.expectNoRequest('NOTIFY', 200);
  });

  test('§18.3: over UDP, bytes beyond Content-Length are ignored', async () => {
    const c = await client(server);
    const p = aor('trailer');
    const doc = pidf(p, 'only', 'open');
    const built = c.build({ method: 'PUBLISH', uri: p, from: `<${p}>;tag=t1`, headers: [['Event', 'presence'], ['Expires', '60']], contentType: PIDF, body: doc });
    // The XML would be malformed with the trailer: a 200 shows it was cut at Content-Length.
    c.sendRaw(Buffer.concat([built.bytes, Buffer.from('<garbage>not part of the body')]));
    const res = await c.waitResponse(built.branch);
    assert.equal(res.status, 200);
  });
});

describe('RFC 3261 as the UAC of NOTIFYs', () => {
  test('§8.1.1.6, §8.1.1.7, §12.2.1.1: every NOTIFY has Max-Forwards 70, a fresh z9hG4bK branch, CSeq +1, the Contact as Request-URI', async () => {
    const c = await client(server);
    const p = aor('uac');
    const w = new WatcherDialog(c, { presentity: p });
    assert.equal((await w.subscribe(300)).status, 200);
    const branches = new Set<string>();
    const cseqs: number[] = [];
    const take = async (): Promise<void> => {
      const n = (await w.notify()).request;
      branches.add(assertNotifyHeaders(n, w));
      assert.equal(n.uri, c.contactUri('watcher'));
      assert.match(n.headers.get('CSeq') ?? '', /^\d+ NOTIFY$/);
      cseqs.push(cseqNumber(n));
    };
    await take();
    let etag: string | undefined;
    for (const basic of ['open', 'closed', 'open'] as const) {
      const r = await publish(c, { aor: p, body: pidf(p, 'd', basic), expires: 60, ...(etag ? { etag } : {}) });
      etag = r.headers.get('SIP-ETag');
      await take();
    }
    assert.equal(branches.size, 4, 'a new branch per NOTIFY');
    for (let i = 1; i < cseqs.length; i++) assert.equal(cseqs[i], cseqs[i - 1] + 1, `CSeq ${cseqs.join(',')} goes up by exactly one`);
  });

  test('§12.2.1.1: with a strict router first in the route set, it becomes the Request-URI and the remote target the last Route', async () => {
    const c = await client(server);
    const p = aor('strict');
    const hop = `sip:127.0.0.1:${c.port}`;
    const target = 'sip:watcher@127.0.0.1:9';
    const w = new WatcherDialog(c, { presentity: p, contact: target });
    const res = await w.subscribe(300, [['Record-Route', `<${hop}>, <sip:proxy2.example.com;lr>`]]);
    assert.equal(res.status, 200);
    const n = (await w.notify()).request;
    assert.equal(n.uri, hop, 'Request-URI = the strict router');
    assert.deepEqual(n.headers.getAll('Route').map((r) => r.replace(/\s+/g, '')), ['<sip:proxy2.example.com;lr>', `<${target}>`]);
  });

  test('§18.1.1, §12.2.1.1: with the subscriber\'s TCP connection gone, the NOTIFY opens a connection to the remote target', async () => {
    const c = await client(server, 'tcp');
    const p = aor('tcpgone');
    const w = new WatcherDialog(c, { presentity: p });
    assert.equal((await w.subscribe(300)).status, 200);
    assert.equal((await w.notify()).overClientConnection, true);
    await c.connect(); // closes the connection the SUBSCRIBE came on
    await sleep(100);
    const pub = await client(server);
    assert.equal((await publish(pub, { aor: p, body: pidf(p, 't', 'open'), expires: 60 })).status, 200);
    const n = await w.notify();
    assert.equal(n.overClientConnection, false, 'a new connection, to the Contact');
    assert.equal(n.request.uri, c.contactUri('watcher'));
    assert.match(topVia(n.request), new RegExp(`^SIP/2\\.0/TCP 127\\.0\\.0\\.1:${server.tcpPort};`), 'Via names our TCP listener');
  });

  test('§12.2.1.1: over UDP the NOTIFY goes to the remote target (Contact), here another port of the address the SUBSCRIBE came from', async () => {
    const c = await client(server);
    const elsewhere = await client(server);
    const p = aor('contactport');
    const w = new WatcherDialog(c, { presentity: p, contact: elsewhere.contactUri('watcher') });
    assert.equal((await w.subscribe(300)).status, 200);
    const n = await elsewhere.nextRequest('NOTIFY', 2000);
    assert.equal(n.request.uri, elsewhere.contactUri('watcher'));
    elsewhere.respond(n, 200, 'OK');
    assert.equal(c.pendingRequests().length, 0, 'nothing to the sending port');
  });

  test('deviation (docs/architecture.md): a Contact naming another address than the source (NAT) gets its UDP NOTIFY at the source address and port', async () => {
    const c = await client(server);
    const p = aor('natted');
    // 192.0.2.0/24 (TEST-NET-1, RFC 5737): a private-looking Contact nobody could reach from here.
    const w = new WatcherDialog(c, { presentity: p, contact: 'sip:watcher@192.0.2.10:5060' });
    assert.equal((await w.subscribe(300)).status, 200);
    const n = await w.notify();
    assert.equal(n.request.uri, 'sip:watcher@192.0.2.10:5060', 'the Contact stays the Request-URI');
  });

  test('§17.1.2.2: an unanswered NOTIFY over UDP is retransmitted after 500 ms, then 1 s, then 2 s (Timer E)', async () => {
    const c = await client(server);
    const w = new WatcherDialog(c, { presentity: aor('timere') });
    assert.equal((await w.subscribe(300)).status, 200);
    const first = await timedNotify(c, 2000);
    const branch = branchOf(first.n.request);
    const times = [first.at];
    for (let i = 0; i < 3; i++) {
      const { n, at } = await timedNotify(c, 3000);
      assert.equal(branchOf(n.request), branch, 'a retransmission: same branch');
      assert.equal(n.raw.toString('latin1'), first.n.raw.toString('latin1'), 'the same bytes');
      times.push(at);
    }
    c.respond(first.n, 200, 'OK');
    const gaps = times.slice(1).map((t, i) => t - times[i]);
    // Bounds wide enough for a busy 2-core machine, narrow enough to tell 500/1000/2000 from a fixed or a tripling step.
    [500, 1000, 2000].forEach((expected, i) => {
      assert.ok(gaps[i] >= expected * 0.75 && gaps[i] <= expected + 450, `gap ${i + 1}: ${Math.round(gaps[i])} ms, expected ${expected} (all: ${gaps.map(Math.round).join(', ')})`);
    });
    await c.expectNoRequest('NOTIFY', 700);
  });

  test('§17.1.2.2: over TCP a NOTIFY is never retransmitted', async () => {
    const c = await client(server, 'tcp');
    const w = new WatcherDialog(c, { presentity: aor('tcpnoretx') });
    assert.equal((await w.subscribe(300)).status, 200);
    const n = await c.nextRequest('NOTIFY', 2000);
    await c.expectNoRequest('NOTIFY', 1700);
    c.respond(n, 200, 'OK');
  });

  test('§18.1.1: a NOTIFY over 1300 bytes to a UDP subscriber goes over TCP to the same address, with a TCP Via; UDP when TCP is refused', async () => {
    // A UDP client whose port number is also open for TCP (retry a few times if that number is taken for TCP).
    let c: SipTestClient | undefined;
    let sink: TcpSink | undefined;
    for (let i = 0; i < 5 && sink === undefined; i++) {
      c = await client(server);
      sink = await TcpSink.listen(c.port);
    }
    assert.ok(c && sink, 'a UDP port also free for TCP');
    try {
      const p = aor('big');
      const w = new WatcherDialog(c, { presentity: p });
      assert.equal((await w.subscribe(300)).status, 200);
      await w.notify();
      const big = pidf(p, 'big', 'open', 'x'.repeat(1500));
      assert.equal((await publish(c, { aor: p, body: big, expires: 60 })).status, 200);
      const { request, socket } = await sink.next(3000);
      assert.equal(request.method, 'NOTIFY');
      assert.match(topVia(request), /^SIP\/2\.0\/TCP /, 'Via names TCP');
      assert.ok(request.body.length > 1300);
      TcpSink.respond(request, socket, 200);
      await c.expectNoRequest('NOTIFY', 300);
    } finally {
      await sink.close();
    }

    // A subscriber with nothing on TCP: the connection is refused, the NOTIFY goes over UDP after all.
    const u = await client(server);
    const p2 = aor('bigudp');
    const w2 = new WatcherDialog(u, { presentity: p2 });
    assert.equal((await w2.subscribe(300)).status, 200);
    await w2.notify();
    assert.equal((await publish(u, { aor: p2, body: pidf(p2, 'big', 'open', 'y'.repeat(1500)), expires: 60 })).status, 200);
    const n = (await w2.notify()).request;
    assert.match(topVia(n), /^SIP\/2\.0\/UDP /);
    assert.ok(n.body.length > 1300);
    assert.equal(topViaParam(n, 'rport'), null, 'rport requested on our Via');
  });
});
