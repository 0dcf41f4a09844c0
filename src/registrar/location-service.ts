/**
 * The location service (RFC 3261 §10, §16.5: "abstract service ... used by a proxy to find the contacts of an
 * AOR"): bindings in memory for lookups, durable in the store (`bindings` table). Changes are written first
 * and applied once committed, so what a proxy finds is what survives a restart. Listeners (presence from
 * registration, reg event) hear every change after it is durable.
 */
import type { AccountMutation, BindingRecord } from '../store/account-records.js';

/** RFC 3680 §5.3 contact events, as the location service knows them. */
export type BindingEvent = 'registered' | 'created' | 'refreshed' | 'shortened' | 'expired' | 'deactivated' | 'unregistered';

export interface BindingChange {
  readonly binding: BindingRecord;
  readonly event: BindingEvent;
}

export interface LocationChange {
  readonly aor: string;
  /** Bindings added, refreshed or removed, with why. */
  readonly changes: readonly BindingChange[];
  /** The live bindings of the AOR after the change (the same order as lookup()). */
  readonly bindings: readonly BindingRecord[];
}

export type LocationListener = (change: LocationChange) => void;

export interface LocationWriter {
  write(mutations: readonly AccountMutation[]): Promise<void>;
}

export interface LocationTimers {
  setTimer(ms: number, fn: () => void): object;
  clearTimer(handle: object): void;
}

export interface LocationLogger {
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface LocationServiceOptions {
  readonly writer: LocationWriter;
  /** Wall clock, epoch ms (binding expiries are wall-clock times: they survive restarts). */
  readonly now: () => number;
  readonly timers: LocationTimers;
  readonly logger: LocationLogger;
  /** How often expired bindings are removed and reported. */
  readonly sweepIntervalMs: number;
}

/** Most preferred first: highest q (absent = 1.0 for ordering, RFC 3261 §16.6), then most recently refreshed. */
function byPreference(a: BindingRecord, b: BindingRecord): number {
  const qa = a.q ?? 1;
  const qb = b.q ?? 1;
  if (qa !== qb) return qb - qa;
  return b.updatedAt - a.updatedAt;
}

export interface LocationStats {
  readonly aors: number;
  readonly bindings: number;
  readonly expired: number;
  readonly storeFailures: number;
}

export class LocationService {
  readonly #o: LocationServiceOptions;
  /** aor -> binding key -> binding. */
  readonly #byAor = new Map<string, Map<string, BindingRecord>>();
  readonly #listeners = new Set<LocationListener>();
  #count = 0;
  #expired = 0;
  #storeFailures = 0;
  #timer: object | undefined;

  constructor(options: LocationServiceOptions) {
    this.#o = options;
  }

  /** Fills the service from the store at start-up; what expired while down is deleted (not reported). */
  load(records: readonly BindingRecord[]): { loaded: number; expired: number } {
    const now = this.#o.now();
    const stale: AccountMutation[] = [];
    let loaded = 0;
    for (const r of records) {
      if (r.expiresAt <= now) {
        stale.push({ kind: 'delete-binding', aor: r.aor, key: r.key });
        continue;
      }
      // TCP connection ids die with the process and may be handed out again: a restored binding has none, so
      // the proxy opens a connection to the Contact (or waits for the UA's next REGISTER) instead of using a
      // stranger's connection.
      this.#set(r.flow.flowId === undefined ? r : { ...r, flow: { ...r.flow, flowId: undefined } });
      loaded++;
    }
    if (stale.length > 0) this.#writeInBackground(stale, 'expired bindings not deleted at start-up');
    return { loaded, expired: stale.length };
  }

