// Public surface of packages/dialog: the RFC 4235 dialog event package and its codec.
export { createDialogPackage, type DialogPackageOptions } from './dialog-package.js';
export {
  DIALOG_INFO_NS,
  DIALOG_INFO_CONTENT_TYPE,
  DIALOG_STATES,
  MAX_DIALOGS_PER_DOCUMENT,
  dialogStateRank,
  parseDialogInfo,
  type DialogDirection,
  type DialogEntry,
  type DialogInfoDocument,
  type DialogInfoParse,
  type DialogParticipant,
  type DialogState,
} from './dialog-info.js';
export {
  MAX_MERGED_DIALOGS,
  aggregateDialogInfo,
  composeDialogInfo,
  dialogInfoForWatcher,
  dialogWatcherOptions,
  emptyDialogInfo,
  mergeDialogs,
  pickSingleDialog,
  type AggregateOptions,
  type DialogPublication,
  type DialogWatcherOptions,
} from './dialog-compose.js';
export { dialogActivity, isDialogBusy, type DialogActivity } from './dialog-summary.js';
