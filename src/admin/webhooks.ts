/**
 * Webhooks: every API event a target wants is POSTed to it as JSON.
 *
 * Each target has its own bounded queue and sends one event at a time, so one target sees events in order
 * and a dead target cannot delay the others. A failed delivery (network error, timeout, 408, 429, 5xx) is
 * retried with exponential back-off and jitter; other 4xx answers are final. When a target's queue is full
 * the oldest waiting event is dropped and counted: the newest presence state is the most useful one, and
 * memory stays bounded however long a target is down.
 */
import { createHmac } from 'node:crypto';
import { matchesFilter, MATCH_ALL, type ApiEvent, type ApiEventType, type EventFilter, type EventHub } from './event-hub.js';
import { globMatcher } from './uri-pattern.js';

export interface WebhookTarget {
  readonly url: string;
  /** Which events to send; all when absent. */
  readonly filter?: EventFilter;
  /** When set, each POST carries `X-Presenced-Signature: sha256=HMAC(secret, timestamp + "." + body)`. */
  readonly secret?: string;
}

/** A webhook as written in the configuration (api.webhooks). */
export interface WebhookConfig {
  readonly url: string;
  /** Event types to send (publish, unpublish, exposed ...); all when absent or empty. */
  readonly types?: readonly ApiEventType[];
  /** Event packages to send (presence, dialog ...); all when absent or empty. */
  readonly events?: readonly string[];
  /** Presentity URI glob (sip:*@example.com); all when absent. */
  readonly presentity?: string;
  readonly secret?: string;
}

/** Builds a dispatcher target from its configuration. Throws on a URL that is not http(s). */
export function webhookTarget(c: WebhookConfig): WebhookTarget {
  const url = new URL(c.url);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`webhook URL must be http or https: ${c.url}`);
  const filter: EventFilter = {
    types: c.types === undefined || c.types.length === 0 ? null : new Set(c.types),
    events: c.events === undefined || c.events.length === 0 ? null : new Set(c.events),
    presentity: c.presentity === undefined ? null : globMatcher(c.presentity),
  };
  return { url: url.toString(), filter, ...(c.secret !== undefined && { secret: c.secret }) };
}

export interface WebhookOptions {
  /** Events waiting per target; beyond it the oldest is dropped. */
  maxQueue?: number;
  /** Deliveries tried per event, the first included. */
  maxAttempts?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  timeoutMs?: number;
  userAgent?: string;
  /** Injected for tests; defaults to the global fetch. */
  fetch?: typeof fetch;
  /** Returns [0, 1); the jitter source. */
  random?: () => number;
  /** Told about each event given up on (after the last attempt, or a final 4xx). */
  onGiveUp?: (info: { url: string; eventId: number; attempts: number; lastError: string }) => void;
}

export interface WebhookStats {
  readonly delivered: number;
  readonly retries: number;
  /** Events given up on after maxAttempts or a final 4xx. */
  readonly failed: number;
  /** Events dropped because a target's queue was full. */
  readonly dropped: number;
  readonly queued: number;
}

interface TargetState {
  readonly target: WebhookTarget;
  readonly filter: EventFilter;
  readonly queue: ApiEvent[];
  busy: boolean;
  timer: NodeJS.Timeout | undefined;
  /** Ends a back-off early (stop()), so the delivery loop can see it is stopped. */
  wake: (() => void) | undefined;
  abort: AbortController | undefined;
}

/** Whether an HTTP status is worth retrying (the server may succeed later). */
function retryable(status: number): boolean {
  return status === 408 || status === 425 || status === 429 || status >= 500;
}

export class WebhookDispatcher {
  readonly #targets: TargetState[];
  readonly #maxQueue: number;
  readonly #maxAttempts: number;
  readonly #baseDelay: number;
  readonly #maxDelay: number;
  readonly #timeout: number;
  readonly #userAgent: string;
  readonly #fetch: typeof fetch;
  readonly #random: () => number;
  readonly #onGiveUp: NonNullable<WebhookOptions['onGiveUp']>;
  #unsubscribe: (() => void) | undefined;
  #stopped = false;
  #delivered = 0;
  #retries = 0;
  #failed = 0;
  #dropped = 0;

