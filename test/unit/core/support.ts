/**
 * Test doubles for the presence core, no sockets: a server transaction that records its responses, a request
 * sender that records NOTIFYs and answers them as scripted, a store that can be told to fail, and a watcher
 * and publisher that build requests the way a UA does.
 */
import assert from 'node:assert/strict';
import {
  createRequest,
  parseSubscriptionState,
  SipParseError,
  validateRequest,
  type RequestCore,
  type SipRequest,
  type SipResponse,
  type SubscriptionStateHeader,
} from '../../../src/sip/index.js';
import { ManualClock } from '../../../src/transaction/index.js';
import type {
  ClientTransactionOutcome,
  RequestSender,
  ServerTransaction,
} from '../../../src/transaction/index.js';
import type { Destination, InboundContext } from '../../../src/transport/types.js';
import { MemoryStore } from '../../../src/store/memory/index.js';
import { StoreError, type PresenceStore, type StoreMutation, type StoreSnapshot, type StoreStats } from '../../../src/store/store.js';
import { PresenceCore, type CoreConfig, type CoreLogger, type EventPackage, type CoreEvent } from '../../../src/core/index.js';
import { createPresencePackage } from '../../../src/packages/presence/index.js';

export const silentLogger: CoreLogger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};

/** Lets pending promise callbacks (store writes, NOTIFY outcomes) run. */
export async function settle(rounds = 5): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((r) => setImmediate(r));
}

/** Waits until the transaction has a final response (store writes may go through real I/O, e.g. SQLite). */
export async function answered(tx: FakeTx, maxMs = 5000): Promise<void> {
  const deadline = Date.now() + maxMs;
  while (!tx.responses.some((r) => r.status >= 200) && Date.now() < deadline) {
    await new Promise<void>((r) => setTimeout(r, 1));
  }
  await settle();
}

export function inbound(over: Partial<InboundContext> & { port?: number; protocol?: 'udp' | 'tcp' } = {}): InboundContext {
  return {
    remote: over.remote ?? { protocol: over.protocol ?? 'udp', address: '192.0.2.10', port: over.port ?? 5070 },
    localAddress: over.localAddress ?? '192.0.2.1',
    localPort: over.localPort ?? 5060,
    flowId: over.flowId,
    receivedAt: over.receivedAt ?? 0,
  };
}

export class FakeTx implements ServerTransaction {
  readonly responses: SipResponse[] = [];
  constructor(
    readonly request: SipRequest,
    readonly core: RequestCore,
    readonly inbound: InboundContext,
  ) {}
  respond(response: SipResponse): void {
    this.responses.push(response);
  }
  /** The one final response (asserts there is exactly one). */
  get final(): SipResponse {
    const finals = this.responses.filter((r) => r.status >= 200);
    assert.equal(finals.length, 1, `expected one final response, got ${finals.map((r) => r.status).join(',')}`);
    return finals[0]!;
  }
}

let branchCounter = 0;

export function makeTx(
  method: string,
  uri: string,
  headers: Array<[string, string]>,
  body?: string,
  ctx?: InboundContext,
): FakeTx {
  const all: Array<[string, string]> = [
    ['Via', `SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bK-test-${++branchCounter};rport`],
    ['Max-Forwards', '70'],
    ...headers,
  ];
  const b = body === undefined ? undefined : Buffer.from(body);
  if (b !== undefined && !all.some(([k]) => k.toLowerCase() === 'content-length')) all.push(['Content-Length', String(b.length)]);
  const request = createRequest(method, uri, all, b);
  const core = validateRequest(request);
  if (core instanceof SipParseError) throw new Error(`test request invalid: ${core.message}`);
  return new FakeTx(request, core, ctx ?? inbound());
}

export interface SentRequest {
  readonly request: SipRequest;
  readonly destination: Destination;
  /** Answers this request (only in manual mode). */
  answer(status: number, opts?: { localReason?: 'timeout' | 'transport-error'; headers?: Array<[string, string]> }): void;
  readonly answered: boolean;
}

/** Records requests; answers 200 at once (auto) or waits for the test to answer (manual). */
export class FakeSender implements RequestSender {
  readonly sent: SentRequest[] = [];
  /** Status used in auto mode; a function decides per request. */
  auto: number | ((req: SipRequest) => number) | undefined = 200;

