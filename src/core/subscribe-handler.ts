/**
 * SUBSCRIBE, notifier side (RFC 6665 §4.2.1, RFC 3856 §6):
 * - initial (no To-tag): presentity (404), Event (489 + Allow-Events), Accept (406 + Accept), From-tag and
 *   Contact (400), Expires (423 + Min-Expires, lowered, 0 = fetch), authorization (403 when rejected);
 *   then a new dialog (our To-tag, route set from Record-Route), a durable subscription, 200 (or 202) with
 *   Expires and Contact, and at once a NOTIFY with the current state (§4.2.1.2);
 * - in-dialog (To-tag): the subscription of that dialog, event and Event id (481 when none), CSeq order
 *   (500, RFC 3261 §12.2.2), refresh (new expiry, target refresh, flow) or unsubscribe (Expires 0: final
 *   NOTIFY `terminated;reason=timeout` with the current state).
 * Every change is durable before its 2xx; a failed write is rolled back and answered 500 with Retry-After.
 */
import {
  aorKey,
  isSipParseError,
  parseAccept,
  parseContactList,
  parseEvent,
  parseExpires,
  parseNameAddr,
  parseUri,
  SipParseError,
  type EventHeader,
  type SipUri,
} from '../sip/index.js';
import { newTag, type ServerTransaction } from '../transaction/index.js';
import { createUasDialog, dialogKey, nameAddrWithoutTag } from '../dialog/index.js';
import { expiresRules, negotiateExpires, type ExpiresRules } from '../subscription/index.js';
import type { FlowRecord, StoreMutation } from '../store/store.js';
import { authorizeWatcher } from './authorization.js';
import type { CoreContext } from './context.js';
import type { EventPackage } from './event-package.js';
import { acceptableTypes } from './event-registry.js';
import { contactForFlow, type Notifier } from './notifier.js';
import { EMPTY_LIST, EMPTY_PARAMS, internList, own, Subscription, subscriptionId } from './presentity-index.js';
import { reply, safeReason, storeFailureStatus } from './replies.js';
import type { WatcherInfo } from './watcher-info.js';

/** Why a SUBSCRIBE was refused before any state changed. */
class Refusal {
  constructor(
    readonly status: number,
    readonly reason: string,
    readonly headers: Array<[string, string]> = [],
  ) {}
}

function flowOf(tx: ServerTransaction): FlowRecord {
  const i = tx.inbound;
  return {
    protocol: i.remote.protocol,
    address: i.remote.address,
    port: i.remote.port,
    flowId: i.flowId,
    localAddress: i.localAddress,
    localPort: i.localPort,
  };
}

/** Event header parameters other than `id`, kept for packages that read them (RFC 4235 §3.1 filters). */
function eventParamsOf(ev: EventHeader): ReadonlyMap<string, string | null> {
  if (ev.params.size === 0 || (ev.params.size === 1 && ev.params.has('id'))) return EMPTY_PARAMS;
  const m = new Map<string, string | null>();
  for (const [k, v] of ev.params) if (k !== 'id') m.set(own(k), v === null ? null : own(v));
  return m;
}

export class SubscribeHandler {
  readonly #ctx: CoreContext;
  readonly #notifier: Notifier;
  readonly #winfo: WatcherInfo;
  readonly #rules = new Map<EventPackage, ExpiresRules>();

  constructor(ctx: CoreContext, notifier: Notifier, winfo: WatcherInfo) {
    this.#ctx = ctx;
    this.#notifier = notifier;
    this.#winfo = winfo;
  }

  /** Answers a SUBSCRIBE server transaction. Never throws. */
  handle(tx: ServerTransaction): void {
    try {
      const toTag = tx.core.to.params.get('tag');
      const done = typeof toTag === 'string' && toTag !== '' ? this.#inDialog(tx, toTag) : this.#initial(tx);
      if (done instanceof Refusal) this.#refuse(tx, done);
    } catch (err) {
      this.#ctx.logger.error({ err }, 'SUBSCRIBE processing failed');
      this.#refuse(tx, new Refusal(500, 'Server Internal Error'));
    }
  }

  #refuse(tx: ServerTransaction, r: Refusal): void {
    this.#ctx.counters.subscribeRejected++;
    reply(tx, r.status, { reason: r.reason, headers: r.headers }, this.#ctx.logger);
  }

