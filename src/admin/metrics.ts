/**
 * Prometheus metrics of presenced (prom-client).
 *
 * Other layers are never touched on their hot paths: each exposes a cheap `stats()` that copies plain
 * counters, and this module reads them when Prometheus scrapes (prom-client `collect` callbacks), once per
 * scrape whatever the number of metrics fed from one source. Only what cannot be polled is pushed through
 * small methods here: the store write latency (a histogram needs every observation; the composition root
 * wraps `store.write` with `instrumentStoreWrites`) and counts of domain events.
 */
import {
  collectDefaultMetrics,
  Counter,
  Gauge,
  Histogram,
  Registry,
  type LabelValues,
} from 'prom-client';

/** One sample: a value with its label values (empty for an unlabelled metric). */
export type Sample = readonly [labels: LabelValues<string>, value: number];

/** A metric read from a stats snapshot at scrape time. */
export interface PolledMetric<S> {
  readonly name: string;
  readonly help: string;
  /** counter: a total that only grows while the process lives; gauge: a current level. */
  readonly type: 'counter' | 'gauge';
  readonly labelNames?: readonly string[];
  readonly read: (stats: S) => number | readonly Sample[] | undefined;
}

export interface PresencedMetrics {
  readonly registry: Registry;
  /** Text exposition of every metric (refreshes every polled source once). */
  render(): Promise<string>;
  readonly contentType: string;
  /**
   * Adds a stats source read at scrape time. `read` is called at most once per scrape; a source that throws
   * or returns undefined contributes nothing to that scrape (and is counted).
   */
  addSource<S>(name: string, read: () => S | undefined, metrics: readonly PolledMetric<S>[]): void;
  /** Observes one store write (from submission to durable commit), in seconds. */
  observeStoreWrite(seconds: number, ok: boolean): void;
  /** Counts an API event by type (publish, exposed, notify-failed ...). */
  countEvent(type: string, event: string): void;
}

export interface MetricsOptions {
  /** Process metrics (CPU, memory, fds, GC, event-loop lag). Off in tests that create many registries. */
  defaultMetrics?: boolean;
  /** Event-loop delay histogram resolution in ms (prom-client monitorEventLoopDelay). */
  eventLoopResolutionMs?: number;
}

export function createMetrics(options: MetricsOptions = {}): PresencedMetrics {
  const registry = new Registry();
  if (options.defaultMetrics !== false) {
    // Includes nodejs_eventloop_lag_seconds and the p50/p90/p99 event-loop delay gauges.
    collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: options.eventLoopResolutionMs ?? 10 });
  }
  let generation = 0;
  const sourceErrors = new Counter({
    name: 'presenced_metrics_source_errors_total',
    help: 'Scrapes in which a stats source failed and was left out.',
    labelNames: ['source'],
    registers: [registry],
  });
  const storeWrite = new Histogram({
    name: 'presenced_store_write_seconds',
    help: 'Time from submitting a store write to its durable commit (group commit wait included).',
    labelNames: ['outcome'],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  // Counted in a plain map on the event path and copied into the counter at scrape time: a labelled
  // prom-client inc() hashes its labels on every call, which would dominate the cost of an event.
  const eventCounts = new Map<string, { type: string; event: string; n: number }>();
  new Counter({
    name: 'presenced_api_events_total',
    help: 'Events reported by the management API (publish, unpublish, exposed, subscription-*, notify-failed), by type and event package.',
    labelNames: ['type', 'event'],
    registers: [registry],
    collect() {
      this.reset();
      for (const c of eventCounts.values()) this.inc({ type: c.type, event: c.event }, c.n);
    },
  });

  // Polled metrics are registered on the first scrape whose snapshot has a value for them, so a field a
  // layer does not report is absent from /metrics instead of showing a made-up 0.
  const pending: Array<() => void> = [];

  function addSource<S>(name: string, read: () => S | undefined, defs: readonly PolledMetric<S>[]): void {
    let cachedAt = -1;
    let cached: S | undefined;
    const snapshot = (): S | undefined => {
      if (cachedAt !== generation) {
        cachedAt = generation;
        try {
          cached = read();
        } catch {
          cached = undefined;
        }
        if (cached === undefined) sourceErrors.inc({ source: name });
      }
      return cached;
    };
    const fill = (def: PolledMetric<S>, metric: Counter | Gauge): void => {
      metric.reset();
      const stats = snapshot();
      if (stats === undefined) return;
      const value = def.read(stats);
      if (value === undefined) return;
      if (typeof value === 'number') {
        // A counter can only be incremented; after reset() that sets it to the polled total.
        if (metric instanceof Counter) metric.inc(value);
        else metric.set(value);
        return;
      }
      for (const [labels, v] of value) {
        if (metric instanceof Counter) metric.inc(labels, v);
        else metric.set(labels, v);
      }
    };
    const unregistered = new Set(defs);
    pending.push(() => {
      const stats = snapshot();
      if (stats === undefined) return;
      for (const def of unregistered) {
        if (def.read(stats) === undefined) continue;
        unregistered.delete(def);
        const config = { name: def.name, help: def.help, labelNames: [...(def.labelNames ?? [])], registers: [registry] };
        if (def.type === 'counter') {
          new Counter({
            ...config,
            collect() {
              fill(def, this);
            },
          });
        } else {
          new Gauge({
            ...config,
            collect() {
              fill(def, this);
            },
          });
        }
      }
    });
  }

  return {
    registry,
    contentType: registry.contentType,
    async render() {
      generation++;
      for (const register of pending) register();
      return registry.metrics();
    },
    addSource,
    observeStoreWrite(seconds, ok) {
      storeWrite.observe({ outcome: ok ? 'ok' : 'error' }, seconds);
    },
    countEvent(type, event) {
      const key = `${type} ${event}`;
      const c = eventCounts.get(key);
      if (c !== undefined) c.n++;
      // Bounded by (event types x event packages), both small fixed sets.
      else eventCounts.set(key, { type, event, n: 1 });
    },
  };
}

/**
 * Wraps a store's `write` so that each call's latency lands in presenced_store_write_seconds. Structural, so
 * this module needs no import of the store layer; the composition root applies it to the store it opened.
 */
export function instrumentStoreWrites<W extends { write(mutations: readonly never[]): Promise<void> }>(
  store: W,
  metrics: Pick<PresencedMetrics, 'observeStoreWrite'>,
  now: () => number = () => performance.now(),
): W {
  const original = store.write.bind(store);
  const write = async (mutations: readonly never[]): Promise<void> => {
    const start = now();
    try {
      await original(mutations);
      metrics.observeStoreWrite((now() - start) / 1000, true);
    } catch (error) {
      metrics.observeStoreWrite((now() - start) / 1000, false);
      throw error;
    }
  };
  // A Proxy rather than a prototype copy: adapters keep state in #private fields, which only the real
  // instance may touch, so every other method is bound to it.
  return new Proxy(store, {
    get(target, key) {
      if (key === 'write') return write;
      const value: unknown = Reflect.get(target, key, target);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/** Turns a `{key: number}` record into samples of one label. */
export function samplesOf(record: Readonly<Record<string, number>> | ReadonlyMap<string, number>, label: string): Sample[] {
  const entries = record instanceof Map ? [...record.entries()] : Object.entries(record);
  return entries.map(([k, v]) => [{ [label]: k }, v] as const);
}
