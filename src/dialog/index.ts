/** Public surface of the dialog layer (RFC 3261 §12): dialog state records and in-dialog request building. */
export type { DialogState, UasDialogInput } from './dialog-state.js';
export { createUasDialog, dialogKey, copyDialog } from './dialog-state.js';
export type { InDialogRequestOptions } from './in-dialog-request.js';
export {
  buildInDialogRequest,
  firstRouteUri,
  destinationOfUri,
  nameAddrWithoutTag,
  MAX_FORWARDS,
} from './in-dialog-request.js';
