/**
 * Outbound subscriptions (RFC 6665 subscriber side) against a scripted sender and a manual clock: the SUBSCRIBE
 * we build, the dialog from the 2xx or from a NOTIFY that comes first (§4.1.2.4), NOTIFY answers (200, 481,
 * 489, 400, 500), Timer N, refreshes (§4.1.2.2), re-subscription per the terminated reason (§4.1.3), 423,
 * unsubscribing (§4.1.2.3), durability and restart.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import {
  createResponseMessage,
  parseMessage,
  SipParseError,
  validateRequest,
  type SipRequest,
  type SipResponse,
} from '../../../src/sip/index.js';
import { ManualClock, type ClientTransactionOutcome, type RequestSender, type ServerTransaction } from '../../../src/transaction/index.js';
import type { Destination } from '../../../src/transport/index.js';
import {
  documentRecordStore,
  memoryRecordStore,
  OutboundSubscriptions,
  OUTBOUND_AUID,
  type OutboundEvent,
  type OutboundDocumentPort,
  type OutboundRecord,
} from '../../../src/ua/index.js';

const NEXT_HOP: Destination = { protocol: 'udp', address: '127.0.0.1', port: 5060 };
const CONTACT = 'sip:127.0.0.1:5060';

interface Sent {
  request: SipRequest;
  destination: Destination;
  answer(status: number, headers?: Array<[string, string]>): void;
  fail(status: 408 | 503): void;
}

class ScriptedSender implements RequestSender {
  readonly sent: Sent[] = [];
  sendRequest(request: SipRequest, destination: Destination): Promise<ClientTransactionOutcome> {
    return new Promise((resolve) => {
      this.sent.push({
        request,
        destination,
        answer: (status, headers = []) => {
          const h: Array<[string, string]> = [
            ['From', request.headers.get('From')!],
            ['To', request.headers.get('To')!.includes('tag=') ? request.headers.get('To')! : `${request.headers.get('To')};tag=srv1`],
            ['Call-ID', request.headers.get('Call-ID')!],
            ['CSeq', request.headers.get('CSeq')!],
            ...headers,
          ];
          const response: SipResponse = createResponseMessage(status, status < 300 ? 'OK' : 'Error', h);
          resolve({ status, response });
        },
        fail: (status) => resolve({ status, response: undefined, localReason: status === 408 ? 'timeout' : 'transport-error' }),
      });
    });
  }
  last(): Sent {
    const s = this.sent.at(-1);
    assert.ok(s, 'a request was sent');
    return s;
  }
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

interface Harness {
  clock: ManualClock;
  sender: ScriptedSender;
  subs: OutboundSubscriptions;
  store: ReturnType<typeof memoryRecordStore>;
  events: OutboundEvent[];
}

async function setup(initial: OutboundRecord[] = [], opts: { max?: number } = {}): Promise<Harness> {
  const clock = new ManualClock();
  const sender = new ScriptedSender();
  const store = memoryRecordStore(initial);
  const subs = new OutboundSubscriptions({
    sender,
    clock,
    logger: pino({ level: 'silent' }),
    store,
    route: (presentity) => (presentity.host === 'nowhere.invalid' ? undefined : { destination: NEXT_HOP, contact: CONTACT }),
    userAgent: 'presenced/test',
    random: () => 0.5,
    ...(opts.max !== undefined && { maxSubscriptions: opts.max }),
  });
  const events: OutboundEvent[] = [];
  subs.onEvent((e) => events.push(e));
  await subs.start();
  return { clock, sender, subs, store, events };
}

interface Notified {
  responses: SipResponse[];
}

/** Delivers a NOTIFY in the dialog of `subscribe` (as the notifier with tag `fromTag`). */
function notify(
  h: Harness,
  subscribe: SipRequest,
  opts: { state?: string | null; cseq?: number; fromTag?: string; event?: string; body?: string; extra?: string[]; contact?: string } = {},
): Notified {
  const from = subscribe.headers.get('From')!;
  const lines = [
    `NOTIFY ${CONTACT} SIP/2.0`,
    'Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK-n' + Math.random().toString(36).slice(2),
    'Max-Forwards: 70',
    `From: ${subscribe.headers.get('To')};tag=${opts.fromTag ?? 'srv1'}`,
    `To: ${from}`,
    `Call-ID: ${subscribe.headers.get('Call-ID')}`,
    `CSeq: ${opts.cseq ?? 1} NOTIFY`,
    `Contact: <${opts.contact ?? 'sip:presence@127.0.0.1:5060'}>`,
    `Event: ${opts.event ?? 'presence'}`,
    ...(opts.state === null ? [] : [`Subscription-State: ${opts.state ?? 'active;expires=3600'}`]),
    ...(opts.extra ?? []),
  ];
  const body = opts.body ?? '';
  if (body !== '') lines.push('Content-Type: application/pidf+xml');
  lines.push(`Content-Length: ${Buffer.byteLength(body)}`, '', body);
  const msg = parseMessage(Buffer.from(lines.join('\r\n')));
  assert.ok(!(msg instanceof SipParseError) && msg.kind === 'request', 'NOTIFY parses');
  const core = validateRequest(msg);
  assert.ok(!(core instanceof SipParseError), 'NOTIFY is valid');
  const responses: SipResponse[] = [];
  const tx: ServerTransaction = {
    request: msg,
    core,
    inbound: { remote: { protocol: 'udp', address: '127.0.0.1', port: 5060 }, localAddress: '127.0.0.1', localPort: 5060, flowId: undefined, receivedAt: 0 },
    respond: (r) => responses.push(r),
  };
  h.subs.handleNotify(tx);
  return { responses };
}

