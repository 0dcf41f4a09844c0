import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ManualClock } from '../../../src/transaction/clock.js';
import { TimerQueue } from '../../../src/transaction/timer-queue.js';
import { TimerHeap } from '../../../src/transaction/timer-heap.js';

describe('TimerHeap', () => {
  test('pops in (due time, insertion) order and removes arbitrary entries', () => {
    const h = new TimerHeap();
    const noop = (): void => {};
    const entries = [];
    // Deterministic pseudo-random due times with many ties.
    let x = 12345;
    for (let i = 0; i < 500; i++) {
      x = (x * 1103515245 + 12345) % 2147483648;
      entries.push(h.push(x % 50, noop));
    }
    for (let i = 0; i < entries.length; i += 3) assert.equal(h.remove(entries[i]), true);
    assert.equal(h.remove(entries[0]), false, 'second removal is a no-op');
    const expected = entries.filter((_, i) => i % 3 !== 0).sort((a, b) => a.at - b.at || a.seq - b.seq);
    const got = [];
    for (let e = h.pop(); e !== undefined; e = h.pop()) got.push(e);
    assert.deepEqual(got.map((e) => e.seq), expected.map((e) => e.seq));
    assert.equal(h.size, 0);
  });
});

describe('ManualClock', () => {
  test('advance fires due timers in order with now() at their due time', () => {
    const c = new ManualClock(1000);
    const seen: Array<[string, number]> = [];
    c.setTimer(30, () => seen.push(['b', c.now()]));
    c.setTimer(10, () => {
      seen.push(['a', c.now()]);
      c.setTimer(5, () => seen.push(['a2', c.now()]));
    });
    const h = c.setTimer(20, () => seen.push(['cancelled', c.now()]));
    c.clearTimer(h);
    c.advance(25);
    assert.deepEqual(seen, [['a', 1010], ['a2', 1015]]);
    assert.equal(c.now(), 1025);
    c.advance(5);
    assert.deepEqual(seen.at(-1), ['b', 1030]);
    assert.equal(c.pending, 0);
    assert.equal(c.wallNow() - Date.UTC(2025, 0, 1), 30);
  });

  test('rejects a negative advance', () => {
    assert.throws(() => new ManualClock().advance(-1), RangeError);
  });
});