  start(): void {
    if (this.#timer !== undefined) return;
    const tick = (): void => {
      this.#timer = this.#o.timers.setTimer(this.#o.sweepIntervalMs, tick);
      this.sweep();
    };
    this.#timer = this.#o.timers.setTimer(this.#o.sweepIntervalMs, tick);
  }

  stop(): void {
    if (this.#timer !== undefined) this.#o.timers.clearTimer(this.#timer);
    this.#timer = undefined;
  }

  /** Live bindings of an AOR (normalised, `aorKey` form), most preferred first. */
  lookup(aor: string): BindingRecord[] {
    const m = this.#byAor.get(aor);
    if (m === undefined) return [];
    const now = this.#o.now();
    const out: BindingRecord[] = [];
    for (const b of m.values()) if (b.expiresAt > now) out.push(b);
    return out.sort(byPreference);
  }

  /** The binding of an AOR under `key`, expired or not (the registrar compares Call-ID and CSeq with it). */
  binding(aor: string, key: string): BindingRecord | undefined {
    return this.#byAor.get(aor)?.get(key);
  }

  /** Every AOR with at least one live binding. */
  aors(): string[] {
    const now = this.#o.now();
    const out: string[] = [];
    for (const [aor, m] of this.#byAor) {
      for (const b of m.values()) {
        if (b.expiresAt > now) {
          out.push(aor);
          break;
        }
      }
    }
    return out.sort();
  }

  /** Live bindings for the management API, by AOR then preference. */
  list(opts: { aor?: string; limit?: number; offset?: number } = {}): BindingRecord[] {
    const aors = opts.aor !== undefined ? [opts.aor] : this.aors();
    let skip = Math.max(0, opts.offset ?? 0);
    const limit = Math.max(0, opts.limit ?? 1000);
    const out: BindingRecord[] = [];
    for (const aor of aors) {
      for (const b of this.lookup(aor)) {
        if (skip > 0) {
          skip--;
          continue;
        }
        if (out.length >= limit) return out;
        out.push(b);
      }
    }
    return out;
  }

  onChange(listener: LocationListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Applies a registrar decision for one AOR: `put` changes create or replace bindings, the others remove them.
   * Resolves once durable and applied; rejects (nothing applied) when the store refuses the write.
   */
  async commit(aor: string, changes: readonly BindingChange[]): Promise<void> {
    if (changes.length === 0) return;
    const mutations: AccountMutation[] = changes.map((c) =>
      isRemoval(c.event) ? { kind: 'delete-binding', aor, key: c.binding.key } : { kind: 'put-binding', record: c.binding },
    );
    await this.#o.writer.write(mutations);
    for (const c of changes) {
      if (isRemoval(c.event)) this.#delete(aor, c.binding.key);
      else this.#set(c.binding);
    }
    this.#emit(aor, changes);
  }

  /** Removes the bindings that expired and tells the listeners (RFC 3680 event "expired"). */
  sweep(): number {
    const now = this.#o.now();
    let removed = 0;
    for (const [aor, m] of [...this.#byAor]) {
      const gone: BindingChange[] = [];
      for (const b of m.values()) if (b.expiresAt <= now) gone.push({ binding: b, event: 'expired' });
      if (gone.length === 0) continue;
      for (const g of gone) this.#delete(aor, g.binding.key);
      removed += gone.length;
      this.#expired += gone.length;
      // Memory first: an expired binding is gone whether or not its row is; a failed delete is redone at start-up.
      this.#writeInBackground(
        gone.map((g) => ({ kind: 'delete-binding', aor, key: g.binding.key })),
        'expired bindings not deleted',
      );
      this.#emit(aor, gone);
    }
    return removed;
  }

  stats(): LocationStats {
    return { aors: this.#byAor.size, bindings: this.#count, expired: this.#expired, storeFailures: this.#storeFailures };
  }

  #set(r: BindingRecord): void {
    let m = this.#byAor.get(r.aor);
    if (m === undefined) {
      m = new Map();
      this.#byAor.set(r.aor, m);
    }
    if (!m.has(r.key)) this.#count++;
    m.set(r.key, r);
  }

  #delete(aor: string, key: string): void {
    const m = this.#byAor.get(aor);
    if (m === undefined || !m.delete(key)) return;
    this.#count--;
    if (m.size === 0) this.#byAor.delete(aor);
  }

  #emit(aor: string, changes: readonly BindingChange[]): void {
    if (this.#listeners.size === 0) return;
    const change: LocationChange = { aor, changes, bindings: this.lookup(aor) };
    for (const l of this.#listeners) {
      try {
        l(change);
      } catch (err) {
        this.#o.logger.error({ err, aor }, 'location change listener threw');
      }
    }
  }

  #writeInBackground(mutations: AccountMutation[], what: string): void {
    this.#o.writer.write(mutations).catch((err: unknown) => {
      this.#storeFailures++;
      this.#o.logger.warn({ err, count: mutations.length }, what);
    });
  }
}

export function isRemoval(event: BindingEvent): boolean {
  return event === 'expired' || event === 'deactivated' || event === 'unregistered';
}