  constructor(hub: EventHub, targets: readonly WebhookTarget[], options: WebhookOptions = {}) {
    this.#targets = targets.map((target) => ({
      target,
      filter: target.filter ?? MATCH_ALL,
      queue: [],
      busy: false,
      timer: undefined,
      wake: undefined,
      abort: undefined,
    }));
    this.#maxQueue = options.maxQueue ?? 1000;
    this.#maxAttempts = options.maxAttempts ?? 6;
    this.#baseDelay = options.baseDelayMs ?? 1000;
    this.#maxDelay = options.maxDelayMs ?? 60000;
    this.#timeout = options.timeoutMs ?? 5000;
    this.#userAgent = options.userAgent ?? 'presenced';
    this.#fetch = options.fetch ?? fetch;
    this.#random = options.random ?? Math.random;
    this.#onGiveUp = options.onGiveUp ?? (() => {});
    if (this.#targets.length > 0) this.#unsubscribe = hub.subscribe((e) => this.enqueue(e));
  }

  /** Queues an event for every target that wants it. Never blocks, never throws. */
  enqueue(event: ApiEvent): void {
    if (this.#stopped) return;
    for (const t of this.#targets) {
      if (!matchesFilter(t.filter, event)) continue;
      // The event being retried (queue[0] while busy) stays; the oldest one waiting behind it goes.
      if (t.queue.length >= this.#maxQueue) {
        t.queue.splice(t.busy ? 1 : 0, 1);
        this.#dropped++;
      }
      t.queue.push(event);
      if (!t.busy) void this.#run(t);
    }
  }

  stats(): WebhookStats {
    let queued = 0;
    for (const t of this.#targets) queued += t.queue.length;
    return {
      delivered: this.#delivered,
      retries: this.#retries,
      failed: this.#failed,
      dropped: this.#dropped,
      queued,
    };
  }

  /** Stops delivering: pending retries are cancelled, in-flight requests aborted, queues discarded. */
  stop(): void {
    this.#stopped = true;
    this.#unsubscribe?.();
    for (const t of this.#targets) {
      if (t.timer !== undefined) clearTimeout(t.timer);
      t.wake?.();
      t.abort?.abort();
      t.queue.length = 0;
    }
  }

  async #run(t: TargetState): Promise<void> {
    t.busy = true;
    try {
      while (!this.#stopped && t.queue.length > 0) {
        const event = t.queue[0]!;
        await this.#deliver(t, event);
        // The head may have been dropped by stop(); only remove it if it is still the same event.
        if (t.queue[0] === event) t.queue.shift();
      }
    } finally {
      t.busy = false;
    }
  }

  async #deliver(t: TargetState, event: ApiEvent): Promise<void> {
    const body = JSON.stringify(event);
    let lastError = '';
    for (let attempt = 1; attempt <= this.#maxAttempts && !this.#stopped; attempt++) {
      if (attempt > 1) {
        this.#retries++;
        await this.#sleep(t, this.#backoff(attempt - 1));
        if (this.#stopped) return;
      }
      const outcome = await this.#post(t, event, body);
      if (outcome === 'ok') {
        this.#delivered++;
        return;
      }
      lastError = outcome.error;
      if (!outcome.retry) break;
    }
    if (this.#stopped) return;
    this.#failed++;
    this.#onGiveUp({ url: t.target.url, eventId: event.id, attempts: this.#maxAttempts, lastError });
  }

  /** Delay before retry n (1-based): base * 2^(n-1), capped, with "equal jitter" (half fixed, half random). */
  #backoff(n: number): number {
    const ceiling = Math.min(this.#maxDelay, this.#baseDelay * 2 ** (n - 1));
    return ceiling / 2 + this.#random() * (ceiling / 2);
  }

  #sleep(t: TargetState, ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = (): void => {
        t.timer = undefined;
        t.wake = undefined;
        resolve();
      };
      t.wake = wake;
      t.timer = setTimeout(wake, ms);
      t.timer.unref();
    });
  }

  async #post(
    t: TargetState,
    event: ApiEvent,
    body: string,
  ): Promise<'ok' | { retry: boolean; error: string }> {
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'user-agent': this.#userAgent,
      'x-presenced-event': event.type,
      'x-presenced-delivery': String(event.id),
    };
    if (t.target.secret !== undefined) {
      const ts = String(Math.floor(Date.parse(event.time) / 1000));
      headers['x-presenced-timestamp'] = ts;
      headers['x-presenced-signature'] =
        'sha256=' + createHmac('sha256', t.target.secret).update(`${ts}.${body}`).digest('hex');
    }
    const abort = new AbortController();
    t.abort = abort;
    const timer = setTimeout(() => abort.abort(), this.#timeout);
    try {
      const res = await this.#fetch(t.target.url, {
        method: 'POST',
        headers,
        body,
        signal: abort.signal,
        redirect: 'manual',
      });
      // Drain the body so the connection can be reused.
      await res.arrayBuffer().catch(() => undefined);
      if (res.status >= 200 && res.status < 300) return 'ok';
      return { retry: retryable(res.status), error: `HTTP ${res.status}` };
    } catch (error) {
      const message = abort.signal.aborted ? `timeout after ${this.#timeout} ms` : errorText(error);
      return { retry: true, error: message };
    } finally {
      clearTimeout(timer);
      t.abort = undefined;
    }
  }
}

function errorText(error: unknown): string {
  if (error instanceof Error) {
    const cause = (error as { cause?: unknown }).cause;
    return cause instanceof Error ? `${error.message}: ${cause.message}` : error.message;
  }
  return String(error);
}
