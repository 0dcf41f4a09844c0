/**
 * Transport + transaction layers on real sockets (127.0.0.1, and ::1 when the host has IPv6).
 * RFC 3261 §18 framing and response routing, RFC 3581 rport, RFC 5626 keep-alives, connection limits.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect, createServer, type Socket } from 'node:net';
import { once } from 'node:events';
import { pino } from 'pino';
import {
  createRequest,
  createResponse,
  parseMessage,
  parseVia,
  SipParseError,
  StreamFramer,
  type SipMessage,
  type SipResponse,
} from '../../src/sip/index.js';
import { TransportLayer, type TransportOptions } from '../../src/transport/index.js';
import { TransactionLayer, type ServerTransaction } from '../../src/transaction/index.js';

const logger = pino({ level: 'silent' });
const LIMIT_MS = 3000;

/** Rejects after LIMIT_MS so a broken behaviour fails the test instead of hanging it. */
function within<T>(p: Promise<T>, what: string, limitMs = LIMIT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), limitMs);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

interface Server {
  transport: TransportLayer;
  layer: TransactionLayer;
  seen: ServerTransaction[];
  udpPort: number;
  tcpPort: number;
}

async function startServer(host = '127.0.0.1', extra: Partial<TransportOptions> = {}): Promise<Server> {
  const transport = new TransportLayer({
    listen: [
      { transport: 'udp', host, port: 0 },
      { transport: 'tcp', host, port: 0 },
    ],
    logger,
    ...extra,
  });
  const seen: ServerTransaction[] = [];
  const layer = new TransactionLayer(
    transport,
    {
      onRequest(tx) {
        seen.push(tx);
        // Call-IDs starting "late-" are answered by the test itself.
        if (tx.request.method === 'SUBSCRIBE' && !tx.core.callId.startsWith('late-')) {
          tx.respond(createResponse(tx.request, tx.core, 202, { toTag: 'srv', headers: [['Expires', '600']] }));
        }
      },
    },
    { logger, serverHeader: 'presenced-test', supported: [] },
  );
  await transport.start();
  const addrs = transport.addresses();
  const udpPort = addrs.find((a) => a.protocol === 'udp')?.port ?? 0;
  const tcpPort = addrs.find((a) => a.protocol === 'tcp')?.port ?? 0;
  assert.ok(udpPort > 0 && tcpPort > 0, 'port 0 gives bound ports');
  return { transport, layer, seen, udpPort, tcpPort };
}

async function stopServer(s: Server): Promise<void> {
  s.layer.stop();
  await s.transport.stop();
}

