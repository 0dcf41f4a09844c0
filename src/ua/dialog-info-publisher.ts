/**
 * Presence from calls (Kamailio/OpenSIPS pua_dialoginfo): every state change of a call seen by the proxy
 * becomes dialog-info for the caller (direction initiator) and the callee (recipient), published through the
 * core facade, so it is stored and notified exactly like a SIP PUBLISH: BLF watchers see the lamp and
 * mix_dialog_presence sees the user busy.
 *
 * One publication per user (not per call: the core bounds publications per presentity, and a receptionist has
 * many calls), holding a full-state document with every current dialog of that user. It is modified in place
 * (RFC 3903 §4.3) by the FacadePublisher, which keeps it refreshed and coalesces a burst of changes into the
 * latest state. A terminated dialog stays in the document a few seconds so watchers see it end; when the user
 * has no dialog left the publication is removed (RFC 3903 §4.4) and the lamp goes idle.
 */
import type { Logger } from '../observability/index.js';
import type { CallSnapshot } from '../proxy/index.js';
import { TimerQueue, type Clock } from '../transaction/index.js';
import { DIALOG_INFO_CONTENT_TYPE, dialogElement, dialogId, dialogInfoDocumentOf, type CallSide } from './dialog-info-body.js';
import { FacadePublisher, type PublishingCore } from './facade-publisher.js';

/** The part of the core facade used here (PresenceCore has it). */
export type DialogPublishPort = PublishingCore;

/** Anything that reports call state changes (the proxy's CallTracker). */
export interface CallEventSource {
  onChange(listener: (call: CallSnapshot) => void): void;
}

export interface DialogInfoPublisherOptions {
  readonly core: DialogPublishPort;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Only these AORs get publications (our users); default: all. */
  readonly isLocal?: (aor: string) => boolean;
  /** Expires of each publication, refreshed before it lapses while the user has dialogs. Default 600 s. */
  readonly expires?: number;
  /** How long a terminated dialog stays in its user's document. Default 5 s. */
  readonly terminatedLingerMs?: number;
  /** Publish "trying" for the callee too when the INVITE is forwarded (Kamailio's callee_trying). Default true. */
  readonly calleeTrying?: boolean;
  /** Publish for the caller (initiator) and for the callee (recipient). Default both. */
  readonly caller?: boolean;
  readonly callee?: boolean;
  /** Dialogs kept in one user's document; beyond it the oldest ended, then the oldest, are dropped. Default 32. */
  readonly maxDialogsPerUser?: number;
  /** Users with dialogs tracked at once. Default 20 000. */
  readonly maxUsers?: number;
}

interface Shown {
  call: CallSnapshot;
  readonly side: CallSide;
  readonly since: number;
  linger: ReturnType<TimerQueue['schedule']> | undefined;
  /** dialogId(call, side), hashed once per dialog. */
  readonly id: string;
  /** The <dialog> element of `elementOf`. A busy user's document is rebuilt on every change of any of its
   * (up to maxDialogsPerUser) calls: only the dialog that changed is serialized again. */
  element: string;
  elementOf: CallSnapshot | undefined;
}

export interface DialogInfoPublisherStats {
  /** Users with a dialog published (or about to be). */
  readonly users: number;
  readonly dialogs: number;
  readonly published: number;
  readonly failed: number;
}

/** How long stop() waits for the removals to be answered. */
const STOP_WAIT_MS = 2000;

export class DialogInfoPublisher {
  readonly #facade: FacadePublisher;
  readonly #clock: Clock;
  readonly #timers: TimerQueue;
  readonly #isLocal: (aor: string) => boolean;
  readonly #lingerMs: number;
  readonly #calleeTrying: boolean;
  readonly #sides: CallSide[] = [];
  readonly #maxDialogs: number;
  readonly #maxUsers: number;
  /** AOR -> (call key + side) -> dialog shown. */
  readonly #users = new Map<string, Map<string, Shown>>();
  #seq = 0;
  #stopped = false;

