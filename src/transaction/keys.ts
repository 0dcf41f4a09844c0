/**
 * Transaction matching keys (RFC 3261 §17.1.3, §17.2.3) and the merged-request key (§8.2.2.2).
 */
import type { RequestCore, Via } from '../sip/index.js';
import { normalizeAddress } from '../transport/index.js';

/** RFC 3261 §8.1.1.7: a branch starting with this cookie was built to be unique; otherwise RFC 2543 rules apply. */
export const MAGIC_COOKIE = 'z9hG4bK';

const SEP = '\u0000';

function defaultPort(transport: string): number {
  return transport === 'TLS' || transport === 'WSS' ? 5061 : 5060;
}

/** sent-by as compared by §17.2.3: host (case-insensitive, canonical IP) and port (default filled in). */
export function sentByKey(via: Via): string {
  return `${normalizeAddress(via.host)}:${via.port ?? defaultPort(via.transport)}`;
}

export function hasMagicCookie(via: Via): boolean {
  return via.branch !== undefined && via.branch.startsWith(MAGIC_COOKIE) && via.branch.length > MAGIC_COOKIE.length;
}

/**
 * Server transaction key. §17.2.3: branch + sent-by + method, where an ACK matches the INVITE transaction.
 * For RFC 2543 requests (no cookie): Request-URI, From tag, Call-ID, CSeq and top Via; the To tag is checked
 * separately because an ACK carries our response's To tag, not the INVITE's.
 */
export function serverKey(method: string, core: RequestCore, requestUri: string, topViaText: string): string {
  const via = core.via[0];
  const m = method === 'ACK' ? 'INVITE' : method;
  // join, not a template: one flat string that shares nothing with the request text (a concatenation of
  // header slices would keep the whole request alive as long as the key lives, Timer J included).
  if (hasMagicCookie(via)) return [via.branch, sentByKey(via), m].join(SEP);
  return ['2543', requestUri, tagOf(core.from), core.callId, core.cseq.seq, m, topViaText].join(SEP);
}

/**
 * Key under which a transaction can be found by a CANCEL (§9.2: the CANCEL matches the request it cancels
 * by the §17.2.3 rules, except for the method).
 */
export function cancelTargetKey(core: RequestCore, requestUri: string, topViaText: string): string {
  const via = core.via[0];
  if (hasMagicCookie(via)) return `${via.branch}${SEP}${sentByKey(via)}`;
  return `2543${SEP}${requestUri}${SEP}${tagOf(core.from)}${SEP}${core.callId}${SEP}${core.cseq.seq}${SEP}${topViaText}`;
}

/** §8.2.2.2: From tag, Call-ID and CSeq of a request without To tag; undefined when merging cannot be judged. */
export function mergeKey(core: RequestCore): string | undefined {
  const fromTag = tagOf(core.from);
  if (fromTag === '' || tagOf(core.to) !== '') return undefined;
  return [fromTag, core.callId, core.cseq.seq, core.cseq.method].join(SEP);
}

/** Client transaction key (§17.1.3): top Via branch + CSeq method. */
export function clientKey(branch: string, method: string): string {
  return `${branch}${SEP}${method}`;
}

export function tagOf(na: { readonly params: ReadonlyMap<string, string | null> }): string {
  return na.params.get('tag') ?? '';
}
