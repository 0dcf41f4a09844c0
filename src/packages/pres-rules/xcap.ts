/**
 * The XCAP side of pres-rules that an HTTP front end needs, as pure helpers: document paths
 * (RFC 4825 §6), the application usage facts (RFC 5025 §9) and error bodies (RFC 4825 §11).
 * Only whole-document operations are offered; node selectors ("/~~/") are refused.
 */
import { escapeXmlAttr } from '../shared/index.js';

/** RFC 5025 §9.1: application unique id. */
export const PRES_RULES_AUID = 'pres-rules';
/** RFC 5025 §9.7 naming convention: the document a presence server reads for a user. */
export const PRES_RULES_DOCUMENT = 'index';
export const XCAP_ERROR_CONTENT_TYPE = 'application/xcap-error+xml';
const XCAP_ERROR_NS = 'urn:ietf:params:xml:ns:xcap-error';

export interface XcapDocumentPath {
  readonly auid: string;
  /** XCAP User Identifier, percent-decoded (for SIP users their AOR, "sip:alice@example.com"). */
  readonly xui: string;
  readonly document: string;
}

export type XcapPathParse =
  | { readonly ok: true; readonly path: XcapDocumentPath }
  | { readonly ok: false; readonly status: 400 | 404; readonly reason: string };

/**
 * Parses `<root>/<auid>/users/<xui>/<document>` (RFC 4825 §6). `root` is the XCAP root path the
 * front end mounts, e.g. "/xcap-root". Global documents and node selectors are not served (404).
 */
export function parseXcapDocumentPath(path: string, root = '/xcap-root'): XcapPathParse {
  const base = root.endsWith('/') ? root.slice(0, -1) : root;
  const q = path.indexOf('?');
  const clean = q < 0 ? path : path.slice(0, q);
  if (!clean.startsWith(`${base}/`)) return { ok: false, status: 404, reason: 'not under the XCAP root' };
  if (clean.includes('/~~/')) return { ok: false, status: 404, reason: 'node selectors are not supported' };
  const parts = clean.slice(base.length + 1).split('/');
  if (parts.length !== 4 || parts[1] !== 'users') return { ok: false, status: 404, reason: 'expected <auid>/users/<xui>/<document>' };
  let xui: string;
  let document: string;
  try {
    xui = decodeURIComponent(parts[2]!);
    document = decodeURIComponent(parts[3]!);
  } catch {
    return { ok: false, status: 400, reason: 'bad percent-encoding in the XCAP path' };
  }
  if (parts[0] === '' || xui === '' || document === '') return { ok: false, status: 404, reason: 'empty XCAP path segment' };
  return { ok: true, path: { auid: parts[0]!, xui, document } };
}

/** The document path of a user's pres-rules, XUI percent-encoded as one segment. */
export function presRulesXcapPath(xui: string, root = '/xcap-root'): string {
  const base = root.endsWith('/') ? root.slice(0, -1) : root;
  return `${base}/${PRES_RULES_AUID}/users/${encodeURIComponent(xui)}/${PRES_RULES_DOCUMENT}`;
}

/** RFC 4825 §11 body for a 409 answer: `<xcap-error><kind phrase="..."/></xcap-error>`. */
export function xcapErrorBody(kind: 'not-well-formed' | 'schema-validation-error' | 'not-utf-8', phrase?: string): string {
  const attr = phrase === undefined ? '' : ` phrase="${escapeXmlAttr(phrase)}"`;
  return `<?xml version="1.0" encoding="UTF-8"?>\n<xcap-error xmlns="${XCAP_ERROR_NS}"><${kind}${attr}/></xcap-error>`;
}
