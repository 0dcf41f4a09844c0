/**
 * Public surface of the transaction layer (RFC 3261 §17): clock and timers, identifiers,
 * and the contract with the transaction user.
 */
export type { Clock, TimerHandle } from './clock.js';
export { systemClock, ManualClock } from './clock.js';
export { TimerQueue } from './timer-queue.js';
export { newBranch, newTag, newToken } from './ids.js';
export type {
  ServerTransaction,
  TransactionUser,
  ClientTransactionOutcome,
  RequestSender,
} from './transaction-user.js';
export {
  TransactionLayer,
  type TransactionLayerOptions,
  type TransactionStats,
} from './transaction-layer.js';
export type { TransactionTransport } from './context.js';
