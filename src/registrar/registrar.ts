/**
 * REGISTER processing (RFC 3261 §10.3), with RFC 3327 Path and RFC 5626 instance/reg-id. Authentication
 * (step 3) and the "may this user touch that AOR" check (step 4) happen before, in the auth gate.
 *
 * Steps as the RFC numbers them:
 *   1. Request-URI domain served, else 404.            5. AOR from To: a SIP URI of a served domain, else 404.
 *   6. Contact `*` only alone and with Expires 0, else 400; no Contact: a query.
 *   7. Per Contact: expiry (contact param, Expires header, default), 423 + Min-Expires when too brief, lowered
 *      to the maximum; an existing binding with the same Call-ID and a CSeq not higher aborts the whole request.
 *      All updates commit together or none does (one store write).
 *   8. 200 with every current binding and its remaining expires, and Date.
 */
import {
  aorKey,
  createResponse,
  parseContactList,
  parseExpires,
  parseNameAddr,
  parseTokenList,
  SipParseError,
  type NameAddr,
} from '../sip/index.js';
import { newTag, type ServerTransaction } from '../transaction/index.js';
import type { BindingRecord } from '../store/account-records.js';
import { readContact, type ContactRequest } from './contact-binding.js';
import type { BindingChange, LocationService } from './location-service.js';

export interface RegistrarOptions {
  readonly location: LocationService;
  /** Whether a host is one of our domains (config domain/domains; everything when none is configured). */
  readonly isLocalDomain: (host: string) => boolean;
  /** Seconds: shortest non-zero registration accepted (423 + Min-Expires below). */
  readonly minExpires: number;
  /** Seconds: longer requests are lowered to this. */
  readonly maxExpires: number;
  /** Seconds granted when neither the Contact nor the request says (RFC 3261 §10.2.1.1 suggests 3600). */
  readonly defaultExpires: number;
  /** Bindings one AOR may hold; a REGISTER that would exceed it gets 403. */
  readonly maxContacts: number;
  /** Wall clock, epoch ms. */
  readonly now: () => number;
  readonly logger: { warn(obj: object, msg?: string): void; error(obj: object, msg?: string): void };
  /** Retry-After seconds on 500 when the store fails. */
  readonly retryAfter: number;
}

export interface RegistrarStats {
  readonly accepted: number;
  readonly rejected: number;
  readonly queries: number;
}

type Header = [string, string];

class Refusal {
  constructor(
    readonly status: number,
    readonly reason: string,
    readonly headers: Header[] = [],
  ) {}
}

/** Most Contacts read from one REGISTER; more is a 400 rather than unbounded work. */
const MAX_CONTACTS_PER_REQUEST = 32;

export class Registrar {
  readonly #o: RegistrarOptions;
  /** Per-AOR queue: the decisions of one REGISTER are taken on the state its predecessor committed. */
  readonly #queues = new Map<string, Promise<void>>();
  #accepted = 0;
  #rejected = 0;
  #queries = 0;

  constructor(options: RegistrarOptions) {
    this.#o = options;
  }

