/**
 * Presence from calls (Kamailio/OpenSIPS pua_dialoginfo): every state change of a call seen by the proxy
 * becomes a dialog-info publication, for the caller (direction initiator) and the callee (recipient),
 * through the core facade, so it is stored and notified exactly like a SIP PUBLISH: BLF watchers see the
 * lamp and mix_dialog_presence sees the user busy.
 *
 * One publication per call and side, modified in place (RFC 3903 §4.3, its entity-tag) as the call moves
 * trying -> early -> confirmed -> terminated, refreshed before it expires while the call lasts, and
 * removed (RFC 3903 §4.4) a little after the terminated state was published so watchers see it end.
 * Publications for one call and side are strictly ordered; a failed one is logged and the next retried.
 */
import type { FacadePublishRequest, PublishResult } from '../core/index.js';
import type { Logger } from '../observability/index.js';
import type { CallSnapshot } from '../proxy/index.js';
import { TimerQueue, type Clock } from '../transaction/index.js';
import { DIALOG_INFO_CONTENT_TYPE, dialogInfoBody, type CallSide } from './dialog-info-body.js';

/** The part of the core facade used here. */
export interface DialogPublishPort {
  publish(req: FacadePublishRequest): Promise<PublishResult>;
}

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
  /** Expires of each publication, refreshed at 80 % while the call lasts. Default 600 s. */
  readonly expires?: number;
  /** How long the terminated state stays published before the publication is removed. Default 5 s. */
  readonly terminatedLingerMs?: number;
  /** Publish "trying" for the callee too when the INVITE is forwarded (Kamailio's callee_trying). Default true. */
  readonly calleeTrying?: boolean;
  /** Publish for the caller (initiator) and for the callee (recipient). Default both. */
  readonly caller?: boolean;
  readonly callee?: boolean;
}

interface Publication {
  readonly entity: string;
  etag: string | undefined;
  chain: Promise<void>;
  refresh: ReturnType<TimerQueue['schedule']> | undefined;
  body: string;
  ended: boolean;
}

export interface DialogInfoPublisherStats {
  readonly live: number;
  readonly published: number;
  readonly failed: number;
}

export class DialogInfoPublisher {
  readonly #core: DialogPublishPort;
  readonly #log: Logger;
  readonly #timers: TimerQueue;
  readonly #isLocal: (aor: string) => boolean;
  readonly #expires: number;
  readonly #lingerMs: number;
  readonly #calleeTrying: boolean;
  readonly #sides: CallSide[];
  readonly #pubs = new Map<string, Publication>();
  #published = 0;
  #failed = 0;
  #stopped = false;

  constructor(opts: DialogInfoPublisherOptions) {
    this.#core = opts.core;
    this.#log = opts.logger;
    this.#timers = new TimerQueue(opts.clock, (err) => opts.logger.error({ err }, 'dialog publisher timer threw'));
    this.#isLocal = opts.isLocal ?? (() => true);
    this.#expires = opts.expires ?? 600;
    this.#lingerMs = opts.terminatedLingerMs ?? 5000;
    this.#calleeTrying = opts.calleeTrying ?? true;
    this.#sides = [];
    if (opts.caller !== false) this.#sides.push('initiator');
    if (opts.callee !== false) this.#sides.push('recipient');
  }

  /** Starts publishing the calls of `source`. */
  attach(source: CallEventSource): void {
    source.onChange((call) => this.onCall(call));
  }

  stats(): DialogInfoPublisherStats {
    return { live: this.#pubs.size, published: this.#published, failed: this.#failed };
  }

  /** Resolves once every publication queued so far was answered (tests, shutdown). */
  async settled(): Promise<void> {
    await Promise.all([...this.#pubs.values()].map((p) => p.chain));
  }

  /** One call changed state. */
  onCall(call: CallSnapshot): void {
    if (this.#stopped) return;
    for (const side of this.#sides) {
      const entity = side === 'initiator' ? call.caller.aor : call.callee.aor;
      if (!this.#isLocal(entity)) continue;
      if (side === 'recipient' && call.state === 'trying' && !this.#calleeTrying) continue;
      const key = `${call.callId}\0${call.callerTag}\0${side}`;
      let pub = this.#pubs.get(key);
      if (pub === undefined) {
        // A call that ends before anything was published leaves nothing to clear.
        if (call.state === 'terminated') continue;
        pub = { entity, etag: undefined, chain: Promise.resolve(), refresh: undefined, body: '', ended: false };
        this.#pubs.set(key, pub);
      }
      if (pub.ended) continue;
      const body = dialogInfoBody(call, side);
      pub.body = body;
      const p = pub;
      this.#enqueue(p, () => this.#publish(p, body));
      if (call.state === 'terminated') {
        p.ended = true;
        this.#timers.cancel(p.refresh);
        this.#timers.schedule(this.#lingerMs, () => {
          this.#enqueue(p, () => this.#remove(p));
          void p.chain.then(() => {
            if (this.#pubs.get(key) === p) this.#pubs.delete(key);
          });
        });
      }
    }
  }

  /** Removes every live publication (best effort) and stops; the server calls it before the core stops. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#timers.stop();
    for (const p of this.#pubs.values()) this.#enqueue(p, () => this.#remove(p));
    await this.settled();
    this.#pubs.clear();
  }

  #enqueue(p: Publication, fn: () => Promise<void>): void {
    p.chain = p.chain.then(fn).catch((err: unknown) => {
      this.#failed++;
      this.#log.warn({ err, entity: p.entity }, 'dialog-info publication failed');
    });
  }

  async #publish(p: Publication, body: string): Promise<void> {
    const req: FacadePublishRequest = {
      presentity: p.entity,
      event: 'dialog',
      contentType: DIALOG_INFO_CONTENT_TYPE,
      body,
      expires: this.#expires,
      ...(p.etag !== undefined ? { etag: p.etag } : {}),
    };
    let r = await this.#core.publish(req);
    if (!r.ok && r.status === 412 && p.etag !== undefined) {
      // RFC 3903 §6: the publication expired or was removed meanwhile: publish afresh.
      p.etag = undefined;
      r = await this.#core.publish({ ...req, etag: undefined });
    }
    if (!r.ok) {
      this.#failed++;
      this.#log.debug({ entity: p.entity, status: r.status, reason: r.reason }, 'dialog-info publication refused');
      return;
    }
    this.#published++;
    p.etag = r.etag;
    this.#timers.cancel(p.refresh);
    p.refresh = undefined;
    if (!p.ended && !this.#stopped) {
      p.refresh = this.#timers.schedule(Math.max(1, r.expires) * 800, () => {
        p.refresh = undefined;
        this.#enqueue(p, () => this.#publish(p, p.body));
      });
    }
  }

  async #remove(p: Publication): Promise<void> {
    this.#timers.cancel(p.refresh);
    p.refresh = undefined;
    if (p.etag === undefined) return;
    const etag = p.etag;
    p.etag = undefined;
    const r = await this.#core.publish({ presentity: p.entity, event: 'dialog', etag, expires: 0 });
    if (!r.ok && r.status !== 412) this.#log.debug({ entity: p.entity, status: r.status }, 'dialog-info removal refused');
  }
}