let branchSeq = 0;
function subscribe(opts: { transport: 'UDP' | 'TCP'; sentBy: string; rport?: boolean; callId?: string; body?: string }): string {
  const body = opts.body ?? '';
  return (
    `SUBSCRIBE sip:bob@example.com SIP/2.0\r\n` +
    `Via: SIP/2.0/${opts.transport} ${opts.sentBy};branch=z9hG4bK-it-${++branchSeq}${opts.rport === true ? ';rport' : ''}\r\n` +
    `Max-Forwards: 70\r\nFrom: <sip:alice@example.com>;tag=a${branchSeq}\r\nTo: <sip:bob@example.com>\r\n` +
    `Call-ID: ${opts.callId ?? `it-${branchSeq}`}\r\nCSeq: 1 SUBSCRIBE\r\nEvent: presence\r\n` +
    `Contact: <sip:alice@${opts.sentBy}>\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
  );
}

/** A UDP client collecting parsed messages. */
class UdpClient {
  readonly socket: UdpSocket;
  readonly messages: SipMessage[] = [];
  readonly raw: Buffer[] = [];
  #waiters: Array<() => void> = [];

  private constructor(socket: UdpSocket) {
    this.socket = socket;
    socket.on('message', (data) => {
      this.raw.push(data);
      const m = parseMessage(data);
      if (!(m instanceof SipParseError)) this.messages.push(m);
      for (const w of this.#waiters.splice(0)) w();
    });
  }

  static async open(host = '127.0.0.1'): Promise<UdpClient> {
    const socket = createSocket({ type: host.includes(':') ? 'udp6' : 'udp4' });
    socket.bind(0, host);
    await once(socket, 'listening');
    return new UdpClient(socket);
  }

  get port(): number {
    return this.socket.address().port;
  }

  send(text: string | Buffer, port: number, host = '127.0.0.1'): void {
    this.socket.send(typeof text === 'string' ? Buffer.from(text) : text, port, host);
  }

  async waitRaw(n: number): Promise<Buffer> {
    await within(
      (async () => {
        while (this.raw.length < n) await new Promise<void>((r) => this.#waiters.push(r));
      })(),
      `${n} datagram(s)`,
    );
    return this.raw[n - 1];
  }

  async waitMessage(n: number): Promise<SipMessage> {
    await within(
      (async () => {
        while (this.messages.length < n) await new Promise<void>((r) => this.#waiters.push(r));
      })(),
      `${n} message(s)`,
    );
    return this.messages[n - 1];
  }

  close(): void {
    this.socket.close();
  }
}

/** A TCP client framing what it reads, keeping pongs and close state. */
class TcpClient {
  readonly socket: Socket;
  readonly messages: SipMessage[] = [];
  pongs = 0;
  closed = false;
  readonly #framer = new StreamFramer({ maxMessageSize: 1 << 20 });
  #waiters: Array<() => void> = [];

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (chunk) => {
      this.#framer.push(chunk);
      for (let ev = this.#framer.next(); ev !== undefined; ev = this.#framer.next()) {
        if (ev.kind === 'message') {
          const m = parseMessage(ev.data);
          if (!(m instanceof SipParseError)) this.messages.push(m);
        } else if (ev.kind === 'pong') this.pongs++;
      }
      this.#wake();
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      this.closed = true;
      this.#wake();
    });
  }

  #wake(): void {
    for (const w of this.#waiters.splice(0)) w();
  }

  static adopt(socket: Socket): TcpClient {
    return new TcpClient(socket);
  }

  static async open(port: number, host = '127.0.0.1'): Promise<TcpClient> {
    const socket = connect({ port, host, noDelay: true });
    await within(once(socket, 'connect'), 'tcp connect');
    return new TcpClient(socket);
  }

  get localPort(): number {
    return this.socket.localPort ?? 0;
  }

  async until(cond: () => boolean, what: string): Promise<void> {
    await within(
      (async () => {
        while (!cond()) await new Promise<void>((r) => this.#waiters.push(r));
      })(),
      what,
    );
  }

  async waitMessage(n: number): Promise<SipMessage> {
    await this.until(() => this.messages.length >= n, `${n} tcp message(s)`);
    return this.messages[n - 1];
  }

  async waitClosed(): Promise<void> {
    await this.until(() => this.closed, 'connection close');
  }

  destroy(): void {
    this.socket.destroy();
  }
}

function asResponse(m: SipMessage): SipResponse {
  assert.equal(m.kind, 'response');
  return m as SipResponse;
}

describe('UDP on 127.0.0.1', () => {
  let s: Server;
  before(async () => {
    s = await startServer();
  });
  after(async () => {
    await stopServer(s);
  });

  test('with rport the response goes to the source port, with received and rport filled in (RFC 3581)', async () => {
    const c = await UdpClient.open();
    try {
      // sent-by names port 9 (discard): only rport routing can reach the client.
      c.send(subscribe({ transport: 'UDP', sentBy: '127.0.0.1:9', rport: true }), s.udpPort);
      const r = asResponse(await c.waitMessage(1));
      assert.equal(r.status, 202);
      const via = parseVia(r.headers.get('via') ?? '');
      assert.ok(!(via instanceof SipParseError));
      assert.equal(via.rport, c.port);
      assert.equal(via.received, '127.0.0.1');
      assert.equal(r.headers.get('server'), 'presenced-test');
    } finally {
      c.close();
    }
  });

  test('without rport the response goes to the sent-by port (§18.2.2)', async () => {
    const c = await UdpClient.open();
    try {
      c.send(subscribe({ transport: 'UDP', sentBy: `127.0.0.1:${c.port}` }), s.udpPort);
      assert.equal(asResponse(await c.waitMessage(1)).status, 202);
    } finally {
      c.close();
    }
  });

  test('an unparsable request with a readable Via is answered 400; CRLF keep-alives are ignored', async () => {
    const c = await UdpClient.open();
    try {
      const before = s.transport.stats();
      c.send('\r\n\r\n', s.udpPort);
      const bad = subscribe({ transport: 'UDP', sentBy: `127.0.0.1:${c.port}` }).replace(
        'Event: presence\r\n',
        'Event: presence\r\nNo colon here\r\n',
      );
      c.send(bad, s.udpPort);
      const r = asResponse(await c.waitMessage(1));
      assert.equal(r.status, 400);
      const after = s.transport.stats();
      assert.equal(after.keepalivesIn - before.keepalivesIn, 1);
      assert.equal(after.parseErrors - before.parseErrors, 1);
    } finally {
      c.close();
    }
  });

  test('a STUN Binding request is answered (RFC 5626 §3.5.2)', async () => {
    const c = await UdpClient.open();
    try {
      const req = Buffer.alloc(20);
      req.writeUInt16BE(1, 0);
      req.writeUInt32BE(0x2112a442, 4);
      req.fill(7, 8);
      c.send(req, s.udpPort);
      const res = await c.waitRaw(1);
      assert.equal(res.readUInt16BE(0), 0x0101);
      assert.equal(res.readUInt16BE(26) ^ 0x2112, c.port);
    } finally {
      c.close();
    }
  });

  test('an oversized datagram is dropped and counted, answered 413 when its head parses', async () => {
    const small = await startServer('127.0.0.1', { maxMessageSize: 1024 });
    const c = await UdpClient.open();
    try {
      c.send(subscribe({ transport: 'UDP', sentBy: `127.0.0.1:${c.port}`, body: 'x'.repeat(2000) }), small.udpPort);
      const r = asResponse(await c.waitMessage(1));
      assert.equal(r.status, 413);
      assert.equal(small.transport.stats().droppedOversize, 1);
      assert.equal(small.seen.length, 0);
    } finally {
      c.close();
      await stopServer(small);
    }
  });

  test('datagrams of one turn leave together and in order; one that fails does not hold back the others', async () => {
    const c = await UdpClient.open();
    try {
      const dest = { protocol: 'udp' as const, address: '127.0.0.1', port: c.port };
      const errorsBefore = s.transport.stats().sendErrors;
      for (let i = 0; i < 20; i++) s.transport.post(Buffer.from(`datagram ${i}`), dest);
      // Larger than any UDP datagram: the kernel refuses it (EMSGSIZE) when the queue is flushed.
      const tooBig = s.transport.send(Buffer.alloc(70_000, 0x41), dest);
      for (let i = 20; i < 40; i++) s.transport.post(Buffer.from(`datagram ${i}`), dest);
      await assert.rejects(within(tooBig, 'the oversized send to fail'));
      await c.waitRaw(40);
      assert.deepEqual(
        c.raw.map((b) => b.toString()),
        Array.from({ length: 40 }, (_, i) => `datagram ${i}`),
      );
      assert.equal(s.transport.stats().sendErrors, errorsBefore + 1);
    } finally {
      c.close();
    }
  });

  test('sendRequest over UDP: the client answers 200 and the outcome resolves', async () => {
    const c = await UdpClient.open();
    try {
      const p = s.layer.sendRequest(
        createRequest('NOTIFY', `sip:alice@127.0.0.1:${c.port}`, [
          ['From', '<sip:bob@example.com>;tag=srv'],
          ['To', '<sip:alice@example.com>;tag=cli'],
          ['Call-ID', 'udp-notify'],
          ['CSeq', '1 NOTIFY'],
          ['Event', 'presence'],
          ['Subscription-State', 'active;expires=60'],
        ]),
        { protocol: 'udp', address: '127.0.0.1', port: c.port },
      );
      const notify = await c.waitMessage(1);
      assert.equal(notify.kind, 'request');
      const via = notify.headers.get('via') ?? '';
      assert.match(via, new RegExp(`^SIP/2\\.0/UDP 127\\.0\\.0\\.1:${s.udpPort};branch=z9hG4bK[^;]+;rport$`));
      const res = `SIP/2.0 200 OK\r\nVia: ${via}\r\nFrom: <sip:bob@example.com>;tag=srv\r\nTo: <sip:alice@example.com>;tag=cli\r\nCall-ID: udp-notify\r\nCSeq: 1 NOTIFY\r\nContent-Length: 0\r\n\r\n`;
      c.send(res, s.udpPort);
      const outcome = await within(p, 'NOTIFY outcome');
      assert.equal(outcome.status, 200);
    } finally {
      c.close();
    }
  });
});

describe('TCP on 127.0.0.1', () => {
  let s: Server;
  before(async () => {
    s = await startServer('127.0.0.1', { maxMessageSize: 4096, maxConnectionsPerSource: 50 });
  });
  after(async () => {
    await stopServer(s);
  });

  test('two messages in one segment get two responses on the same connection', async () => {
    const c = await TcpClient.open(s.tcpPort);
    try {
      const sentBy = `127.0.0.1:${c.localPort}`;
      c.socket.write(subscribe({ transport: 'TCP', sentBy }) + subscribe({ transport: 'TCP', sentBy }));
      const a = asResponse(await c.waitMessage(1));
      const b = asResponse(await c.waitMessage(2));
      assert.equal(a.status, 202);
      assert.equal(b.status, 202);
      assert.notEqual(a.headers.get('call-id'), b.headers.get('call-id'));
    } finally {
      c.destroy();
    }
  });

  test('one message split over many writes is reassembled', async () => {
    const c = await TcpClient.open(s.tcpPort);
    try {
      const msg = Buffer.from(subscribe({ transport: 'TCP', sentBy: `127.0.0.1:${c.localPort}`, body: 'hello body' }));
      for (let i = 0; i < msg.length; i += 7) {
        c.socket.write(msg.subarray(i, i + 7));
        await new Promise((r) => setImmediate(r));
      }
      assert.equal(asResponse(await c.waitMessage(1)).status, 202);
      const tx = s.seen.at(-1);
      assert.equal(tx?.request.body.toString(), 'hello body');
      assert.equal(tx?.inbound.remote.protocol, 'tcp');
      assert.equal(tx?.inbound.remote.port, c.localPort);
      assert.ok(tx?.inbound.flowId);
    } finally {
      c.destroy();
    }
  });

  test('a CRLFCRLF ping is answered with CRLF (RFC 5626 §3.5.1)', async () => {
    const c = await TcpClient.open(s.tcpPort);
    try {
      c.socket.write('\r\n\r\n');
      await c.until(() => c.pongs === 1, 'pong');
      assert.equal(c.pongs, 1);
    } finally {
      c.destroy();
    }
  });

  test('an oversized message is answered 413 and the connection closed', async () => {
    const c = await TcpClient.open(s.tcpPort);
    try {
      const head = subscribe({ transport: 'TCP', sentBy: `127.0.0.1:${c.localPort}` }).replace(
        'Content-Length: 0',
        'Content-Length: 100000',
      );
      c.socket.write(head);
      const r = asResponse(await c.waitMessage(1));
      assert.equal(r.status, 413);
      assert.equal(r.headers.has('connection'), false);
      await c.waitClosed();
    } finally {
      c.destroy();
    }
  });

  test('a missing Content-Length on a stream is answered 400 and the connection closed (§18.3)', async () => {
    const c = await TcpClient.open(s.tcpPort);
    try {
      c.socket.write(subscribe({ transport: 'TCP', sentBy: `127.0.0.1:${c.localPort}` }).replace('Content-Length: 0\r\n', ''));
      const r = asResponse(await c.waitMessage(1));
      assert.equal(r.status, 400);
      assert.match(r.reason, /Content-Length/);
      await c.waitClosed();
    } finally {
      c.destroy();
    }
  });

  test('sendRequest over the subscriber flow reuses its connection', async () => {
    const c = await TcpClient.open(s.tcpPort);
    try {
      c.socket.write(subscribe({ transport: 'TCP', sentBy: `127.0.0.1:${c.localPort}`, callId: 'flow-reuse' }));
      await c.waitMessage(1);
      const tx = s.seen.find((t) => t.core.callId === 'flow-reuse');
      assert.ok(tx?.inbound.flowId);
      const accepted = s.transport.stats().tcpConnectionsOutbound;
      const p = s.layer.sendRequest(
        createRequest('NOTIFY', 'sip:alice@127.0.0.1:1', [
          ['From', '<sip:bob@example.com>;tag=srv'],
          ['To', '<sip:alice@example.com>;tag=a'],
          ['Call-ID', 'flow-reuse'],
          ['CSeq', '1 NOTIFY'],
          ['Event', 'presence'],
          ['Subscription-State', 'active;expires=600'],
        ]),
        // Port 1 is closed: only the flow can deliver this.
        { protocol: 'tcp', address: '127.0.0.1', port: 1, flowId: tx.inbound.flowId },
      );
      const notify = await c.waitMessage(2);
      assert.equal(notify.kind, 'request');
      const via = notify.headers.get('via') ?? '';
      assert.match(via, /^SIP\/2\.0\/TCP 127\.0\.0\.1:\d+;branch=z9hG4bK/);
      c.socket.write(
        `SIP/2.0 200 OK\r\nVia: ${via}\r\nFrom: <sip:bob@example.com>;tag=srv\r\nTo: <sip:alice@example.com>;tag=a\r\n` +
          `Call-ID: flow-reuse\r\nCSeq: 1 NOTIFY\r\nContent-Length: 0\r\n\r\n`,
      );
      const outcome = await within(p, 'NOTIFY outcome');
      assert.equal(outcome.status, 200);
      assert.equal(s.transport.stats().tcpConnectionsOutbound, accepted, 'no new connection was opened');
    } finally {
      c.destroy();
    }
  });

  test('sendRequest to a closed TCP port resolves 503 transport-error', async () => {
    const outcome = await within(
      s.layer.sendRequest(
        createRequest('NOTIFY', 'sip:alice@127.0.0.1:1', [
          ['From', '<sip:bob@example.com>;tag=srv'],
          ['To', '<sip:alice@example.com>;tag=a'],
          ['Call-ID', 'refused'],
          ['CSeq', '1 NOTIFY'],
        ]),
        { protocol: 'tcp', address: '127.0.0.1', port: 1 },
      ),
      'outcome',
    );
    assert.deepEqual(outcome, { status: 503, response: undefined, localReason: 'transport-error' });
  });

  test('flow-closed handlers hear about a closed connection', async () => {
    const closed: string[] = [];
    s.transport.onFlowClosed((id) => closed.push(id));
    const c = await TcpClient.open(s.tcpPort);
    c.socket.write(subscribe({ transport: 'TCP', sentBy: `127.0.0.1:${c.localPort}`, callId: 'flow-close' }));
    await c.waitMessage(1);
    const flowId = s.seen.find((t) => t.core.callId === 'flow-close')?.inbound.flowId ?? '';
    assert.equal(s.transport.hasFlow(flowId), true);
    c.destroy();
    await within(
      (async () => {
        while (!closed.includes(flowId)) await new Promise((r) => setTimeout(r, 10));
      })(),
      'flow close notification',
      6000,
    );
    assert.equal(s.transport.hasFlow(flowId), false);
  });
});

describe('TCP connections we open', () => {
  let s: Server;
  before(async () => {
    s = await startServer();
  });
  after(async () => {
    await stopServer(s);
  });

  /** A peer listening on TCP; resolves its accepted sockets as TcpClient-like readers. */
  async function peer(): Promise<{ port: number; accepted: Promise<TcpClient>; close(): void }> {
    let resolve: (c: TcpClient) => void = () => {};
    const accepted = new Promise<TcpClient>((r) => (resolve = r));
    const server = createServer((sock) => resolve(TcpClient.adopt(sock)));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const addr = server.address();
    assert.ok(addr !== null && typeof addr === 'object');
    return {
      port: addr.port,
      accepted,
      close: () => {
        server.close();
      },
    };
  }

  test('sendRequest without a flow opens a connection and reads the response on it', async () => {
    const p = await peer();
    try {
      const outcome = s.layer.sendRequest(
        createRequest('NOTIFY', `sip:alice@127.0.0.1:${p.port};transport=tcp`, [
          ['From', '<sip:bob@example.com>;tag=srv'],
          ['To', '<sip:alice@example.com>;tag=a'],
          ['Call-ID', 'outbound-1'],
          ['CSeq', '1 NOTIFY'],
        ]),
        { protocol: 'tcp', address: '127.0.0.1', port: p.port },
      );
      const conn = await within(p.accepted, 'inbound connection at the peer');
      const notify = await conn.waitMessage(1);
      const via = notify.headers.get('via') ?? '';
      assert.match(via, new RegExp(`^SIP/2\\.0/TCP 127\\.0\\.0\\.1:${s.tcpPort};`), 'sent-by is our TCP listener');
      conn.socket.write(
        `SIP/2.0 200 OK\r\nVia: ${via}\r\nFrom: <sip:bob@example.com>;tag=srv\r\nTo: <sip:alice@example.com>;tag=a\r\n` +
          `Call-ID: outbound-1\r\nCSeq: 1 NOTIFY\r\nContent-Length: 0\r\n\r\n`,
      );
      assert.equal((await within(outcome, 'outcome')).status, 200);
      assert.equal(s.transport.stats().tcpConnectionsOutbound, 1);
      conn.destroy();
    } finally {
      p.close();
    }
  });

  test('a response whose connection has closed goes over a new connection to the sent-by port (§18.2.2)', async () => {
    const p = await peer();
    try {
      const c = await TcpClient.open(s.tcpPort);
      c.socket.write(subscribe({ transport: 'TCP', sentBy: `127.0.0.1:${p.port}`, callId: 'late-1' }));
      await within(
        (async () => {
          while (!s.seen.some((t) => t.core.callId === 'late-1')) await new Promise((r) => setTimeout(r, 5));
        })(),
        'request at the TU',
      );
      c.destroy();
      const tx = s.seen.find((t) => t.core.callId === 'late-1');
      assert.ok(tx);
      await within(
        (async () => {
          while (s.transport.hasFlow(tx.inbound.flowId ?? '')) await new Promise((r) => setTimeout(r, 10));
        })(),
        'flow closed',
        6000,
      );
      tx.respond(createResponse(tx.request, tx.core, 202, { toTag: 'late' }));
      const conn = await within(p.accepted, 'new connection to sent-by');
      const r = asResponse(await conn.waitMessage(1));
      assert.equal(r.status, 202);
      assert.equal(r.headers.get('call-id'), 'late-1');
      conn.destroy();
    } finally {
      p.close();
    }
  });
});

describe('TCP limits', () => {
  test('an idle connection is closed after tcpIdleTimeoutMs', async () => {
    const s = await startServer('127.0.0.1', { tcpIdleTimeoutMs: 150 });
    try {
      const c = await TcpClient.open(s.tcpPort);
      await c.waitClosed();
      assert.equal(s.transport.stats().tcpIdleClosed, 1);
    } finally {
      await stopServer(s);
    }
  });

  test('connections beyond maxConnectionsPerSource are refused and counted', async () => {
    const s = await startServer('127.0.0.1', { maxConnectionsPerSource: 2 });
    const clients: TcpClient[] = [];
    try {
      for (let i = 0; i < 2; i++) clients.push(await TcpClient.open(s.tcpPort));
      // Make sure both were accepted before the third connects.
      for (const c of clients) {
        c.socket.write('\r\n\r\n');
        await c.until(() => c.pongs === 1, 'pong');
      }
      const third = await TcpClient.open(s.tcpPort);
      clients.push(third);
      await third.waitClosed();
      assert.equal(s.transport.stats().tcpConnectionsRefused, 1);
      assert.equal(clients[0].closed, false);
      assert.equal(s.transport.stats().tcpConnectionsOpen, 2);
    } finally {
      for (const c of clients) c.destroy();
      await stopServer(s);
    }
  });

  test('a peer that does not read is disconnected once its write buffer passes the bound', async () => {
    const s = await startServer('127.0.0.1', { maxWriteBuffer: 64 * 1024 });
    const c = await TcpClient.open(s.tcpPort);
    try {
      c.socket.write(subscribe({ transport: 'TCP', sentBy: `127.0.0.1:${c.localPort}`, callId: 'slow' }));
      await c.waitMessage(1);
      c.socket.pause();
      const flowId = s.seen.find((t) => t.core.callId === 'slow')?.inbound.flowId;
      assert.ok(flowId);
      const chunk = Buffer.alloc(32 * 1024, 0x41);
      let rejected = false;
      // Kernel buffers absorb a few MiB first; the bound is per connection, so this ends well before 64 MiB.
      // Sends are not awaited: a write resolves only once flushed, which a paused reader never allows.
      for (let i = 0; i < 2048 && !rejected; i++) {
        s.transport.send(chunk, { protocol: 'tcp', address: '127.0.0.1', port: c.localPort, flowId }).catch(() => {
          rejected = true;
        });
        if (i % 16 === 0) await new Promise((r) => setImmediate(r));
      }
      await new Promise((r) => setImmediate(r));
      assert.equal(rejected, true);
      assert.equal(s.transport.stats().tcpOverflowClosed, 1);
    } finally {
      c.destroy();
      await stopServer(s);
    }
  });
});

async function ipv6Available(): Promise<boolean> {
  const sock = createSocket({ type: 'udp6', ipv6Only: true });
  try {
    await new Promise<void>((resolve, reject) => {
      sock.once('error', reject);
      sock.bind(0, '::1', () => resolve());
    });
    return true;
  } catch {
    return false;
  } finally {
    try {
      sock.close();
    } catch {
      /* not bound */
    }
  }
}

describe('IPv6 (::1)', async () => {
  const available = await ipv6Available();

  test('UDP with rport over ::1, next to an IPv4 listener on the same port', { skip: !available && 'IPv6 unavailable' }, async () => {
    const v6 = await startServer('::1');
    // IPv6-only sockets: 127.0.0.1 can share the port number.
    const v4 = new TransportLayer({ listen: [{ transport: 'udp', host: '127.0.0.1', port: v6.udpPort }], logger });
    await v4.start();
    const c = await UdpClient.open('::1');
    try {
      c.send(subscribe({ transport: 'UDP', sentBy: '[::1]:9', rport: true }), v6.udpPort, '::1');
      const r = asResponse(await c.waitMessage(1));
      assert.equal(r.status, 202);
      const via = parseVia(r.headers.get('via') ?? '');
      assert.ok(!(via instanceof SipParseError));
      assert.equal(via.rport, c.port);
      assert.equal(via.received, '::1');
      assert.deepEqual(
        v4.addresses().map((a) => a.port),
        [v6.udpPort],
      );
    } finally {
      c.close();
      await v4.stop();
      await stopServer(v6);
    }
  });

  test('TCP over ::1', { skip: !available && 'IPv6 unavailable' }, async () => {
    const v6 = await startServer('::1');
    const c = await TcpClient.open(v6.tcpPort, '::1');
    try {
      c.socket.write(subscribe({ transport: 'TCP', sentBy: `[::1]:${c.localPort}` }));
      assert.equal(asResponse(await c.waitMessage(1)).status, 202);
      assert.equal(v6.seen[0].inbound.remote.address, '::1');
    } finally {
      c.destroy();
      await stopServer(v6);
    }
  });
});
