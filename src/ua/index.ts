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