  sendRequest(request: SipRequest, destination: Destination): Promise<ClientTransactionOutcome> {
    return new Promise((resolve) => {
      let answered = false;
      const entry: SentRequest = {
        request,
        destination,
        get answered() {
          return answered;
        },
        answer(status, opts = {}) {
          assert.equal(answered, false, 'request answered twice');
          answered = true;
          const response =
            opts.localReason !== undefined
              ? undefined
              : ({
                  kind: 'response',
                  status,
                  reason: 'x',
                  headers: createRequest('X', 'sip:x', opts.headers ?? []).headers,
                  body: Buffer.alloc(0),
                } as SipResponse);
          resolve({ status, response, ...(opts.localReason !== undefined ? { localReason: opts.localReason } : {}) });
        },
      };
      this.sent.push(entry);
      const auto = this.auto;
      if (auto !== undefined) {
        const status = typeof auto === 'function' ? auto(request) : auto;
        queueMicrotask(() => entry.answer(status));
      }
    });
  }

  notifies(): SentRequest[] {
    return this.sent.filter((s) => s.request.method === 'NOTIFY');
  }

  last(): SentRequest {
    const l = this.sent[this.sent.length - 1];
    assert.ok(l !== undefined, 'nothing was sent');
    return l;
  }

  clear(): void {
    this.sent.length = 0;
  }
}

