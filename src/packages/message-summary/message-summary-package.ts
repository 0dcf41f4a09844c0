/**
 * The `message-summary` event package (RFC 3842) for message-waiting lamps: a voicemail system
 * PUBLISHes application/simple-message-summary, subscribed phones get NOTIFYs with the counts.
 */
import type {
  AuthorizationDecision,
  AuthorizationRequest,
  EventPackage,
  ExpiresPolicy,
  NotifyBody,
  PublicationView,
  PublishVerdict,
} from '../../core/event-package.js';
import { aorKey, isSipParseError, parseUri } from '../../sip/index.js';
import { emptyMessageSummary, parseMessageSummary, serializeMessageSummary } from './message-summary.js';

export const MESSAGE_SUMMARY_CONTENT_TYPE = 'application/simple-message-summary';

export interface MessageSummaryPackageOptions {
  /**
   * Who may subscribe to a mailbox when watcher authorization is on (forceActive off):
   * 'self' (default) admits only the account owner, as RFC 3842 §6 asks for message counts;
   * 'any' admits everyone (shared or group mailboxes).
   */
  readonly subscribers?: 'self' | 'any';
  /** RFC 3842 §4.4 leaves the duration open; 3600 s like the other packages. */
  readonly expires?: ExpiresPolicy;
}

function sameAor(a: string, b: string): boolean {
  const ua = parseUri(a.trim());
  const ub = parseUri(b.trim());
  if (isSipParseError(ua) || isSipParseError(ub)) return a.trim() === b.trim();
  return aorKey(ua) === aorKey(ub);
}

/** Creates the `message-summary` package. */
export function createMessageSummaryPackage(options: MessageSummaryPackageOptions = {}): EventPackage {
  const anyone = options.subscribers === 'any';
  return {
    name: 'message-summary',
    contentTypes: [MESSAGE_SUMMARY_CONTENT_TYPE],
    expires: options.expires ?? { default: 3600 },
    publishable: true,

    validatePublish(body: string): PublishVerdict {
      const r = parseMessageSummary(body);
      return r.ok ? { ok: true } : { ok: false, status: 400, reason: r.reason };
    },

    /**
     * One mailbox state per account: the newest publication is the current one (a voicemail system
     * that restarted and published under a new entity-tag replaces its old counts). It is sent in
     * canonical form (CRLF, RFC 3842 spellings), which phones parse most reliably.
     */
    aggregate(_presentity: string, publications: readonly PublicationView[]): string | undefined {
      // Newest first; a stored body that no longer parses (older release, manual edit) is skipped
      // rather than turning the lamp off.
      // Equal receive times: the later in the core's list (oldest first) is the newer.
      const order = publications.map((p, i) => ({ p, i })).sort((a, b) => b.p.receivedAt - a.p.receivedAt || b.i - a.i);
      for (const { p } of order) {
        const r = parseMessageSummary(p.body);
        if (r.ok) return serializeMessageSummary(r.summary);
      }
      return undefined;
    },

    // No published state, or a politely blocked watcher: "no messages", a well-formed neutral summary.
    emptyBody(): NotifyBody {
      return { contentType: MESSAGE_SUMMARY_CONTENT_TYPE, body: emptyMessageSummary() };
    },

    authorize(request: AuthorizationRequest): AuthorizationDecision {
      if (anyone) return 'active';
      return sameAor(request.watcher, request.presentity) ? 'active' : 'rejected';
    },
  };
}
