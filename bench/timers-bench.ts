/**
 * Timer structure cost at transaction scale: schedule and cancel N logical timers (default 200k) on the
 * TimerQueue (one clock timer, indexed heap) and, for comparison, on raw setTimeout/clearTimeout.
 * Run: node --expose-gc --import tsx bench/timers-bench.ts [N]   (heap figures need --expose-gc)
 */
import { systemClock } from '../src/transaction/clock.js';
import { TimerQueue, type TimerEntry } from '../src/transaction/timer-queue.js';

const N = Number(process.argv[2] ?? 200_000);
const noop = (): void => {};
// Transaction-like delays: Timer E/J/F/K spread between 0.5 s and 32 s.
const delays = Array.from({ length: N }, (_, i) => 500 + ((i * 7919) % 31_500));

function heap(): number {
  globalThis.gc?.();
  return process.memoryUsage().heapUsed;
}

function mib(bytes: number): string {
  return (bytes / 1048576).toFixed(1) + ' MiB';
}

function rate(ops: number, ms: number): string {
  return Math.round((ops / ms) * 1000).toLocaleString('en-US') + ' ops/s';
}

function benchQueue(): void {
  const h0 = heap();
  const q = new TimerQueue(systemClock);
  const handles: TimerEntry[] = new Array(N);
  let t0 = performance.now();
  for (let i = 0; i < N; i++) handles[i] = q.schedule(delays[i], noop);
  const tSchedule = performance.now() - t0;
  const h1 = heap();
  const rss = process.memoryUsage().rss;
  t0 = performance.now();
  // Cancel in scheduling order (not heap order), like transactions completing at random.
  for (let i = 0; i < N; i++) q.cancel(handles[i]);
  const tCancel = performance.now() - t0;
  // Churn: reschedule-on-retransmission pattern (cancel one, schedule one) at a steady N live.
  for (let i = 0; i < N; i++) handles[i] = q.schedule(delays[i], noop);
  t0 = performance.now();
  for (let i = 0; i < N; i++) {
    q.cancel(handles[i]);
    handles[i] = q.schedule(delays[(i + 1) % N], noop);
  }
  const tChurn = performance.now() - t0;
  q.stop();
  console.log(
    `TimerQueue  schedule ${rate(N, tSchedule)}  cancel ${rate(N, tCancel)}  ` +
      `cancel+schedule at ${N} live ${rate(N, tChurn)}  heap +${mib(h1 - h0)} for ${N} live (RSS ${mib(rss)})`,
  );
}

function benchSetTimeout(): void {
  const h0 = heap();
  const handles: NodeJS.Timeout[] = new Array(N);
  let t0 = performance.now();
  for (let i = 0; i < N; i++) handles[i] = setTimeout(noop, delays[i]);
  const tSchedule = performance.now() - t0;
  const h1 = heap();
  const rss = process.memoryUsage().rss;
  t0 = performance.now();
  for (let i = 0; i < N; i++) clearTimeout(handles[i]);
  const tCancel = performance.now() - t0;
  console.log(
    `setTimeout  schedule ${rate(N, tSchedule)}  cancel ${rate(N, tCancel)}  ` +
      `heap +${mib(h1 - h0)} for ${N} live (RSS ${mib(rss)})`,
  );
}

// Warm up both paths, then measure.
benchQueue();
benchSetTimeout();
console.log('--- measured');
benchQueue();
benchSetTimeout();
