/**
 * Brute-force protection (what fail2ban or Kamailio's pike + htable do in front of auth_db): failed
 * authentications are counted per source address in a fixed window; a source that reaches the limit is refused
 * outright for a while, without its credentials even being checked. The table is bounded: beyond `maxSources`
 * the least recently touched source is forgotten (a flood of distinct addresses can only shorten blocks, never
 * grow memory).
 */

export interface FailureLimiterOptions {
  /** Failures in one window that block the source. */
  readonly maxFailures: number;
  readonly windowMs: number;
  readonly blockMs: number;
  readonly maxSources: number;
}

interface SourceState {
  failures: number;
  windowStart: number;
  blockedUntil: number;
}

export class FailureLimiter {
  readonly #opts: FailureLimiterOptions;
  /** Insertion order = least recently touched first (entries are re-inserted when touched). */
  readonly #sources = new Map<string, SourceState>();
  #blocks = 0;
  #forgotten = 0;

  constructor(opts: FailureLimiterOptions) {
    this.#opts = opts;
  }

  /** Whether requests from this source are refused now. */
  isBlocked(source: string, now: number): boolean {
    const s = this.#sources.get(source);
    if (s === undefined) return false;
    if (s.blockedUntil > now) return true;
    if (s.blockedUntil !== 0) {
      // The block is over: the source starts again from nothing.
      this.#sources.delete(source);
    }
    return false;
  }

  /** Counts a failure; returns true when this failure blocks the source. */
  recordFailure(source: string, now: number): boolean {
    let s = this.#sources.get(source);
    if (s !== undefined) this.#sources.delete(source);
    if (s === undefined || now - s.windowStart >= this.#opts.windowMs) {
      s = { failures: 0, windowStart: now, blockedUntil: s?.blockedUntil ?? 0 };
    }
    s.failures++;
    let blocked = false;
    if (s.failures >= this.#opts.maxFailures && s.blockedUntil <= now) {
      s.blockedUntil = now + this.#opts.blockMs;
      this.#blocks++;
      blocked = true;
    }
    this.#sources.set(source, s);
    while (this.#sources.size > this.#opts.maxSources) {
      this.#sources.delete(this.#sources.keys().next().value as string);
      this.#forgotten++;
    }
    return blocked;
  }

  /** Sources currently blocked (for the management API), at most `limit`. */
  blocked(now: number, limit = 1000): Array<{ source: string; until: number }> {
    const out: Array<{ source: string; until: number }> = [];
    for (const [source, s] of this.#sources) {
      if (s.blockedUntil > now) out.push({ source, until: s.blockedUntil });
      if (out.length >= limit) break;
    }
    return out;
  }

  stats(): { tracked: number; blocks: number; forgotten: number } {
    return { tracked: this.#sources.size, blocks: this.#blocks, forgotten: this.#forgotten };
  }
}
