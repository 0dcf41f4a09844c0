/**
 * An indexed binary min-heap on `expiresAt`. Each item remembers its slot, so a refresh moves it in
 * O(log n) and a removal costs O(log n) with no tombstones: the heap never holds more than the live items,
 * and a sweep pops only what has expired (O(expired · log n), never O(all)).
 */

export interface HeapItem {
  /** Unix epoch ms at which the item expires. */
  readonly expiresAt: number;
  /** Slot in the heap; -1 when not in it. Owned by the heap. */
  heapIndex: number;
}

export class ExpiryHeap<T extends HeapItem> {
  readonly #a: T[] = [];

  get size(): number {
    return this.#a.length;
  }

  has(item: T): boolean {
    const i = item.heapIndex;
    return i >= 0 && i < this.#a.length && this.#a[i] === item;
  }

  push(item: T): void {
    if (this.has(item)) {
      this.update(item);
      return;
    }
    item.heapIndex = this.#a.length;
    this.#a.push(item);
    this.#up(item.heapIndex);
  }

  /** Re-positions an item whose expiresAt changed. */
  update(item: T): void {
    if (!this.has(item)) return;
    const i = item.heapIndex;
    this.#up(i);
    this.#down(item.heapIndex);
  }

  remove(item: T): void {
    if (!this.has(item)) return;
    const i = item.heapIndex;
    const last = this.#a.pop()!;
    item.heapIndex = -1;
    if (last !== item) {
      this.#a[i] = last;
      last.heapIndex = i;
      this.#up(i);
      this.#down(last.heapIndex);
    }
  }

  peek(): T | undefined {
    return this.#a[0];
  }

  /** Removes and returns every item with expiresAt <= now, earliest first. */
  popExpired(now: number): T[] {
    const out: T[] = [];
    for (;;) {
      const top = this.#a[0];
      if (top === undefined || top.expiresAt > now) return out;
      this.remove(top);
      out.push(top);
    }
  }

  #up(i: number): void {
    const a = this.#a;
    const item = a[i]!;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const parent = a[p]!;
      if (parent.expiresAt <= item.expiresAt) break;
      a[i] = parent;
      parent.heapIndex = i;
      i = p;
    }
    a[i] = item;
    item.heapIndex = i;
  }

  #down(i: number): void {
    const a = this.#a;
    const n = a.length;
    const item = a[i]!;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && a[r]!.expiresAt < a[l]!.expiresAt ? r : l;
      const child = a[c]!;
      if (child.expiresAt >= item.expiresAt) break;
      a[i] = child;
      child.heapIndex = i;
      i = c;
    }
    a[i] = item;
    item.heapIndex = i;
  }
}
