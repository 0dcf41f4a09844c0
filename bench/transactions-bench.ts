/**
 * Server transaction cost: N distinct SUBSCRIBEs (UDP, rport) through the transaction layer with a TU
 * answering 200 at once, all left in Completed (Timer J) — the steady state of a loaded UDP server.
 * Reports time per request (parse + validate + match + respond + serialize) and heap per live transaction.
 * Run: node --expose-gc --import tsx bench/transactions-bench.ts [N]
 */
import { pino } from 'pino';
import { createResponse, parseMessage, SipParseError } from '../src/sip/index.js';
import { ManualClock, TransactionLayer, type TransactionTransport } from '../src/transaction/index.js';
import type { InboundContext, MessageHandler } from '../src/transport/index.js';

const N = Number(process.argv[2] ?? 100_000);

let deliver: MessageHandler = () => {};
let sentBytes = 0;
const transport: TransactionTransport = {
  onMessage(h) {
    deliver = h;
  },
  onParseError() {},
  send(data) {
    sentBytes += data.length;
    return Promise.resolve();
  },
  post(data) {
    sentBytes += data.length;
  },
  localSentBy: (d) => ({ protocol: d.protocol, host: '127.0.0.1', port: 5060 }),
};
const clock = new ManualClock();
const layer = new TransactionLayer(
  transport,
  { onRequest: (tx) => tx.respond(createResponse(tx.request, tx.core, 200, { toTag: 'srv1' })) },
  { clock, logger: pino({ level: 'silent' }), serverHeader: 'presenced/0.1', supported: [] },
);

const datagrams = Array.from({ length: N }, (_, i) =>
  Buffer.from(
    `SUBSCRIBE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;rport;branch=z9hG4bK-b${i}\r\n` +
      `Max-Forwards: 70\r\nFrom: <sip:alice@example.com>;tag=f${i}\r\nTo: <sip:bob@example.com>\r\n` +
      `Call-ID: c${i}@127.0.0.1\r\nCSeq: 1 SUBSCRIBE\r\nContact: <sip:alice@127.0.0.1:5070>\r\nEvent: presence\r\n` +
      `Expires: 600\r\nContent-Length: 0\r\n\r\n`,
  ),
);
const inbound: InboundContext = {
  remote: { protocol: 'udp', address: '127.0.0.1', port: 40000 },
  localAddress: '127.0.0.1',
  localPort: 5060,
  flowId: undefined,
  receivedAt: 0,
};

function heap(): number {
  globalThis.gc?.();
  return process.memoryUsage().heapUsed;
}

const h0 = heap();
const t0 = performance.now();
for (let i = 0; i < N; i++) {
  const msg = parseMessage(datagrams[i]);
  if (msg instanceof SipParseError) throw new Error(msg.message);
  deliver(msg, inbound);
}
const t1 = performance.now();
const h1 = heap();
const live = layer.stats().serverTransactions;
console.log(
  `${N} SUBSCRIBE -> 200: ${(((t1 - t0) / N) * 1000).toFixed(1)} us/request including parse; ` +
    `${live} live in Completed, heap ${((h1 - h0) / live).toFixed(0)} bytes per transaction; ` +
    `${(sentBytes / N).toFixed(0)} response bytes each`,
);
clock.advance(32_000);
console.log(`after Timer J: ${layer.stats().serverTransactions} live`);
layer.stop();
