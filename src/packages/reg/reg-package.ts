/**
 * The `reg` event package (RFC 3680): subscribers learn the registration state of an AOR. The state is
 * published by presenced's own registrar through the core facade (as a pua_reginfo would); PUBLISH from the
 * network is refused unless `externalPublish` is set (an external registrar feeding us, like Kamailio's
 * pua_reginfo). Each NOTIFY gets the subscription's version; the first after a SUBSCRIBE is full state, later
 * ones partial (RFC 3680 §5.4: the subscriber applies them on top).
 *
 * The published composite is a full document whose registrations may also list recently removed contacts
 * (state="terminated"): a full-state NOTIFY drops them (absent means gone), a partial one keeps them so that
 * a subscriber whose NOTIFYs were coalesced still hears of every removal.
 *
 * Privacy (RFC 3680 §7): registration state reveals where a user is reachable. Only the AOR itself, or a
 * watcher `isTrustedWatcher` accepts, is authorised; anyone else gets 403 from `authorize` and, when
 * authorisation is forced on (forceActive), bodies without contacts.
 */
import type {
  AuthorizationDecision,
  AuthorizationRequest,
  EventPackage,
  ExpiresPolicy,
  NotifyBody,
  PublishContext,
  PublishVerdict,
  WatcherContext,
} from '../../core/event-package.js';
import { composeRegInfo, parseRegInfo, REGINFO_CONTENT_TYPE, registrationId, type RegInfo } from './reginfo.js';

export interface RegPackageOptions {
  /** Accept reginfo PUBLISHes from the network (a registrar in front of us). Default false. */
  readonly externalPublish?: boolean;
  /** Watchers other than the AOR itself allowed to see its contacts (a PBX, a monitoring account). */
  readonly isTrustedWatcher?: (watcher: string, presentity: string) => boolean;
  /** RFC 3680 §6: default subscription duration 3761 seconds. */
  readonly expires?: ExpiresPolicy;
}

export function createRegPackage(options: RegPackageOptions = {}): EventPackage {
  const trusted = options.isTrustedWatcher ?? (() => false);
  const mayWatch = (watcher: string, presentity: string): boolean => watcher === presentity || trusted(watcher, presentity);
  return {
    name: 'reg',
    contentTypes: [REGINFO_CONTENT_TYPE],
    expires: options.expires ?? { default: 3761 },
    publishable: true,

    validatePublish(body: string, _contentType: string, ctx: PublishContext): PublishVerdict {
      // The facade publishes without a sender; a SIP PUBLISH always has one.
      if (ctx.sender !== undefined && options.externalPublish !== true) {
        return { ok: false, status: 403, reason: 'Registration state is published by the registrar' };
      }
      const r = parseRegInfo(body);
      return r.ok ? { ok: true } : { ok: false, status: 400, reason: r.reason };
    },

    authorize(request: AuthorizationRequest): AuthorizationDecision {
      return mayWatch(request.watcher, request.presentity) ? 'active' : 'rejected';
    },

    bodyForWatcher(composite: string, watcher: WatcherContext): string | undefined {
      const parsed = parseRegInfo(composite);
      if (!parsed.ok) return undefined;
      return composeRegInfo(forWatcher(parsed.doc, watcher, mayWatch(watcher.watcher, watcher.presentity)));
    },

    emptyBody(presentity: string, watcher: WatcherContext): NotifyBody {
      return {
        contentType: REGINFO_CONTENT_TYPE,
        body: composeRegInfo({
          version: watcher.version,
          state: 'full',
          registrations: [{ aor: presentity, id: registrationId(presentity), state: 'init', contacts: [] }],
        }),
      };
    },
  };
}

/** The document one watcher gets: its version, full or partial, and contacts only when it may see them. */
export function forWatcher(doc: RegInfo, watcher: WatcherContext, allowed: boolean): RegInfo {
  const full = watcher.fullState;
  return {
    version: watcher.version,
    state: full ? 'full' : 'partial',
    registrations: doc.registrations.map((r) => ({
      ...r,
      contacts: !allowed ? [] : full ? r.contacts.filter((c) => c.state === 'active') : r.contacts,
    })),
  };
}
