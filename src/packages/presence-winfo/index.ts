// Public surface of packages/presence-winfo: the RFC 3857 template package and the RFC 3858 codec.
export {
  createWinfoPackage,
  watcherEventFor,
  watcherInfoEntry,
  type WatcherFacts,
  type WatcherInfoPackage,
  type WinfoPackageOptions,
  type WinfoView,
} from './winfo-package.js';
export {
  WATCHERINFO_NS,
  WATCHERINFO_CONTENT_TYPE,
  WATCHER_EVENTS,
  WATCHER_STATUSES,
  composeWatcherInfo,
  parseWatcherInfo,
  watcherId,
  type WatcherEvent,
  type WatcherInfoDocument,
  type WatcherInfoEntry,
  type WatcherInfoParse,
  type WatcherList,
  type WatcherStatus,
} from './watcherinfo.js';