const notifies = (h: Harness): Extract<OutboundEvent, { type: 'notify-in' }>[] =>
  h.events.filter((e): e is Extract<OutboundEvent, { type: 'notify-in' }> => e.type === 'notify-in');

async function created(h: Harness, req: Partial<Parameters<OutboundSubscriptions['create']>[0]> = {}): Promise<string> {
  const r = await h.subs.create({ presentity: 'sip:alice@example.com', watcher: 'sip:bob@example.com', ...req });
  assert.ok(r.ok, r.ok ? '' : r.reason);
  return r.subscription.id;
}

describe('the initial SUBSCRIBE (RFC 6665 §4.1.2.1) and the dialog', () => {
  test('out of dialog, CSeq 1, From tag, no To tag, Event/Expires/Accept/Contact; the 2xx and first NOTIFY make it active', async () => {
    const h = await setup();
    const id = await created(h, { expires: 600 });
    const s = h.sender.last();
    const r = s.request;
    assert.equal(r.method, 'SUBSCRIBE');
    assert.equal(r.uri, 'sip:alice@example.com');
    assert.deepEqual(s.destination, NEXT_HOP);
    assert.match(r.headers.get('From')!, /^<sip:bob@example\.com>;tag=\S+$/);
    assert.equal(r.headers.get('To'), '<sip:alice@example.com>');
    assert.equal(r.headers.get('CSeq'), '1 SUBSCRIBE');
    assert.equal(r.headers.get('Event'), 'presence');
    assert.equal(r.headers.get('Expires'), '600');
    assert.equal(r.headers.get('Accept'), 'application/pidf+xml');
    assert.equal(r.headers.get('Contact'), `<${CONTACT}>`);
    assert.equal(r.headers.get('User-Agent'), 'presenced/test');
    assert.equal(h.subs.get(id)?.state, 'subscribing');
    s.answer(200, [['Contact', '<sip:presence@127.0.0.1:5060>'], ['Expires', '600']]);
    await tick();
    const n = notify(h, r, { state: 'active;expires=599', body: '<presence/>' });
    assert.equal(n.responses[0]?.status, 200);
    const info = h.subs.get(id)!;
    assert.equal(info.state, 'active');
    assert.equal(info.dialog?.remoteTag, 'srv1');
    assert.equal(info.dialog?.remoteSeq, 1);
    const ev = notifies(h);
    assert.equal(ev.length, 1);
    assert.equal(ev[0]!.state, 'active');
    assert.equal(ev[0]!.body, '<presence/>');
    assert.equal(ev[0]!.contentType, 'application/pidf+xml');
    assert.equal(ev[0]!.subscription.presentity, 'sip:alice@example.com');
  });

  test('a NOTIFY before the 2xx creates the dialog (§4.1.2.4): route set from its Record-Route in order', async () => {
    const h = await setup();
    const id = await created(h);
    const sub = h.sender.last();
    const n = notify(h, sub.request, { extra: ['Record-Route: <sip:p1.example.com;lr>, <sip:p2.example.com;lr>'] });
    assert.equal(n.responses[0]?.status, 200);
    assert.equal(h.subs.get(id)?.state, 'active');
    assert.deepEqual(h.subs.get(id)?.dialog?.routeSet, ['<sip:p1.example.com;lr>', '<sip:p2.example.com;lr>']);
    sub.answer(202, [['Contact', '<sip:presence@127.0.0.1:5060>'], ['Expires', '3600']]);
    await tick();
    assert.equal(h.subs.get(id)?.state, 'active');
    assert.equal(h.subs.get(id)?.grantedExpires, 3600);
  });

  test('a NOTIFY from a second fork gets 481; the first dialog stays', async () => {
    const h = await setup();
    const id = await created(h);
    const sub = h.sender.last();
    assert.equal(notify(h, sub.request, { fromTag: 'fork-a' }).responses[0]?.status, 200);
    assert.equal(notify(h, sub.request, { fromTag: 'fork-b' }).responses[0]?.status, 481);
    assert.equal(h.subs.get(id)?.dialog?.remoteTag, 'fork-a');
  });
});

