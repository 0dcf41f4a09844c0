/**
 * Requests within a dialog (RFC 3261 §12.2.1.1), as the notifier sends NOTIFY: Request-URI and Route from
 * the route set and remote target, From/To with the dialog tags, the dialog's Call-ID, and a local CSeq
 * that grows by exactly one per request.
 */
import { createRequest, parseNameAddr, SipParseError, type NameAddr, type SipRequest, type SipUri } from '../sip/index.js';
import type { Destination } from '../transport/types.js';
import type { DialogState } from './dialog-state.js';

export interface InDialogRequestOptions {
  readonly method: string;
  /** Our Contact URI (bare URI or name-addr text). */
  readonly contact: string;
  /** Extra header fields, appended after the dialog headers in order. */
  readonly headers?: ReadonlyArray<readonly [string, string]>;
  readonly body?: Buffer;
  /** Content-Type of the body (ignored without a body). */
  readonly contentType?: string;
}

/** RFC 3261 §8.1.1.6: the value a UAC puts in Max-Forwards. */
export const MAX_FORWARDS = 70;

const EMPTY = Buffer.alloc(0);

/** `name-addr` text with angle brackets, so that appending `;tag=` never lands inside the URI (§20.10). */
function bracketed(uri: string): string {
  return uri.startsWith('<') || uri.includes('<') ? uri : `<${uri}>`;
}

function parseRoute(text: string): NameAddr | undefined {
  const na = parseNameAddr(text);
  return na instanceof SipParseError ? undefined : na;
}

/** URI text fit for a Request-URI: §19.1.1 forbids URI headers ("?...") there; §12.2.1.1 says strip what is not allowed. */
function requestUriOf(na: NameAddr): string {
  const q = na.uriText.indexOf('?');
  return q < 0 ? na.uriText : na.uriText.slice(0, q);
}

/**
 * Builds the next request of the dialog and advances dialog.localSeq (§12.2.1.1: "incremented by one").
 * Loose routing when the route set is empty or its first URI has `lr`: Request-URI = remote target,
 * Route = route set. Strict routing otherwise: Request-URI = first route, Route = the rest plus the remote target.
 */
export function buildInDialogRequest(dialog: DialogState, opts: InDialogRequestOptions): SipRequest {
  const headers: Array<[string, string]> = [];
  let requestUri = dialog.remoteTarget;
  const routes = dialog.routeSet;
  if (routes.length > 0) {
    const first = parseRoute(routes[0]!);
    if (first !== undefined && !first.uri.params.has('lr')) {
      requestUri = requestUriOf(first);
      for (let i = 1; i < routes.length; i++) headers.push(['Route', routes[i]!]);
      headers.push(['Route', `<${dialog.remoteTarget}>`]);
    } else {
      for (const r of routes) headers.push(['Route', r]);
    }
  }
  dialog.localSeq += 1;
  headers.push(
    ['Max-Forwards', String(MAX_FORWARDS)],
    ['From', `${bracketed(dialog.localUri)};tag=${dialog.localTag}`],
    ['To', `${bracketed(dialog.remoteUri)};tag=${dialog.remoteTag}`],
    ['Call-ID', dialog.callId],
    ['CSeq', `${dialog.localSeq} ${opts.method}`],
    ['Contact', bracketed(opts.contact)],
  );
  if (opts.headers !== undefined) for (const [k, v] of opts.headers) headers.push([k, v]);
  const body = opts.body ?? EMPTY;
  if (body.length > 0 && opts.contentType !== undefined) headers.push(['Content-Type', opts.contentType]);
  return createRequest(opts.method, requestUri, headers, body);
}

/** The URI of the next hop when the route set is non-empty (§12.2.1.1, §8.1.2: the first Route). */
export function firstRouteUri(dialog: DialogState): SipUri | undefined {
  if (dialog.routeSet.length === 0) return undefined;
  return parseRoute(dialog.routeSet[0]!)?.uri;
}

/**
 * Where to send a request for a URI (a simplified RFC 3263 without DNS: transport from the `transport`
 * parameter, UDP otherwise; `maddr` overrides the host; default port 5060). Host names are passed on as
 * they are; resolving them is the transport's business.
 */
export function destinationOfUri(uri: SipUri): Destination {
  const transport = uri.params.get('transport');
  const protocol = typeof transport === 'string' && transport.toLowerCase() === 'tcp' ? 'tcp' : 'udp';
  const maddr = uri.params.get('maddr');
  let host = typeof maddr === 'string' && maddr !== '' ? maddr : uri.host;
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  return { protocol, address: host, port: uri.port ?? 5060 };
}

/** `"Display" <uri>;params` without the tag parameter: how a dialog keeps the From/To of its creating request. */
export function nameAddrWithoutTag(na: NameAddr): string {
  let out = '';
  if (na.displayName !== undefined && na.displayName !== '') {
    out = `"${na.displayName.replace(/["\\]/g, (c) => `\\${c}`)}" `;
  }
  out += `<${na.uriText}>`;
  for (const [k, v] of na.params) {
    if (k === 'tag') continue;
    out += v === null ? `;${k}` : `;${k}=${v}`;
  }
  return out;
}
