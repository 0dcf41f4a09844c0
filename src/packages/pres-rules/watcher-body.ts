/**
 * The per-watcher body of presence (the `bodyForWatcher` hook, Kamailio aux_body_processing / pres_apply_auth):
 * the composite PIDF reduced by the RFC 5025 §3.3 transformations of the rules that match the watcher.
 *
 * Hot path (every NOTIFY of every allowed watcher), so:
 * - each rule's transformations are read once, when the document is parsed (PresRule.permissions);
 * - a watcher's combined permissions are cached per document (and sphere), unless a rule has a validity period;
 *   combinations are cached per set of matching rules;
 * - a watcher given everything gets the composite string itself, which the core sends as the shared bytes;
 * - a filtered document is computed once per distinct permission set and composite version, not per watcher.
 *
 * Without a document for the presentity nothing is filtered: only rules restrict (the Kamailio/OpenSIPS default),
 * and with forceActive the hook is not installed at all.
 */
import type { WatcherContext } from '../../core/event-package.js';
import { parseXml, serializeXml, XmlError, type XmlElement } from '../shared/index.js';
import type { PresRulesSource } from './authorizer.js';
import { ruleMatches, type EvaluationContext } from './evaluate.js';
import { filterPresence } from './filter.js';
import { identityKey } from './identity.js';
import type { PresRulesDocument } from './pres-rules.js';
import { sphereOfPresence } from './sphere.js';
import { ALL_PERMISSIONS, combinePermissions, type Permissions } from './transformations.js';

/**
 * The permissions of `ctx.watcher` under `doc` (RFC 4745 §10.2 over every matching rule). A rule without
 * transformations grants nothing, so a watcher allowed only by such rules sees an empty <presence>.
 */
export function watcherPermissions(doc: PresRulesDocument, ctx: EvaluationContext): Permissions {
  const who = identityKey(ctx.watcher);
  const matched: Permissions[] = [];
  for (const rule of doc.rules) if (ruleMatches(rule, who, ctx)) matched.push(rule.permissions);
  return combinePermissions(matched);
}

export interface PresRulesBodyFilterOptions {
  readonly source: PresRulesSource;
  /** The injected clock (validity periods). */
  readonly now: () => number;
  /** enable_sphere_check: <sphere> conditions read the sphere of the document being sent. */
  readonly sphereCheck?: boolean;
  /** Presentities whose current composite and filtered variants are kept. Default 256. */
  readonly cacheSize?: number;
}

/** Per document: permissions by watcher (time-independent documents only) and by set of matching rules. */
interface DocCache {
  /** The presentity the document belongs to (a document object is never shared; if it were, no caching). */
  readonly presentity: string;
  readonly timeless: boolean;
  readonly byWatcher: Map<string, Permissions>;
  readonly bySet: Map<string, Permissions>;
}

/** Per presentity: the composite these variants were made from, its parse, and the variants by permission key. */
interface Variants {
  readonly composite: string;
  root: XmlElement | null | undefined;
  sphere: string | undefined;
  sphereRead: boolean;
  readonly byKey: Map<string, string>;
}

// A whole fan-out should hit: the bound is the watcher count of a popular presentity, not of a typical one.
const MAX_WATCHERS_PER_DOC = 32_768;
const MAX_SETS_PER_DOC = 1024;
const MAX_VARIANTS = 64;
// The composite is our own serialization of bodies each validated on PUBLISH; the bounds only guard against bugs.
const COMPOSITE_LIMITS = { maxBytes: 4 * 1024 * 1024, maxDepth: 64, maxElements: 200_000 };

/**
 * Builds the `bodyForWatcher` hook. Returns the composite itself when the watcher may see everything, the filtered
 * document otherwise, and undefined (a NOTIFY without body, leaking nothing) when the composite is not PIDF.
 */
