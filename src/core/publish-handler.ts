/**
 * PUBLISH (RFC 3903 §6), the Event State Compositor's steps in order:
 *  1. the Request-URI must be a presentity we serve (404);
 *  2. the Event must name a package that accepts PUBLISH (489 + Allow-Events);
 *  3. SIP-If-Match must name a live entity-tag of that presentity and package (412);
 *  4. Expires: default when absent, 423 + Min-Expires when too brief, lowered when too long, 0 removes;
 *  5. the body: required without SIP-If-Match (400), of a type the package takes (415 + Accept), valid (400);
 *  6. the change is applied in memory at once (so two PUBLISHes of one presentity never race), written
 *     durably, answered 200 with a fresh SIP-ETag and the granted Expires (step 7), and only then are the
 *     watchers notified. A failed write rolls the memory change back and answers 500 with Retry-After.
 */
import { aorKey, parseExpires, parseEvent, parseMediaType, parseNameAddr, parseUri, SipParseError } from '../sip/index.js';
import { newToken, type ServerTransaction } from '../transaction/index.js';
import { expiresRules, negotiateExpires, type ExpiresRules } from '../subscription/index.js';
import type { StoreMutation } from '../store/store.js';
import type { CoreContext } from './context.js';
import type { EventPackage } from './event-package.js';
import { packageAccepts } from './event-registry.js';
import type { Notifier } from './notifier.js';
import { own, Publication, type PresentityState } from './presentity-index.js';
import type { PublicationChange } from './domain-events.js';
import { reply, safeReason, storeFailureStatus } from './replies.js';

/** One PUBLISH, SIP stripped away (also what the management API publishes). */
export interface PublishInput {
  /** Presentity AOR ("sip:alice@example.com"). */
  readonly presentity: string;
  readonly pkg: EventPackage;
  /** SIP-If-Match, when present. */
  readonly ifMatch: string | undefined;
  /** Requested seconds; undefined = package default. */
  readonly expires: number | undefined;
  /** Lower-case "type/subtype" of the body. */
  readonly contentType: string | undefined;
  /** The body; undefined or empty = no body. */
  readonly body: string | undefined;
  readonly sender: string | undefined;
}

export type PublishResult =
  | { readonly ok: true; readonly etag: string; readonly expires: number }
  | {
      readonly ok: false;
      readonly status: number;
      readonly reason: string;
      readonly headers: Array<[string, string]>;
    };

interface Outcome {
  readonly result: PublishResult;
  /** Runs after the answer went out: notifies watchers and emits the domain event. */
  readonly after: (() => void) | undefined;
}

/** RFC 3903 §4 entity-tags: 96 random bits, unguessable so that nobody can modify another's publication. */
const ETAG_BYTES = 12;

function fail(status: number, reason: string, headers: Array<[string, string]> = []): Outcome {
  return { result: { ok: false, status, reason, headers }, after: undefined };
}

export class PublishHandler {
  readonly #ctx: CoreContext;
  readonly #notifier: Notifier;
  readonly #rules = new Map<EventPackage, ExpiresRules>();

  constructor(ctx: CoreContext, notifier: Notifier) {
    this.#ctx = ctx;
    this.#notifier = notifier;
  }

  /** Answers a PUBLISH server transaction. Never throws. */
  handle(tx: ServerTransaction): void {
    const ctx = this.#ctx;
    let outcome: Outcome | Promise<Outcome>;
    try {
      outcome = this.#fromSip(tx);
    } catch (err) {
      ctx.logger.error({ err }, 'PUBLISH processing failed');
      outcome = fail(500, 'Server Internal Error');
    }
    if (outcome instanceof Promise) {
      outcome.then(
        (o) => this.#answer(tx, o),
        (err: unknown) => {
          ctx.logger.error({ err }, 'PUBLISH processing failed');
          this.#answer(tx, fail(500, 'Server Internal Error'));
        },
      );
    } else {
      this.#answer(tx, outcome);
    }
  }

