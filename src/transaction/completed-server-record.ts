/**
 * The Completed state of a non-INVITE server transaction over UDP (RFC 3261 §17.2.2), held apart from
 * the transaction object: for Timer J (32 s) the layer only needs the response bytes, the route and
 * the matching keys, not the parsed request and response. At thousands of requests per second this
 * is the difference between ~1 KB and ~7 KB per lingering transaction.
 */
import type { TxContext } from './context.js';
import { sendBytes, type ResponseRoute, type ServerEntry, type ServerTransactionKeys } from './server-transaction.js';
import type { TimerEntry } from './timer-queue.js';

export class CompletedServerRecord implements ServerEntry {
  readonly keys: ServerTransactionKeys;
  readonly finalSent = true;
  readonly #ctx: TxContext;
  readonly #bytes: Buffer;
  readonly #route: ResponseRoute;
  readonly #toTag: string;
  readonly #onTerminated: (entry: ServerEntry) => void;
  #timerJ: TimerEntry | undefined;
  #terminated = false;

  constructor(
    ctx: TxContext,
    keys: ServerTransactionKeys,
    bytes: Buffer,
    route: ResponseRoute,
    toTag: string,
    onTerminated: (entry: ServerEntry) => void,
  ) {
    this.#ctx = ctx;
    this.keys = keys;
    this.#bytes = bytes;
    this.#route = route;
    this.#toTag = toTag;
    this.#onTerminated = onTerminated;
    this.#timerJ = ctx.timers.schedule(64 * ctx.t1, CompletedServerRecord.#expire, this);
  }

  get terminated(): boolean {
    return this.#terminated;
  }

  toTag(): string {
    return this.#toTag;
  }

  /** §17.2.2: in Completed, every retransmission gets the final response again. */
  onRetransmission(): void {
    this.#ctx.counters.requestRetransmissionsAbsorbed++;
    this.#ctx.counters.responsesRetransmitted++;
    sendBytes(this.#ctx, this.#bytes, this.#route);
  }

  onCancel(): void {}

  static #expire(record: CompletedServerRecord): void {
    record.#timerJ = undefined;
    record.#terminated = true;
    record.#onTerminated(record);
  }

  /** Ends the wait before Timer J (the layer holds too many records): as if it had fired. */
  evict(): void {
    if (this.#terminated) return;
    this.#ctx.timers.cancel(this.#timerJ);
    CompletedServerRecord.#expire(this);
  }

  /** Cancels Timer J (layer shutdown). */
  dispose(): void {
    this.#ctx.timers.cancel(this.#timerJ);
    this.#timerJ = undefined;
  }
}