export function createPresRulesBodyFilter(options: PresRulesBodyFilterOptions): (composite: string, watcher: WatcherContext) => string | undefined {
  const sphereCheck = options.sphereCheck === true;
  const cacheSize = Math.max(1, options.cacheSize ?? 256);
  const docs = new WeakMap<PresRulesDocument, DocCache>();
  const presentities = new Map<string, Variants>();

  const docCache = (doc: PresRulesDocument, presentity: string): DocCache => {
    let c = docs.get(doc);
    if (c === undefined) {
      c = { presentity, timeless: doc.rules.every((r) => r.validity.length === 0), byWatcher: new Map(), bySet: new Map() };
      docs.set(doc, c);
    }
    return c;
  };

  const compute = (doc: PresRulesDocument, cache: DocCache, presentity: string, watcher: string, sphere: string | undefined): Permissions => {
    const who = identityKey(watcher);
    const self = identityKey(presentity);
    // The presentity sees all of its own state, as the authorizer always lets it in.
    if (who !== undefined && self !== undefined && who.key === self.key) return ALL_PERMISSIONS;
    const ctx: EvaluationContext = { watcher, now: options.now(), sphereCheck, sphere };
    let set = '';
    const matched: Permissions[] = [];
    doc.rules.forEach((rule, i) => {
      if (!ruleMatches(rule, who, ctx)) return;
      set += `${i},`;
      matched.push(rule.permissions);
    });
    let p = cache.bySet.get(set);
    if (p === undefined) {
      p = combinePermissions(matched);
      if (cache.bySet.size < MAX_SETS_PER_DOC) cache.bySet.set(set, p);
    }
    return p;
  };

  const permissionsOf = (doc: PresRulesDocument, presentity: string, watcher: string, sphere: string | undefined): Permissions => {
    const cache = docCache(doc, presentity);
    if (!cache.timeless || cache.presentity !== presentity) return compute(doc, cache, presentity, watcher, sphere);
    const key = sphere === undefined ? watcher : `${sphere}\u0000${watcher}`;
    let p = cache.byWatcher.get(key);
    if (p === undefined) {
      p = compute(doc, cache, presentity, watcher, sphere);
      if (cache.byWatcher.size >= MAX_WATCHERS_PER_DOC) cache.byWatcher.clear();
      cache.byWatcher.set(key, p);
    }
    return p;
  };

  const variantsOf = (presentity: string, composite: string): Variants => {
    let v = presentities.get(presentity);
    // Same text, same variants: a recomputed composite equal to the previous one keeps them.
    if (v !== undefined && v.composite === composite) return v;
    if (v !== undefined) presentities.delete(presentity);
    else if (presentities.size >= cacheSize) presentities.delete(presentities.keys().next().value!);
    v = { composite, root: undefined, sphere: undefined, sphereRead: false, byKey: new Map() };
    presentities.set(presentity, v);
    return v;
  };

  const rootOf = (v: Variants): XmlElement | null => {
    if (v.root === undefined) {
      const r = parseXml(v.composite, COMPOSITE_LIMITS);
      v.root = r instanceof XmlError ? null : r;
    }
    return v.root;
  };

  return (composite, watcher) => {
    const doc = options.source.rulesFor(watcher.presentity);
    if (doc === undefined) return composite;
    const v = variantsOf(watcher.presentity, composite);
    if (sphereCheck && !v.sphereRead) {
      // RFC 4745 §7.2 against the state being sent: the same sphere the authorizer decided on (reauthorizeOnChange).
      const root = rootOf(v);
      v.sphere = root === null ? undefined : sphereOfPresence(root);
      v.sphereRead = true;
    }
    const p = permissionsOf(doc, watcher.presentity, watcher.watcher, v.sphere);
    if (p.unrestricted) return composite;
    const hit = v.byKey.get(p.key);
    if (hit !== undefined) return hit;
    const root = rootOf(v);
    if (root === null) return undefined;
    const filtered = filterPresence(root, p);
    if (filtered === undefined) return undefined;
    const text = serializeXml(filtered);
    if (v.byKey.size < MAX_VARIANTS) v.byKey.set(p.key, text);
    return text;
  };
}
