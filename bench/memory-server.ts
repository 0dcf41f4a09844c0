/**
 * presenced for the memory benchmark: the real startServer in a child process started with --expose-gc,
 * so that the parent can ask (over IPC) for memory figures after a full garbage collection. RSS alone
 * overstates live memory: V8 keeps the pages of a heap that grew, even once the garbage is collected.
 *
 *   node --expose-gc dist/bench/memory-server.js PORT DB_PATH
 *   parent -> child: 'measure'      child -> parent: {rss, heapUsed, external, arrayBuffers} in bytes
 */
import { parseConfig } from '../src/config/index.js';
import { createLogger } from '../src/observability/index.js';
import { startServer } from '../src/server/index.js';

export interface MemoryFigures {
  rss: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
}

const [portText, db] = process.argv.slice(2);
const port = Number(portText);
if (!Number.isInteger(port) || db === undefined) {
  process.stderr.write('usage: memory-server PORT DB_PATH\n');
  process.exit(2);
}
const gc = (globalThis as { gc?: () => void }).gc;
const server = await startServer(
  parseConfig({ listen: [`udp:127.0.0.1:${port}`, `tcp:127.0.0.1:${port}`], db: `sqlite:${db}`, http: 'off', logLevel: 'warn' }),
  createLogger({ level: 'warn' }),
);
process.on('message', (msg) => {
  if (msg === 'measure') {
    // Two passes: the first may only finalise objects the second then frees.
    gc?.();
    gc?.();
    const m = process.memoryUsage();
    const figures: MemoryFigures = { rss: m.rss, heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers };
    process.send?.(figures);
  } else if (msg === 'stop') {
    void server.stop().then(() => process.exit(0));
  }
});
process.send?.('ready');
