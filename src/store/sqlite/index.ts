export { SqliteStore, type SqliteStoreInfo } from './sqlite-store.js';
export { SqliteWorkerStore } from './worker-store.js';
export type { Durability, SqliteStoreOptions } from './database.js';
export { SCHEMA_VERSION } from './schema.js';