/** A MemoryStore that can be told to fail writes, and counts them. */
export class FlakyStore implements PresenceStore {
  readonly inner: PresenceStore;
  failWrites = 0;
  failCode: 'STORE_ERR_COMMIT_FAILED' | 'STORE_ERR_OVERLOADED' = 'STORE_ERR_COMMIT_FAILED';
  readonly writes: StoreMutation[][] = [];
  constructor(inner: PresenceStore = new MemoryStore()) {
    this.inner = inner;
  }
  load(): Promise<StoreSnapshot> {
    return this.inner.load();
  }
  write(mutations: readonly StoreMutation[]): Promise<void> {
    this.writes.push([...mutations]);
    if (this.failWrites > 0) {
      this.failWrites--;
      return Promise.reject(new StoreError(this.failCode, 'injected failure'));
    }
    return this.inner.write(mutations);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
  stats(): StoreStats {
    return this.inner.stats();
  }
}

export interface Harness {
  core: PresenceCore;
  store: FlakyStore;
  sender: FakeSender;
  clock: ManualClock;
  events: CoreEvent[];
}

export async function makeCore(
  opts: {
    config?: Partial<CoreConfig>;
    packages?: EventPackage[];
    store?: FlakyStore;
    clock?: ManualClock;
    sender?: FakeSender;
  } = {},
): Promise<Harness> {
  const store = opts.store ?? new FlakyStore();
  const sender = opts.sender ?? new FakeSender();
  const clock = opts.clock ?? new ManualClock();
  const core = new PresenceCore({
    store,
    sender,
    clock,
    logger: silentLogger,
    config: { serverAddress: 'sip:presence@192.0.2.1:5060', ...opts.config },
    packages: opts.packages ?? [createPresencePackage({})],
  });
  const events: CoreEvent[] = [];
  core.onEvent((e) => events.push(e));
  await core.start();
  return { core, store, sender, clock, events };
}

// --- bodies ---------------------------------------------------------------------------------

export function pidf(entity: string, tupleId: string, basic: 'open' | 'closed', note?: string): string {
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n` +
    `<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="${entity}">` +
    `<tuple id="${tupleId}"><status><basic>${basic}</basic></status>` +
    (note !== undefined ? `<note>${note}</note>` : '') +
    `</tuple></presence>`
  );
}

// --- user agents ----------------------------------------------------------------------------

export interface PublishOpts {
  body?: string;
  etag?: string;
  expires?: number;
  event?: string | null;
  contentType?: string | null;
  headers?: Array<[string, string]>;
  uri?: string;
}

let callCounter = 0;

export function publishTx(aor: string, o: PublishOpts = {}): FakeTx {
  const h: Array<[string, string]> = [
    ['From', `<${aor}>;tag=pub${++callCounter}`],
    ['To', `<${aor}>`],
    ['Call-ID', `pub-${callCounter}@test`],
    ['CSeq', '1 PUBLISH'],
  ];
  if (o.event !== null) h.push(['Event', o.event ?? 'presence']);
  if (o.expires !== undefined) h.push(['Expires', String(o.expires)]);
  if (o.etag !== undefined) h.push(['SIP-If-Match', o.etag]);
  const ct = o.contentType === null ? undefined : (o.contentType ?? (o.body !== undefined ? 'application/pidf+xml' : undefined));
  if (ct !== undefined) h.push(['Content-Type', ct]);
  h.push(...(o.headers ?? []));
  return makeTx('PUBLISH', o.uri ?? aor, h, o.body);
}

/** PUBLISHes through the core and waits for the answer. */
export async function publish(core: PresenceCore, aor: string, o: PublishOpts = {}): Promise<SipResponse> {
  const tx = publishTx(aor, o);
  core.handlePublish(tx);
  await settle();
  await answered(tx);
  return tx.final;
}

export interface WatcherOpts {
  presentity: string;
  watcher?: string;
  event?: string | null;
  accept?: string | null;
  contact?: string | null;
  recordRoute?: string[];
  headers?: Array<[string, string]>;
  inbound?: InboundContext;
}

/** A subscriber: one dialog, its own CSeq, the To-tag learned from the 2xx. */
export class Watcher {
  readonly callId = `sub-${++callCounter}@test`;
  readonly fromTag = `w${callCounter}`;
  cseq = 0;
  toTag: string | undefined;
  readonly o: WatcherOpts;
  constructor(o: WatcherOpts) {
    this.o = o;
  }

  get aor(): string {
    return this.o.watcher ?? 'sip:bob@example.com';
  }

  tx(expires: number | undefined, over: { cseq?: number; event?: string | null; contact?: string | null; toTag?: string; inbound?: InboundContext } = {}): FakeTx {
    const seq = over.cseq ?? ++this.cseq;
    if (seq > this.cseq) this.cseq = seq;
    const toTag = over.toTag ?? this.toTag;
    const h: Array<[string, string]> = [
      ['From', `"Bob" <${this.aor}>;tag=${this.fromTag}`],
      ['To', `<${this.o.presentity}>${toTag !== undefined ? `;tag=${toTag}` : ''}`],
      ['Call-ID', this.callId],
      ['CSeq', `${seq} SUBSCRIBE`],
    ];
    const event = over.event !== undefined ? over.event : this.o.event;
    if (event !== null) h.push(['Event', event ?? 'presence']);
    const contact = over.contact !== undefined ? over.contact : this.o.contact;
    if (contact !== null) h.push(['Contact', contact ?? '<sip:bob@192.0.2.10:5070>']);
    if (this.o.accept !== null) h.push(['Accept', this.o.accept ?? 'application/pidf+xml']);
    for (const rr of this.o.recordRoute ?? []) h.push(['Record-Route', rr]);
    if (expires !== undefined) h.push(['Expires', String(expires)]);
    h.push(...(this.o.headers ?? []));
    return makeTx('SUBSCRIBE', this.o.presentity, h, undefined, over.inbound ?? this.o.inbound);
  }

  /** Sends a SUBSCRIBE (initial or in-dialog), waits, learns the To-tag from a 2xx. */
  async subscribe(core: PresenceCore, expires?: number, over: Parameters<Watcher['tx']>[1] = {}): Promise<SipResponse> {
    const tx = this.tx(expires, over);
    core.handleSubscribe(tx);
    await settle();
    await answered(tx);
    const res = tx.final;
    if (res.status >= 200 && res.status < 300 && this.toTag === undefined) {
      const to = res.headers.get('To') ?? '';
      const m = /;tag=([^;>\s]+)/.exec(to);
      this.toTag = m?.[1];
    }
    return res;
  }
}

export function subState(req: SipRequest): SubscriptionStateHeader {
  const v = req.headers.get('Subscription-State');
  assert.ok(v !== undefined, 'NOTIFY without Subscription-State');
  const s = parseSubscriptionState(v);
  assert.ok(!(s instanceof SipParseError), `bad Subscription-State ${v}`);
  return s;
}

export function cseqOf(req: SipRequest): number {
  return Number((req.headers.get('CSeq') ?? '').split(/\s+/)[0]);
}

export function bodyOf(req: SipRequest): string {
  return req.body.toString('utf8');
}
