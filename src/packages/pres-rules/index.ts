// Public surface of packages/pres-rules: RFC 5025 documents, RFC 4745 evaluation, the authorize hook, and the
// per-watcher body filter (RFC 5025 §3.3 transformations).
export {
  COMMON_POLICY_NS,
  PRES_RULES_NS,
  PRES_RULES_CONTENT_TYPE,
  PRES_RULES_LIMITS,
  SUB_HANDLING_VALUE,
  parsePresRules,
  type IdentityCondition,
  type ManyCondition,
  type PresRule,
  type PresRulesDocument,
  type PresRulesErrorKind,
  type PresRulesParse,
  type SubHandling,
  type ValidityCondition,
} from './pres-rules.js';
export { decisionOf, evaluatePresRules, ruleMatches, type Evaluation, type EvaluationContext } from './evaluate.js';
export {
  ALL_PERMISSIONS,
  ATTRIBUTE_PERMISSIONS,
  NO_PERMISSIONS,
  USER_INPUT_VALUE,
  combinePermissions,
  readTransformations,
  unknownKey,
  type AttributePermission,
  type Permissions,
  type Selection,
  type UserInputLevel,
} from './transformations.js';
export { filterPresence } from './filter.js';
export { createPresRulesBodyFilter, watcherPermissions, type PresRulesBodyFilterOptions } from './watcher-body.js';
export {
  MemoryPresRulesSource,
  createPresRulesAuthorizer,
  presRulesHandling,
  type PresRulesAuthorizerOptions,
  type PresRulesSource,
  type StoredPresRules,
} from './authorizer.js';
export { identityKey, sameIdentity, type IdentityKey } from './identity.js';
export { sphereOfPidf, sphereOfPresence } from './sphere.js';
export {
  PRES_RULES_AUID,
  PRES_RULES_DOCUMENT,
  XCAP_ERROR_CONTENT_TYPE,
  parseXcapDocumentPath,
  presRulesXcapPath,
  xcapErrorBody,
  type XcapDocumentPath,
  type XcapPathParse,
} from './xcap.js';