describe('NOTIFY answers (RFC 6665 §4.1.3, RFC 3261 §12.2.2)', () => {
  test('another event package 489; no Subscription-State 400; an older CSeq 500; none of these counts as unmatched', async () => {
    const h = await setup();
    await created(h);
    const sub = h.sender.last();
    assert.equal(notify(h, sub.request, {}).responses[0]?.status, 200);
    assert.equal(notify(h, sub.request, { event: 'dialog', cseq: 2 }).responses[0]?.status, 489);
    assert.equal(notify(h, sub.request, { state: null, cseq: 3 }).responses[0]?.status, 400);
    assert.equal(notify(h, sub.request, { cseq: 5 }).responses[0]?.status, 200);
    assert.equal(notify(h, sub.request, { cseq: 4 }).responses[0]?.status, 500);
    assert.equal(notifies(h).length, 2, 'only the accepted NOTIFYs are reported');
    assert.equal(h.subs.stats().notifiesUnmatched, 0);
  });

  test('a NOTIFY for no subscription of ours is answered 481 and counted', async () => {
    const h = await setup();
    await created(h);
    const sub = h.sender.last();
    const lines = sub.request.headers.get('From')!.replace(/tag=\S+/, 'tag=not-ours');
    sub.request.headers.set('From', lines);
    assert.equal(notify(h, sub.request).responses[0]?.status, 481);
    assert.equal(h.subs.stats().notifiesUnmatched, 1);
  });
});

