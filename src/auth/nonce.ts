/**
 * Digest nonces that need no table to verify, and a bounded table that refuses replays.
 *
 * A nonce is base64url(issued-at ms (6 bytes) | sequence (6 bytes) | HMAC-SHA-256 of both, truncated to 16 bytes)
 * under a key drawn at start-up: we can tell our own nonces and their age without remembering them (RFC 7616
 * §3.3 suggests a timestamp and a private key for exactly this). After a restart the key changes, old nonces
 * stop verifying, and a client that answers with one gets stale=true and retries with a fresh one.
 *
 * Replay (RFC 7616 §3.4.4, §5.3): the highest nonce-count accepted per nonce is remembered, and a request must
 * bring a higher one. The table is bounded: the oldest entries are evicted and a low-water mark on the sequence
 * makes every nonce not newer than an evicted one count as spent (stale), so eviction never reopens a replay.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

const TIME_BYTES = 6;
/** 48 bits: never wraps in practice, so the low-water mark below stays meaningful. */
const SEQ_BYTES = 6;
const MAC_BYTES = 16;
const RAW_BYTES = TIME_BYTES + SEQ_BYTES + MAC_BYTES;
/** base64url length of RAW_BYTES. */
const NONCE_LENGTH = Math.ceil((RAW_BYTES * 4) / 3);

export type NonceCheck =
  | { readonly ok: true; readonly seq: number; readonly issuedAt: number }
  | { readonly ok: false; readonly why: 'foreign' | 'expired' };

export interface NonceOptions {
  /** Seconds a nonce stays valid (RFC 7616 §5.4 trade-off: shorter = fewer replays, more challenges). */
  readonly ttlSeconds: number;
  /** Wall clock, epoch ms. */
  readonly now: () => number;
  /** HMAC key; random by default (tests pass one to make nonces reproducible). */
  readonly key?: Buffer;
}

export class NonceIssuer {
  readonly #key: Buffer;
  readonly #ttlMs: number;
  readonly #now: () => number;
  #seq = 0;

  constructor(opts: NonceOptions) {
    this.#key = opts.key ?? randomBytes(32);
    this.#ttlMs = opts.ttlSeconds * 1000;
    this.#now = opts.now;
  }

  get ttlMs(): number {
    return this.#ttlMs;
  }

  issue(): string {
    const raw = Buffer.allocUnsafe(RAW_BYTES);
    raw.writeUIntBE(Math.max(0, Math.floor(this.#now())), 0, TIME_BYTES);
    this.#seq++;
    raw.writeUIntBE(this.#seq, TIME_BYTES, SEQ_BYTES);
    this.#mac(raw).copy(raw, TIME_BYTES + SEQ_BYTES, 0, MAC_BYTES);
    return raw.toString('base64url');
  }

  /** Whether the nonce is one of ours and still fresh. */
  check(nonce: string): NonceCheck {
    if (nonce.length !== NONCE_LENGTH || !/^[A-Za-z0-9_-]+$/.test(nonce)) return { ok: false, why: 'foreign' };
    const raw = Buffer.from(nonce, 'base64url');
    if (raw.length !== RAW_BYTES) return { ok: false, why: 'foreign' };
    const mac = this.#mac(raw).subarray(0, MAC_BYTES);
    if (!timingSafeEqual(mac, raw.subarray(TIME_BYTES + SEQ_BYTES))) return { ok: false, why: 'foreign' };
    const issuedAt = raw.readUIntBE(0, TIME_BYTES);
    const age = this.#now() - issuedAt;
    // A nonce "from the future" only comes from a clock step backwards; expire it rather than trust it longer.
    if (age > this.#ttlMs || age < -this.#ttlMs) return { ok: false, why: 'expired' };
    return { ok: true, seq: raw.readUIntBE(TIME_BYTES, SEQ_BYTES), issuedAt };
  }

  #mac(raw: Buffer): Buffer {
    return createHmac('sha256', this.#key).update(raw.subarray(0, TIME_BYTES + SEQ_BYTES)).digest();
  }
}

export type CountVerdict = 'fresh' | 'replay' | 'spent';

/** Highest nonce-count seen per nonce sequence, bounded (see the file comment). */
export class NonceCountTracker {
  readonly #max: number;
  /** seq -> [highest nc, issuedAt]; insertion order = first use order. */
  readonly #seen = new Map<number, { nc: number; issuedAt: number }>();
  #lowWater = 0;
  #evicted = 0;

  constructor(maxEntries: number) {
    this.#max = Math.max(1, maxEntries);
  }

  get size(): number {
    return this.#seen.size;
  }

  get evicted(): number {
    return this.#evicted;
  }

  /**
   * Accepts nc for a verified nonce when it is above every count seen for it, and remembers it. Call only once
   * the response digest is known to be right, so a forger cannot burn a legitimate client's counts.
   */
  use(seq: number, issuedAt: number, nc: number, now: number, ttlMs: number): CountVerdict {
    const entry = this.#seen.get(seq);
    if (entry !== undefined) {
      if (nc <= entry.nc) return 'replay';
      entry.nc = nc;
      return 'fresh';
    }
    if (seq < this.#lowWater) return 'spent';
    this.#prune(now, ttlMs);
    while (this.#seen.size >= this.#max) {
      const oldest = this.#seen.keys().next().value as number;
      this.#seen.delete(oldest);
      this.#evicted++;
      if (oldest + 1 > this.#lowWater) this.#lowWater = oldest + 1;
    }
    this.#seen.set(seq, { nc, issuedAt });
    return 'fresh';
  }

  /** Entries whose nonce has expired can go: the nonce itself is refused by age before the table is asked. */
  #prune(now: number, ttlMs: number): void {
    for (const [seq, e] of this.#seen) {
      if (now - e.issuedAt <= ttlMs) break;
      this.#seen.delete(seq);
    }
  }
}
