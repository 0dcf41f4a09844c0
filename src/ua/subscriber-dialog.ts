/**
 * The subscriber's side of an RFC 6665 dialog, as plain functions: the initial SUBSCRIBE (RFC 3261 §8.1.1,
 * RFC 6665 §4.1.2.1), the dialog created by its 2xx (RFC 3261 §12.1.2, as UAC) or by a NOTIFY that arrives
 * first (RFC 6665 §4.1.2.4: the subscriber is then the UAS of that NOTIFY, §12.1.1), and in-dialog SUBSCRIBEs.
 */
import {
  createRequest,
  parseContactList,
  parseNameAddr,
  SipParseError,
  type SipRequest,
  type SipResponse,
} from '../sip/index.js';
import { buildInDialogRequest, MAX_FORWARDS, type DialogState } from '../dialog/index.js';

/** What an outbound subscription asks for; fixed for its lifetime. */
export interface SubscribeTarget {
  /** Request-URI and To of the initial SUBSCRIBE (the presentity). */
  readonly presentity: string;
  /** From of the SUBSCRIBE (the watcher we subscribe as). */
  readonly watcher: string;
  /** Event header value as given ("presence", "dialog;sla", "presence;id=7"). */
  readonly event: string;
  /** Accept header values; none when empty (the package's default body type, RFC 6665 §7.2). */
  readonly accept: readonly string[];
  /** Our Contact: where NOTIFYs are to be sent. */
  readonly contact: string;
  readonly userAgent: string | undefined;
}

/** Identifiers of one attempt (a new dialog each time: Call-ID and From tag, RFC 3261 §8.1.1.3-4). */
export interface DialogIds {
  readonly callId: string;
  readonly localTag: string;
}

function bracketed(uri: string): string {
  return uri.includes('<') ? uri : `<${uri}>`;
}

function commonHeaders(t: SubscribeTarget, expires: number): Array<[string, string]> {
  const headers: Array<[string, string]> = [
    ['Event', t.event],
    ['Expires', String(expires)],
  ];
  if (t.accept.length > 0) headers.push(['Accept', t.accept.join(', ')]);
  // RFC 6665 §4.4.4 / RFC 3261 §20.5: we answer NOTIFY in this dialog; say so.
  headers.push(['Allow', 'NOTIFY']);
  if (t.userAgent !== undefined && t.userAgent !== '') headers.push(['User-Agent', t.userAgent]);
  return headers;
}

/** The initial SUBSCRIBE: out of dialog, CSeq 1 (RFC 3261 §8.1.1.5), no To tag. */
export function initialSubscribe(t: SubscribeTarget, ids: DialogIds, expires: number): SipRequest {
  return createRequest('SUBSCRIBE', t.presentity, [
    ['Max-Forwards', String(MAX_FORWARDS)],
    ['From', `${bracketed(t.watcher)};tag=${ids.localTag}`],
    ['To', bracketed(t.presentity)],
    ['Call-ID', ids.callId],
    ['CSeq', '1 SUBSCRIBE'],
    ['Contact', bracketed(t.contact)],
    ...commonHeaders(t, expires),
  ]);
}

/** A refresh (or, with expires 0, an unsubscribe) in the dialog: RFC 6665 §4.1.2.2-3. Advances the local CSeq. */
export function inDialogSubscribe(dialog: DialogState, t: SubscribeTarget, expires: number): SipRequest {
  return buildInDialogRequest(dialog, { method: 'SUBSCRIBE', contact: t.contact, headers: commonHeaders(t, expires) });
}

/** The first Contact URI of a message, or undefined when there is none or it does not parse. */
export function contactUri(headers: SipRequest['headers']): string | undefined {
  const values = headers.getAll('Contact');
  if (values.length === 0) return undefined;
  const list = parseContactList(values);
  if (list instanceof SipParseError || list.star || list.contacts.length === 0) return undefined;
  const text = list.contacts[0]!.uriText;
  // §12.2.1.1: URI headers have no place in a Request-URI.
  const q = text.indexOf('?');
  return q < 0 ? text : text.slice(0, q);
}

function tagOf(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const na = parseNameAddr(value);
  if (na instanceof SipParseError) return undefined;
  const tag = na.params.get('tag');
  return typeof tag === 'string' && tag !== '' ? tag : undefined;
}

/** The To tag of a response (the notifier's tag). */
export function responseToTag(response: SipResponse): string | undefined {
  return tagOf(response.headers.get('To'));
}

interface DialogBasis {
  readonly ids: DialogIds;
  readonly target: SubscribeTarget;
}

/**
 * RFC 3261 §12.1.2: the dialog a 2xx to our SUBSCRIBE creates. Route set = Record-Route reversed, remote target
 * = Contact, remote tag = To tag, remote CSeq empty (-1 here), local CSeq = that of the SUBSCRIBE.
 * Undefined when the 2xx lacks a To tag or a Contact (RFC 6665 §4.1.2.1 requires both).
 */
export function dialogFrom2xx(b: DialogBasis, response: SipResponse, localSeq: number): DialogState | undefined {
  const remoteTag = responseToTag(response);
  const remoteTarget = contactUri(response.headers);
  if (remoteTag === undefined || remoteTarget === undefined) return undefined;
  return {
    callId: b.ids.callId,
    localTag: b.ids.localTag,
    remoteTag,
    localUri: bracketed(b.target.watcher),
    remoteUri: bracketed(b.target.presentity),
    remoteTarget,
    routeSet: response.headers.getAll('Record-Route').reverse(),
    localSeq,
    remoteSeq: -1,
    secure: false,
  };
}

/**
 * RFC 6665 §4.1.2.4: a NOTIFY that arrives before the 2xx creates the dialog; the subscriber is the UAS of that
 * NOTIFY, so RFC 3261 §12.1.1 applies: route set = Record-Route in order, remote target = Contact, remote tag =
 * From tag, remote CSeq = the NOTIFY's.
 */
export function dialogFromNotify(
  b: DialogBasis,
  notify: SipRequest,
  remoteTag: string,
  remoteSeq: number,
  localSeq: number,
): DialogState | undefined {
  const remoteTarget = contactUri(notify.headers);
  if (remoteTarget === undefined) return undefined;
  return {
    callId: b.ids.callId,
    localTag: b.ids.localTag,
    remoteTag,
    localUri: bracketed(b.target.watcher),
    remoteUri: bracketed(b.target.presentity),
    remoteTarget,
    routeSet: notify.headers.getAll('Record-Route'),
    localSeq,
    remoteSeq,
    secure: false,
  };
}
