/**
 * Time, injected: every timer-driven behaviour (RFC 3261 Timers E/F/G/H/J/K) runs against a Clock,
 * so tests drive it with ManualClock instead of sleeping.
 */
import { performance } from 'node:perf_hooks';
import { TimerHeap, TimerEntry } from './timer-heap.js';

/** Opaque handle returned by Clock.setTimer; only meaningful to the clock that issued it. */
export type TimerHandle = object;

export interface Clock {
  /** Monotonic milliseconds (arbitrary origin); use for durations and deadlines. */
  now(): number;
  /** Wall-clock milliseconds since the epoch (Date.now()); use for timestamps shown to people or stored. */
  wallNow(): number;
  /** Runs fn once after ms milliseconds. */
  setTimer(ms: number, fn: () => void): TimerHandle;
  clearTimer(handle: TimerHandle): void;
}

/** The real clock: performance.now() and unref'd setTimeout (sockets, not timers, keep the process alive). */
export const systemClock: Clock = {
  now: () => performance.now(),
  wallNow: () => Date.now(),
  setTimer(ms: number, fn: () => void): TimerHandle {
    const t = setTimeout(fn, Math.max(0, ms));
    t.unref();
    return t;
  },
  clearTimer(handle: TimerHandle): void {
    clearTimeout(handle as NodeJS.Timeout);
  },
};

/** Guards advance() against a callback that keeps re-arming itself with a zero delay. */
const MAX_FIRES_PER_ADVANCE = 10_000_000;

/**
 * A clock that only moves when told to. advance(ms) fires every timer due within the window in
 * (due time, scheduling order), setting now() to each timer's due time before calling it, so a
 * callback that schedules another timer sees the exact time it would have seen in production.
 */
export class ManualClock implements Clock {
  #now: number;
  readonly #wallOrigin: number;
  readonly #origin: number;
  readonly #heap = new TimerHeap();

  constructor(start = 0, wallStart = Date.UTC(2025, 0, 1)) {
    this.#now = start;
    this.#origin = start;
    this.#wallOrigin = wallStart;
  }

  now(): number {
    return this.#now;
  }

  wallNow(): number {
    return this.#wallOrigin + (this.#now - this.#origin);
  }

  setTimer(ms: number, fn: () => void): TimerHandle {
    return this.#heap.push(this.#now + Math.max(0, ms), fn);
  }

  clearTimer(handle: TimerHandle): void {
    if (handle instanceof TimerEntry) this.#heap.remove(handle);
  }

  /** Number of timers still scheduled. */
  get pending(): number {
    return this.#heap.size;
  }

  /** Due time of the next timer, if any. */
  nextDue(): number | undefined {
    return this.#heap.peek()?.at;
  }

  /** Moves time forward by ms, firing due timers in order. */
  advance(ms: number): void {
    if (!(ms >= 0)) throw new RangeError(`ManualClock.advance: bad duration ${ms}`);
    this.advanceTo(this.#now + ms);
  }

  advanceTo(target: number): void {
    let fired = 0;
    for (;;) {
      const top = this.#heap.peek();
      if (top === undefined || top.at > target) break;
      this.#heap.pop();
      if (top.at > this.#now) this.#now = top.at;
      if (++fired > MAX_FIRES_PER_ADVANCE) throw new Error('ManualClock.advance: runaway timers');
      top.fn(top.target);
    }
    if (target > this.#now) this.#now = target;
  }
}
