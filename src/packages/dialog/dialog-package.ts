/**
 * The `dialog` event package (RFC 4235) for busy-lamp fields: PUBLISH and NOTIFY of
 * application/dialog-info+xml, several publishers merged per entity, version counted per subscription.
 */
import type { EventPackage, ExpiresPolicy, NotifyBody, PublicationView, PublishVerdict, WatcherContext } from '../../core/event-package.js';
import { aggregateDialogInfo, dialogInfoForWatcher, dialogWatcherOptions, emptyDialogInfo } from './dialog-compose.js';
import { DIALOG_INFO_CONTENT_TYPE, parseDialogInfo } from './dialog-info.js';

export interface DialogPackageOptions {
  /**
   * Only the most interesting dialog goes into each document (Kamailio presence_dialoginfo
   * force_single_dialog), for phones that break on several <dialog> elements (Linksys SPA962).
   */
  readonly singleDialog?: boolean;
  /** RFC 4235 §3.4: default subscription duration 3600 s. */
  readonly expires?: ExpiresPolicy;
}

/** Creates the `dialog` package. */
export function createDialogPackage(options: DialogPackageOptions = {}): EventPackage {
  const singleDialog = options.singleDialog === true;
  return {
    name: 'dialog',
    contentTypes: [DIALOG_INFO_CONTENT_TYPE],
    expires: options.expires ?? { default: 3600 },
    publishable: true,

    validatePublish(body: string): PublishVerdict {
      const r = parseDialogInfo(body);
      // The entity is not compared with the Request-URI: PBXs publish it in their own form
      // (IP host, extension number), and the composite always carries the presentity instead.
      return r.ok ? { ok: true } : { ok: false, status: 400, reason: r.reason };
    },

    aggregate(presentity: string, publications: readonly PublicationView[]): string | undefined {
      if (publications.length === 0) return undefined;
      return aggregateDialogInfo(
        presentity,
        publications.map((p) => ({ body: p.body, receivedAt: p.receivedAt })),
        { singleDialog },
      );
    },

    bodyForWatcher(composite: string, watcher: WatcherContext): string | undefined {
      return dialogInfoForWatcher(composite, watcher.version, dialogWatcherOptions(watcher.eventParams));
    },

    // With nothing published (or for a politely blocked watcher) the lamp shows idle: a full-state
    // document with no dialog, never a bodiless NOTIFY that some phones take as "unknown".
    emptyBody(presentity: string, watcher: WatcherContext): NotifyBody {
      return { contentType: DIALOG_INFO_CONTENT_TYPE, body: emptyDialogInfo(presentity, watcher.version) };
    },
  };
}