  #storeFailure(err: unknown): Refusal {
    this.#ctx.counters.storeFailures++;
    const { status, reason } = storeFailureStatus(err);
    return new Refusal(status, reason, [['Retry-After', String(this.#ctx.config.retryAfter)]]);
  }

  #rulesFor(pkg: EventPackage): ExpiresRules {
    let r = this.#rules.get(pkg);
    if (r === undefined) {
      const c = this.#ctx.config;
      r = expiresRules(pkg.expires.default, pkg.expires.min ?? c.minExpires, Math.min(c.maxExpiresSubscribe, pkg.expires.max ?? Infinity));
      this.#rules.set(pkg, r);
    }
    return r;
  }

  /** Event header -> package (RFC 6665 §8.2.1; 489 with Allow-Events, §8.3.2). */
  #event(tx: ServerTransaction): { pkg: EventPackage; ev: EventHeader } | Refusal {
    const text = tx.request.headers.get('Event');
    const bad = (): Refusal =>
      new Refusal(489, 'Bad Event', [['Allow-Events', this.#ctx.registry.allowEvents().join(', ')]]);
    if (text === undefined) return bad();
    const ev = parseEvent(text);
    if (ev instanceof SipParseError) return new Refusal(400, safeReason(ev.message));
    const pkg = this.#ctx.registry.lookup(ev);
    return pkg === undefined ? bad() : { pkg, ev };
  }

  #expires(tx: ServerTransaction): number | undefined | Refusal {
    const text = tx.request.headers.get('Expires');
    if (text === undefined) return undefined;
    const e = parseExpires(text);
    return e instanceof SipParseError ? new Refusal(400, safeReason(e.message)) : e;
  }

  /** The Contact URI (remote target, RFC 6665 §4.1.2.1: SUBSCRIBE carries exactly one). */
  #contact(tx: ServerTransaction, required: boolean): string | undefined | Refusal {
    const values = tx.request.headers.getAll('Contact');
    if (values.length === 0) return required ? new Refusal(400, 'Missing Contact') : undefined;
    const list = parseContactList(values);
    if (list instanceof SipParseError) return new Refusal(400, safeReason(list.message));
    if (list.star || list.contacts.length === 0) return new Refusal(400, 'Bad Contact');
    return own(list.contacts[0]!.uriText);
  }

  /**
   * The presentity of an initial SUBSCRIBE: the Request-URI, or what the package derives (dialog;sla: Contact
   * user at the From domain). A derived one must be in a served domain too (404, as for the Request-URI).
   */
  #presentity(tx: ServerTransaction, pkg: EventPackage, contact: string): string | Refusal {
    const core = tx.core;
    if (pkg.presentityFor === undefined) return aorKey(core.requestUri);
    const c = parseUri(contact);
    let derived: string | undefined;
    try {
      derived = pkg.presentityFor({
        requestUri: core.requestUri,
        from: core.from.uri,
        to: core.to.uri,
        contact: isSipParseError(c) ? undefined : (c as SipUri),
      });
    } catch (err) {
      this.#ctx.logger.error({ err, event: pkg.name }, 'package presentityFor() threw');
      derived = undefined;
    }
    if (derived === undefined) return new Refusal(400, 'Cannot derive the presentity from Contact and From');
    const u = parseUri(derived);
    if (isSipParseError(u) || u.scheme === 'tel') return new Refusal(400, 'Cannot derive the presentity from Contact and From');
    if (!this.#ctx.isLocalDomain(u.host)) return new Refusal(404, 'Not Found');
    return aorKey(u);
  }

  #contactHeader(flow: FlowRecord): string {
    const c = this.#ctx.config.serverAddress ?? contactForFlow(flow);
    return c.includes('<') ? c : `<${c}>`;
  }

  #initial(tx: ServerTransaction): Refusal | undefined {
    const ctx = this.#ctx;
    const { request: req, core } = tx;
    if (!ctx.isLocalDomain(core.requestUri.host)) return new Refusal(404, 'Not Found');
    const evr = this.#event(tx);
    if (evr instanceof Refusal) return evr;
    const { pkg, ev } = evr;

    // RFC 3856 §6.5, RFC 3261 §21.4.7: an Accept listing none of the package's types is a 406.
    let accept: readonly string[] = EMPTY_LIST;
    if (req.headers.has('Accept')) {
      const types = [];
      for (const v of req.headers.getAll('Accept')) {
        const parsed = parseAccept(v);
        if (parsed instanceof SipParseError) return new Refusal(400, safeReason(parsed.message));
        types.push(...parsed);
      }
      if (acceptableTypes(pkg, types).length === 0) {
        return new Refusal(406, 'Not Acceptable', [['Accept', pkg.contentTypes.join(', ')]]);
      }
      accept = internList(types.map((t) => t.type));
    }

    const fromTag = core.from.params.get('tag');
    if (typeof fromTag !== 'string' || fromTag === '') return new Refusal(400, 'Missing From tag');
    const contact = this.#contact(tx, true);
    if (contact instanceof Refusal) return contact;
    const recordRoute = req.headers.getAll('Record-Route');
    for (const rr of recordRoute) {
      if (parseNameAddr(rr) instanceof SipParseError) return new Refusal(400, 'Bad header Record-Route');
    }

    const requested = this.#expires(tx);
    if (requested instanceof Refusal) return requested;
    const decision = negotiateExpires(requested, this.#rulesFor(pkg));
    if (decision.kind === 'too-brief') {
      return new Refusal(423, 'Interval Too Brief', [['Min-Expires', String(decision.minExpires)]]);
    }

    const presentity = this.#presentity(tx, pkg, contact!);
    if (presentity instanceof Refusal) return presentity;
    // The authenticated user when the auth gate vouched for one (RFC 3856 §6.6: authorise the authenticated
    // watcher), else the From URI.
    const watcher = own(tx.identity ?? aorKey(core.from.uri));
    const auth = authorizeWatcher(ctx, pkg, watcher, core.from.displayName, presentity);
    // RFC 6665 §4.2.1.3 / RFC 3856 §6.6: a rejected subscription is refused.
    if (auth === 'rejected') return new Refusal(403, 'Forbidden');

    const localTag = newTag();
    // Everything kept for the life of the subscription is copied out of the request text (see own()).
    const dialog = createUasDialog({
      callId: own(core.callId),
      localTag,
      remoteTag: own(fromTag),
      localUri: own(nameAddrWithoutTag(core.to)),
      remoteUri: own(nameAddrWithoutTag(core.from)),
      remoteTarget: contact!,
      recordRoute: recordRoute.map((r) => own(r)),
      remoteSeq: core.cseq.seq,
      // RFC 3261 §12.1.1: secure only over TLS with a sips Request-URI; we have no TLS listener.
      secure: false,
    });
    const now = ctx.now();
    const flow = flowOf(tx);
    const id = own(subscriptionId(dialogKey(core.callId, localTag, fromTag), pkg.name, ev.id));
    const status = auth === 'pending' ? 'pending' : 'active';
    const reason = auth === 'polite-block' ? 'polite-block' : undefined;
    const granted = decision.kind === 'zero' ? 0 : decision.seconds;
    const okHeaders: Array<[string, string]> = [
      ['Expires', String(granted)],
      ['Contact', this.#contactHeader(flow)],
    ];

    if (decision.kind === 'zero') {
      // RFC 6665 §4.4.3 fetch: 200, one NOTIFY with the current state and terminated, nothing kept.
      const entry = ctx.index.peekOrTransient(presentity, pkg);
      const sub = new Subscription(id, entry, own(ev.id), eventParamsOf(ev), watcher, status, reason, now, now, accept, dialog, flow);
      sub.removed = true;
      sub.ready = true;
      ctx.counters.subscribeAccepted++;
      reply(tx, ctx.config.subscribeReplyCode, { toTag: localTag, headers: okHeaders, copyRecordRoute: true }, ctx.logger);
      this.#notifier.sendFinal(sub, 'timeout');
      return undefined;
    }

    const entry = ctx.index.obtain(presentity, pkg);
    const sub = new Subscription(
      id,
      entry,
      own(ev.id),
      eventParamsOf(ev),
      watcher,
      status,
      reason,
      now + granted * 1000,
      now,
      accept,
      dialog,
      flow,
    );
    ctx.index.addSubscription(sub);
    ctx.index.acquire(entry);
    // The watcher-info side (RFC 3857): a pending watcher is remembered beyond its subscription, in the same write.
    const remembered = this.#winfo.peek(presentity, pkg.name, watcher);
    const mutations = [{ kind: 'put-subscription', record: sub.toRecord() } as const, ...this.#winfo.accepted(sub, core.from.displayName, now)];
    ctx.track(ctx.store.write(mutations)).then(
      () => {
        ctx.index.release(entry);
        if (sub.removed) {
          // Ended while being stored (shutdown, cleanup): answer as if it had just expired.
          reply(tx, 481, { reason: 'Subscription does not exist' }, ctx.logger);
          return;
        }
        ctx.counters.subscribeAccepted++;
        reply(tx, ctx.config.subscribeReplyCode, { toTag: localTag, headers: okHeaders, copyRecordRoute: true }, ctx.logger);
        sub.ready = true;
        ctx.events.emit({
          type: 'subscription-created',
          id,
          presentity,
          event: pkg.name,
          watcher,
          status,
          expires: granted,
        });
        this.#notifier.request(sub, true);
        this.#winfo.created(sub);
      },
      (err: unknown) => {
        ctx.logger.error({ err, id }, 'SUBSCRIBE not stored; rolled back');
        this.#winfo.restore(presentity, pkg.name, watcher, remembered);
        ctx.index.removeSubscription(sub);
        this.#notifier.forget(sub);
        ctx.index.release(entry);
        this.#refuse(tx, this.#storeFailure(err));
      },
    );
    return undefined;
  }

  #inDialog(tx: ServerTransaction, toTag: string): Refusal | undefined {
    const ctx = this.#ctx;
    const core = tx.core;
    const evr = this.#event(tx);
    if (evr instanceof Refusal) return evr;
    const { pkg, ev } = evr;
    const fromTag = core.from.params.get('tag');
    const sub =
      typeof fromTag === 'string'
        ? ctx.index.subscription(subscriptionId(dialogKey(core.callId, toTag, fromTag), pkg.name, ev.id))
        : undefined;
    const now = ctx.now();
    // RFC 6665 §4.2.1.4 / RFC 3261 §12.2.2: no such subscription (never, or no longer: expired counts).
    if (sub === undefined || sub.expiresAt <= now) return new Refusal(481, 'Subscription does not exist');
    // RFC 3261 §12.2.2: a CSeq not above the last one is out of order.
    if (core.cseq.seq <= sub.dialog.remoteSeq) return new Refusal(500, 'CSeq out of order');

    const requested = this.#expires(tx);
    if (requested instanceof Refusal) return requested;
    const decision = negotiateExpires(requested, this.#rulesFor(pkg));
    if (decision.kind === 'too-brief') {
      return new Refusal(423, 'Interval Too Brief', [['Min-Expires', String(decision.minExpires)]]);
    }
    const contact = this.#contact(tx, false);
    if (contact instanceof Refusal) return contact;

    // Apply, remembering what to restore if the write fails.
    const old = { expiresAt: sub.expiresAt, remoteTarget: sub.dialog.remoteTarget, remoteSeq: sub.dialog.remoteSeq, flow: sub.flow };
    const d = sub.dialog;
    d.remoteSeq = core.cseq.seq;
    if (contact !== undefined) d.remoteTarget = contact; // §12.2.2 target refresh
    sub.flow = flowOf(tx);
    sub.nextHop = undefined;
    const entry = sub.entry;
    const unsubscribe = decision.kind === 'zero';
    const granted = unsubscribe ? 0 : decision.seconds;
    if (unsubscribe) {
      ctx.index.removeSubscription(sub);
    } else {
      sub.expiresAt = now + granted * 1000;
      ctx.index.touchSubscription(sub);
    }
    ctx.index.acquire(entry);
    const wasPending = sub.status === 'pending';
    const remembered = unsubscribe ? this.#winfo.peek(entry.presentity, pkg.name, sub.watcher) : undefined;
    const mutations: StoreMutation[] = unsubscribe
      ? [{ kind: 'delete-subscription', id: sub.id }, ...this.#winfo.endedMutations(sub, now)]
      : [{ kind: 'put-subscription', record: sub.toRecord() }];
    ctx.track(ctx.store.write(mutations)).then(
      () => {
        ctx.index.release(entry);
        ctx.counters.subscribeAccepted++;
        const headers: Array<[string, string]> = [
          ['Expires', String(granted)],
          ['Contact', this.#contactHeader(sub.flow)],
        ];
        reply(tx, ctx.config.subscribeReplyCode, { headers }, ctx.logger);
        if (unsubscribe) {
          ctx.events.emit({
            type: 'subscription-terminated',
            id: sub.id,
            presentity: entry.presentity,
            event: pkg.name,
            watcher: sub.watcher,
            reason: 'timeout',
          });
          // RFC 6665 §4.2.1.4 / §4.4.3: the last NOTIFY says terminated and carries the current state.
          this.#notifier.sendFinal(sub, 'timeout');
          this.#winfo.ended(sub, 'timeout', wasPending);
        } else if (!sub.removed) {
          sub.fullState = true;
          this.#notifier.request(sub, true);
        }
      },
      (err: unknown) => {
        ctx.logger.error({ err, id: sub.id }, 'SUBSCRIBE refresh not stored; rolled back');
        sub.expiresAt = old.expiresAt;
        d.remoteTarget = old.remoteTarget;
        d.remoteSeq = old.remoteSeq;
        sub.flow = old.flow;
        sub.nextHop = undefined;
        if (unsubscribe) {
          this.#winfo.restore(entry.presentity, pkg.name, sub.watcher, remembered);
          if (ctx.index.subscription(sub.id) === undefined) ctx.index.addSubscription(sub);
        } else {
          ctx.index.touchSubscription(sub);
        }
        ctx.index.release(entry);
        this.#refuse(tx, this.#storeFailure(err));
      },
    );
    return undefined;
  }
}
