/**
 * The calls going through the proxy: their dialog state (for dialog-info publications, pua_dialoginfo)
 * and the addresses their in-dialog requests must reach (the NAT source of each side). Bounded in count;
 * every call ends: by BYE, by a final non-2xx or CANCEL, or by a timeout when nobody sent a BYE (the early
 * timeout, the session timer of RFC 4028 when negotiated, else the maximum call duration).
 */
import {
  aorKey,
  parseNameAddr,
  SipParseError,
  type NameAddr,
  type RequestCore,
  type SipRequest,
  type SipResponse,
} from '../sip/index.js';
import type { Logger } from '../observability/index.js';
import type { Clock, TimerQueue } from '../transaction/index.js';
import type { Destination, InboundContext } from '../transport/index.js';
import { CallDialog, type CallParty, type CallSnapshot } from './call-dialog.js';

export interface CallTrackerOptions {
  readonly clock: Clock;
  readonly timers: TimerQueue;
  readonly logger: Logger;
  /** A confirmed call with no session timer is ended after this long without BYE. Default 4 h. */
  readonly maxDurationMs?: number;
  /** A call still trying or ringing after this long is ended. Default 5 min (Timer C is > 3 min). */
  readonly earlyTimeoutMs?: number;
  /** How long a terminated call is remembered (retransmitted BYE, late ACK routing). Default 32 s. */
  readonly lingerMs?: number;
  /** Calls tracked at once; beyond it new calls are still proxied but not tracked. Default 10 000. */
  readonly maxCalls?: number;
}

export type CallListener = (call: CallSnapshot) => void;

interface Entry {
  readonly call: CallDialog;
  timer: ReturnType<TimerQueue['schedule']> | undefined;
}

/** RFC 4028 §4: Session-Expires = delta-seconds *(;se-params); a confirmed session ends without refresh. */
export function sessionExpiresSeconds(msg: SipRequest | SipResponse): number | undefined {
  const v = msg.headers.get('Session-Expires');
  if (v === undefined) return undefined;
  const m = /^\s*(\d{1,9})/.exec(v);
  if (m === null) return undefined;
  const n = Number(m[1]);
  return n >= 1 ? n : undefined;
}

function party(na: NameAddr, target: string | undefined): CallParty {
  const identity = na.uriText.length > 0 ? na.uriText : '';
  return { identity, display: na.displayName, aor: aorKey(na.uri), target };
}

function contactUri(msg: SipRequest | SipResponse): string | undefined {
  const c = msg.headers.get('Contact');
  if (c === undefined) return undefined;
  const na = parseNameAddr(c);
  return na instanceof SipParseError ? undefined : na.uriText;
}

function tagOf(value: string | undefined): string {
  if (value === undefined) return '';
  const na = parseNameAddr(value);
  return na instanceof SipParseError ? '' : (na.params.get('tag') ?? '');
}

export class CallTracker {
  readonly #clock: Clock;
  readonly #timers: TimerQueue;
  readonly #log: Logger;
  readonly #maxDurationMs: number;
  readonly #earlyTimeoutMs: number;
  readonly #lingerMs: number;
  readonly #maxCalls: number;
  /** Call-ID -> calls (one, unless a Call-ID is reused across forks of different callers). */
  readonly #byCallId = new Map<string, Entry[]>();
  readonly #listeners: CallListener[] = [];
  #size = 0;
  /** Calls not tracked because the table was full. */
  untracked = 0;

  constructor(opts: CallTrackerOptions) {
    this.#clock = opts.clock;
    this.#timers = opts.timers;
    this.#log = opts.logger;
    this.#maxDurationMs = opts.maxDurationMs ?? 4 * 3600_000;
    this.#earlyTimeoutMs = opts.earlyTimeoutMs ?? 300_000;
    this.#lingerMs = opts.lingerMs ?? 32_000;
    this.#maxCalls = opts.maxCalls ?? 10_000;
  }

  get size(): number {
    return this.#size;
  }

  /** Every state change of every call (trying first). A listener that throws is logged and skipped. */
  onChange(listener: CallListener): void {
    this.#listeners.push(listener);
  }

