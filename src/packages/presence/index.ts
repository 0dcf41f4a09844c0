/** Public surface of the presence package: the EventPackage for RFC 3856 and the PIDF helpers it uses. */
export { createPresencePackage, PIDF_CONTENT_TYPE, type PresencePackageOptions } from './presence-package.js';
export { onThePhonePidf, ON_THE_PHONE_NOTE } from './on-the-phone.js';
export {
  validatePidf,
  aggregatePidf,
  composesAsIs,
  composePidf,
  serializePidf,
  closedPidf,
  pidfBasicStatus,
  pidfSummary,
  samePresentity,
  PIDF_NS,
  DM_NS,
  RPID_NS,
  type PidfDocument,
  type PidfValidation,
  type PidfPublication,
  type PidfBasic,
  type PidfSummary,
} from './pidf.js';
