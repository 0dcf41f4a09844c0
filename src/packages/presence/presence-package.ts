/**
 * The presence event package (RFC 3856) on the core's EventPackage interface: PIDF bodies (RFC 3863),
 * validated on PUBLISH and composed over all devices for NOTIFY (RFC 3903 §3), a closed document for
 * politely blocked watchers (RFC 5025 §3.2.1) and, when configured, for presentities with nothing published
 * (notify_offline_body).
 */
import type { EventPackage, NotifyBody, PublicationView, PublishVerdict, RelatedState, WatcherContext } from '../../core/event-package.js';
import { aggregatePidf, closedPidf, composePidf, composesAsIs, validatePidf, type PidfDocument } from './pidf.js';
import { onThePhonePidf } from './on-the-phone.js';

export const PIDF_CONTENT_TYPE = 'application/pidf+xml';

export interface PresencePackageOptions {
  /** With nothing published, NOTIFY a closed PIDF instead of no body (Kamailio/OpenSIPS notify_offline_body). */
  readonly notifyOfflineBody?: boolean;
  /** Default subscription and publication interval in seconds (RFC 3856 §6.4: 3600). */
  readonly defaultExpires?: number;
  /**
   * mix_dialog_presence: show the presentity "on the phone" (RPID activity and note) while the state of `event`
   * (the dialog package) says busy. The composition root passes the dialog package's test (isDialogBusy): packages
   * never import each other. The core re-notifies presence watchers when that state changes (dependsOn).
   */
  readonly mixDialog?: {
    readonly event: string;
    isBusy(body: string): boolean;
  };
}

const OK: PublishVerdict = { ok: true };
const OK_STANDALONE: PublishVerdict = { ok: true, standalone: true };

/**
 * Documents validatePublish parsed lately for watched presentities, by body text, for aggregate(): an accepted
 * change of a watched presentity is composed for its watchers right after its commit, so keeping the parsed tree
 * saves parsing every body twice. Unwatched presentities compose nothing then (and keying this map hashes the whole
 * body), so theirs are not kept. Bounded: the publications of one busy event-loop turn fit; anything older is
 * parsed again (documents are immutable).
 */
const RECENT_DOCS = 512;

export function createPresencePackage(opts: PresencePackageOptions = {}): EventPackage {
  const offline = opts.notifyOfflineBody === true;
  const mix = opts.mixDialog;
  const recent = new Map<string, PidfDocument>();
  const pidfPubs = (publications: readonly PublicationView[]) =>
    publications.map((p) => ({ etag: p.etag, body: recent.get(p.body) ?? p.body, receivedAt: p.receivedAt }));
  return {
    name: 'presence',
    // RFC 3856 §6.5: PIDF is mandatory and the default when the subscriber sends no Accept.
    contentTypes: [PIDF_CONTENT_TYPE],
    expires: { default: opts.defaultExpires ?? 3600 },
    publishable: true,

    validatePublish(body: string, _contentType: string, ctx): PublishVerdict {
      // RFC 3903 §6 step 5: state that is not valid for the package is a 400; the entity must be the presentity.
      const v = validatePidf(body, ctx.presentity);
      if (!v.ok) return { ok: false, status: 400, reason: v.reason };
      if (ctx.watched !== false) {
        if (recent.size >= RECENT_DOCS) recent.delete(recent.keys().next().value!);
        recent.set(body, v.doc);
      }
      return composesAsIs(body, v.doc, ctx.presentity) ? OK_STANDALONE : OK;
    },

    ...(mix === undefined ? {} : { dependsOn: [mix.event] }),

    aggregate(presentity: string, publications: readonly PublicationView[], related?: RelatedState): string | undefined {
      if (mix !== undefined) {
        const dialogs = related?.composite(mix.event);
        if (dialogs !== undefined && mix.isBusy(dialogs)) {
          return onThePhonePidf(presentity, publications.length === 0 ? undefined : composePidf(presentity, pidfPubs(publications)).root);
        }
      }
      // Asked with nothing published only when mixing: no calls, no state.
      if (publications.length === 0) return undefined;
      if (publications.length === 1 && publications[0]!.standalone === true) return publications[0]!.body;
      return aggregatePidf(presentity, pidfPubs(publications));
    },

    emptyBody(presentity: string, watcher: WatcherContext): NotifyBody | undefined {
      if (watcher.politeBlock || offline) return { contentType: PIDF_CONTENT_TYPE, body: closedPidf(presentity) };
      return undefined;
    },
  };
}