  constructor(opts: DialogInfoPublisherOptions) {
    this.#clock = opts.clock;
    this.#timers = new TimerQueue(opts.clock, (err) => opts.logger.error({ err }, 'dialog publisher timer threw'));
    this.#facade = new FacadePublisher({
      core: opts.core,
      event: 'dialog',
      contentType: DIALOG_INFO_CONTENT_TYPE,
      expires: opts.expires ?? 600,
      timers: opts.clock,
      now: () => opts.clock.wallNow(),
      logger: opts.logger,
      // Calls are not tracked across a restart: publications left from before simply expire.
      owns: () => false,
      retryMs: 5000,
    });
    this.#isLocal = opts.isLocal ?? (() => true);
    this.#lingerMs = opts.terminatedLingerMs ?? 5000;
    this.#calleeTrying = opts.calleeTrying ?? true;
    if (opts.caller !== false) this.#sides.push('initiator');
    if (opts.callee !== false) this.#sides.push('recipient');
    this.#maxDialogs = opts.maxDialogsPerUser ?? 32;
    this.#maxUsers = opts.maxUsers ?? 20_000;
  }

  /** Starts publishing the calls of `source`. */
  attach(source: CallEventSource): void {
    source.onChange((call) => this.onCall(call));
  }

  stats(): DialogInfoPublisherStats {
    let dialogs = 0;
    for (const m of this.#users.values()) dialogs += m.size;
    const f = this.#facade.stats();
    return { users: this.#users.size, dialogs, published: f.published, failed: f.failures };
  }

  /** One call changed state. */
  onCall(call: CallSnapshot): void {
    if (this.#stopped) return;
    for (const side of this.#sides) {
      const entity = side === 'initiator' ? call.caller.aor : call.callee.aor;
      if (!this.#isLocal(entity)) continue;
      if (side === 'recipient' && call.state === 'trying' && !this.#calleeTrying) continue;
      const key = `${call.callId}\0${call.callerTag}\0${side}`;
      let shown = this.#users.get(entity);
      const existing = shown?.get(key);
      if (existing === undefined) {
        // A call that ends before it was ever shown leaves nothing to show.
        if (call.state === 'terminated') continue;
        if (shown === undefined) {
          if (this.#users.size >= this.#maxUsers) continue;
          shown = new Map();
          this.#users.set(entity, shown);
        }
        shown.set(key, { call, side, since: ++this.#seq, linger: undefined, id: dialogId(call, side), element: '', elementOf: undefined });
        this.#bound(shown);
      } else {
        existing.call = call;
      }
      if (call.state === 'terminated') {
        const s = shown!.get(key)!;
        this.#timers.cancel(s.linger);
        s.linger = this.#timers.schedule(this.#lingerMs, () => {
          const m = this.#users.get(entity);
          if (m?.get(key) !== s) return;
          m.delete(key);
          this.#publish(entity);
        });
      }
      this.#publish(entity);
    }
  }

  /** Removes every live publication (best effort, bounded in time) and stops; before the core stops. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#timers.stop();
    const entities = [...this.#users.keys()];
    this.#users.clear();
    for (const e of entities) this.#facade.set(e, undefined);
    const deadline = this.#clock.now() + STOP_WAIT_MS;
    // Bounded in rounds too, so a clock that does not move (tests) cannot hold shutdown.
    for (let round = 0; round < 10_000 && entities.some((e) => this.#facade.has(e)) && this.#clock.now() < deadline; round++) {
      await new Promise<void>((r) => setImmediate(r));
    }
    this.#facade.stop();
  }

  /** Drops the least useful dialogs of a user beyond the bound: ended ones first, then the oldest. */
  #bound(shown: Map<string, Shown>): void {
    while (shown.size > this.#maxDialogs) {
      let victim: [string, Shown] | undefined;
      for (const entry of shown) {
        const v = entry[1];
        if (victim === undefined) {
          victim = entry;
          continue;
        }
        const ended = v.call.state === 'terminated';
        const vEnded = victim[1].call.state === 'terminated';
        if ((ended && !vEnded) || (ended === vEnded && v.since < victim[1].since)) victim = entry;
      }
      if (victim === undefined) return;
      this.#timers.cancel(victim[1].linger);
      shown.delete(victim[0]);
    }
  }

  #publish(entity: string): void {
    const shown = this.#users.get(entity);
    if (shown === undefined || shown.size === 0) {
      this.#users.delete(entity);
      this.#facade.set(entity, undefined);
      return;
    }
    this.#facade.set(entity, dialogInfoDocumentOf(entity, elementsOf(shown)));
  }
}

function* elementsOf(shown: Map<string, Shown>): Generator<string> {
  for (const s of shown.values()) {
    if (s.elementOf !== s.call) {
      s.element = dialogElement(s.call, s.side, s.id);
      s.elementOf = s.call;
    }
    yield s.element;
  }
}
