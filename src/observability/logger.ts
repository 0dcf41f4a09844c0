import { pino, stdTimeFunctions, type DestinationStream, type Logger as PinoLogger } from 'pino';

/**
 * The logger every layer receives. Layers import this alias, never pino, so the backend can change in one place.
 * Make one child per layer: `logger.child({ layer: 'transport' })`.
 */
export type Logger = PinoLogger;

export type LoggerLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

/** Anything with a `write(line)` method, such as a stream collecting lines in a test. */
export type LogDestination = DestinationStream;

export interface CreateLoggerOptions {
  level: LoggerLevel;
  /** Human-readable output would need pino-pretty, which is not a dependency: JSON only for now. */
  pretty?: false;
  /** Where JSON lines go: a stream, a file descriptor or a file path. Default: stdout. */
  destination?: LogDestination | number | string;
}

/** Paths never written to the log, wherever a caller puts them. */
const REDACT = ['config.api.tokens', 'headers.authorization', 'req.headers.authorization', 'authorization'];

/** Creates the root logger: one JSON object per line with an ISO time and a textual level. */
export function createLogger(options: CreateLoggerOptions): Logger {
  const dest = options.destination ?? 1;
  // Synchronous writes: lines stay in order and reach the fd before process.exit() on a fatal error or a
  // forced shutdown. Asynchronous sonic-boom reordered the last lines at exit. Log volume at info is low.
  const destination = typeof dest === 'number' || typeof dest === 'string' ? pino.destination({ dest, sync: true }) : dest;
  return pino(
    {
      name: 'presenced',
      level: options.level,
      timestamp: stdTimeFunctions.isoTime,
      // Level names instead of pino's numbers: log shippers and people read "warn" more reliably than 40.
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: REDACT, censor: '[redacted]' },
    },
    destination,
  );
}
