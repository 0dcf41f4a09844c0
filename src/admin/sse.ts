/**
 * Server-Sent Events streams of API events (the WHATWG HTML "server-sent events" wire format).
 *
 * Each event is one frame: `id: N`, `event: TYPE`, `data: JSON`. A comment line every heartbeat keeps proxies
 * from timing the connection out and reveals dead peers. A stream whose peer does not read is closed once
 * its unsent bytes pass a bound, rather than letting one slow client hold unbounded memory.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { matchesFilter, type ApiEvent, type EventFilter, type EventHub } from './event-hub.js';

export interface SseOptions {
  /** Streams open at once; more are refused with 429. */
  maxStreams?: number;
  heartbeatMs?: number;
  /** Unsent bytes tolerated per stream before it is closed as too slow. */
  maxBufferedBytes?: number;
  /** Reconnection delay suggested to EventSource clients (the `retry:` field). */
  retryMs?: number;
}

export interface SseStats {
  readonly open: number;
  readonly opened: number;
  readonly framesSent: number;
  /** Streams closed because the peer did not read fast enough. */
  readonly slowClosed: number;
  /** Streams refused because maxStreams were open. */
  readonly refused: number;
}

interface Stream {
  readonly res: ServerResponse;
  readonly filter: EventFilter;
}

export class SseBroker {
  readonly #streams = new Set<Stream>();
  readonly #maxStreams: number;
  readonly #maxBuffered: number;
  readonly #retryMs: number;
  readonly #heartbeatMs: number;
  #heartbeat: NodeJS.Timeout | undefined;
  #unsubscribe: (() => void) | undefined;
  #opened = 0;
  #frames = 0;
  #slowClosed = 0;
  #refused = 0;

  constructor(
    private readonly hub: EventHub,
    options: SseOptions = {},
  ) {
    this.#maxStreams = options.maxStreams ?? 64;
    this.#maxBuffered = options.maxBufferedBytes ?? 1024 * 1024;
    this.#retryMs = options.retryMs ?? 3000;
    this.#heartbeatMs = options.heartbeatMs ?? 15000;
  }

  /** Whether another stream may open now. */
  hasRoom(): boolean {
    return this.#streams.size < this.#maxStreams;
  }

  /**
   * Takes over a response and streams matching events on it until either side closes. Replays the
   * events after `lastEventId` that are still buffered; when some were lost, sends a `resync` event
   * so the client reloads its state. Returns false (response untouched) when too many streams are open.
   */
  open(req: IncomingMessage, res: ServerResponse, filter: EventFilter, lastEventId: number | undefined): boolean {
    if (this.#streams.size >= this.#maxStreams) {
      this.#refused++;
      return false;
    }
    const stream: Stream = { res, filter };
    this.#streams.add(stream);
    this.#opened++;
    this.#start();
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      // nginx buffers responses by default, which would hold events back.
      'x-accel-buffering': 'no',
    });
    res.write(`retry: ${this.#retryMs}\n: presenced event stream\n\n`);
    if (lastEventId !== undefined) {
      const { events, complete } = this.hub.since(lastEventId);
      if (!complete) res.write(`event: resync\ndata: {}\n\n`);
      for (const e of events) this.#send(stream, e);
    }
    const drop = (): void => {
      this.#streams.delete(stream);
      if (this.#streams.size === 0) this.#stop();
    };
    req.on('close', drop);
    res.on('close', drop);
    res.on('error', drop);
    return true;
  }

  /** Ends every stream (server shutdown). */
  closeAll(): void {
    for (const s of this.#streams) s.res.end();
    this.#streams.clear();
    this.#stop();
  }

  stats(): SseStats {
    return {
      open: this.#streams.size,
      opened: this.#opened,
      framesSent: this.#frames,
      slowClosed: this.#slowClosed,
      refused: this.#refused,
    };
  }

  #start(): void {
    if (this.#unsubscribe === undefined) {
      this.#unsubscribe = this.hub.subscribe((e) => {
        let frame: string | undefined;
        for (const s of this.#streams) {
          if (!matchesFilter(s.filter, e)) continue;
          // Serialised once per event, whatever the number of streams.
          frame ??= SseBroker.frame(e);
          this.#write(s, frame);
          this.#frames++;
        }
      });
    }
    if (this.#heartbeat === undefined) {
      this.#heartbeat = setInterval(() => {
        for (const s of this.#streams) this.#write(s, ': ping\n\n');
      }, this.#heartbeatMs);
      this.#heartbeat.unref();
    }
  }

  #stop(): void {
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    if (this.#heartbeat !== undefined) clearInterval(this.#heartbeat);
    this.#heartbeat = undefined;
  }

  /** One SSE frame. JSON.stringify escapes line breaks, so the payload always fits one `data:` line. */
  static frame(e: ApiEvent): string {
    return `id: ${e.id}\nevent: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`;
  }

  #send(stream: Stream, e: ApiEvent): void {
    this.#write(stream, SseBroker.frame(e));
    this.#frames++;
  }

  #write(stream: Stream, text: string): void {
    const res = stream.res;
    if (res.destroyed || res.writableEnded) return;
    if (res.writableLength > this.#maxBuffered) {
      this.#slowClosed++;
      this.#streams.delete(stream);
      res.destroy();
      return;
    }
    res.write(text);
  }
}
