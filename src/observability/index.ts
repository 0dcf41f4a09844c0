export { createLogger, type CreateLoggerOptions, type LogDestination, type Logger, type LoggerLevel } from './logger.js';
