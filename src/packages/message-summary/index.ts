// Public surface of packages/message-summary: the RFC 3842 package and its body codec.
export {
  createMessageSummaryPackage,
  MESSAGE_SUMMARY_CONTENT_TYPE,
  type MessageSummaryPackageOptions,
} from './message-summary-package.js';
export {
  MESSAGE_SUMMARY_LIMITS,
  emptyMessageSummary,
  newMessageCount,
  parseMessageSummary,
  serializeMessageSummary,
  type ExtensionHeader,
  type MessageClassCount,
  type MessageContextClass,
  type MessageSummary,
  type MessageSummaryValidation,
} from './message-summary.js';