describe('Timer N, refreshes and expiry', () => {
  test('a 2xx but no NOTIFY within 64*T1: the attempt failed; a new SUBSCRIBE (new Call-ID) after the back-off', async () => {
    const h = await setup();
    const id = await created(h);
    const first = h.sender.last();
    first.answer(200, [['Contact', '<sip:presence@127.0.0.1:5060>'], ['Expires', '3600']]);
    await tick();
    h.clock.advance(31_999);
    assert.equal(h.subs.get(id)?.state, 'subscribing');
    h.clock.advance(1);
    assert.equal(h.subs.get(id)?.state, 'waiting');
    assert.match(h.subs.get(id)?.lastError ?? '', /Timer N/);
    h.clock.advance(3749); // back-off 5 s * (0.5 + 0.5/2) = 3750 ms
    assert.equal(h.sender.sent.length, 1);
    h.clock.advance(1);
    assert.equal(h.sender.sent.length, 2);
    assert.notEqual(h.sender.last().request.headers.get('Call-ID'), first.request.headers.get('Call-ID'));
  });

  test('refresh at 80 % of the granted duration, in the dialog (CSeq 2, To tag, remote target); Subscription-State expires shortens it', async () => {
    const h = await setup();
    const id = await created(h, { expires: 1000 });
    const sub = h.sender.last();
    sub.answer(200, [['Contact', '<sip:presence@192.0.2.7:5080>'], ['Expires', '1000']]);
    await tick();
    notify(h, sub.request, { state: 'active;expires=100', contact: 'sip:presence@192.0.2.7:5080' });
    h.clock.advance(79_999);
    assert.equal(h.sender.sent.length, 1);
    h.clock.advance(1);
    const refresh = h.sender.last().request;
    assert.equal(refresh.uri, 'sip:presence@192.0.2.7:5080');
    assert.equal(refresh.headers.get('CSeq'), '2 SUBSCRIBE');
    assert.equal(refresh.headers.get('To'), '<sip:alice@example.com>;tag=srv1');
    assert.equal(refresh.headers.get('Call-ID'), sub.request.headers.get('Call-ID'));
    assert.equal(refresh.headers.get('Expires'), '1000');
    assert.deepEqual(h.sender.last().destination, NEXT_HOP, 'every request goes to the next hop');
    h.sender.last().answer(200, [['Expires', '900']]);
    await tick();
    assert.equal(h.subs.get(id)?.grantedExpires, 900);
  });

  test('a refresh answered 481: a new subscription at once (§4.1.2.2)', async () => {
    const h = await setup();
    await created(h, { expires: 100 });
    const sub = h.sender.last();
    sub.answer(200, [['Contact', '<sip:presence@127.0.0.1:5060>'], ['Expires', '100']]);
    await tick();
    notify(h, sub.request, { state: 'active;expires=100' });
    h.clock.advance(80_000);
    assert.equal(h.sender.last().request.headers.get('CSeq'), '2 SUBSCRIBE');
    h.sender.last().answer(481);
    await tick();
    h.clock.advance(0);
    assert.equal(h.sender.sent.length, 3);
    assert.equal(h.sender.last().request.headers.get('CSeq'), '1 SUBSCRIBE');
  });

  test('a refresh refused otherwise leaves the subscription valid until it expires, then it is renewed', async () => {
    const h = await setup();
    const id = await created(h, { expires: 100 });
    const sub = h.sender.last();
    sub.answer(200, [['Contact', '<sip:presence@127.0.0.1:5060>'], ['Expires', '100']]);
    await tick();
    notify(h, sub.request, { state: 'active' });
    h.clock.advance(80_000);
    h.sender.last().fail(503);
    await tick();
    assert.equal(h.subs.get(id)?.state, 'active');
    h.clock.advance(10_000); // retried refresh at min(left/2, back-off)
    assert.equal(h.sender.last().request.headers.get('CSeq'), '3 SUBSCRIBE');
    h.sender.last().fail(408);
    await tick();
    h.clock.advance(10_000);
    assert.equal(h.sender.last().request.headers.get('CSeq'), '1 SUBSCRIBE', 'expired: a new subscription');
  });

  test('423 Interval Too Brief: the SUBSCRIBE is sent again with Min-Expires', async () => {
    const h = await setup();
    await created(h, { expires: 30 });
    h.sender.last().answer(423, [['Min-Expires', '60']]);
    await tick();
    assert.equal(h.sender.sent.length, 2);
    assert.equal(h.sender.last().request.headers.get('Expires'), '60');
  });
});

describe('re-subscription after the notifier ends it (RFC 6665 §4.1.3)', () => {
  const establish = async (h: Harness): Promise<{ id: string; sub: Sent }> => {
    const id = await created(h);
    const sub = h.sender.last();
    sub.answer(200, [['Contact', '<sip:presence@127.0.0.1:5060>'], ['Expires', '3600']]);
    await tick();
    notify(h, sub.request);
    return { id, sub };
  };

  test('deactivated: a new SUBSCRIBE at once', async () => {
    const h = await setup();
    const { sub } = await establish(h);
    assert.equal(notify(h, sub.request, { state: 'terminated;reason=deactivated', cseq: 2 }).responses[0]?.status, 200);
    h.clock.advance(0);
    assert.equal(h.sender.sent.length, 2);
    assert.equal(h.sender.last().request.headers.get('CSeq'), '1 SUBSCRIBE');
  });

  test('probation with retry-after: not before that many seconds', async () => {
    const h = await setup();
    const { id, sub } = await establish(h);
    notify(h, sub.request, { state: 'terminated;reason=probation;retry-after=120', cseq: 2 });
    assert.equal(h.subs.get(id)?.state, 'waiting');
    h.clock.advance(119_999);
    assert.equal(h.sender.sent.length, 1);
    h.clock.advance(1);
    assert.equal(h.sender.sent.length, 2);
  });

  test('rejected: terminated for good, no retry, the durable record is dropped', async () => {
    const h = await setup();
    const { id, sub } = await establish(h);
    assert.equal(h.store.records.size, 1);
    notify(h, sub.request, { state: 'terminated;reason=rejected', cseq: 2 });
    await tick();
    assert.equal(h.subs.get(id)?.state, 'terminated');
    assert.equal(h.store.records.size, 0);
    h.clock.advance(600_000);
    assert.equal(h.sender.sent.length, 1);
  });

  test('403 to the SUBSCRIBE is final; 503 with Retry-After is retried after it', async () => {
    const h = await setup();
    const a = await created(h);
    h.sender.last().answer(403);
    await tick();
    assert.equal(h.subs.get(a)?.state, 'terminated');
    const b = await created(h, { presentity: 'sip:dave@example.com' });
    h.sender.last().answer(503, [['Retry-After', '7']]);
    await tick();
    assert.equal(h.subs.get(b)?.state, 'waiting');
    const before = h.sender.sent.length;
    h.clock.advance(6_999);
    assert.equal(h.sender.sent.length, before);
    h.clock.advance(1);
    assert.equal(h.sender.sent.length, before + 1);
  });
});

