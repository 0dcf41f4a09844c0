/**
 * Watcher authorization from pres-rules documents: the `authorize` hook a package (presence) is
 * given by the composition root, and the source of documents it reads.
 *
 * The hook is synchronous (the core decides while answering a SUBSCRIBE), so documents are held in
 * memory, parsed once when stored; durability is the owner's business (the store), not this module's.
 */
import type { AuthorizationDecision, AuthorizationRequest } from '../../core/event-package.js';
import { decisionOf, evaluatePresRules } from './evaluate.js';
import { identityKey } from './identity.js';
import { parsePresRules, type PresRulesDocument, type PresRulesErrorKind, type SubHandling } from './pres-rules.js';

/** Where the authorizer finds a presentity's rules. */
export interface PresRulesSource {
  /** The parsed document of `presentity` (an AOR), or undefined when the user has none. */
  rulesFor(presentity: string): PresRulesDocument | undefined;
}

/** A stored document: its text as uploaded, for GET, and its parse, for evaluation. */
export interface StoredPresRules {
  readonly body: string;
  readonly doc: PresRulesDocument;
}

function keyOf(presentity: string): string {
  return identityKey(presentity)?.key ?? presentity.trim();
}

/** In-memory documents per presentity (also the cache in front of a durable store). */
export class MemoryPresRulesSource implements PresRulesSource {
  readonly #docs = new Map<string, StoredPresRules>();

  /** Validates and stores a document; returns the parse error reason instead of storing a bad one. */
  put(presentity: string, body: string): { ok: true } | { ok: false; reason: string; kind: PresRulesErrorKind } {
    const r = parsePresRules(body);
    if (!r.ok) return r;
    this.#docs.set(keyOf(presentity), { body, doc: r.doc });
    return { ok: true };
  }

  /** True when a document was removed. */
  delete(presentity: string): boolean {
    return this.#docs.delete(keyOf(presentity));
  }

  get(presentity: string): StoredPresRules | undefined {
    return this.#docs.get(keyOf(presentity));
  }

  rulesFor(presentity: string): PresRulesDocument | undefined {
    return this.#docs.get(keyOf(presentity))?.doc;
  }

  /** Presentities that have a document (for re-evaluation sweeps and listings). */
  presentities(): string[] {
    return [...this.#docs.keys()];
  }

  get size(): number {
    return this.#docs.size;
  }
}

export interface PresRulesAuthorizerOptions {
  readonly source: PresRulesSource;
  /** The injected clock (validity periods); hooks never read the system clock themselves. */
  readonly now: () => number;
  /** enable_sphere_check: honour <sphere> conditions with the presentity's published sphere. */
  readonly sphereCheck?: boolean;
  /** The presentity's current RPID sphere (the presence package knows it from the published PIDF). */
  readonly sphereOf?: (presentity: string) => string | undefined;
  /**
   * Outcome when no matching rule sets sub-handling, or the presentity has no document. Default
   * 'confirm': the subscription waits as pending and the presentity learns of it through winfo
   * (RFC 5025 §3.2.1 confirm; Kamailio/OpenSIPS behave the same without a rule).
   */
  readonly defaultHandling?: SubHandling;
}

/** The sub-handling that applies to `watcher` for `presentity`, defaults included. */
export function presRulesHandling(options: PresRulesAuthorizerOptions, presentity: string, watcher: string): SubHandling {
  const fallback = options.defaultHandling ?? 'confirm';
  const doc = options.source.rulesFor(presentity);
  if (doc === undefined) return fallback;
  const sphereCheck = options.sphereCheck === true;
  const r = evaluatePresRules(doc, {
    watcher,
    now: options.now(),
    sphereCheck,
    sphere: sphereCheck ? options.sphereOf?.(presentity) : undefined,
  });
  return r.subHandling ?? fallback;
}

/**
 * The `authorize` hook: maps the combined sub-handling to the core's decision (allow: active,
 * polite-block: active with neutral state, confirm: pending, block: rejected). A presentity always
 * sees its own state (RFC 5025 §3.1.1 leaves that to policy; asking a user to confirm herself helps no one).
 */
export function createPresRulesAuthorizer(options: PresRulesAuthorizerOptions): (request: AuthorizationRequest) => AuthorizationDecision {
  return (request) => {
    const self = identityKey(request.watcher);
    const target = identityKey(request.presentity);
    if (self !== undefined && target !== undefined && self.key === target.key) return 'active';
    return decisionOf(presRulesHandling(options, request.presentity, request.watcher));
  };
}
