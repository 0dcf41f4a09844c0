/**
 * Memory and fan-out cost of the presence core alone (no sockets, no store rows kept):
 * - heap and RSS per 100k subscriptions (10 watchers per presentity, realistic header sizes);
 * - one PUBLISH fanned out to 10k watchers: time per NOTIFY built and handed to the sender.
 *
 * Run: node --expose-gc --import tsx bench/core-memory-bench.ts [subscriptions=100000]
 */
import { performance } from 'node:perf_hooks';
import { createRequest, SipParseError, validateRequest, type SipRequest, type SipResponse } from '../src/sip/index.js';
import { ManualClock, type ClientTransactionOutcome, type RequestSender, type ServerTransaction } from '../src/transaction/index.js';
import type { PresenceStore, StoreSnapshot } from '../src/store/store.js';
import { PresenceCore, type CoreLogger } from '../src/core/index.js';
import { createPresencePackage } from '../src/packages/presence/index.js';

const N = Number(process.argv[2] ?? 100_000);
const PER_PRESENTITY = 10;
const gc = (globalThis as { gc?: () => void }).gc;

const nullStore: PresenceStore = {
  load: (): Promise<StoreSnapshot> => Promise.resolve({ publications: [], subscriptions: [], watchers: [], documents: [], users: [], bindings: [] }),
  write: () => Promise.resolve(),
  close: () => Promise.resolve(),
  stats: () => ({ commits: 0, mutations: 0, lastCommitMs: 0, pendingMutations: 0 }),
};

let notifies = 0;
const OK: ClientTransactionOutcome = { status: 200, response: undefined };
const sender: RequestSender = {
  sendRequest(_req: SipRequest): Promise<ClientTransactionOutcome> {
    notifies++;
    return Promise.resolve(OK);
  },
};

const logger: CoreLogger = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };

function tx(req: SipRequest, port: number): ServerTransaction {
  const core = validateRequest(req);
  if (core instanceof SipParseError) throw new Error(core.message);
  return {
    request: req,
    core,
    inbound: {
      remote: { protocol: 'udp', address: `10.${(port >> 16) & 255}.${(port >> 8) & 255}.${port & 255}`, port: 5060 },
      localAddress: '192.0.2.1',
      localPort: 5060,
      flowId: undefined,
      receivedAt: 0,
    },
    respond(_r: SipResponse): void {},
  };
}

function hex(n: number, len: number): string {
  return n.toString(16).padStart(len, '0');
}

function subscribe(i: number): ServerTransaction {
  const p = Math.floor(i / PER_PRESENTITY);
  const presentity = `sip:user${p}@example.com`;
  const watcher = `sip:watcher${i}@example.com`;
  const req = createRequest(
    'SUBSCRIBE',
    presentity,
    [
      ['Via', `SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK${hex(i, 16)};rport`],
      ['Max-Forwards', '70'],
      ['From', `"Watcher ${i}" <${watcher}>;tag=${hex(i * 7919, 12)}`],
      ['To', `<${presentity}>`],
      ['Call-ID', `${hex(i * 104729, 24)}@10.0.0.1`],
      ['CSeq', '1 SUBSCRIBE'],
      ['Contact', `<sip:watcher${i}@10.0.${(i >> 8) & 255}.${i & 255}:5060;transport=udp>`],
      ['Event', 'presence'],
      ['Accept', 'application/pidf+xml'],
      ['Expires', '3600'],
    ],
    undefined,
  );
  return tx(req, i);
}

function mb(n: number): string {
  return (n / 1048576).toFixed(1);
}

async function settle(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise<void>((r) => setImmediate(r));
}

async function main(): Promise<void> {
  const core = new PresenceCore({
    store: nullStore,
    sender,
    clock: new ManualClock(),
    logger,
    config: { serverAddress: 'sip:presence@192.0.2.1:5060' },
    packages: [createPresencePackage({})],
  });
  await core.start();
  gc?.();
  const before = process.memoryUsage();

  const t0 = performance.now();
  for (let i = 0; i < N; i++) {
    core.handleSubscribe(subscribe(i));
    if (i % 1000 === 999) await settle();
  }
  await settle();
  const t1 = performance.now();
  gc?.();
  await settle();
  gc?.();
  const after = process.memoryUsage();
  const subs = core.stats().subscriptions;
  const heapPer = (after.heapUsed - before.heapUsed) / subs;
  const rssPer = (after.rss - before.rss) / subs;
  console.log(`subscriptions: ${subs} (${PER_PRESENTITY} per presentity), initial NOTIFYs: ${notifies}`);
  console.log(`SUBSCRIBE handling incl. request building: ${((t1 - t0) / 1000).toFixed(2)} s, ${Math.round(subs / ((t1 - t0) / 1000))}/s`);
  console.log(`heapUsed +${mb(after.heapUsed - before.heapUsed)} MB (${Math.round(heapPer)} B/subscription)`);
  console.log(`rss      +${mb(after.rss - before.rss)} MB (${Math.round(rssPer)} B/subscription), per 100k: ${mb(rssPer * 100_000)} MB`);
  if (gc === undefined) console.log('(run with --expose-gc for stable figures)');

  // Fan-out: one presentity with 10k watchers, one PUBLISH.
  const FAN = 10_000;
  const fan = 'sip:famous@example.com';
  for (let i = 0; i < FAN; i++) {
    const req = createRequest('SUBSCRIBE', fan, [
      ['Via', `SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKfan${i}`],
      ['Max-Forwards', '70'],
      ['From', `<sip:fan${i}@example.com>;tag=f${i}`],
      ['To', `<${fan}>`],
      ['Call-ID', `fan-${i}@10.0.0.1`],
      ['CSeq', '1 SUBSCRIBE'],
      ['Contact', `<sip:fan${i}@10.1.0.1:5060>`],
      ['Event', 'presence'],
    ]);
    core.handleSubscribe(tx(req, i));
    if (i % 1000 === 999) await settle();
  }
  await settle();
  const body = `<?xml version="1.0" encoding="UTF-8"?><presence xmlns="urn:ietf:params:xml:ns:pidf" entity="${fan}"><tuple id="t1"><status><basic>open</basic></status><note>Available</note></tuple></presence>`;
  notifies = 0;
  const t2 = performance.now();
  const r = await core.publish({ presentity: fan, event: 'presence', contentType: 'application/pidf+xml', body, expires: 3600 });
  const t3 = performance.now();
  await settle();
  console.log(`fan-out: 1 PUBLISH -> ${notifies} NOTIFYs built and handed over in ${(t3 - t2).toFixed(1)} ms (${(((t3 - t2) * 1000) / Math.max(1, notifies)).toFixed(2)} µs each), ok=${r.ok}`);
  await core.stop();
}

void main();
