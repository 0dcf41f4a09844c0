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
  InviteClientEvents,
  InviteClientHandle,
  ForwardOptions,
} from './transaction-user.js';
export type { InviteServerState } from './invite-server-transaction.js';
export type { InviteClientState } from './invite-client-transaction.js';
export {
  TransactionLayer,
  type TransactionLayerOptions,
  type TransactionStats,
} from './transaction-layer.js';
export type { TransactionTransport } from './context.js';
