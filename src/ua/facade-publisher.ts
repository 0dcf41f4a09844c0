/**
 * Keeps one publication per presentity alive through the core facade, as Kamailio's `pua` module does for its
 * users (pua_usrloc, pua_reginfo): the caller states the body it wants published (or none) and this class turns
 * that into initial, modify, refresh and remove PUBLISH operations (RFC 3903 §4), one at a time per presentity,
 * the latest wish winning over ones that were still waiting. Refreshes are scheduled before expiry; a refresh
 * or modify refused with 412 (the publication expired or was removed meanwhile) starts over with an initial one.
 *
 * After a restart the publications are still in the store: `adopt` finds ours among a presentity's live ones,
 * so we modify them instead of piling up new ones.
 */
import type { FacadePublishRequest, PublicationView, PublishResult } from '../core/index.js';

/** What the publisher needs from the presence core (PresenceCore implements it). */
export interface PublishingCore {
  publish(req: FacadePublishRequest): Promise<PublishResult>;
  getPresentity(uri: string, event: string): { readonly publicationList: readonly PublicationView[] } | undefined;
}

export interface PublisherTimers {
  setTimer(ms: number, fn: () => void): object;
  clearTimer(handle: object): void;
}

export interface PublisherLogger {
  debug(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

export interface FacadePublisherOptions {
  readonly core: PublishingCore;
  readonly event: string;
  readonly contentType: string;
  /** Seconds asked for each publication (the core may lower it). */
  readonly expires: number;
  readonly timers: PublisherTimers;
  /** Wall clock, epoch ms. */
  readonly now: () => number;
  readonly logger: PublisherLogger;
  /** Recognises our publication among a presentity's live ones (after a restart). */
  readonly owns: (presentity: string, publication: PublicationView) => boolean;
  /** Delay before retrying after a failure other than 412, ms. */
  readonly retryMs?: number;
}

/** What the caller wants for a presentity. keepAlive false: publish once and let it expire. */
interface Wish {
  readonly body: string | undefined;
  readonly keepAlive: boolean;
  /** Seconds asked for; undefined: the publisher's default. */
  readonly expires?: number | undefined;
}

interface Entry {
  etag: string | undefined;
  /** The body the live publication carries (undefined: none published). */
  published: string | undefined;
  wish: Wish;
  busy: boolean;
  /** Refresh, retry or forget timer. */
  timer: object | undefined;
  /** Whether the live publication is refreshed before it expires. */
  keepAlive: boolean;
  /** When the live publication lapses unless refreshed (wall ms). */
  expiresAt: number;
}

export interface PublisherStats {
  readonly presentities: number;
  readonly published: number;
  readonly failures: number;
}

export class FacadePublisher {
  readonly #o: FacadePublisherOptions;
  readonly #entries = new Map<string, Entry>();
  #published = 0;
  #failures = 0;
  #stopped = false;

  constructor(options: FacadePublisherOptions) {
    this.#o = options;
  }

  /** The body currently published for a presentity (undefined: none). */
  published(presentity: string): string | undefined {
    return this.#entries.get(presentity)?.published;
  }

  /** Whether something is published, or about to be, for a presentity. */
  has(presentity: string): boolean {
    const e = this.#entries.get(presentity);
    return e !== undefined && (e.published !== undefined || e.wish.body !== undefined);
  }

  /**
   * Takes over a publication of ours that survived a restart (found through `owns`). Returns its body, or
   * undefined when there is none. Call before `set` for that presentity.
   */
  adopt(presentity: string): string | undefined {
    const detail = this.#o.core.getPresentity(presentity, this.#o.event);
    const pub = detail?.publicationList.find((p) => this.#o.owns(presentity, p));
    if (pub === undefined) return undefined;
    const e = this.#entry(presentity);
    e.etag = pub.etag;
    e.published = pub.body;
    e.expiresAt = pub.expiresAt;
    e.wish = { body: pub.body, keepAlive: false };
    return pub.body;
  }

  /**
   * States the wanted publication of a presentity: a body (kept alive by refreshes when keepAlive), or
   * undefined to remove ours. Returns at once; the PUBLISH operations follow in order.
   */
  set(presentity: string, body: string | undefined, keepAlive = true, expires?: number): void {
    if (this.#stopped) return;
    const e = this.#entry(presentity);
    e.wish = { body, keepAlive: body !== undefined && keepAlive, expires };
    if (!e.busy) void this.#run(presentity, e);
  }

  stop(): void {
    this.#stopped = true;
    for (const e of this.#entries.values()) this.#clearTimer(e);
  }

  stats(): PublisherStats {
    return { presentities: this.#entries.size, published: this.#published, failures: this.#failures };
  }

  #entry(presentity: string): Entry {
    let e = this.#entries.get(presentity);
    if (e === undefined) {
      e = {
        etag: undefined,
        published: undefined,
        wish: { body: undefined, keepAlive: false },
        busy: false,
        timer: undefined,
        keepAlive: false,
        expiresAt: 0,
      };
      this.#entries.set(presentity, e);
    }
    return e;
  }

  /** Brings the publication to the latest wish, one operation at a time. */
  async #run(presentity: string, e: Entry): Promise<void> {
    e.busy = true;
    try {
      for (let guard = 0; guard < 8 && !this.#stopped; guard++) {
        const wish = e.wish;
        if (wish.body === e.published && (e.etag !== undefined || wish.body === undefined)) {
          if (wish.keepAlive !== e.keepAlive || (e.timer === undefined && e.etag !== undefined)) {
            e.keepAlive = wish.keepAlive;
            this.#schedule(presentity, e);
          }
          break;
        }
        const ok = await this.#apply(presentity, e, wish);
        if (!ok) break;
      }
    } finally {
      e.busy = false;
    }
    if (e.etag === undefined && e.wish.body === undefined && e.timer === undefined) this.#entries.delete(presentity);
  }

  /** One operation towards `wish`; false when it failed (a retry is scheduled). */
  async #apply(presentity: string, e: Entry, wish: Wish): Promise<boolean> {
    const base = { presentity, event: this.#o.event };
    let req: FacadePublishRequest;
    if (wish.body === undefined) {
      req = { ...base, etag: e.etag!, expires: 0 };
    } else if (e.etag !== undefined) {
      req = { ...base, etag: e.etag, expires: wish.expires ?? this.#o.expires, contentType: this.#o.contentType, body: wish.body };
    } else {
      req = { ...base, expires: wish.expires ?? this.#o.expires, contentType: this.#o.contentType, body: wish.body };
    }
    let r: PublishResult;
    try {
      r = await this.#o.core.publish(req);
    } catch (err) {
      r = { ok: false, status: 500, reason: err instanceof Error ? err.message : String(err), headers: [] };
    }
    if (r.ok) {
      this.#published++;
      if (wish.body === undefined) {
        e.etag = undefined;
        e.published = undefined;
        e.keepAlive = false;
        this.#clearTimer(e);
      } else {
        e.etag = r.etag;
        e.published = wish.body;
        e.keepAlive = wish.keepAlive;
        e.expiresAt = this.#o.now() + r.expires * 1000;
        this.#schedule(presentity, e);
      }
      return true;
    }
    if (r.status === 412) {
      // RFC 3903 §6 step 3: the entity-tag is gone (expired, removed): nothing of ours is live any more.
      e.etag = undefined;
      e.published = undefined;
      return true;
    }
    this.#failures++;
    this.#o.logger.warn({ presentity, event: this.#o.event, status: r.status, reason: r.reason }, 'publication through the facade failed');
    this.#clearTimer(e);
    e.timer = this.#o.timers.setTimer(this.#o.retryMs ?? 30_000, () => {
      e.timer = undefined;
      if (!e.busy) void this.#run(presentity, e);
    });
    return false;
  }

  /** Refresh the live publication before it lapses, or forget it once it has. */
  #schedule(presentity: string, e: Entry): void {
    this.#clearTimer(e);
    if (e.etag === undefined) return;
    const left = Math.max(0, e.expiresAt - this.#o.now());
    if (e.keepAlive) {
      // Refresh at ~80% of the remaining time, at least 5 s before the end.
      const ms = Math.max(1000, Math.min(left * 0.8, left - 5000));
      e.timer = this.#o.timers.setTimer(ms, () => {
        e.timer = undefined;
        void this.#refresh(presentity, e);
      });
    } else {
      e.timer = this.#o.timers.setTimer(left + 1000, () => {
        e.timer = undefined;
        // It has expired in the core; nothing of ours is live.
        if (e.busy || e.wish.keepAlive) return;
        e.etag = undefined;
        e.published = undefined;
        if (e.wish.body !== undefined) e.wish = { body: undefined, keepAlive: false };
        this.#entries.delete(presentity);
      });
    }
  }