  stats(): RegistrarStats {
    return { accepted: this.#accepted, rejected: this.#rejected, queries: this.#queries };
  }

  /** Answers a REGISTER. Never throws; resolves once answered. */
  handle(tx: ServerTransaction): Promise<void> {
    const core = tx.core;
    const ruri = core.requestUri;
    // Step 1: a registrar answers only for its domains (a proxy would forward; we are not one for REGISTER).
    if ((ruri.scheme !== 'sip' && ruri.scheme !== 'sips') || !this.#o.isLocalDomain(ruri.host)) {
      return this.#refuse(tx, new Refusal(404, 'Not Found (domain not served here)'));
    }
    // Step 5: the AOR is the To URI; it must be a SIP URI with a user in a domain we serve.
    const to = core.to.uri;
    if ((to.scheme !== 'sip' && to.scheme !== 'sips') || to.user === undefined || to.user === '' || !this.#o.isLocalDomain(to.host)) {
      return this.#refuse(tx, new Refusal(404, 'Not Found (not an address of record of this domain)'));
    }
    const aor = aorKey(to);
    const previous = this.#queues.get(aor) ?? Promise.resolve();
    const run = previous.then(() => this.#process(tx, aor));
    const tail = run.catch(() => undefined);
    this.#queues.set(aor, tail);
    void tail.then(() => {
      if (this.#queues.get(aor) === tail) this.#queues.delete(aor);
    });
    return run.catch((err: unknown) => {
      this.#o.logger.error({ err, aor }, 'REGISTER processing failed');
      this.#reply(tx, 500, undefined, [['Retry-After', String(this.#o.retryAfter)]]);
    });
  }

  async #process(tx: ServerTransaction, aor: string): Promise<void> {
    const decision = this.#decide(tx, aor);
    if (decision instanceof Refusal) {
      this.#rejected++;
      this.#reply(tx, decision.status, decision.reason, decision.headers);
      return;
    }
    if (decision.changes.length === 0) this.#queries++;
    try {
      await this.#o.location.commit(aor, decision.changes);
    } catch (err) {
      this.#rejected++;
      this.#o.logger.error({ err, aor }, 'bindings not stored: REGISTER answered 500');
      this.#reply(tx, 500, undefined, [['Retry-After', String(this.#o.retryAfter)]]);
      return;
    }
    this.#accepted++;
    this.#reply(tx, 200, undefined, this.#okHeaders(aor, decision));
  }

  #decide(tx: ServerTransaction, aor: string): Decision | Refusal {
    const req = tx.request;
    const core = tx.core;
    const now = this.#o.now();

    let headerExpires: number | undefined;
    const expText = req.headers.get('Expires');
    if (expText !== undefined) {
      const e = parseExpires(expText);
      if (e instanceof SipParseError) return new Refusal(400, 'Bad header Expires');
      headerExpires = e;
    }
    const supported = new Set<string>();
    const tokens = parseTokenList(req.headers.getAll('Supported'), 'Supported');
    if (tokens instanceof SipParseError) return new Refusal(400, 'Bad header Supported');
    for (const t of tokens) supported.add(t.toLowerCase());
    const path = req.headers.getAll('Path');
    const pathHops: NameAddr[] = [];
    for (const p of path) {
      const na = parseNameAddr(p);
      if (na instanceof SipParseError) return new Refusal(400, 'Bad header Path');
      pathHops.push(na);
    }
    const list = parseContactList(req.headers.getAll('Contact'));
    if (list instanceof SipParseError) return new Refusal(400, 'Bad header Contact');

    const callId = core.callId;
    const cseq = core.cseq.seq;
    const ctx: Decision = { changes: [], supported, path, outbound: false };

    if (list.star) {
      // Step 6: "*" is valid only alone (checked by the parser) and with Expires: 0.
      if (headerExpires !== 0) return new Refusal(400, 'Invalid Contact: * needs Expires: 0');
      for (const b of this.#o.location.lookup(aor)) {
        if (b.callId === callId && cseq <= b.cseq) return new Refusal(400, 'Invalid CSeq number');
        ctx.changes.push({ binding: b, event: 'unregistered' });
      }
      return ctx;
    }
    if (list.contacts.length === 0) return ctx; // a query (step 6)
    if (list.contacts.length > MAX_CONTACTS_PER_REQUEST) return new Refusal(400, 'Too many Contacts in one REGISTER');

    const outbound = supported.has('outbound');
    const requests: ContactRequest[] = [];
    for (const na of list.contacts) {
      const c = readContact(na, headerExpires, outbound);
      if ('problem' in c) return new Refusal(400, c.problem);
      requests.push(c);
    }
    // Step 7 on each Contact, on the state as it will be after the earlier ones of this request.
    const pending = new Map<string, BindingRecord | null>();
    const current = (key: string): BindingRecord | undefined => {
      if (pending.has(key)) return pending.get(key) ?? undefined;
      const b = this.#o.location.binding(aor, key);
      return b !== undefined && b.expiresAt > now ? b : undefined;
    };
    const byKey = new Map<string, BindingChange>();
    for (const c of requests) {
      const requested = c.requested ?? this.#o.defaultExpires;
      if (requested > 0 && requested < this.#o.minExpires) {
        return new Refusal(423, 'Interval Too Brief', [['Min-Expires', String(this.#o.minExpires)]]);
      }
      const granted = Math.min(requested, this.#o.maxExpires);
      const existing = current(c.key);
      if (existing !== undefined && existing.callId === callId && cseq <= existing.cseq) {
        return new Refusal(400, 'Invalid CSeq number');
      }
      if (c.regId !== undefined) ctx.outbound = true;
      if (granted === 0) {
        pending.set(c.key, null);
        if (existing !== undefined) byKey.set(c.key, { binding: existing, event: 'unregistered' });
        else byKey.delete(c.key);
        continue;
      }
      const expiresAt = now + granted * 1000;
      const record: BindingRecord = {
        aor,
        key: c.key,
        uri: c.uri,
        contact: c.contact,
        q: c.q,
        instance: c.instance,
        regId: c.regId,
        expiresAt,
        registeredAt: existing?.registeredAt ?? now,
        updatedAt: now,
        callId,
        cseq,
        path,
        userAgent: req.headers.get('User-Agent')?.slice(0, 256),
        flow: {
          protocol: tx.inbound.remote.protocol,
          address: tx.inbound.remote.address,
          port: tx.inbound.remote.port,
          flowId: tx.inbound.flowId,
          localAddress: tx.inbound.localAddress,
          localPort: tx.inbound.localPort,
        },
      };
      pending.set(c.key, record);
      const event = existing === undefined ? 'registered' : expiresAt < existing.expiresAt ? 'shortened' : 'refreshed';
      byKey.set(c.key, { binding: record, event: byKey.get(c.key)?.event === 'registered' ? 'registered' : event });
    }
    // RFC 5626 §6: a reg-id through a proxy that did not mark itself as the edge (Path ;ob) cannot be honoured.
    if (ctx.outbound && req.headers.getAll('Via').length > 1 && !pathHops[0]?.uri.params.has('ob')) {
      return new Refusal(439, 'First Hop Lacks Outbound Support');
    }
    ctx.changes.push(...byKey.values());
    let live = 0;
    for (const b of this.#o.location.lookup(aor)) if (!pending.has(b.key)) live++;
    for (const v of pending.values()) if (v !== null) live++;
    if (live > this.#o.maxContacts) return new Refusal(403, 'Forbidden (too many registered contacts)');
    return ctx;
  }

  /** Step 8: every current binding with its remaining time, Date, and the extensions in use. */
  #okHeaders(aor: string, d: Decision): Header[] {
    const now = this.#o.now();
    const headers: Header[] = [];
    for (const b of this.#o.location.lookup(aor)) {
      headers.push(['Contact', `${b.contact};expires=${Math.max(0, Math.round((b.expiresAt - now) / 1000))}`]);
    }
    headers.push(['Date', new Date(now).toUTCString()]);
    // RFC 3327 §5.3: the Path is returned only to a UA that said it supports it.
    if (d.supported.has('path')) for (const p of d.path) headers.push(['Path', p]);
    // RFC 5626 §6: a registrar that used reg-id says so.
    if (d.outbound) headers.push(['Require', 'outbound']);
    headers.push(['Supported', 'path, outbound']);
    return headers;
  }

  #refuse(tx: ServerTransaction, r: Refusal): Promise<void> {
    this.#rejected++;
    this.#reply(tx, r.status, r.reason, r.headers);
    return Promise.resolve();
  }

  #reply(tx: ServerTransaction, status: number, reason: string | undefined, headers: Header[]): void {
    tx.respond(createResponse(tx.request, tx.core, status, { toTag: newTag(), headers, ...(reason !== undefined ? { reason } : {}) }));
  }
}

interface Decision {
  readonly changes: BindingChange[];
  readonly supported: ReadonlySet<string>;
  readonly path: readonly string[];
  outbound: boolean;
}
