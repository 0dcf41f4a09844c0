/**
 * The `dialog;sla` event package: Bridged Line Appearance (draft-anil-sipping-bla), dialog-info
 * state of a shared line distributed to every phone of the line.
 *
 * The bodies are RFC 4235 dialog-info, so the body work (validation, merge, per-watcher version and
 * filters, idle document) is the `dialog` package's, which the composition root passes in: packages
 * never import each other. This package adds what BLA changes: its name, the remote target fix, how
 * the presentity is derived from a SUBSCRIBE, and which subscriber published a change.
 */
import type {
  EventPackage,
  NotifyBody,
  PublicationView,
  PublishContext,
  PublishVerdict,
  WatcherContext,
} from '../../core/event-package.js';
import {
  blaPresentity,
  checkBlaPresentityTemplate,
  DEFAULT_BLA_PRESENTITY,
  isPublishingSubscriber,
  type BlaSubscribeView,
} from './bla-presentity.js';
import { fixRemoteTargets } from './fix-remote-target.js';

export interface DialogSlaPackageOptions {
  /** The `dialog` package (createDialogPackage()) whose dialog-info handling BLA reuses. */
  readonly dialog: EventPackage;
  /**
   * Presentity template for BLA SUBSCRIBEs (config `bla.presentity`, OpenSIPS bla_presentity_spec):
   * placeholders {contact.user} {from.user} {from.host} {to.user} {to.host} {ruri.user} {ruri.host}.
   * Default "sip:{contact.user}@{from.host}".
   */
  readonly presentity?: string;
  /** Replace <remote><target> with the remote identity (config `bla.fixRemoteTarget`, default true). */
  readonly fixRemoteTarget?: boolean;
}

export interface DialogSlaPackage extends EventPackage {
  /**
   * The presentity a dialog;sla SUBSCRIBE watches; the core uses it instead of the Request-URI.
   * Undefined when the request lacks what the template needs (answer 400).
   */
  presentityFor(request: BlaSubscribeView): string | undefined;
  /**
   * True when the subscription with Contact `subscriberContact` is the phone that published the
   * change (PUBLISH Sender, PublicationView.sender): the core skips that NOTIFY.
   */
  isPublisher(sender: string | undefined, subscriberContact: string): boolean;
}

/** Creates the `dialog;sla` package around the dialog package. Throws on a bad presentity template. */
export function createDialogSlaPackage(options: DialogSlaPackageOptions): DialogSlaPackage {
  const dialog = options.dialog;
  const template = options.presentity ?? DEFAULT_BLA_PRESENTITY;
  const problem = checkBlaPresentityTemplate(template);
  if (problem !== undefined) throw new Error(problem);
  const fix = options.fixRemoteTarget !== false;

  return {
    name: 'dialog;sla',
    contentTypes: dialog.contentTypes,
    expires: dialog.expires,
    publishable: true,

    validatePublish(body: string, contentType: string, ctx: PublishContext): PublishVerdict {
      return dialog.validatePublish === undefined ? { ok: true } : dialog.validatePublish(body, contentType, ctx);
    },

    // The fix is applied once per change on the composite, not per watcher: same output as fixing
    // each stored body at PUBLISH time (OpenSIPS), without altering what the publisher sent.
    aggregate(presentity: string, publications: readonly PublicationView[]): string | undefined {
      let composite: string | undefined;
      if (dialog.aggregate !== undefined) composite = dialog.aggregate(presentity, publications);
      else composite = publications.length === 0 ? undefined : publications[publications.length - 1]!.body;
      return composite !== undefined && fix ? fixRemoteTargets(composite) : composite;
    },

    bodyForWatcher(composite: string, watcher: WatcherContext): string | undefined {
      return dialog.bodyForWatcher === undefined ? composite : dialog.bodyForWatcher(composite, watcher);
    },

    emptyBody(presentity: string, watcher: WatcherContext): NotifyBody | undefined {
      return dialog.emptyBody?.(presentity, watcher);
    },

    presentityFor(request: BlaSubscribeView): string | undefined {
      return blaPresentity(request, template);
    },

    isPublisher(sender: string | undefined, subscriberContact: string): boolean {
      return isPublishingSubscriber(sender, subscriberContact);
    },
  };
}
