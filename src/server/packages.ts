/**
 * The event packages this build serves, built from the configuration, and the wiring between them and the core
 * that no package may do itself (packages never import each other, nor the core's facade):
 * - dialog;sla gets the dialog package's body handling passed in;
 * - presence gets the dialog package's busy test for mixDialogPresence, and, when forceActive is off, the
 *   pres-rules `authorize` hook, reading rules documents the core keeps durably (documents table) and the
 *   presentity's sphere from the core's composite presence state, and the pres-rules `bodyForWatcher` filter
 *   (RFC 5025 §3.3 transformations: each watcher sees what its matching rules provide);
 * - with sphereCheck, every change of presence state is re-decided before it is sent (reauthorizeOnChange);
 * - the XCAP-style HTTP rules endpoints (admin/routes/pres-rules.ts) get a service that validates documents with
 *   the pres-rules package, stores them through the core and re-evaluates the watchers (refreshWatchers).
 */
import type { PresencedConfig } from '../config/index.js';
import type { CoreConfig, EventPackage, PresenceCore } from '../core/index.js';
import type { PresRulesDocuments, PresRulesPreconditions, PresRulesWriteResult } from '../admin/index.js';
import { createPresencePackage } from '../packages/presence/index.js';
import { createWinfoPackage } from '../packages/presence-winfo/index.js';
import { createDialogPackage, isDialogBusy } from '../packages/dialog/index.js';
import { createDialogSlaPackage } from '../packages/dialog-sla/index.js';
import { createMessageSummaryPackage } from '../packages/message-summary/index.js';
import {
  createPresRulesAuthorizer,
  createPresRulesBodyFilter,
  parsePresRules,
  PRES_RULES_AUID,
  PRES_RULES_CONTENT_TYPE,
  PRES_RULES_DOCUMENT,
  sphereOfPidf,
  xcapErrorBody,
  type PresRulesDocument,
  type PresRulesSource,
} from '../packages/pres-rules/index.js';

/** The core facade methods the wiring uses (PresenceCore has them all). */
export type PackagesCore = Pick<
  PresenceCore,
  'getDocument' | 'putDocument' | 'deleteDocument' | 'refreshWatchers' | 'compositeOf'
>;

export interface EventPackagesDeps {
  /** Wall clock, epoch ms (pres-rules validity periods). */
  readonly now: () => number;
}

export interface EventPackages {
  readonly packages: EventPackage[];
  /** The keys of CoreConfig that come from package settings (waitingSubsDays, bla.trustSender). */
  readonly coreConfig: Partial<CoreConfig>;
  /** Connects the hooks to the core once it exists; returns the service behind the HTTP rules endpoints. */
  attach(core: PackagesCore): PresRulesDocuments;
}

/**
 * pres-rules documents as the authorizer reads them: the core's stored document of (presentity, pres-rules,
 * index), parsed once per version (entity-tag). A stored document that no longer parses counts as none.
 */
class StoredRulesSource implements PresRulesSource {
  #core: PackagesCore | undefined;
  readonly #parsed = new Map<string, { readonly etag: string; readonly doc: PresRulesDocument | undefined }>();

  attach(core: PackagesCore): void {
    this.#core = core;
  }

  rulesFor(presentity: string): PresRulesDocument | undefined {
    const stored = this.#core?.getDocument(presentity, PRES_RULES_AUID, PRES_RULES_DOCUMENT);
    if (stored === undefined) {
      this.#parsed.delete(presentity);
      return undefined;
    }
    const hit = this.#parsed.get(presentity);
    if (hit !== undefined && hit.etag === stored.etag) return hit.doc;
    const r = parsePresRules(stored.body);
    const doc = r.ok ? r.doc : undefined;
    this.#parsed.set(presentity, { etag: stored.etag, doc });
    return doc;
  }
}