  /** The management API's publish: same rules and effects as a SIP PUBLISH. */
  async publish(input: PublishInput): Promise<PublishResult> {
    const o = await this.process(input);
    this.#count(o.result);
    o.after?.();
    return o.result;
  }

  #answer(tx: ServerTransaction, o: Outcome): void {
    const r = o.result;
    this.#count(r);
    if (r.ok) {
      reply(tx, 200, { headers: [['SIP-ETag', r.etag], ['Expires', String(r.expires)]] }, this.#ctx.logger);
    } else {
      reply(tx, r.status, { reason: r.reason, headers: r.headers }, this.#ctx.logger);
    }
    try {
      o.after?.();
    } catch (err) {
      this.#ctx.logger.error({ err }, 'post-PUBLISH notification failed');
    }
  }

  #count(r: PublishResult): void {
    if (r.ok) this.#ctx.counters.publishAccepted++;
    else this.#ctx.counters.publishRejected++;
  }

  /** RFC 3903 §6 steps 1 and 2 and the header syntax; the rest is common with the management API. */
  #fromSip(tx: ServerTransaction): Outcome | Promise<Outcome> {
    const ctx = this.#ctx;
    const req = tx.request;
    const uri = tx.core.requestUri;
    // Step 1: a resource this ESC is responsible for.
    if (!ctx.isLocalDomain(uri.host)) return fail(404, 'Not Found');
    // Step 2: a package we support for PUBLISH (RFC 3903 §6: missing Event is 489 too).
    const eventText = req.headers.get('Event');
    if (eventText === undefined) return this.#badEvent();
    const event = parseEvent(eventText);
    if (event instanceof SipParseError) return fail(400, safeReason(event.message));
    const pkg = ctx.registry.lookup(event);
    if (pkg === undefined || !pkg.publishable) return this.#badEvent();