describe('unsubscribing (RFC 6665 §4.1.2.3)', () => {
  test('Expires 0 in the dialog; the NOTIFY terminated is answered 200 and the subscription is gone', async () => {
    const h = await setup();
    const id = await created(h);
    const sub = h.sender.last();
    sub.answer(200, [['Contact', '<sip:presence@127.0.0.1:5060>'], ['Expires', '3600']]);
    await tick();
    notify(h, sub.request);
    const r = await h.subs.remove(id);
    assert.ok(r?.ok);
    assert.equal(h.subs.get(id)?.state, 'unsubscribing');
    assert.equal(h.store.records.size, 0);
    const unsub = h.sender.last().request;
    assert.equal(unsub.headers.get('Expires'), '0');
    assert.equal(unsub.headers.get('CSeq'), '2 SUBSCRIBE');
    h.sender.last().answer(200, [['Expires', '0']]);
    await tick();
    assert.equal(notify(h, sub.request, { state: 'terminated;reason=timeout', cseq: 2 }).responses[0]?.status, 200);
    assert.equal(h.subs.get(id), undefined);
    h.clock.advance(600_000);
    assert.equal(h.sender.sent.length, 2, 'nothing after');
  });

  test('before the 2xx: the Expires 0 goes once the dialog exists', async () => {
    const h = await setup();
    const id = await created(h);
    const sub = h.sender.last();
    await h.subs.remove(id);
    assert.equal(h.sender.sent.length, 1);
    sub.answer(200, [['Contact', '<sip:presence@127.0.0.1:5060>'], ['Expires', '3600']]);
    await tick();
    assert.equal(h.sender.sent.length, 2);
    assert.equal(h.sender.last().request.headers.get('Expires'), '0');
    h.clock.advance(32_000);
    assert.equal(h.subs.get(id), undefined, 'gone after 64*T1 even without the final NOTIFY');
  });

  test('remove() of an unknown id is undefined', async () => {
    const h = await setup();
    assert.equal(await h.subs.remove('nope'), undefined);
  });
});

describe('API input, limits and durability', () => {
  test('bad URIs, event, expires, target and accept are refused with 400; no route is 400', async () => {
    const h = await setup();
    const bad = async (req: Parameters<OutboundSubscriptions['create']>[0], re: RegExp): Promise<void> => {
      const r = await h.subs.create(req);
      assert.ok(!r.ok);
      assert.equal(r.status, 400);
      assert.match(r.reason, re);
    };
    await bad({ presentity: 'alice', watcher: 'sip:bob@example.com' }, /presentity/);
    await bad({ presentity: 'tel:+123', watcher: 'sip:bob@example.com' }, /presentity/);
    await bad({ presentity: 'sip:alice@example.com', watcher: 'bob' }, /watcher/);
    await bad({ presentity: 'sip:alice@example.com', watcher: 'sip:bob@example.com', event: 'pres ence' }, /event/);
    await bad({ presentity: 'sip:alice@example.com', watcher: 'sip:bob@example.com', expires: 0 }, /expires/);
    await bad({ presentity: 'sip:alice@example.com', watcher: 'sip:bob@example.com', target: 'http://x' }, /target/);
    await bad({ presentity: 'sip:alice@example.com', watcher: 'sip:bob@example.com', accept: ['not a type'] }, /accept/);
    await bad({ presentity: 'sip:alice@nowhere.invalid', watcher: 'sip:bob@example.com' }, /no route/);
    assert.equal(h.sender.sent.length, 0);
  });

  test('the same subscription twice is one (created false); the limit answers 429', async () => {
    const h = await setup([], { max: 2 });
    const a = await h.subs.create({ presentity: 'sip:alice@example.com', watcher: 'sip:bob@example.com' });
    const again = await h.subs.create({ presentity: 'sip:alice@EXAMPLE.COM;transport=tcp', watcher: 'sip:bob@example.com;transport=udp' });
    assert.ok(a.ok && again.ok);
    assert.equal(again.created, false);
    assert.equal(again.subscription.id, a.subscription.id);
    assert.ok((await h.subs.create({ presentity: 'sip:carol@example.com', watcher: 'sip:bob@example.com' })).ok);
    const over = await h.subs.create({ presentity: 'sip:dave@example.com', watcher: 'sip:bob@example.com' });
    assert.ok(!over.ok);
    assert.equal(over.status, 429);
  });

  test('start() re-subscribes the stored records (a new dialog each)', async () => {
    const record: OutboundRecord = {
      id: 'r1',
      presentity: 'sip:alice@example.com',
      watcher: 'sip:bob@example.com',
      event: 'dialog',
      expires: 300,
      target: undefined,
      accept: [],
      createdAt: 1,
    };
    const h = await setup([record]);
    h.clock.advance(0);
    assert.equal(h.sender.sent.length, 1);
    assert.equal(h.sender.last().request.headers.get('Event'), 'dialog');
    assert.equal(h.sender.last().request.headers.get('Accept'), undefined, 'the record said no Accept');
    assert.equal(h.subs.list()[0]?.id, 'r1');
  });
});

