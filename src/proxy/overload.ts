/**
 * Admission of new calls under overload. The proxy runs on one event loop: once the work offered to it
 * exceeds what that loop can do, requests wait in the socket buffer and every response leaves later. Past
 * T1 (500 ms) the peers start retransmitting: callers re-send INVITEs we have not answered 100 yet, our
 * Timer A re-sends INVITEs whose 180 is still waiting to be read, the extra datagrams cost more work, and
 * the delay grows until nearly every call fails (measured with sipp before this guard: 10% over capacity
 * lost 4 calls in 10, 50% over it 9 in 10, most of them calls already answered, whose callee gave up on an
 * INVITE retransmission arriving after its 200 or whose BYE then found nobody). A new call refused at once with 503 and Retry-After
 * (RFC 3261 §21.5.4; §16.3 lets a proxy refuse before it forwards) costs almost nothing and keeps the loop
 * for the calls already set up, so they end normally and throughput stays at capacity.
 *
 * The signal is the event loop utilization (the share of time the loop spent running code rather than
 * waiting for I/O) over a sliding window: a backlog keeps it at 1. The window is short because the most
 * fragile exchange crosses the proxy twice (the callee's 200 out, the caller's ACK back) within the
 * callee's first 200 retransmission, T1 after it: half a second of a saturated loop is already too much.
 * Calls through the proxy keep the loop 60-90% busy without any backlog (the dialog-info publications
 * take what is left, coalescing more as the load grows), hence the high threshold.
 */
import { performance, type EventLoopUtilization } from 'node:perf_hooks';
import type { Clock, TimerHandle } from '../transaction/index.js';

/** Whether new calls should be refused for now (in-dialog requests, ACK and CANCEL are always served). */
export interface OverloadProbe {
  overloaded(): boolean;
}

export interface LoopOverloadOptions {
  readonly clock: Clock;
  /** Share of the window the loop may be busy before new calls are refused. Default 0.95. */
  readonly threshold?: number;
  /** Length of the sliding window, ms. Default 500. */
  readonly windowMs?: number;
  /** Samples per window. Default 5. */
  readonly slots?: number;
  /** Cumulative busy/idle time of the loop (performance.eventLoopUtilization); injected by tests. */
  readonly sample?: () => { readonly active: number; readonly idle: number };
}

const systemSample = (): EventLoopUtilization => performance.eventLoopUtilization();

/** Event loop utilization over a sliding window, sampled on the clock. */
export class LoopOverload implements OverloadProbe {
  readonly #clock: Clock;
  readonly #threshold: number;
  readonly #slotMs: number;
  readonly #sample: () => { readonly active: number; readonly idle: number };
  /** Busy and total ms of each slot of the window (ring). */
  readonly #active: Float64Array;
  readonly #total: Float64Array;
  #next = 0;
  #filled = 0;
  #last: { readonly active: number; readonly idle: number } | undefined;
  #timer: TimerHandle | undefined;
  #overloaded = false;
  #episodes = 0;

  constructor(opts: LoopOverloadOptions) {
    this.#clock = opts.clock;
    this.#threshold = opts.threshold ?? 0.95;
    const slots = Math.max(1, Math.floor(opts.slots ?? 5));
    this.#slotMs = Math.max(1, (opts.windowMs ?? 500) / slots);
    this.#sample = opts.sample ?? systemSample;
    this.#active = new Float64Array(slots);
    this.#total = new Float64Array(slots);
  }

  start(): void {
    if (this.#timer !== undefined) return;
    this.#last = this.#sample();
    this.#arm();
  }

  stop(): void {
    if (this.#timer !== undefined) this.#clock.clearTimer(this.#timer);
    this.#timer = undefined;
    this.#overloaded = false;
    this.#filled = 0;
    this.#active.fill(0);
    this.#total.fill(0);
  }

  overloaded(): boolean {
    return this.#overloaded;
  }

  /** Times the loop went from accepting to refusing new calls. */
  get episodes(): number {
    return this.#episodes;
  }

  /** Utilization over the window (0..1). */
  utilization(): number {
    let a = 0;
    let t = 0;
    for (let i = 0; i < this.#total.length; i++) {
      a += this.#active[i]!;
      t += this.#total[i]!;
    }
    return t > 0 ? a / t : 0;
  }

  #arm(): void {
    this.#timer = this.#clock.setTimer(this.#slotMs, () => {
      this.#tick();
      if (this.#timer !== undefined) this.#arm();
    });
  }

  #tick(): void {
    const now = this.#sample();
    const last = this.#last ?? now;
    this.#last = now;
    const active = Math.max(0, now.active - last.active);
    const total = active + Math.max(0, now.idle - last.idle);
    this.#active[this.#next] = active;
    this.#total[this.#next] = total;
    this.#next = (this.#next + 1) % this.#total.length;
    // Only a full window decides: a busy first slot (start-up) is no backlog.
    if (this.#filled < this.#total.length) this.#filled++;
    const over = this.#filled === this.#total.length && this.utilization() >= this.#threshold;
    if (over && !this.#overloaded) this.#episodes++;
    this.#overloaded = over;
  }
}
