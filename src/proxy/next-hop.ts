/**
 * From a URI to a transport destination (RFC 3261 §16.6 step 7 / §18, RFC 3263 reduced to what a small
 * site needs): IP literals are used as they are, host names resolved to an address (A/AAAA, no NAPTR or
 * SRV), port 5060 by default, UDP unless transport=tcp. SIPS, TLS, SCTP and WebSocket are not served
 * here, so such next hops are unreachable (the caller answers 416 or 503).
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { parseUri, SipParseError, type SipUri } from '../sip/index.js';
import type { Destination } from '../transport/index.js';

/** Host name to one IP address; undefined when it does not resolve. */
export type HostResolver = (host: string) => Promise<string | undefined>;

const RESOLVE_TIMEOUT_MS = 3000;

/** The system resolver (getaddrinfo), bounded in time. */
export const systemResolver: HostResolver = async (host) => {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), RESOLVE_TIMEOUT_MS);
    timer.unref();
  });
  try {
    const r = await Promise.race([lookup(host).then((a) => a.address), timeout]);
    return r;
  } catch {
    return undefined;
  } finally {
    clearTimeout(timer);
  }
};

export type NextHop = { readonly ok: true; readonly dest: Destination } | { readonly ok: false; readonly status: number; readonly reason: string };

function bare(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

/** The destination of a parsed SIP URI. */
export async function uriDestination(uri: SipUri, resolve: HostResolver): Promise<NextHop> {
  if (uri.scheme !== 'sip') return { ok: false, status: 416, reason: `Unsupported URI Scheme ${uri.scheme}` };
  const t = uri.params.get('transport')?.toLowerCase();
  let protocol: 'udp' | 'tcp';
  if (t === undefined || t === null || t === 'udp') protocol = 'udp';
  else if (t === 'tcp') protocol = 'tcp';
  else return { ok: false, status: 503, reason: `Transport ${t} Not Available` };
  const host = bare(uri.host);
  let address: string | undefined = isIP(host) !== 0 ? host : undefined;
  if (address === undefined) address = await resolve(host);
  if (address === undefined) return { ok: false, status: 503, reason: 'Next Hop Not Resolvable' };
  return { ok: true, dest: { protocol, address, port: uri.port ?? 5060 } };
}

/** The destination of a URI given as text (a Route or Path value's URI, a Contact URI). */
export async function uriTextDestination(text: string, resolve: HostResolver): Promise<NextHop> {
  const uri = parseUri(text);
  if (uri instanceof SipParseError) return { ok: false, status: 503, reason: 'Bad Next Hop URI' };
  return uriDestination(uri, resolve);
}