describe('documentRecordStore: one JSON document per watcher in the documents table', () => {
  class FakeDocs implements OutboundDocumentPort {
    readonly docs = new Map<string, { owner: string; auid: string; name: string; body: string }>();
    fail = false;
    getDocument(owner: string, auid: string, name: string): { body: string } | undefined {
      return this.docs.get(`${owner}|${auid}|${name}`);
    }
    async putDocument(w: { owner: string; auid: string; name: string; contentType: string; body: string }) {
      if (this.fail) return { ok: false as const, status: 503, reason: 'down' };
      this.docs.set(`${w.owner}|${w.auid}|${w.name}`, w);
      return { ok: true as const };
    }
    async deleteDocument(d: { owner: string; auid: string; name: string }) {
      const k = `${d.owner}|${d.auid}|${d.name}`;
      if (!this.docs.has(k)) return { ok: false as const, status: 404, reason: 'none' };
      this.docs.delete(k);
      return { ok: true as const };
    }
    documentOwners(auid: string): string[] {
      return [...this.docs.values()].filter((d) => d.auid === auid).map((d) => d.owner);
    }
  }
  const rec = (id: string, watcher: string): OutboundRecord => ({
    id,
    presentity: 'sip:alice@example.com',
    watcher,
    event: 'presence',
    expires: 60,
    target: 'sip:127.0.0.1:5070',
    accept: ['application/pidf+xml'],
    createdAt: 5,
  });

  test('records round-trip through a reload; deleting the last one deletes the document; a failed write rejects', async () => {
    const docs = new FakeDocs();
    const a = documentRecordStore(docs);
    await a.load();
    await a.put(rec('1', 'sip:bob@Example.com'));
    await a.put(rec('2', 'sip:bob@example.com;transport=tcp'));
    await a.put(rec('3', 'sip:carol@example.com'));
    assert.equal(docs.docs.size, 2, 'one document per watcher AOR');
    assert.ok(docs.getDocument('sip:bob@example.com', OUTBOUND_AUID, 'index'));
    const b = documentRecordStore(docs);
    const loaded = await b.load();
    assert.deepEqual(loaded.map((r) => r.id).sort(), ['1', '2', '3']);
    assert.deepEqual(loaded.find((r) => r.id === '1'), rec('1', 'sip:bob@Example.com'));
    await b.delete('3');
    assert.equal(docs.docs.size, 1);
    docs.fail = true;
    await assert.rejects(b.put(rec('4', 'sip:dave@example.com')));
    docs.fail = false;
    const c = documentRecordStore(docs);
    assert.deepEqual((await c.load()).map((r) => r.id).sort(), ['1', '2']);
  });

  test('stored entries that do not parse are skipped and reported', async () => {
    const docs = new FakeDocs();
    await docs.putDocument({
      owner: 'sip:x@example.com',
      auid: OUTBOUND_AUID,
      name: 'index',
      contentType: 'application/json',
      body: JSON.stringify({ subscriptions: [{ id: 'ok', presentity: 'sip:a@b', watcher: 'sip:x@example.com', event: 'presence', expires: 5, accept: [], createdAt: 1 }, { id: 7 }] }),
    });
    const skipped: string[] = [];
    const loaded = await documentRecordStore(docs, (o) => skipped.push(o)).load();
    assert.deepEqual(loaded.map((r) => r.id), ['ok']);
    assert.deepEqual(skipped, ['sip:x@example.com']);
  });
});
