// Public surface of packages/reg: the RFC 3680 reg event package and its application/reginfo+xml codec.
export { createRegPackage, forWatcher, type RegPackageOptions } from './reg-package.js';
export {
  REGINFO_NS,
  REGINFO_CONTENT_TYPE,
  MAX_REGISTRATIONS,
  MAX_CONTACTS_PER_REGISTRATION,
  composeRegInfo,
  parseRegInfo,
  registrationId,
  stableId,
  type RegContact,
  type RegContactEvent,
  type RegContactState,
  type RegInfo,
  type RegInfoParse,
  type Registration,
  type RegistrationState,
} from './reginfo.js';