  async #refresh(presentity: string, e: Entry): Promise<void> {
    if (this.#stopped || e.busy || e.etag === undefined) return;
    e.busy = true;
    try {
      const r = await this.#o.core.publish({ presentity, event: this.#o.event, etag: e.etag, expires: this.#o.expires });
      if (r.ok) {
        e.etag = r.etag;
        e.expiresAt = this.#o.now() + r.expires * 1000;
        this.#schedule(presentity, e);
      } else if (r.status === 412) {
        e.etag = undefined;
        e.published = undefined;
      } else {
        this.#failures++;
        this.#o.logger.warn({ presentity, event: this.#o.event, status: r.status }, 'publication refresh failed');
        e.timer = this.#o.timers.setTimer(this.#o.retryMs ?? 30_000, () => {
          e.timer = undefined;
          void this.#refresh(presentity, e);
        });
      }
    } catch (err) {
      this.#failures++;
      this.#o.logger.warn({ presentity, err }, 'publication refresh failed');
    } finally {
      e.busy = false;
    }
    // A wish stated during the refresh, or a publication lost to 412, is dealt with now.
    if (!this.#stopped && !e.busy) void this.#run(presentity, e);
  }

  #clearTimer(e: Entry): void {
    if (e.timer !== undefined) this.#o.timers.clearTimer(e.timer);
    e.timer = undefined;
  }
}
