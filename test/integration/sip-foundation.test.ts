/**
 * RFC 3261 behaviour of presenced as seen on real sockets (issue 2): OPTIONS, request validation errors,
 * method handling, retransmissions, response routing (§18.2.2, RFC 3581), TCP framing and keep-alives,
 * size limits and robustness against garbage.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import net from 'node:net';
import { once } from 'node:events';
import {
  SipTestClient,
  TimeoutError,
  newBranch,
  tagOf,
  topViaParam,
  type TestTransport,
} from '../support/sip-test-client.js';
import { startTestServer, type TestServer } from '../support/test-server.js';
import { publish, WatcherDialog, tupleIds } from '../support/presence-ua.js';
import { pidf } from '../support/sip-test-client.js';

const TRANSPORTS: TestTransport[] = ['udp', 'tcp'];

/** A small message-size limit so oversized messages are cheap to make. */
const MAX_MESSAGE = 4096;

let server: TestServer;

before(async () => {
  server = await startTestServer({ maxMessageSize: MAX_MESSAGE });
});

after(async () => {
  await server.stop();
});

async function client(transport: TestTransport): Promise<SipTestClient> {
  return SipTestClient.open({ transport, serverPort: server.port(transport) });
}

/** Resolves true when nothing arrives for `branch` within ms (for requests that must be dropped). */
async function noResponse(c: SipTestClient, branch: string, ms = 400): Promise<boolean> {
  try {
    await c.waitResponse(branch, ms, true);
    return false;
  } catch (err) {
    if (err instanceof TimeoutError) return true;
    throw err;
  }
}

function options(c: SipTestClient, extra: Partial<Parameters<SipTestClient['send']>[0]> = {}): Parameters<SipTestClient['send']>[0] {
  return { method: 'OPTIONS', uri: `sip:ping@${c.serverHostPort}`, ...extra };
}

async function assertAlive(c: SipTestClient): Promise<void> {
  const res = await c.request(options(c));
  assert.equal(res.status, 200);
}

