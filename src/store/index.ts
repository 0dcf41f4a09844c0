/**
 * Public surface of the storage layer. The core imports only the contract (./store.js); server/ picks an adapter
 * with openStore().
 */
export type {
  AccountMutation,
  BindingRecord,
  UserRecord,
  DialogRecord,
  DocumentRecord,
  EventParam,
  FlowRecord,
  PresenceStore,
  PublicationRecord,
  StoreMutation,
  StoreSnapshot,
  StoreStats,
  SubscriptionRecord,
  SubscriptionStatus,
  WatcherAuthStatus,
  WatcherRecord,
} from './store.js';
export { StoreError, STORE_ERROR_CODES, type StoreErrorCode } from './errors.js';
export { openStore, type OpenStoreOptions } from './open-store.js';
export { MemoryStore } from './memory/index.js';
export {
  SqliteStore,
  SqliteWorkerStore,
  SCHEMA_VERSION,
  type SqliteStoreOptions,
  type SqliteStoreInfo,
  type Durability,
} from './sqlite/index.js';