    let expires: number | undefined;
    const expText = req.headers.get('Expires');
    if (expText !== undefined) {
      const e = parseExpires(expText);
      if (e instanceof SipParseError) return fail(400, safeReason(e.message));
      expires = e;
    }
    let contentType: string | undefined;
    const hasBody = req.body.length > 0;
    if (hasBody) {
      const ctText = req.headers.get('Content-Type');
      if (ctText === undefined) return fail(400, 'Missing Content-Type');
      const mt = parseMediaType(ctText);
      if (mt instanceof SipParseError) return fail(400, safeReason(mt.message));
      contentType = mt.type;
      // RFC 3261 §8.2.3: a body in an encoding we do not understand is a 415 naming what we take.
      const enc = req.headers.get('Content-Encoding');
      if (enc !== undefined && enc.trim().toLowerCase() !== 'identity') {
        return fail(415, 'Unsupported Media Type', [['Accept-Encoding', 'identity']]);
      }
    }
    const ifMatch = req.headers.get('SIP-If-Match')?.trim();
    const sender = this.#sender(tx, pkg);
    if (typeof sender !== 'string') return sender;
    return this.process({
      presentity: aorKey(uri),
      pkg,
      ifMatch,
      expires,
      contentType,
      body: hasBody ? req.body.toString('utf8') : undefined,
      sender,
    });
  }

  /**
   * The publisher: the From AOR, or for packages that keep the publisher from being notified of its own change
   * (isPublisher, dialog;sla) the Sender header when trusted (OpenSIPS handle_publish(sender_uri)): the phone's
   * Contact, compared with subscribers' Contacts, so kept as the full URI.
   */
  #sender(tx: ServerTransaction, pkg: EventPackage): string | Outcome {
    // The authenticated user when the auth gate vouched for one, else the From AOR.
    const from = tx.identity ?? aorKey(tx.core.from.uri);
    if (pkg.isPublisher === undefined || !this.#ctx.config.trustSenderHeader) return from;
    const text = tx.request.headers.get('Sender');
    if (text === undefined) return from;
    const t = text.trim();
    const na = parseNameAddr(t);
    if (!(na instanceof SipParseError)) return na.uriText;
    const u = parseUri(t);
    if (u instanceof SipParseError || u.scheme === 'tel') return fail(400, 'Bad header Sender');
    return t;
  }

  #badEvent(): Outcome {
    return fail(489, 'Bad Event', [['Allow-Events', this.#ctx.registry.allowEvents().join(', ')]]);
  }

  #rulesFor(pkg: EventPackage): ExpiresRules {
    let r = this.#rules.get(pkg);
    if (r === undefined) {
      const c = this.#ctx.config;
      r = expiresRules(pkg.expires.default, pkg.expires.min ?? c.minExpires, Math.min(c.maxExpiresPublish, pkg.expires.max ?? Infinity));
      this.#rules.set(pkg, r);
    }
    return r;
  }

  /** RFC 3903 §6 steps 3 to 7 for a known presentity and package. */
  process(input: PublishInput): Outcome | Promise<Outcome> {
    const ctx = this.#ctx;
    const { pkg, presentity } = input;
    const now = ctx.now();
    const existing = ctx.index.find(presentity, pkg.name);

    // Step 3: the entity-tag must name current state (an expired one, even if not yet swept, does not).
    let prev: Publication | undefined;
    if (input.ifMatch !== undefined) {
      prev = existing?.findPublication(input.ifMatch);
      if (prev === undefined || prev.expiresAt <= now) return fail(412, 'Conditional Request Failed');
    }
    // Step 4: expiration.
    const decision = negotiateExpires(input.expires, this.#rulesFor(pkg));
    if (decision.kind === 'too-brief') {
      return fail(423, 'Interval Too Brief', [['Min-Expires', String(decision.minExpires)]]);
    }
    const granted = decision.kind === 'zero' ? 0 : decision.seconds;
    const body = input.body !== undefined && input.body.length > 0 ? input.body : undefined;

    // Removal (RFC 3903 §4.5): the body, if any, does not matter.
    if (granted === 0 && prev !== undefined) return this.#remove(existing!, prev, input.sender);

    // Step 5: the body.
    if (prev === undefined && body === undefined) return fail(400, 'Missing body in initial PUBLISH');
    let standalone = prev !== undefined && body === undefined && prev.standalone;
    if (body !== undefined) {
      const ct = input.contentType;
      if (ct === undefined) return fail(400, 'Missing Content-Type');
      if (!packageAccepts(pkg, ct)) {
        return fail(415, 'Unsupported Media Type', [['Accept', pkg.contentTypes.join(', ')]]);
      }
      if (pkg.validatePublish !== undefined) {
        let verdict;
        try {
          verdict = pkg.validatePublish(body, ct, { presentity, sender: input.sender, watched: existing !== undefined && existing.subs.size > 0 });
        } catch (err) {
          ctx.logger.error({ err, event: pkg.name }, 'package validatePublish() threw');
          return fail(500, 'Server Internal Error');
        }
        if (!verdict.ok) return fail(verdict.status, safeReason(verdict.reason));
        standalone = verdict.standalone === true;
      }
    }
    // An initial PUBLISH with Expires 0 creates state that ends at once: answer, keep nothing, tell nobody.
    if (granted === 0) {
      return { result: { ok: true, etag: newToken(ETAG_BYTES), expires: 0 }, after: undefined };
    }
    if (prev === undefined && existing !== undefined && existing.pubs.length >= ctx.config.maxPublicationsPerPresentity) {
      return fail(403, 'Too many publications for this presentity');
    }

    const expiresAt = now + (granted + ctx.config.expiresOffset) * 1000;
    const keepEtag = prev !== undefined && pkg.keepEtagOnRefresh === true;
    const etag = keepEtag ? prev!.etag : newToken(ETAG_BYTES);
    const contentType = body !== undefined ? input.contentType! : prev!.contentType;
    const entry = existing ?? ctx.index.obtain(presentity, pkg);
    // Kept for the life of the publication: copied out of the request text (see own()).
    const next = new Publication(
      entry.presentity, pkg.name, etag, expiresAt, now, keptString(contentType, pkg.contentTypes),
      body ?? prev!.body, input.sender === entry.presentity ? entry.presentity : (own(input.sender) ?? prev?.sender),
      standalone,
    );
    const change: PublicationChange = prev === undefined ? 'created' : body === undefined ? 'refreshed' : 'modified';

    // Apply now, synchronously: a second PUBLISH for the same entity-tag sees this one (412 if it lost).
    if (prev === undefined) ctx.index.addPublication(entry, next);
    else ctx.index.replacePublication(entry, prev, next, change === 'modified');
    const mutation: StoreMutation =
      prev === undefined || prev.etag === etag
        ? { kind: 'put-publication', record: next.toRecord() }
        : { kind: 'replace-publication', oldEtag: prev.etag, record: next.toRecord() };

    ctx.index.acquire(entry);
    return ctx.track(ctx.store.write([mutation])).then(
      (): Outcome => {
        ctx.index.release(entry);
        return {
          result: { ok: true, etag, expires: granted },
          after: () => {
            // A refresh changes no state (RFC 3903 §4.3): nobody is told.
            if (change !== 'refreshed') this.#notifier.stateChanged(entry, { sender: input.sender });
            ctx.events.emit({
              type: 'publication-changed',
              change,
              presentity,
              event: pkg.name,
              etag,
              oldEtag: prev?.etag,
              expires: granted,
              contentType,
              body,
            });
          },
        };
      },
      (err: unknown): Outcome => {
        ctx.counters.storeFailures++;
        ctx.logger.error({ err, presentity, event: pkg.name }, 'PUBLISH not stored; rolled back');
        // Undo only if nothing replaced our change meanwhile.
        if (entry.findPublication(next.etag) === next) {
          if (prev === undefined) ctx.index.removePublication(entry, next);
          else ctx.index.replacePublication(entry, next, prev, false);
        }
        entry.composite = undefined;
        ctx.index.release(entry);
        return this.#storeFailure(err);
      },
    );
  }

  #remove(entry: PresentityState, prev: Publication, sender: string | undefined): Promise<Outcome> {
    const ctx = this.#ctx;
    ctx.index.acquire(entry);
    ctx.index.removePublication(entry, prev);
    const etag = newToken(ETAG_BYTES);
    return ctx
      .track(ctx.store.write([{ kind: 'delete-publication', presentity: prev.presentity, event: prev.event, etag: prev.etag }]))
      .then(
        (): Outcome => {
          ctx.index.release(entry);
          return {
            // RFC 3903 §6 step 7: every 2xx carries SIP-ETag and Expires; here Expires is 0.
            result: { ok: true, etag, expires: 0 },
            after: () => {
              this.#notifier.stateChanged(entry, { sender });
              ctx.events.emit({
                type: 'publication-changed',
                change: 'removed',
                presentity: prev.presentity,
                event: prev.event,
                etag: prev.etag,
                oldEtag: prev.etag,
                expires: 0,
                contentType: undefined,
                body: undefined,
              });
            },
          };
        },
        (err: unknown): Outcome => {
          ctx.counters.storeFailures++;
          ctx.logger.error({ err, presentity: prev.presentity }, 'PUBLISH removal not stored; rolled back');
          if (entry.findPublication(prev.etag) === undefined && prev.expiresAt > ctx.now()) {
            ctx.index.addPublication(entry, prev);
          }
          entry.composite = undefined;
          ctx.index.release(entry);
          return this.#storeFailure(err);
        },
      );
  }

  #storeFailure(err: unknown): Outcome {
    const { status, reason } = storeFailureStatus(err);
    return fail(status, reason, [['Retry-After', String(this.#ctx.config.retryAfter)]]);
  }
}

/** `s` as one of the package's own constants when it is one (a copy per publication otherwise), see own(). */
function keptString(s: string, constants: readonly string[]): string {
  for (const c of constants) if (c === s) return c;
  return own(s);
}