export function createEventPackages(config: PresencedConfig, deps: EventPackagesDeps): EventPackages {
  const source = new StoredRulesSource();
  let core: PackagesCore | undefined;
  const sphereOf = (presentity: string): string | undefined => {
    const body = core?.compositeOf(presentity, 'presence')?.body;
    return body === undefined ? undefined : sphereOfPidf(body);
  };
  const presence = createPresencePackage({
    notifyOfflineBody: config.notifyOfflineBody,
    ...(config.mixDialogPresence ? { mixDialog: { event: 'dialog', isBusy: isDialogBusy } } : {}),
  });
  const dialog = createDialogPackage({ singleDialog: config.dialog.singleDialog });
  const packages: EventPackage[] = [
    config.forceActive
      ? presence
      : {
          ...presence,
          authorize: createPresRulesAuthorizer({ source, now: deps.now, sphereCheck: config.sphereCheck, sphereOf }),
          bodyForWatcher: createPresRulesBodyFilter({ source, now: deps.now, sphereCheck: config.sphereCheck }),
          // RFC 4745 §7.2 with enable_sphere_check: the decision reads the published sphere, so every change of
          // presence state is re-decided before it is sent (a watcher the new sphere excludes never gets it).
          ...(config.sphereCheck ? { reauthorizeOnChange: true } : {}),
        },
    createWinfoPackage(),
    dialog,
    createDialogSlaPackage({
      dialog,
      ...(config.bla.presentity !== undefined ? { presentity: config.bla.presentity } : {}),
      fixRemoteTarget: config.bla.fixRemoteTarget,
    }),
    createMessageSummaryPackage({ subscribers: config.mwi.subscribers }),
  ];

  return {
    packages,
    coreConfig: { waitingSubsDays: config.waitingSubsDays, trustSenderHeader: config.bla.trustSender },
    attach(c: PackagesCore): PresRulesDocuments {
      core = c;
      source.attach(c);
      return rulesDocuments(c, !config.forceActive);
    },
  };
}

/** The HTTP rules service: validate (409 with an RFC 4825 §11 body), store through the core, re-evaluate. */
function rulesDocuments(core: PackagesCore, rulesApply: boolean): PresRulesDocuments {
  const after = (xui: string, r: PresRulesWriteResult): PresRulesWriteResult => {
    // RFC 5025 §3.2.1 / OpenSIPS refreshWatchers: the new rules apply to existing watchers at once (with
    // forceActive the rules decide nothing: the document is only stored).
    if (r.ok && rulesApply) core.refreshWatchers(xui, 'presence');
    return r;
  };
  return {
    contentType: PRES_RULES_CONTENT_TYPE,
    get(xui: string) {
      const d = core.getDocument(xui, PRES_RULES_AUID, PRES_RULES_DOCUMENT);
      return d === undefined ? undefined : { etag: d.etag, body: d.body };
    },
    async put(xui: string, body: string, pre: PresRulesPreconditions): Promise<PresRulesWriteResult> {
      const parsed = parsePresRules(body);
      if (!parsed.ok) return { ok: false, status: 409, reason: parsed.reason, xcapError: xcapErrorBody(parsed.kind, parsed.reason) };
      const r = await core.putDocument({
        owner: xui,
        auid: PRES_RULES_AUID,
        name: PRES_RULES_DOCUMENT,
        contentType: PRES_RULES_CONTENT_TYPE,
        body,
        ifMatch: pre.ifMatch,
        ifNoneMatch: pre.ifNoneMatch,
      });
      return after(xui, r.ok ? { ok: true, etag: r.etag, created: r.created } : { ok: false, status: r.status, reason: r.reason });
    },
    async delete(xui: string, pre: PresRulesPreconditions): Promise<PresRulesWriteResult> {
      const r = await core.deleteDocument({ owner: xui, auid: PRES_RULES_AUID, name: PRES_RULES_DOCUMENT, ifMatch: pre.ifMatch });
      return after(xui, r.ok ? { ok: true, etag: r.etag, created: false } : { ok: false, status: r.status, reason: r.reason });
    },
    notUtf8: () => xcapErrorBody('not-utf-8'),
  };
}