  /** All calls known now (terminated ones still lingering included). */
  list(): CallSnapshot[] {
    const out: CallSnapshot[] = [];
    for (const entries of this.#byCallId.values()) for (const e of entries) out.push(e.call.snapshot());
    return out;
  }

  /** An initial INVITE was forwarded to the callee `calleeAor` (the Request-URI's AOR). */
  inviteForwarded(req: SipRequest, core: RequestCore, inbound: InboundContext, calleeUri: NameAddr | undefined): void {
    const callerTag = core.from.params.get('tag') ?? '';
    if (this.#find(core.callId, callerTag) !== undefined) return;
    if (this.#size >= this.#maxCalls) {
      this.untracked++;
      return;
    }
    const remote = inbound.remote;
    const callerDest: Destination = { protocol: remote.protocol, address: remote.address, port: remote.port, flowId: inbound.flowId };
    const call = new CallDialog({
      callId: core.callId,
      callerTag,
      callerDest,
      caller: party(core.from, contactUri(req)),
      callee: party(calleeUri ?? core.to, undefined),
      startedAt: this.#clock.wallNow(),
    });
    const entry: Entry = { call, timer: undefined };
    const list = this.#byCallId.get(core.callId);
    if (list === undefined) this.#byCallId.set(core.callId, [entry]);
    else list.push(entry);
    this.#size++;
    this.#arm(entry, this.#earlyTimeoutMs);
    this.#emit(call);
  }

  /** A 101-199 or 2xx of a branch of an initial INVITE (our Via still on top), and where that branch went. */
  inviteResponse(response: SipResponse, dest: Destination | undefined): void {
    const callId = response.headers.get('Call-ID') ?? '';
    const entry = this.#find(callId, tagOf(response.headers.get('From')));
    if (entry === undefined) return;
    const toTag = tagOf(response.headers.get('To'));
    if (toTag === '') return; // RFC 4235 "proceeding" (no To tag): no dialog yet; the lamp stays trying.
    const call = entry.call;
    const contact = contactUri(response);
    if (response.status < 200) {
      if (call.early(toTag, contact, dest)) this.#emit(call);
      return;
    }
    if (response.status < 300 && call.answered(toTag, contact, dest, this.#clock.wallNow())) {
      const se = sessionExpiresSeconds(response);
      this.#arm(entry, se !== undefined ? se * 1000 + 32_000 : this.#maxDurationMs);
      this.#emit(call);
    }
  }

  /** The proxy answered the caller with a final non-2xx (after every branch, or a CANCEL). */
  inviteRejected(callId: string, callerTag: string, status: number, cancelled: boolean): void {
    const entry = this.#find(callId, callerTag);
    if (entry === undefined) return;
    if (entry.call.rejected(status, cancelled)) this.#ended(entry);
  }

  /**
   * An in-dialog request forwarded: a BYE ends the call (or one leg of it); a re-INVITE or UPDATE answered
   * 2xx with Session-Expires restarts the session timer (call inDialogResponse for that).
   */
  inDialogRequest(req: SipRequest, core: RequestCore): void {
    if (req.method !== 'BYE') return;
    const m = this.#match(core);
    if (m === undefined) return;
    if (m.entry.call.bye(m.calleeTag, m.fromCaller)) this.#ended(m.entry);
  }

  /** The 2xx of a session refresh (re-INVITE, UPDATE) keeps a session-timed call alive (RFC 4028 §10). */
  inDialogResponse(core: RequestCore, response: SipResponse): void {
    if (response.status >= 300 || (core.cseq.method !== 'INVITE' && core.cseq.method !== 'UPDATE')) return;
    const m = this.#match(core);
    if (m === undefined || m.entry.call.state !== 'confirmed') return;
    const se = sessionExpiresSeconds(response);
    this.#arm(m.entry, se !== undefined ? se * 1000 + 32_000 : this.#maxDurationMs);
  }

  /**
   * Where an in-dialog request with these identifiers goes when its next hop is the remote target: the
   * caller's source address when the callee sends it, the answering leg's destination when the caller does.
   */
  destinationFor(core: RequestCore): Destination | undefined {
    const m = this.#match(core);
    if (m === undefined) return undefined;
    return m.fromCaller ? m.entry.call.legDestination(m.calleeTag) : m.entry.call.callerDest;
  }

  /** Cancels every timer (server shutdown); calls are forgotten without a terminated state. */
  stop(): void {
    for (const entries of this.#byCallId.values()) for (const e of entries) this.#timers.cancel(e.timer);
    this.#byCallId.clear();
    this.#size = 0;
  }

  #match(core: RequestCore): { entry: Entry; fromCaller: boolean; calleeTag: string } | undefined {
    const fromTag = core.from.params.get('tag') ?? '';
    const toTag = core.to.params.get('tag') ?? '';
    const list = this.#byCallId.get(core.callId);
    if (list === undefined) return undefined;
    for (const e of list) {
      if (e.call.callerTag === fromTag) return { entry: e, fromCaller: true, calleeTag: toTag };
      if (e.call.callerTag === toTag) return { entry: e, fromCaller: false, calleeTag: fromTag };
    }
    return undefined;
  }

  #find(callId: string, callerTag: string): Entry | undefined {
    return this.#byCallId.get(callId)?.find((e) => e.call.callerTag === callerTag);
  }

  #arm(entry: Entry, ms: number): void {
    this.#timers.cancel(entry.timer);
    entry.timer = this.#timers.schedule(ms, () => {
      entry.timer = undefined;
      if (entry.call.state === 'terminated') {
        this.#forget(entry);
        return;
      }
      this.#log.info({ callId: entry.call.callId, state: entry.call.state }, 'call ended by timeout (no BYE seen)');
      if (entry.call.timedOut()) this.#ended(entry);
    });
  }

  #ended(entry: Entry): void {
    this.#emit(entry.call);
    this.#arm(entry, this.#lingerMs);
  }

  #forget(entry: Entry): void {
    const list = this.#byCallId.get(entry.call.callId);
    if (list === undefined) return;
    const i = list.indexOf(entry);
    if (i < 0) return;
    list.splice(i, 1);
    if (list.length === 0) this.#byCallId.delete(entry.call.callId);
    this.#size--;
  }

  #emit(call: CallDialog): void {
    const snap = call.snapshot();
    for (const l of this.#listeners) {
      try {
        l(snap);
      } catch (err) {
        this.#log.error({ err }, 'call listener threw');
      }
    }
  }
}
