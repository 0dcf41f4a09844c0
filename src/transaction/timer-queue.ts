/**
 * Many logical timers on top of one Clock timer. Transactions schedule here (Timers E, F, G, H, J, K
 * and the unanswered-request guard); only the earliest deadline is armed on the clock. With 100k
 * concurrent transactions this keeps one OS timer and a heap instead of 100k+ setTimeout objects
 * churned on every retransmission.
 */
import type { Clock, TimerHandle } from './clock.js';
import { TimerHeap, TimerEntry } from './timer-heap.js';

export type { TimerEntry };

/** Bounds one firing pass, so a callback that re-schedules itself at zero delay cannot starve I/O. */
const MAX_FIRES_PER_PASS = 100_000;

export class TimerQueue {
  readonly #clock: Clock;
  readonly #heap = new TimerHeap();
  readonly #onError: (err: unknown) => void;
  #armed: TimerHandle | undefined;
  #armedAt = Infinity;
  #stopped = false;

  constructor(clock: Clock, onError: (err: unknown) => void = () => {}) {
    this.#clock = clock;
    this.#onError = onError;
  }

  get size(): number {
    return this.#heap.size;
  }

  /** Runs fn after delayMs; returns a handle for cancel(). */
  schedule(delayMs: number, fn: () => void): TimerEntry {
    const entry = this.#heap.push(this.#clock.now() + Math.max(0, delayMs), fn);
    if (entry.at < this.#armedAt && !this.#stopped) this.#arm();
    return entry;
  }

  /** Cancels a timer; safe to call twice or after it fired. */
  cancel(entry: TimerEntry | undefined): void {
    if (entry !== undefined) this.#heap.remove(entry);
    // The armed clock timer is left alone: if it fires early it finds nothing due and re-arms.
  }

  /** Cancels everything; the queue stays unusable afterwards. */
  stop(): void {
    this.#stopped = true;
    this.#heap.clear();
    this.#disarm();
  }

  #disarm(): void {
    if (this.#armed !== undefined) this.#clock.clearTimer(this.#armed);
    this.#armed = undefined;
    this.#armedAt = Infinity;
  }

  #arm(): void {
    const top = this.#heap.peek();
    this.#disarm();
    if (top === undefined) return;
    this.#armedAt = top.at;
    this.#armed = this.#clock.setTimer(Math.max(0, top.at - this.#clock.now()), this.#fire);
  }

  readonly #fire = (): void => {
    this.#armed = undefined;
    this.#armedAt = Infinity;
    const now = this.#clock.now();
    let fired = 0;
    for (;;) {
      const top = this.#heap.peek();
      if (top === undefined || top.at > now || fired >= MAX_FIRES_PER_PASS) break;
      this.#heap.pop();
      fired++;
      try {
        top.fn();
      } catch (err) {
        this.#onError(err);
      }
    }
    if (!this.#stopped && this.#armed === undefined) this.#arm();
  };
}