for (const transport of TRANSPORTS) {
  describe(`RFC 3261 core over ${transport.toUpperCase()}`, () => {
    test('OPTIONS gets 200 with Allow, Accept, Allow-Events, Supported, a To-tag and a Server header (RFC 3261 §11.2, RFC 6665 §4.4.4)', async () => {
      const c = await client(transport);
      try {
        const sent = c.send(options(c, { headers: [['Accept', 'application/sdp']] }));
        const res = await c.waitResponse(sent.branch);
        assert.equal(res.status, 200);
        const allow = res.headers.getAll('Allow').map((m) => m.trim().toUpperCase());
        for (const m of ['OPTIONS', 'PUBLISH', 'SUBSCRIBE', 'NOTIFY', 'ACK', 'CANCEL']) assert.ok(allow.includes(m), `Allow lacks ${m}: ${allow.join(',')}`);
        const accept = res.headers.getAll('Accept').map((a) => a.trim().toLowerCase());
        assert.ok(accept.some((a) => a.startsWith('application/pidf+xml')), `Accept: ${accept.join(',')}`);
        const events = res.headers.getAll('Allow-Events').map((e) => e.trim());
        assert.ok(events.includes('presence'), `Allow-Events: ${events.join(',')}`);
        assert.ok(res.headers.has('Supported'), 'Supported header present');
        assert.ok(res.headers.get('Server'), 'Server header present');
        // §8.2.6.2: Via, From, Call-ID, CSeq copied; To gets a tag.
        assert.equal(tagOf(res.headers.get('To')) !== undefined, true, 'To-tag');
        assert.equal(res.headers.get('Call-ID'), sent.callId);
        assert.match(res.headers.get('CSeq') ?? '', new RegExp(`^${sent.cseq}\\s+OPTIONS$`));
        assert.equal(tagOf(res.headers.get('From')), sent.fromTag);
        assert.equal(res.headers.getAll('Via').length, 1);
      } finally {
        await c.close();
      }
    });

    test('all Via header fields are copied to the response in order (RFC 3261 §8.2.6.2)', async () => {
      const c = await client(transport);
      try {
        const branch = newBranch();
        const res = await c.request(
          options(c, {
            branch,
            headers: [['Via', `SIP/2.0/${c.viaTransport} 192.0.2.7:5070;branch=z9hG4bKsecond`], ['Via', `SIP/2.0/UDP 192.0.2.8;branch=z9hG4bKthird`]],
          }),
        );
        assert.equal(res.status, 200);
        const vias = res.headers.getAll('Via');
        assert.equal(vias.length, 3);
        assert.match(vias[0], new RegExp(branch));
        assert.match(vias[1], /z9hG4bKsecond/);
        assert.match(vias[2], /z9hG4bKthird/);
      } finally {
        await c.close();
      }
    });

    test('Max-Forwards: 0 gets 483 Too Many Hops', async () => {
      const c = await client(transport);
      try {
        const res = await c.request({ method: 'PUBLISH', uri: 'sip:hops@example.com', maxForwards: 0, headers: [['Event', 'presence']] });
        assert.equal(res.status, 483);
        assert.ok(tagOf(res.headers.get('To')) !== undefined);
      } finally {
        await c.close();
      }
    });

    for (const header of ['Call-ID', 'From', 'To', 'CSeq', 'Max-Forwards']) {
      test(`missing ${header} gets 400 whose reason names it (RFC 3261 §8.1.1)`, async () => {
        const c = await client(transport);
        try {
          const res = await c.request(options(c, { omit: [header] }));
          assert.equal(res.status, 400);
          assert.match(res.reason, new RegExp(header, 'i'));
        } finally {
          await c.close();
        }
      });
    }

    test('missing Via: answered 400 naming Via at the source, or dropped; the server lives on', async () => {
      const c = await client(transport);
      try {
        const built = c.build(options(c, { via: null }));
        c.sendRaw(built.bytes);
        // A response needs a Via to be routed (§18.2.2); without one, dropping is allowed. Any answer must be 400.
        const got = await new Promise<number | undefined>((resolve) => {
          const t = setTimeout(() => resolve(undefined), 400);
          const started = c.responses.length;
          const poll = setInterval(() => {
            if (c.responses.length > started) {
              clearTimeout(t);
              clearInterval(poll);
              resolve(c.responses[c.responses.length - 1].response.status);
            }
          }, 10);
          setTimeout(() => clearInterval(poll), 450);
        });
        if (got !== undefined) {
          assert.equal(got, 400);
          assert.match(c.responses[c.responses.length - 1].response.reason, /via/i);
        }
        if (transport === 'tcp' && c.connectionClosed) await c.connect();
        await assertAlive(c);
      } finally {
        await c.close();
      }
    });

    test('CSeq method different from the request method gets 400 (RFC 3261 §8.1.1.5)', async () => {
      const c = await client(transport);
      try {
        const res = await c.request(options(c, { cseqMethod: 'SUBSCRIBE' }));
        assert.equal(res.status, 400);
        assert.match(res.reason, /cseq/i);
      } finally {
        await c.close();
      }
    });

    test('Require with an unknown option tag gets 420 listing it in Unsupported (RFC 3261 §8.2.2.3)', async () => {
      const c = await client(transport);
      try {
        const res = await c.request(options(c, { headers: [['Require', 'foo']] }));
        assert.equal(res.status, 420);
        assert.deepEqual(res.headers.getAll('Unsupported').map((s) => s.trim()), ['foo']);
        assert.ok(tagOf(res.headers.get('To')) !== undefined);
      } finally {
        await c.close();
      }
    });

    test('a known method absent from Allow gets 405 with Allow; one listed in Allow is never 405/501 (RFC 3261 §8.2.1, §20.5)', async () => {
      const c = await client(transport);
      try {
        const opts = await c.request(options(c));
        const allow = new Set(opts.headers.getAll('Allow').map((m) => m.trim().toUpperCase()));
        let checked405 = 0;
        for (const method of ['INVITE', 'REGISTER', 'MESSAGE', 'INFO', 'REFER', 'UPDATE', 'PRACK', 'BYE']) {
          // Expires 0: a REGISTER must not bind this client to the AOR, or the proxy would forward the others to it.
          const headers: Array<[string, string]> = method === 'REGISTER' ? [['Expires', '0']] : [];
          const res = await c.request({ method, uri: 'sip:nobody-here@example.com', contact: c.contactUri(), headers });
          if (allow.has(method)) {
            assert.ok(res.status !== 405 && res.status !== 501, `${method} is in Allow but got ${res.status}`);
            // INVITE may have started a transaction that wants an ACK for its error response.
            if (method === 'INVITE' && res.status >= 300) {
              c.sendRaw(
                `ACK sip:nobody-here@example.com SIP/2.0\r\nVia: ${res.headers.getAll('Via')[0]}\r\nFrom: ${res.headers.get('From')}\r\n` +
                  `To: ${res.headers.get('To')}\r\nCall-ID: ${res.headers.get('Call-ID')}\r\nCSeq: ${(res.headers.get('CSeq') ?? '').split(/\s+/)[0]} ACK\r\n` +
                  'Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n',
              );
            }
            continue;
          }
          checked405++;
          assert.equal(res.status, 405, method);
          const listed = res.headers.getAll('Allow').map((m) => m.trim().toUpperCase());
          assert.deepEqual(new Set(listed), allow, 'the 405 Allow is the OPTIONS Allow');
          assert.ok(tagOf(res.headers.get('To')) !== undefined);
          assert.ok(res.headers.get('Server'));
        }
        assert.ok(checked405 > 0 || allow.has('INVITE'), 'at least one known method is not served');
      } finally {
        await c.close();
      }
    });

    test('an unknown method gets 501 (RFC 3261 §21.5.2)', async () => {
      const c = await client(transport);
      try {
        const res = await c.request({ method: 'FOO', uri: 'sip:alice@example.com' });
        assert.equal(res.status, 501);
        assert.ok(tagOf(res.headers.get('To')) !== undefined);
      } finally {
        await c.close();
      }
    });

    test('CANCEL matching no transaction gets 481 (RFC 3261 §9.2)', async () => {
      const c = await client(transport);
      try {
        const res = await c.request({ method: 'CANCEL', uri: 'sip:alice@example.com' });
        assert.equal(res.status, 481);
      } finally {
        await c.close();
      }
    });

    test('a merged request (same From-tag, Call-ID and CSeq, other branch, no To-tag) gets 482 (RFC 3261 §8.2.2.2)', async () => {
      const c = await client(transport);
      try {
        const first = c.build({ method: 'SUBSCRIBE', uri: 'sip:merged@example.com', from: '<sip:m@example.com>;tag=merge1', callId: `merge-${newBranch()}`, cseq: 5, contact: c.contactUri(), headers: [['Event', 'presence'], ['Expires', '60']] });
        // The copy arrives (as if over another path of a forking proxy) while the first is still being processed.
        const copy = c.build({ method: 'SUBSCRIBE', uri: 'sip:merged@example.com', from: '<sip:m@example.com>;tag=merge1', callId: first.callId, cseq: 5, contact: c.contactUri(), headers: [['Event', 'presence'], ['Expires', '60']] });
        if (transport === 'tcp') c.sendRaw(Buffer.concat([first.bytes, copy.bytes]));
        else {
          c.sendRaw(first.bytes);
          c.sendRaw(copy.bytes);
        }
        const [r1, r2] = await Promise.all([c.waitResponse(first.branch), c.waitResponse(copy.branch)]);
        assert.equal(r1.status, 200);
        assert.equal(r2.status, 482);
      } finally {
        await c.close();
      }
    });

    test('NOTIFY outside any dialog of ours gets 481', async () => {
      const c = await client(transport);
      try {
        const res = await c.request({
          method: 'NOTIFY',
          uri: 'sip:server@example.com',
          to: '<sip:server@example.com>;tag=nosuchdialog',
          contact: c.contactUri(),
          headers: [['Event', 'presence'], ['Subscription-State', 'active;expires=60']],
        });
        assert.equal(res.status, 481);
      } finally {
        await c.close();
      }
    });

    test('an unsupported Request-URI scheme gets 416 (RFC 3261 §8.2.2.1)', async () => {
      const c = await client(transport);
      try {
        const res = await c.request({ method: 'OPTIONS', uri: 'mailto:alice@example.com', to: '<sip:alice@example.com>' });
        assert.equal(res.status, 416);
      } finally {
        await c.close();
      }
    });

    test('compact header forms and folded lines are understood (RFC 3261 §7.3.1, §7.3.3)', async () => {
      const c = await client(transport);
      try {
        const branch = newBranch();
        const text =
          `OPTIONS sip:ping@${c.serverHostPort} SIP/2.0\r\n` +
          `v: SIP/2.0/${c.viaTransport} ${c.hostPort};branch=${branch};rport\r\n` +
          `f: <sip:compact@127.0.0.1>;tag=cmp1\r\n` +
          `t:\r\n <sip:ping@127.0.0.1>\r\n` +
          `i: compact-${branch}@test\r\n` +
          `cseq: 7 OPTIONS\r\n` +
          `max-forwards: 70\r\n` +
          `l: 0\r\n\r\n`;
        c.sendRaw(text);
        const res = await c.waitResponse(branch);
        assert.equal(res.status, 200);
        assert.equal(res.headers.get('Call-ID'), `compact-${branch}@test`);
      } finally {
        await c.close();
      }
    });

    // Only UDP: over a reliable transport a UAC never retransmits and the server transaction ends at once (Timer J = 0).
    test('a retransmitted PUBLISH (same branch) gets the identical response and is stored once (RFC 3261 §17.2.2)', { skip: transport === 'tcp' ? 'UDP only: no retransmissions over TCP (RFC 3261 §17.1.2.2)' : false }, async () => {
      const c = await client(transport);
      try {
        const aor = `sip:retrans-${transport}@example.com`;
        const built = c.build({
          method: 'PUBLISH',
          uri: aor,
          from: `<${aor}>;tag=rt1`,
          to: `<${aor}>`,
          headers: [['Event', 'presence'], ['Expires', '600']],
          contentType: 'application/pidf+xml',
          body: pidf(aor, 'only-once', 'open'),
        });
        c.sendRaw(built.bytes);
        const first = await c.waitResponse(built.branch);
        assert.equal(first.status, 200);
        c.sendRaw(built.bytes);
        // The retransmission is answered from the transaction: wait for the second copy.
        const deadline = Date.now() + 2000;
        while (c.responsesFor(built.branch).length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
        const all = c.responsesFor(built.branch);
        assert.equal(all.length, 2, 'the retransmission is answered');
        assert.equal(all[1].status, 200);
        assert.equal(all[1].headers.get('SIP-ETag'), first.headers.get('SIP-ETag'));
        assert.equal(all[1].headers.get('To'), first.headers.get('To'));
        // Stored once: a watcher sees exactly one tuple.
        const w = new WatcherDialog(c, { presentity: aor });
        const sub = await w.subscribe(60);
        assert.equal(sub.status, 200);
        const n = await w.notify();
        assert.deepEqual(tupleIds(n.request.body), ['only-once']);
      } finally {
        await c.close();
      }
    });
  });
}

describe('response routing over UDP (RFC 3261 §18.2.2, RFC 3581)', () => {
  test('with rport: the response goes to the source port, and Via gets received and rport', async () => {
    const a = await client('udp');
    const b = await client('udp');
    try {
      const branch = newBranch();
      // sent-by names b's port, but the request leaves from a: rport must win.
      a.sendRaw(
        a.build(options(a, { branch, via: `SIP/2.0/UDP 127.0.0.1:${b.port};branch=${branch};rport` })).bytes,
      );
      const res = await a.waitResponse(branch);
      assert.equal(res.status, 200);
      assert.equal(topViaParam(res, 'rport'), String(a.port));
      assert.equal(topViaParam(res, 'received'), '127.0.0.1');
      assert.equal(b.responses.length, 0);
    } finally {
      await a.close();
      await b.close();
    }
  });

  test('without rport: the response goes to the sent-by port; received is added when sent-by is not the source address', async () => {
    const a = await client('udp');
    const b = await client('udp');
    try {
      const branch = newBranch();
      a.sendRaw(a.build(options(a, { branch, via: `SIP/2.0/UDP client.invalid:${b.port};branch=${branch}` })).bytes);
      const res = await b.waitResponse(branch);
      assert.equal(res.status, 200);
      assert.equal(topViaParam(res, 'received'), '127.0.0.1');
      assert.equal(topViaParam(res, 'rport'), undefined);
      assert.equal(a.responses.length, 0);
    } finally {
      await a.close();
      await b.close();
    }
  });

  test('a request larger than the size limit is refused on UDP (dropped, or 413 when answerable); the server keeps answering', async () => {
    const c = await client('udp');
    try {
      const body = 'x'.repeat(MAX_MESSAGE + 500);
      const built = c.send(options(c, { body, contentType: 'text/plain' }));
      if (!(await noResponse(c, built.branch, 500))) {
        assert.deepEqual(c.responsesFor(built.branch).map((r) => r.status), [413]);
      }
      await assertAlive(c);
    } finally {
      await c.close();
    }
  });

  test('UDP body shorter than Content-Length gets 400 (RFC 3261 §18.3)', async () => {
    const c = await client('udp');
    try {
      const res = await c.request(options(c, { body: 'abc', contentType: 'text/plain', contentLength: 50 }));
      assert.equal(res.status, 400);
    } finally {
      await c.close();
    }
  });
});

describe('TCP framing (RFC 3261 §18.3, RFC 5626 §3.5.1)', () => {
  test('two requests in one segment both get answered, in order', async () => {
    const c = await client('tcp');
    try {
      const one = c.build(options(c));
      const two = c.build(options(c));
      c.sendRaw(Buffer.concat([one.bytes, two.bytes]));
      const [r1, r2] = await Promise.all([c.waitResponse(one.branch), c.waitResponse(two.branch)]);
      assert.equal(r1.status, 200);
      assert.equal(r2.status, 200);
    } finally {
      await c.close();
    }
  });

  test('a request split across segments is reassembled', async () => {
    const c = await client('tcp');
    try {
      const built = c.build(options(c, { body: 'hello body', contentType: 'text/plain' }));
      const cut = Math.floor(built.bytes.length / 3);
      c.sendRaw(built.bytes.subarray(0, cut));
      await new Promise((r) => setTimeout(r, 30));
      c.sendRaw(built.bytes.subarray(cut, cut * 2));
      await new Promise((r) => setTimeout(r, 30));
      c.sendRaw(built.bytes.subarray(cut * 2));
      const res = await c.waitResponse(built.branch);
      assert.equal(res.status, 200);
    } finally {
      await c.close();
    }
  });

  test('a CRLFCRLF keep-alive ping is answered with CRLF', async () => {
    const c = await client('tcp');
    try {
      c.sendRaw('\r\n\r\n');
      const deadline = Date.now() + 2000;
      while (c.pongs === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      assert.equal(c.pongs, 1);
      await assertAlive(c);
    } finally {
      await c.close();
    }
  });

  test('a message larger than the size limit gets 413 and the connection is closed', async () => {
    const c = await client('tcp');
    try {
      const body = 'x'.repeat(MAX_MESSAGE + 500);
      const built = c.send(options(c, { body, contentType: 'text/plain' }));
      const res = await c.waitResponse(built.branch);
      assert.equal(res.status, 413);
      await c.waitClosed(3000);
    } finally {
      await c.close();
    }
  });

  test('a message without Content-Length on a stream is an error (RFC 3261 §18.3): 400 or close', async () => {
    const c = await client('tcp');
    try {
      const built = c.send(options(c, { contentLength: null }));
      // Without Content-Length the frame end is unknown; the server may answer 400 or just close once it gives up.
      const outcome = await Promise.race([
        c.waitResponse(built.branch, 3000).then((r) => r.status),
        c.waitClosed(3000).then(() => 'closed' as const),
      ]).catch(() => 'timeout' as const);
      assert.ok(outcome === 400 || outcome === 'closed' || outcome === 'timeout', `got ${String(outcome)}`);
    } finally {
      await c.close();
    }
  });
});

/** Deterministic PRNG (mulberry32) so a failing mutation can be reproduced. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function mutate(base: Buffer, rnd: () => number): Buffer {
  const kind = Math.floor(rnd() * 6);
  const buf = Buffer.from(base);
  switch (kind) {
    case 0: // random bytes
      return Buffer.from(Array.from({ length: 1 + Math.floor(rnd() * 600) }, () => Math.floor(rnd() * 256)));
    case 1: // truncated
      return buf.subarray(0, Math.floor(rnd() * buf.length));
    case 2: // bit flips
      for (let i = 0; i < 1 + rnd() * 20; i++) buf[Math.floor(rnd() * buf.length)] ^= 1 << Math.floor(rnd() * 8);
      return buf;
    case 3: {
      // a line duplicated many times / huge header
      const text = buf.toString('latin1');
      const lines = text.split('\r\n');
      const i = 1 + Math.floor(rnd() * (lines.length - 3));
      lines.splice(i, 0, ...Array.from({ length: 1 + Math.floor(rnd() * 40) }, () => lines[i]));
      return Buffer.from(lines.join('\r\n'), 'latin1');
    }
    case 4: {
      // special characters in random positions
      const specials = ['\0', '<', '>', ';', ',', '"', ':', '\r', '\n', ' ', '\t', '%', '\\', '[', ']', '\u00ff'];
      const text = buf.toString('latin1').split('');
      for (let i = 0; i < 1 + rnd() * 10; i++) text.splice(Math.floor(rnd() * text.length), 0, specials[Math.floor(rnd() * specials.length)]);
      return Buffer.from(text.join(''), 'latin1');
    }
    default: {
      // numbers out of range
      return Buffer.from(
        buf
          .toString('latin1')
          .replace(/CSeq: \d+/, `CSeq: ${['99999999999999999999', '-1', '4294967296', ''][Math.floor(rnd() * 4)]}`)
          .replace(/Max-Forwards: \d+/, `Max-Forwards: ${['256', '-5', 'abc', '70 70'][Math.floor(rnd() * 4)]}`)
          .replace(/Content-Length: \d+/, `Content-Length: ${['999999999', '-3', '1e3', '0x10'][Math.floor(rnd() * 4)]}`),
        'latin1',
      );
    }
  }
}

describe('robustness: garbage never crashes the server', () => {
  test('200 random and mutated UDP datagrams, then OPTIONS still gets 200', async () => {
    const c = await client('udp');
    try {
      const rnd = prng(0x5eed);
      const base = c.build({
        method: 'SUBSCRIBE',
        uri: 'sip:fuzz@example.com',
        contact: c.contactUri(),
        headers: [['Event', 'presence'], ['Expires', '0'], ['Accept', 'application/pidf+xml']],
      }).bytes;
      for (let i = 0; i < 200; i++) {
        c.sendRaw(mutate(base, rnd));
        if (i % 20 === 19) await new Promise((r) => setImmediate(r));
      }
      await assertAlive(c);
    } finally {
      await c.close();
    }
  });

  test('garbage on a TCP connection: the server answers or closes it, and new connections work', async () => {
    const rnd = prng(42);
    for (let i = 0; i < 5; i++) {
      const c = await client('tcp');
      try {
        const base = c.build(options(c)).bytes;
        c.sendRaw(mutate(base, rnd));
        c.sendRaw(Buffer.from(Array.from({ length: 300 }, () => Math.floor(rnd() * 256))));
      } finally {
        await c.close();
      }
    }
    const c = await client('tcp');
    try {
      await assertAlive(c);
    } finally {
      await c.close();
    }
  });
});

async function ipv6Available(): Promise<boolean> {
  const s = dgram.createSocket('udp6');
  try {
    s.bind(0, '::1');
    await once(s, 'listening');
    const t = net.createServer();
    t.listen(0, '::1');
    await once(t, 'listening');
    await new Promise<void>((r) => t.close(() => r()));
    return true;
  } catch {
    return false;
  } finally {
    try {
      s.close();
    } catch {
      // already closed
    }
  }
}

describe('IPv6 listeners', async () => {
  const available = await ipv6Available();
  test('OPTIONS over UDP and TCP on [::1]', { skip: available ? false : '::1 is not available on this machine' }, async () => {
    const v6 = await startTestServer({}, { ipv6: true });
    try {
      for (const transport of TRANSPORTS) {
        const c = await SipTestClient.open({ transport, serverPort: v6.port(transport), serverHost: '::1' });
        try {
          const built = c.send(options(c));
          const got = await c.waitReceivedResponse(built.branch);
          assert.equal(got.response.status, 200);
          assert.equal(got.remote.address, '::1');
        } finally {
          await c.close();
        }
      }
    } finally {
      await v6.stop();
    }
  });
});

describe('PUBLISH reaches the core over both transports', () => {
  test('a PUBLISH over TCP gets 200 with SIP-ETag', async () => {
    const c = await client('tcp');
    try {
      const aor = 'sip:tcp-publisher@example.com';
      const res = await publish(c, { aor, body: pidf(aor, 't1', 'open'), expires: 120 });
      assert.equal(res.status, 200);
      assert.ok(res.headers.get('SIP-ETag'));
    } finally {
      await c.close();
    }
  });
});
