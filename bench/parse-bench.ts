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

const seconds = Number(process.argv[2] ?? '2.5');
const MAX_ITERATIONS = 50_000_000;

interface Result {
  name: string;
  bytes: number;
  /** Messages per second of the best and the median round. */
  best: number;
  median: number;
}

const ROUNDS = 5;

/**
 * Runs fn in ROUNDS timed rounds after a warm-up. The best round estimates the cost on an idle core;
 * the median shows how much a shared machine disturbed the run.
 */
function run(name: string, bytes: number, fn: () => number): Result {
  let sink = 0;
  for (let i = 0; i < 20_000; i++) sink += fn();
  const rates: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const deadline = process.hrtime.bigint() + BigInt(Math.round((seconds / ROUNDS) * 1e9));
    const t0 = process.hrtime.bigint();
    let ops = 0;
    while (ops < MAX_ITERATIONS) {
      for (let i = 0; i < 1000; i++) sink += fn();
      ops += 1000;
      if (process.hrtime.bigint() >= deadline) break;
    }
    rates.push((ops * 1e9) / Number(process.hrtime.bigint() - t0));
  }
  if (sink === 0) throw new Error('benchmark produced nothing');
  rates.sort((a, b) => a - b);
  return { name, bytes, best: rates[rates.length - 1], median: rates[Math.floor(rates.length / 2)] };
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


const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
console.log(`sip parser micro-benchmark: Node ${process.version}, ${seconds} s per case in ${ROUNDS} rounds, one core`);
console.log('');
console.log('| case | bytes | msgs/s (best round) | msgs/s (median) | ns/msg (best) |');
console.log('| --- | ---: | ---: | ---: | ---: |');
for (const r of results) {
  console.log(`| ${r.name} | ${r.bytes} | ${fmt(r.best)} | ${fmt(r.median)} | ${Math.round(1e9 / r.best)} |`);
}
