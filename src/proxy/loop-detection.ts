/**
 * Loop detection (RFC 3261 §16.3 step 4, §16.6 step 8): the branch of every request we forward starts
 * with a hash of what identifies the request as received (Request-URI before translation, From and To
 * tags, Call-ID, CSeq number, Proxy-Require, Proxy-Authorization). When a request carrying one of our
 * own Vias comes back with the same hash, nothing changed on the way round: a loop (482). A different hash
 * means it spiralled (e.g. the Request-URI was rewritten), which is legitimate. Unlike §16.6 the top Via is
 * not hashed: a looped request's top Via is the previous hop's, never the original one (RFC 5393 §4.2).
 * Nor are the Proxy-Authorization values we consumed: they are not in the copy we forward, so a copy that
 * comes back could never match a hash that included them.
 */
import { createHash } from 'node:crypto';
import type { RequestCore, SipRequest } from '../sip/index.js';
import { newToken } from '../transaction/index.js';

const COOKIE = 'z9hG4bK';

export function loopHash(req: SipRequest, core: RequestCore, consumed: readonly string[] = []): string {
  const h = createHash('sha1');
  h.update(req.uri);
  h.update('\0');
  h.update(core.from.params.get('tag') ?? '');
  h.update('\0');
  h.update(core.to.params.get('tag') ?? '');
  h.update('\0');
  h.update(core.callId);
  h.update('\0');
  h.update(String(core.cseq.seq));
  for (const name of ['Proxy-Require', 'Proxy-Authorization']) {
    for (const v of req.headers.getAll(name)) {
      if (consumed.length > 0 && name === 'Proxy-Authorization' && consumed.includes(v)) continue;
      h.update('\0');
      h.update(v);
    }
  }
  return h.digest().subarray(0, 12).toString('base64url');
}

/** Branch of one forwarded copy: cookie, loop hash, then random bits that make each branch unique. */
export function proxyBranch(hash: string): string {
  return `${COOKIE}${hash}.${newToken(6)}`;
}

/** True when one of our own Vias carries this request's hash: it has looped (§16.3 step 4). */
export function hasLooped(
  req: SipRequest,
  core: RequestCore,
  isOurSentBy: (host: string, port: number | undefined) => boolean,
): boolean {
  let hash: string | undefined;
  for (const via of core.via) {
    if (via.branch === undefined || !via.branch.startsWith(COOKIE) || !isOurSentBy(via.host, via.port)) continue;
    hash ??= loopHash(req, core);
    if (via.branch.startsWith(`${COOKIE}${hash}.`)) return true;
  }
  return false;
}
