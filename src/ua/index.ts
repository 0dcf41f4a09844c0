/**
 * Public surface of the presence user agent features (Kamailio's pua_* modules): publications made by
 * presenced itself through the core facade.
 * - PresenceFromRegistration (pua_usrloc): a tuple open while a user is registered, closed after.
 * - RegInfoPublisher (pua_reginfo): registration state for the `reg` event package (RFC 3680).
 * - FacadePublisher: keeps one publication per presentity alive (initial, modify, refresh, remove).
 */
export {
  FacadePublisher,
  type FacadePublisherOptions,
  type PublisherLogger,
  type PublisherStats,
  type PublisherTimers,
  type PublishingCore,
} from './facade-publisher.js';
export {
  PresenceFromRegistration,
  registrationPidf,
  registrationTupleId,
  PIDF_CONTENT_TYPE,
  type PresenceFromRegistrationOptions,
  type RegistrationSource,
} from './from-registration.js';
export { RegInfoPublisher, contactId, type BindingSource, type RegInfoPublisherOptions } from './reg-info.js';
// Presence from calls (pua_dialoginfo): dialog-info for caller and callee of each call the proxy tracks.
export {
  DialogInfoPublisher,
  type DialogInfoPublisherOptions,
  type DialogInfoPublisherStats,
  type DialogPublishPort,
  type CallEventSource,
} from './dialog-info-publisher.js';
export { dialogInfoBody, dialogInfoDocument, dialogElement, dialogId, DIALOG_INFO_CONTENT_TYPE, type CallSide } from './dialog-info-body.js';
export {
  OutboundSubscriptions,
  type OutboundRequest,
  type OutboundResult,
  type OutboundRoute,
  type OutboundStats,
  type OutboundSubscriptionsOptions,
} from './outbound-subscriptions.js';
export type { NotifyInEvent, OutboundEvent, OutboundInfo, OutboundState, OutboundStateEvent } from './outbound-types.js';
export {
  documentRecordStore,
  memoryRecordStore,
  OUTBOUND_AUID,
  type OutboundDocumentPort,
  type OutboundRecord,
  type OutboundRecordStore,
} from './outbound-record-store.js';
