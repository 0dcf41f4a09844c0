/**
 * An indexed binary min-heap of timer entries ordered by (due time, insertion order).
 * Each entry remembers its slot, so cancellation is a true O(log n) removal: a cancelled
 * retransmission timer leaves no garbage behind, which matters with 100k+ live transactions.
 */

/**
 * One scheduled callback. Opaque to callers; `index` is -1 once fired or cancelled, its heap slot while in a
 * heap, and LANED while in one of TimerQueue's fixed-delay lanes (`lane` then names it).
 */
export class TimerEntry {
  at: number;
  readonly seq: number;
  /** Called with `target`: owners pass one shared function and themselves instead of a closure per timer. */
  fn: (target: unknown) => void;
  target: unknown;
  index = -1;
  lane: object | undefined = undefined;

  constructor(at: number, seq: number, fn: (target: unknown) => void, target?: unknown) {
    this.at = at;
    this.seq = seq;
    this.fn = fn;
    this.target = target;
  }
}

export const LANED = -2;

/** Firing order: due time, then scheduling order. */
export function before(a: TimerEntry, b: TimerEntry): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}

export class TimerHeap {
  readonly #items: TimerEntry[] = [];
  #seq = 0;

  get size(): number {
    return this.#items.length;
  }

  peek(): TimerEntry | undefined {
    return this.#items[0];
  }

  push(at: number, fn: () => void): TimerEntry {
    return this.insert(new TimerEntry(at, this.#seq++, fn));
  }

  /** Inserts an entry made by the caller (who then owns the sequence numbers). */
  insert(entry: TimerEntry): TimerEntry {
    const items = this.#items;
    entry.index = items.length;
    items.push(entry);
    this.#up(entry.index);
    return entry;
  }

  pop(): TimerEntry | undefined {
    const items = this.#items;
    const top = items[0];
    if (top === undefined) return undefined;
    this.#removeAt(0);
    return top;
  }

  /** Removes the entry if it is still queued; returns whether it was. */
  remove(entry: TimerEntry): boolean {
    const i = entry.index;
    if (i < 0 || this.#items[i] !== entry) return false;
    this.#removeAt(i);
    return true;
  }

  clear(): void {
    for (const e of this.#items) e.index = -1;
    this.#items.length = 0;
  }

  #removeAt(i: number): void {
    const items = this.#items;
    const removed = items[i];
    const last = items.pop() as TimerEntry;
    removed.index = -1;
    if (i < items.length) {
      items[i] = last;
      last.index = i;
      this.#down(i);
      this.#up(last.index);
    }
  }

  #up(i: number): void {
    const items = this.#items;
    const e = items[i];
    while (i > 0) {
      const p = (i - 1) >> 1;
      const parent = items[p];
      if (!before(e, parent)) break;
      items[i] = parent;
      parent.index = i;
      i = p;
    }
    items[i] = e;
    e.index = i;
  }

  #down(i: number): void {
    const items = this.#items;
    const n = items.length;
    const e = items[i];
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && before(items[r], items[l]) ? r : l;
      const child = items[c];
      if (!before(child, e)) break;
      items[i] = child;
      child.index = i;
      i = c;
    }
    items[i] = e;
    e.index = i;
  }
}
