// Public surface of packages/dialog-sla: Bridged Line Appearance (Event: dialog;sla).
export { createDialogSlaPackage, type DialogSlaPackage, type DialogSlaPackageOptions } from './sla-package.js';
export {
  DEFAULT_BLA_PRESENTITY,
  blaPresentity,
  checkBlaPresentityTemplate,
  isPublishingSubscriber,
  type BlaSubscribeView,
} from './bla-presentity.js';
export { fixRemoteTargets } from './fix-remote-target.js';