describe('TimerQueue', () => {
  test('arms only one clock timer and fires logical timers exactly on time', () => {
    const c = new ManualClock();
    const q = new TimerQueue(c);
    const fired: number[] = [];
    for (const d of [500, 1000, 2000, 4000, 250]) q.schedule(d, () => fired.push(c.now()));
    assert.equal(c.pending, 1, 'one clock timer for five logical timers');
    c.advance(1000);
    assert.deepEqual(fired, [250, 500, 1000]);
    c.advance(3000);
    assert.deepEqual(fired, [250, 500, 1000, 2000, 4000]);
    assert.equal(q.size, 0);
    assert.equal(c.pending, 0);
  });

  test('cancel prevents firing; a callback may schedule more; errors do not stop the pass', () => {
    const c = new ManualClock();
    const errors: unknown[] = [];
    const q = new TimerQueue(c, (e) => errors.push(e));
    const fired: string[] = [];
    const t = q.schedule(100, () => fired.push('x'));
    q.schedule(50, () => {
      throw new Error('boom');
    });
    q.schedule(60, () => q.schedule(0, () => fired.push('chained@' + c.now())));
    q.cancel(t);
    q.cancel(t);
    c.advance(200);
    assert.deepEqual(fired, ['chained@60']);
    assert.equal(errors.length, 1);
  });

  test('the callback gets the target it was scheduled with; a cancelled timer lets go of it', () => {
    const c = new ManualClock();
    const q = new TimerQueue(c);
    const owner = { name: 'tx' };
    const seen: Array<{ name: string }> = [];
    const onTimer = (target: { name: string }): void => {
      seen.push(target);
    };
    q.schedule(10, onTimer, owner);
    const cancelled = q.schedule(32000, onTimer, { name: 'other' });
    q.cancel(cancelled);
    assert.equal(cancelled.target, undefined);
    c.advance(40000);
    assert.deepEqual(seen, [owner]);
    assert.equal(seen[0], owner);
  });

  test('an earlier timer re-arms the clock timer', () => {
    const c = new ManualClock();
    const q = new TimerQueue(c);
    const fired: number[] = [];
    q.schedule(1000, () => fired.push(c.now()));
    q.schedule(10, () => fired.push(c.now()));
    assert.equal(c.nextDue(), 10);
    c.advance(2000);
    assert.deepEqual(fired, [10, 1000]);
  });

  test('fixed-delay lanes and the heap fire together in (due time up to the next millisecond, scheduling order), cancelled never', () => {
    type Op = { kind: 'schedule'; delay: number } | { kind: 'cancel'; pick: number } | { kind: 'advance'; ms: number };
    const op: fc.Arbitrary<Op> = fc.oneof(
      fc.record({ kind: fc.constant('schedule' as const), delay: fc.oneof(fc.constantFrom(0, 10, 500, 1000, 5000, 32000), fc.integer({ min: 0, max: 40000 }), fc.double({ min: 0, max: 2000, noNaN: true })) }),
      fc.record({ kind: fc.constant('cancel' as const), pick: fc.nat() }),
      fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 20000 }) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 120 }), (ops) => {
        const c = new ManualClock();
        const q = new TimerQueue(c);
        const fired: number[] = [];
        const model: Array<{ id: number; at: number; live: boolean }> = [];
        const handles: ReturnType<TimerQueue['schedule']>[] = [];
        const expected: number[] = [];
        const fireModel = (until: number): void => {
          const due = model.filter((m) => m.live && m.at <= until).sort((a, b) => a.at - b.at || a.id - b.id);
          for (const m of due) {
            m.live = false;
            expected.push(m.id);
          }
        };
        for (const o of ops) {
          if (o.kind === 'schedule') {
            const id = model.length;
            // Due times are whole milliseconds (rounded up): a sub-millisecond difference does not reorder.
            model.push({ id, at: Math.ceil(c.now() + o.delay), live: true });
            handles.push(q.schedule(o.delay, () => fired.push(id)));
          } else if (o.kind === 'cancel') {
            if (handles.length === 0) continue;
            const i = o.pick % handles.length;
            q.cancel(handles[i]);
            model[i]!.live = false;
          } else {
            const until = c.now() + o.ms;
            c.advance(o.ms);
            fireModel(until);
          }
          assert.equal(q.size, model.filter((m) => m.live).length);
        }
        assert.deepEqual(fired, expected);
      }),
      { numRuns: 500 },
    );
  });

  test('a lane with many cancellations (answered requests\' guards) compacts and still fires the rest in order', () => {
    const c = new ManualClock();
    const q = new TimerQueue(c);
    const fired: number[] = [];
    const handles = [];
    for (let i = 0; i < 20000; i++) {
      handles.push(q.schedule(32000, () => fired.push(i)));
      if (i % 7 === 0) c.advance(1);
    }
    for (let i = 0; i < 20000; i++) if (i % 10 !== 3) q.cancel(handles[i]);
    assert.equal(q.size, 2000);
    c.advance(20000);
    assert.deepEqual(fired, []);
    c.advance(20000);
    assert.deepEqual(fired, Array.from({ length: 2000 }, (_, k) => k * 10 + 3));
    assert.equal(q.size, 0);
    assert.equal(c.pending, 0);
  });

  test('stop cancels everything', () => {
    const c = new ManualClock();
    const q = new TimerQueue(c);
    let n = 0;
    q.schedule(10, () => n++);
    q.stop();
    c.advance(100);
    assert.equal(n, 0);
    assert.equal(c.pending, 0);
  });
});
