/**
 * One subscription held by presenced as the subscriber (RFC 6665 §4.1, OpenSIPS/Kamailio pua_subscribe):
 *
 *   subscribing --first NOTIFY--> pending | active --NOTIFY terminated / 481 / expiry--> waiting --timer--> subscribing
 *        |  Timer N (64*T1) without a NOTIFY, or a retryable failure ---------------------> waiting
 *        '- final refusal (403, 489 ...), or terminated with reason rejected|noresource|invariant --> terminated
 *   any --unsubscribe()--> unsubscribing --NOTIFY terminated, 481 or 64*T1--> gone
 *
 * Each attempt is a new dialog (new Call-ID and From tag). The dialog is created by the 2xx or by a NOTIFY
 * that arrives first (§4.1.2.4); one dialog per attempt is kept, NOTIFYs of other forks get 481 (which ends
 * them at their notifier). Refreshes go at 80 % of the granted duration; a refresh refused with something
 * other than 481 leaves the subscription valid until it expires (§4.1.2.2).
 */
import { createResponse, parseEvent, parseSubscriptionState, SipParseError, type SipResponse } from '../sip/index.js';
import type { DialogState } from '../dialog/index.js';
import { newTag, newToken, type ClientTransactionOutcome, type ServerTransaction } from '../transaction/index.js';
import type { Destination } from '../transport/index.js';
import type { OutboundRecord } from './outbound-record-store.js';
import type { OutboundContext, OutboundInfo, OutboundState } from './outbound-types.js';
import {
  contactUri,
  dialogFrom2xx,
  dialogFromNotify,
  inDialogSubscribe,
  initialSubscribe,
  responseToTag,
  type DialogIds,
  type SubscribeTarget,
} from './subscriber-dialog.js';

/** Reasons after which RFC 6665 §4.1.3 says the subscriber SHOULD NOT re-subscribe. */
const FINAL_REASONS = new Set(['rejected', 'noresource', 'invariant']);
/** Reasons after which it SHOULD re-subscribe at once (§4.1.3: deactivated, timeout). */
const IMMEDIATE_REASONS = new Set(['deactivated', 'timeout']);
/** Failures of a SUBSCRIBE worth trying again later; anything else is a final refusal. */
function retryableStatus(status: number): boolean {
  return status === 408 || status === 480 || status === 486 || status === 491 || (status >= 500 && status < 600 && status !== 501);
}

/** Longest Retry-After / retry-after we wait; longer values are clamped (a typo must not park it for years). */
const MAX_RETRY_AFTER_S = 86_400;
/** Highest Min-Expires (423) we accept raising our request to. */
const MAX_EXPIRES_S = 7 * 86_400;

export class OutboundSubscription {
  readonly record: OutboundRecord;
  readonly #ctx: OutboundContext;
  readonly #target: SubscribeTarget;
  /** Every request goes here when set (the presentity's server or our own listener); else by the dialog. */
  readonly #nextHop: Destination;
  #state: OutboundState = 'waiting';
  #ids: DialogIds | undefined;
  #dialog: DialogState | undefined;
  /** Bumped for each attempt and each in-dialog request, so late outcomes of older ones are ignored. */
  #gen = 0;
  #requestedExpires: number;
  #grantedExpires: number | undefined;
  #expiresAtWall: number | undefined;
  #establishedAt: number | undefined;
  #failures = 0;
  #min423 = 0;
  #notifies = 0;
  #lastNotifyAt: number | undefined;
  #lastState: { state: string; reason: string | undefined } | undefined;
  #lastError: string | undefined;
  #refreshing = false;
  #timerN: ReturnType<OutboundContext['timers']['schedule']> | undefined;
  #refresh: ReturnType<OutboundContext['timers']['schedule']> | undefined;
  #expiry: ReturnType<OutboundContext['timers']['schedule']> | undefined;
  #retry: ReturnType<OutboundContext['timers']['schedule']> | undefined;
  #stopped = false;

  constructor(ctx: OutboundContext, record: OutboundRecord, target: SubscribeTarget, nextHop: Destination) {
    this.#ctx = ctx;
    this.record = record;
    this.#target = target;
    this.#nextHop = nextHop;
    this.#requestedExpires = record.expires;
  }

  get state(): OutboundState {
    return this.#state;
  }

