/**
 * Many logical timers on top of one Clock timer. Transactions schedule here (Timers E, F, G, H, J, K
 * and the unanswered-request guard); only the earliest deadline is armed on the clock. With 100k
 * concurrent transactions this keeps one OS timer instead of 100k+ setTimeout objects churned on every
 * retransmission.
 *
 * Most timers have one of a few fixed delays (64*T1 for Timers F and J and the guard, T4 for K, T1 for the
 * first E), and timers of one delay fall due in the order they were scheduled. Those go to a FIFO lane per
 * delay: O(1) to schedule, cancel (marked, skipped when reached) and fire, where a heap of 100k+ entries pays
 * a cache miss per level on every expiry. Other delays go to an indexed heap. Firing order is the same as
 * one heap's: due time, then scheduling order.
 */
import type { Clock, TimerHandle } from './clock.js';
import { before, LANED, TimerHeap, TimerEntry } from './timer-heap.js';

export type { TimerEntry };

/** Bounds one firing pass, so a callback that re-schedules itself at zero delay cannot starve I/O. */
const MAX_FIRES_PER_PASS = 100_000;
/** Delays that get a lane (the first distinct integer delays seen); the rest use the heap. */
const MAX_LANES = 8;
/** A lane compacts its array once this many fired or cancelled entries sit before its head. */
const COMPACT_AT = 4096;

const NOOP = (): void => {};

class Lane {
  items: TimerEntry[] = [];
  head = 0;
  /** Cancelled entries still in `items` after `head`. */
  cancelled = 0;

  /** The next live entry, dropping cancelled ones at the head. */
  peek(): TimerEntry | undefined {
    const items = this.items;
    while (this.head < items.length) {
      const e = items[this.head]!;
      if (e.index === LANED) return e;
      this.head++;
      this.cancelled--;
    }
    this.#compact();
    return undefined;
  }

  shift(): void {
    this.head++;
    this.#compact();
  }

  #compact(): void {
    const items = this.items;
    if (this.head === items.length) {
      if (items.length > 0) {
        this.items = [];
        this.head = 0;
        this.cancelled = 0;
      }
    } else if (this.head >= COMPACT_AT && this.head * 2 >= items.length) {
      this.items = items.slice(this.head);
      this.head = 0;
    }
  }

  /** Rebuilds without the cancelled entries (many cancellations, e.g. guards of answered requests). */
  purge(): void {
    const live: TimerEntry[] = [];
    for (let i = this.head; i < this.items.length; i++) {
      const e = this.items[i]!;
      if (e.index === LANED) live.push(e);
    }
    this.items = live;
    this.head = 0;
    this.cancelled = 0;
  }
}

export class TimerQueue {
  readonly #clock: Clock;
  readonly #heap = new TimerHeap();
  readonly #lanes = new Map<number, Lane>();
  readonly #laneList: Lane[] = [];
  #laneLive = 0;
  #seq = 0;
  readonly #onError: (err: unknown) => void;
  #armed: TimerHandle | undefined;
  #armedAt = Infinity;
  #stopped = false;
  /** Set by #next(): the lane holding the entry it returned (undefined: the heap). */
  #nextLane: Lane | undefined;

  constructor(clock: Clock, onError: (err: unknown) => void = () => {}) {
    this.#clock = clock;
    this.#onError = onError;
  }

  get size(): number {
    return this.#heap.size + this.#laneLive;
  }

  /**
   * Runs fn(target) after delayMs; returns a handle for cancel(). A timer per transaction is made thousands of
   * times a second and most outlive a young-generation collection: a shared `fn` with its owner as `target` costs
   * no closure, and the due time is rounded up to a whole millisecond so that it is a small integer, not a boxed
   * double (both would be copied by every scavenge they survive).
   */
  schedule<T>(delayMs: number, fn: (target: T) => void, target?: T): TimerEntry {
    const delay = Math.max(0, delayMs);
    const entry = new TimerEntry(Math.ceil(this.#clock.now() + delay), this.#seq++, fn as (target: unknown) => void, target);
    const lane = this.#laneFor(delay);
    if (lane !== undefined) {
      entry.index = LANED;
      entry.lane = lane;
      lane.items.push(entry);
      this.#laneLive++;
    } else {
      this.#heap.insert(entry);
    }
    if (entry.at < this.#armedAt && !this.#stopped) this.#arm();
    return entry;
  }

  /** Cancels a timer; safe to call twice or after it fired. */
  cancel(entry: TimerEntry | undefined): void {
    if (entry === undefined) return;
    if (entry.index === LANED) {
      const lane = entry.lane as Lane;
      entry.index = -1;
      entry.fn = NOOP; // what the callback holds (a whole transaction) is not kept until the lane reaches it
      entry.target = undefined;
      this.#laneLive--;
      if (++lane.cancelled >= COMPACT_AT && lane.cancelled * 2 >= lane.items.length - lane.head) lane.purge();
    } else {
      this.#heap.remove(entry);
    }
    // The armed clock timer is left alone: if it fires early it finds nothing due and re-arms.
  }

  /** Cancels everything; the queue stays unusable afterwards. */
  stop(): void {
    this.#stopped = true;
    this.#heap.clear();
    for (const lane of this.#laneList) {
      for (let i = lane.head; i < lane.items.length; i++) lane.items[i]!.index = -1;
      lane.items = [];
      lane.head = 0;
      lane.cancelled = 0;
    }
    this.#laneLive = 0;
    this.#disarm();
  }

  #laneFor(delay: number): Lane | undefined {
    const lane = this.#lanes.get(delay);
    if (lane !== undefined || this.#laneList.length >= MAX_LANES || !Number.isInteger(delay)) return lane;
    const fresh = new Lane();
    this.#lanes.set(delay, fresh);
    this.#laneList.push(fresh);
    return fresh;
  }

  /** The earliest live entry; #nextLane tells where it is. */
  #next(): TimerEntry | undefined {
    let entry = this.#heap.peek();
    let from: Lane | undefined;
    const lanes = this.#laneList;
    for (let i = 0; i < lanes.length; i++) {
      const head = lanes[i]!.peek();
      if (head !== undefined && (entry === undefined || before(head, entry))) {
        entry = head;
        from = lanes[i];
      }
    }
    this.#nextLane = from;
    return entry;
  }

  #disarm(): void {
    if (this.#armed !== undefined) this.#clock.clearTimer(this.#armed);
    this.#armed = undefined;
    this.#armedAt = Infinity;
  }

  #arm(): void {
    const next = this.#next();
    this.#disarm();
    if (next === undefined) return;
    this.#armedAt = next.at;
    this.#armed = this.#clock.setTimer(Math.max(0, next.at - this.#clock.now()), this.#fire);
  }

  readonly #fire = (): void => {
    this.#armed = undefined;
    this.#armedAt = Infinity;
    const now = this.#clock.now();
    let fired = 0;
    for (;;) {
      const entry = this.#next();
      if (entry === undefined || entry.at > now || fired >= MAX_FIRES_PER_PASS) break;
      const lane = this.#nextLane;
      if (lane !== undefined) {
        lane.shift();
        entry.index = -1;
        this.#laneLive--;
      } else {
        this.#heap.pop();
      }
      fired++;
      const fn = entry.fn;
      const target = entry.target;
      entry.fn = NOOP;
      entry.target = undefined;
      try {
        fn(target);
      } catch (err) {
        this.#onError(err);
      }
    }
    if (!this.#stopped && this.#armed === undefined) this.#arm();
  };
}
