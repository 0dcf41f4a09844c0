/**
 * Micro-benchmark of the SIP syntax layer (src/sip). Run: npx tsx bench/parse-bench.ts [seconds-per-case]
 * Each case runs a bounded loop for a fixed time on one core and prints messages per second as a
 * Markdown table row, ready for BENCHMARKS.md. Results are checked so the work cannot be optimised away.
 */
import {
  SipParseError,
  createRequest,
  parseMessage,
  serializeMessage,
  validateRequest,
  type SipRequest,
} from '../src/sip/index.js';
import { publishBytes, subscribeBytes, PIDF } from '../test/unit/sip/helpers.js';

const seconds = Number(process.argv[2] ?? '2');
const MAX_ITERATIONS = 50_000_000;

interface Result {
  name: string;
  bytes: number;
  ops: number;
  perSec: number;
  nsPerOp: number;
}

function run(name: string, bytes: number, fn: () => number): Result {
  // Warm-up so the JIT has settled before timing.
  let sink = 0;
  for (let i = 0; i < 20_000; i++) sink += fn();
  const deadline = process.hrtime.bigint() + BigInt(Math.round(seconds * 1e9));
  const t0 = process.hrtime.bigint();
  let ops = 0;
  while (ops < MAX_ITERATIONS) {
    for (let i = 0; i < 1000; i++) sink += fn();
    ops += 1000;
    if (process.hrtime.bigint() >= deadline) break;
  }
  const ns = Number(process.hrtime.bigint() - t0);
  if (sink === 0) throw new Error('benchmark produced nothing');
  return { name, bytes, ops, perSec: (ops * 1e9) / ns, nsPerOp: ns / ops };
}

function mustRequest(data: Buffer): SipRequest {
  const m = parseMessage(data);
  if (m instanceof SipParseError || m.kind !== 'request') throw new Error('bench message does not parse');
  return m;
}

const publish = publishBytes();
const subscribe = subscribeBytes();
mustRequest(publish);

const notify = createRequest(
  'NOTIFY',
  'sip:w42@127.0.0.1:5062;transport=udp',
  [
    ['Via', 'SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK-n-42;rport'],
    ['Max-Forwards', '70'],
    ['From', '<sip:u42@example.com>;tag=srv42'],
    ['To', '"Watcher 42" <sip:w42@example.com>;tag=77W42'],
    ['Call-ID', '42-77@127.0.0.1'],
    ['CSeq', '2 NOTIFY'],
    ['Contact', '<sip:presence@127.0.0.1:5060>'],
    ['Event', 'presence'],
    ['Subscription-State', 'active;expires=3599'],
    ['Content-Type', 'application/pidf+xml'],
  ],
  Buffer.from(PIDF, 'utf8'),
);

const BAD = Buffer.from('OPTIONS sip:a@b SIP/2.0\r\nVia: x\r\n');

const results: Result[] = [
  run('parse + validateRequest, PUBLISH with PIDF body', publish.length, () => {
    const m = parseMessage(publish) as SipRequest;
    const core = validateRequest(m);
    return core instanceof SipParseError ? 0 : core.cseq.seq;
  }),
  run('parse + validateRequest, SUBSCRIBE', subscribe.length, () => {
    const m = parseMessage(subscribe) as SipRequest;
    const core = validateRequest(m);
    return core instanceof SipParseError ? 0 : core.cseq.seq;
  }),
  run('parseMessage only, PUBLISH', publish.length, () => {
    const m = parseMessage(publish);
    return m instanceof SipParseError ? 0 : 1;
  }),
  run('serializeMessage, NOTIFY with PIDF body', serializeMessage(notify).length, () => serializeMessage(notify).length),
  run('parse, rejected (missing empty line)', 40, () => {
    const m = parseMessage(BAD);
    return m instanceof SipParseError ? 1 : 0;
  }),
];


console.log(`sip parser micro-benchmark: Node ${process.version}, ${seconds} s per case, one core`);
console.log('');
console.log('| case | bytes | msgs/s | ns/msg |');
console.log('| --- | ---: | ---: | ---: |');
for (const r of results) {
  console.log(`| ${r.name} | ${r.bytes} | ${Math.round(r.perSec).toLocaleString('en-US')} | ${Math.round(r.nsPerOp)} |`);
}