  /** Starts the first attempt after `delayMs` (restart pacing). */
  start(delayMs = 0): void {
    if (delayMs <= 0) this.#subscribe();
    else this.#retryIn(delayMs, undefined);
  }

  info(): OutboundInfo {
    const r = this.record;
    const d = this.#dialog;
    return {
      id: r.id,
      presentity: r.presentity,
      watcher: r.watcher,
      event: r.event,
      target: r.target,
      expires: r.expires,
      state: this.#state,
      reason: this.#lastState?.reason,
      grantedExpires: this.#grantedExpires,
      expiresAt: this.#expiresAtWall,
      createdAt: r.createdAt,
      notifies: this.#notifies,
      lastNotifyAt: this.#lastNotifyAt,
      lastError: this.#lastError,
      failures: this.#failures,
      dialog:
        d === undefined
          ? undefined
          : {
              callId: d.callId,
              localTag: d.localTag,
              remoteTag: d.remoteTag,
              remoteTarget: d.remoteTarget,
              routeSet: d.routeSet,
              localSeq: d.localSeq,
              remoteSeq: d.remoteSeq,
            },
    };
  }

  /** Ends the subscription (RFC 6665 §4.1.2.3): SUBSCRIBE with Expires 0 when a dialog exists. */
  unsubscribe(): void {
    if (this.#state === 'unsubscribing' || this.#stopped) return;
    const had = this.#state;
    this.#setState('unsubscribing');
    this.#cancel('refresh', 'expiry', 'retry');
    if (had === 'waiting' || had === 'terminated' || (had === 'subscribing' && this.#ids === undefined)) {
      this.#gone();
      return;
    }
    // Whatever happens, the record goes after 64*T1 (the NOTIFY terminated may never come).
    this.#cancel('timerN');
    this.#timerN = this.#ctx.timers.schedule(64 * this.#ctx.t1, () => {
      this.#timerN = undefined;
      this.#gone();
    });
    // Without a dialog yet the 2xx (or first NOTIFY) will bring one; #onEstablished sends the Expires 0 then.
    if (this.#dialog !== undefined) this.#sendUnsubscribe();
  }

  /** Timers off; nothing is sent (presenced is stopping: the subscription is re-created at the next start). */
  stop(): void {
    this.#stopped = true;
    this.#cancel('timerN', 'refresh', 'expiry', 'retry');
  }

  // ------------------------------------------------------------ NOTIFY (we are the UAS)

  /** A NOTIFY whose Call-ID and To tag are those of our current attempt. Answers it. */
  handleNotify(tx: ServerTransaction): void {
    const req = tx.request;
    const fromTag = tx.core.from.params.get('tag');
    if (typeof fromTag !== 'string' || fromTag === '') {
      this.#reply(tx, 400, 'Missing From tag');
      return;
    }
    const d = this.#dialog;
    if (d !== undefined && d.remoteTag !== fromTag) {
      // Another fork of our SUBSCRIBE (§4.1.2.4 allows several dialogs; we keep the first): 481 ends it there.
      this.#reply(tx, 481, 'Subscription Does Not Exist');
      return;
    }
    const ev = parseEvent(req.headers.get('Event') ?? '');
    const ours = parseEvent(this.record.event);
    // RFC 6665 §8.2.1: event type and id compare as tokens; a NOTIFY for another package is 489 (§4.1.3).
    if (ev instanceof SipParseError || ours instanceof SipParseError || ev.type !== ours.type || ev.id !== ours.id) {
      this.#reply(tx, 489, 'Bad Event');
      return;
    }
    const ssText = req.headers.get('Subscription-State');
    const ss = ssText === undefined ? undefined : parseSubscriptionState(ssText);
    if (ss === undefined || ss instanceof SipParseError) {
      // §4.1.3 / §8.2.3: NOTIFY requests MUST carry Subscription-State.
      this.#reply(tx, 400, ss === undefined ? 'Missing Subscription-State' : 'Bad Subscription-State');
      return;
    }
    const seq = tx.core.cseq.seq;
    if (d !== undefined) {
      // RFC 3261 §12.2.2: a CSeq lower than the last one is out of order.
      if (d.remoteSeq >= 0 && seq <= d.remoteSeq) {
        this.#reply(tx, 500, 'CSeq Out of Order');
        return;
      }
      d.remoteSeq = seq;
      // NOTIFY is a target refresh request (RFC 6665 §4.1.3 and §3.2).
      const contact = contactUri(req.headers);
      if (contact !== undefined) d.remoteTarget = contact;
    } else {
      const ids = this.#ids!;
      const created = dialogFromNotify({ ids, target: this.#target }, req, fromTag, seq, 1);
      if (created === undefined) {
        this.#reply(tx, 400, 'Missing Contact');
        return;
      }
      this.#dialog = created;
    }
    this.#reply(tx, 200);
    this.#notifies++;
    this.#lastNotifyAt = this.#ctx.wallNow();
    this.#lastState = { state: ss.state, reason: ss.reason };
    if (this.#timerN !== undefined && this.#state !== 'unsubscribing') this.#cancel('timerN');
    this.#ctx.emit({
      type: 'notify-in',
      subscription: this.info(),
      state: ss.state,
      reason: ss.reason,
      expires: ss.expires,
      contentType: req.body.length > 0 ? (req.headers.get('Content-Type') ?? 'application/octet-stream') : undefined,
      body: req.body.length > 0 ? req.body.toString('utf8') : undefined,
    });
    if (d === undefined && ss.state !== 'terminated') this.#onEstablished();
    this.#applyState(ss.state, ss.reason, ss.expires, ss.retryAfter);
  }

  #applyState(state: string, reason: string | undefined, expires: number | undefined, retryAfter: number | undefined): void {
    if (state === 'terminated') {
      this.#endDialog();
      if (this.#state === 'unsubscribing') {
        this.#gone();
        return;
      }
      this.#ended(reason, retryAfter);
      return;
    }
    if (this.#state === 'unsubscribing') return;
    if (state === 'active' || state === 'pending') this.#setState(state);
    // §4.1.3: the expires of Subscription-State is the authoritative duration.
    if (expires !== undefined && (state === 'active' || state === 'pending')) this.#setExpiry(expires);
  }

  /** The subscription ended at the notifier: retry per the reason (RFC 6665 §4.1.3). */
  #ended(reason: string | undefined, retryAfter: number | undefined): void {
    if (reason !== undefined && FINAL_REASONS.has(reason)) {
      this.#terminate(`terminated by the notifier (${reason})`);
      return;
    }
    this.#noteFailure();
    if (retryAfter !== undefined) {
      this.#retryIn(Math.min(retryAfter, MAX_RETRY_AFTER_S) * 1000, `terminated (${reason ?? 'no reason'}), retry-after ${retryAfter}`);
    } else if (reason !== undefined && IMMEDIATE_REASONS.has(reason) && this.#failures <= 1) {
      this.#retryIn(0, `terminated (${reason})`);
    } else {
      this.#retryIn(this.#backoff(), `terminated (${reason ?? 'no reason'})`);
    }
  }

  // ------------------------------------------------------------ SUBSCRIBE (we are the UAC)

  #subscribe(): void {
    if (this.#stopped) return;
    const ids: DialogIds = { callId: `${newToken(15)}@presenced`, localTag: newTag() };
    this.#unbind();
    this.#ids = ids;
    this.#dialog = undefined;
    this.#ctx.bind(ids, this);
    this.#setState('subscribing');
    const gen = ++this.#gen;
    // RFC 6665 §4.1.2.4: Timer N (64*T1) from the SUBSCRIBE; no NOTIFY by then means the subscription failed.
    this.#cancel('timerN');
    this.#timerN = this.#ctx.timers.schedule(64 * this.#ctx.t1, this.#onTimerN);
    const request = initialSubscribe(this.#target, ids, this.#requestedExpires);
    void this.#ctx.sender.sendRequest(request, this.#nextHop).then((o) => this.#onInitial(gen, ids, o));
  }

  #onInitial(gen: number, ids: DialogIds, o: ClientTransactionOutcome): void {
    if (this.#stopped || gen !== this.#gen) return;
    const unsubscribing = this.#state === 'unsubscribing';
    if (o.response !== undefined && o.status >= 200 && o.status < 300) {
      if (this.#dialog !== undefined && this.#dialog.remoteTag !== responseToTag(o.response)) {
        // A NOTIFY of one fork made the dialog; this 2xx comes from another fork, whose NOTIFYs will get 481.
        return;
      }
      if (this.#dialog === undefined) {
        const d = dialogFrom2xx({ ids, target: this.#target }, o.response, 1);
        if (d === undefined) {
          this.#fail('2xx without To tag or Contact', undefined);
          return;
        }
        this.#dialog = d;
        this.#onEstablished();
      }
      if (!unsubscribing) this.#granted(o.response);
      return;
    }
    if (unsubscribing) {
      this.#gone();
      return;
    }
    if (o.status === 423 && this.#raiseExpires(o.response)) {
      this.#subscribe();
      return;
    }
    this.#fail(`${o.status} ${o.response?.reason ?? o.localReason ?? ''}`.trim(), o.response);
  }

  /** A dialog now exists (2xx or first NOTIFY): an unsubscribe asked meanwhile can go. */
  #onEstablished(): void {
    this.#establishedAt = this.#ctx.clock.now();
    if (this.#state === 'unsubscribing') this.#sendUnsubscribe();
  }

  /** The duration a 2xx grants (RFC 6665 §4.1.2.1: the 2xx carries Expires). */
  #granted(response: SipResponse): void {
    const e = Number.parseInt(response.headers.get('Expires') ?? '', 10);
    const granted = Number.isFinite(e) && e >= 0 ? Math.min(e, this.#requestedExpires) : this.#requestedExpires;
    this.#setExpiry(granted);
  }

  #setExpiry(seconds: number): void {
    this.#cancel('refresh', 'expiry');
    this.#grantedExpires = seconds;
    this.#expiresAtWall = this.#ctx.wallNow() + seconds * 1000;
    // Expires 0 from the notifier: its NOTIFY terminated follows; if not, the expiry retries.
    this.#expiry = this.#ctx.timers.schedule(Math.max(seconds * 1000, 1), this.#onExpired);
    if (seconds > 0) this.#refresh = this.#ctx.timers.schedule(Math.max(seconds * 800, 500), this.#onRefreshDue);
  }

  readonly #onRefreshDue = (): void => {
    this.#refresh = undefined;
    const d = this.#dialog;
    if (d === undefined || this.#refreshing || this.#stopped) return;
    if (this.#state !== 'active' && this.#state !== 'pending' && this.#state !== 'subscribing') return;
    this.#refreshing = true;
    const gen = this.#gen;
    const request = inDialogSubscribe(d, this.#target, this.#requestedExpires);
    void this.#ctx.sender.sendRequest(request, this.#nextHop).then((o) => {
      this.#refreshing = false;
      if (this.#stopped || gen !== this.#gen || this.#state === 'unsubscribing' || this.#dialog !== d) return;
      if (o.response !== undefined && o.status >= 200 && o.status < 300) {
        // SUBSCRIBE is a target refresh request: its 2xx may move the remote target.
        const contact = contactUri(o.response.headers);
        if (contact !== undefined) d.remoteTarget = contact;
        this.#granted(o.response);
        return;
      }
      if (o.status === 481) {
        // §4.1.2.2: the notifier no longer knows the subscription: a new one, now.
        this.#lastError = 'refresh answered 481';
        this.#endDialog();
        this.#retryIn(0, 'refresh answered 481');
        return;
      }
      if (o.status === 423 && this.#raiseExpires(o.response)) {
        this.#refresh = this.#ctx.timers.schedule(0, this.#onRefreshDue);
        return;
      }
      // §4.1.2.2: any other failure leaves the subscription valid until it expires; try again before that.
      this.#lastError = `refresh failed: ${o.status}`;
      const left = (this.#expiresAtWall ?? 0) - this.#ctx.wallNow();
      if (left > 2000) this.#refresh = this.#ctx.timers.schedule(Math.min(left / 2, this.#backoff()), this.#onRefreshDue);
    });
  };

  readonly #onExpired = (): void => {
    this.#expiry = undefined;
    if (this.#state === 'unsubscribing' || this.#stopped) return;
    this.#endDialog();
    this.#ended('timeout', undefined);
  };

  readonly #onTimerN = (): void => {
    this.#timerN = undefined;
    if (this.#state !== 'subscribing') return;
    this.#fail('no NOTIFY within Timer N (64*T1)', undefined);
  };

  #sendUnsubscribe(): void {
    const d = this.#dialog;
    if (d === undefined) return;
    const gen = ++this.#gen;
    const request = inDialogSubscribe(d, this.#target, 0);
    void this.#ctx.sender.sendRequest(request, this.#nextHop).then((o) => {
      if (gen !== this.#gen) return;
      // Refused or unknown: nothing more will come. Accepted: the NOTIFY terminated (or 64*T1) ends it.
      if (o.status >= 300) this.#gone();
    });
  }

  /** RFC 3261 §21.4.17 / RFC 6665 §4.1.2.1: 423 carries the Min-Expires to retry with. */
  #raiseExpires(response: SipResponse | undefined): boolean {
    const min = Number.parseInt(response?.headers.get('Min-Expires') ?? '', 10);
    if (!Number.isFinite(min) || min <= this.#requestedExpires || min > MAX_EXPIRES_S || this.#min423 >= 3) return false;
    this.#min423++;
    this.#requestedExpires = min;
    return true;
  }

  #fail(why: string, response: SipResponse | undefined): void {
    this.#lastError = why;
    const status = response?.status;
    if (status !== undefined && !retryableStatus(status)) {
      this.#terminate(why);
      return;
    }
    this.#endDialog();
    this.#noteFailure();
    const ra = Number.parseInt(response?.headers.get('Retry-After') ?? '', 10);
    const delay = Number.isFinite(ra) && ra >= 0 ? Math.min(ra, MAX_RETRY_AFTER_S) * 1000 : this.#backoff();
    this.#retryIn(delay, why);
  }

  /** Counts a failure, unless the subscription had been up long enough to call it stable. */
  #noteFailure(): void {
    const up = this.#establishedAt === undefined ? 0 : this.#ctx.clock.now() - this.#establishedAt;
    if (up >= this.#ctx.stableMs) this.#failures = 0;
    this.#failures++;
    this.#establishedAt = undefined;
  }

  /** Exponential back-off with jitter: base, 2*base ... up to max, times [0.5, 1). */
  #backoff(): number {
    const exp = Math.min(this.#ctx.retryMaxMs, this.#ctx.retryBaseMs * 2 ** Math.min(20, Math.max(0, this.#failures - 1)));
    return Math.round(exp * (0.5 + this.#ctx.random() / 2));
  }

  #retryIn(ms: number, why: string | undefined): void {
    if (this.#stopped) return;
    this.#cancel('timerN', 'refresh', 'expiry', 'retry');
    this.#unbind();
    this.#gen++;
    this.#setState('waiting');
    if (why !== undefined) this.#ctx.logger.debug({ id: this.record.id, why, retryInMs: ms }, 'outbound subscription will be retried');
    this.#retry = this.#ctx.timers.schedule(ms, () => {
      this.#retry = undefined;
      this.#subscribe();
    });
  }

  /** Final: no retry. The manager drops the durable record. */
  #terminate(why: string): void {
    this.#lastError = why;
    this.#cancel('timerN', 'refresh', 'expiry', 'retry');
    this.#endDialog();
    this.#unbind();
    this.#gen++;
    this.#setState('terminated');
    this.#ctx.logger.info({ id: this.record.id, presentity: this.record.presentity, why }, 'outbound subscription ended');
    this.#ctx.terminated(this);
  }

  #gone(): void {
    this.#cancel('timerN', 'refresh', 'expiry', 'retry');
    this.#endDialog();
    this.#unbind();
    this.#gen++;
    this.#ctx.gone(this);
  }

  #endDialog(): void {
    this.#dialog = undefined;
    this.#grantedExpires = undefined;
    this.#expiresAtWall = undefined;
  }

  #unbind(): void {
    if (this.#ids !== undefined) this.#ctx.unbind(this.#ids, this);
    this.#ids = undefined;
  }

  #setState(s: OutboundState): void {
    if (this.#state === s) return;
    this.#state = s;
    this.#ctx.emit({ type: 'state', subscription: this.info() });
  }

  #cancel(...names: Array<'timerN' | 'refresh' | 'expiry' | 'retry'>): void {
    const t = this.#ctx.timers;
    for (const n of names) {
      if (n === 'timerN') t.cancel(this.#timerN), (this.#timerN = undefined);
      else if (n === 'refresh') t.cancel(this.#refresh), (this.#refresh = undefined);
      else if (n === 'expiry') t.cancel(this.#expiry), (this.#expiry = undefined);
      else t.cancel(this.#retry), (this.#retry = undefined);
    }
  }

  #reply(tx: ServerTransaction, status: number, reason?: string): void {
    tx.respond(createResponse(tx.request, tx.core, status, { toTag: this.#ids?.localTag ?? newTag(), ...(reason !== undefined && { reason }) }));
  }
}
