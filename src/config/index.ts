export { ConfigError } from './errors.js';
export {
  cliFlags,
  loadConfig,
  parseConfig,
  parseDb,
  parseFlags,
  type CliFlags,
  type DbSpec,
  type FlagDoc,
  type LoadConfigOptions,
  type LoadedConfig,
} from './load.js';
export { configReference, defaultText } from './reference.js';
export {
  configKeys,
  formatListen,
  LOG_LEVELS,
  parseListen,
  type ConfigKey,
  type HttpListenSpec,
  type ListenSpec,
  type LogLevel,
  type PresencedConfig,
  WEBHOOK_EVENT_TYPES,
  type WebhookEventType,
  type WebhookSpec,
} from './schema.js';
export { presencedVersion } from './version.js';
