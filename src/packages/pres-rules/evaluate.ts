/**
 * Rule evaluation (RFC 4745 §10) for one watcher: which rules match, and the combined
 * sub-handling (RFC 5025 §3.2.1: the maximum numeric value among the matching rules wins, so
 * allow > polite-block > confirm > block).
 */
import type { AuthorizationDecision } from '../../core/event-package.js';
import { identityKey, type IdentityKey } from './identity.js';
import { SUB_HANDLING_VALUE, type IdentityCondition, type PresRule, type PresRulesDocument, type SubHandling } from './pres-rules.js';

export interface EvaluationContext {
  /** The watcher's URI (RFC 5025 §3.1.1.2: the authenticated identity, else the From URI). */
  readonly watcher: string;
  /**
   * Whether the identity was authenticated. Identity conditions only ever match authenticated
   * identities (RFC 4745 §7.1.1); default true, since the core decides what it trusts.
   */
  readonly authenticated?: boolean;
  /** Current time, ms since the epoch, for <validity>. */
  readonly now: number;
  /**
   * Honour <sphere> conditions (enable_sphere_check). When off, a sphere condition is treated as
   * satisfied, as Kamailio/OpenSIPS do; when on, it holds only if the presentity's current sphere
   * is one of its tokens (RFC 4745 §7.2), and an unknown sphere matches nothing.
   */
  readonly sphereCheck?: boolean;
  /** The presentity's current RPID sphere ("work", "home"...), when known. */
  readonly sphere?: string | undefined;
}

export interface Evaluation {
  /** Combined sub-handling of the matching rules; undefined when none of them sets it. */
  readonly subHandling: SubHandling | undefined;
  /** Ids of the rules that matched, in document order (their transformations apply later). */
  readonly matched: readonly string[];
}

function identityMatches(cond: IdentityCondition, who: IdentityKey): boolean {
  if (cond.ones.includes(who.key)) return true;
  for (const m of cond.many) {
    if (m.domain !== undefined && m.domain !== who.domain) continue;
    if (who.domain !== undefined && m.exceptDomains.includes(who.domain)) continue;
    if (m.exceptIds.includes(who.key)) continue;
    return true;
  }
  return false;
}

/** Whether every condition of `rule` holds for the watcher `who` (RFC 4745 §10.1: conditions are AND'ed). */
export function ruleMatches(rule: PresRule, who: IdentityKey | undefined, ctx: EvaluationContext): boolean {
  if (rule.unsupportedCondition) return false;
  if (rule.identity.length > 0) {
    if (who === undefined || ctx.authenticated === false) return false;
    for (const cond of rule.identity) if (!identityMatches(cond, who)) return false;
  }
  if (ctx.sphereCheck === true) {
    for (const tokens of rule.spheres) {
      const current = ctx.sphere?.trim().toLowerCase();
      if (current === undefined || current === '' || !tokens.some((t) => t.toLowerCase() === current)) return false;
    }
  }
  for (const v of rule.validity) {
    if (!v.some((i) => ctx.now >= i.from && ctx.now < i.until)) return false;
  }
  return true;
}

/** Evaluates every rule of a document for one watcher and combines their sub-handling. */
export function evaluatePresRules(doc: PresRulesDocument, ctx: EvaluationContext): Evaluation {
  const who = identityKey(ctx.watcher);
  const matched: string[] = [];
  let best: SubHandling | undefined;
  for (const rule of doc.rules) {
    if (!ruleMatches(rule, who, ctx)) continue;
    matched.push(rule.id);
    const v = rule.subHandling;
    if (v !== undefined && (best === undefined || SUB_HANDLING_VALUE[v] > SUB_HANDLING_VALUE[best])) best = v;
  }
  return { subHandling: best, matched };
}

/** Maps RFC 5025 sub-handling to the core's authorization decision. */
export function decisionOf(handling: SubHandling): AuthorizationDecision {
  switch (handling) {
    case 'allow':
      return 'active';
    case 'polite-block':
      return 'polite-block';
    case 'confirm':
      return 'pending';
    case 'block':
      return 'rejected';
  }
}
