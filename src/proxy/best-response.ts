/**
 * Choosing the response a forking proxy sends upstream once every branch has a final response
 * (RFC 3261 §16.7 steps 6 and 7). Pure: the response context calls it.
 */
import { createResponseMessage, type SipResponse } from '../sip/index.js';

/** The final outcome of one branch: a received response, or a status decided locally (timeout, cancel, unreachable). */
export interface BranchFinal {
  readonly status: number;
  readonly response: SipResponse | undefined;
}

/** The response as the previous hop must see it: our Via removed (§16.7 step 3); undefined without a Via below ours. */
export function upstreamCopy(res: SipResponse): SipResponse | undefined {
  const h = res.headers.clone();
  const vias = h.getAll('Via');
  if (vias.length < 2) return undefined;
  h.set('Via', vias.slice(1));
  return createResponseMessage(res.status, res.reason, h, res.body);
}

/** §16.7 step 6: within 4xx these carry what the UAC needs to retry (credentials, media types, extensions, digits). */
const PREFERRED_4XX = [401, 407, 415, 420, 484];

/**
 * §16.7 step 6: a 6xx if there is one; otherwise a response of the lowest class, preferring 401, 407,
 * 415, 420 and 484 within 4xx, and a received response over a locally decided one. Undefined for none.
 */
export function chooseBest(finals: readonly BranchFinal[]): BranchFinal | undefined {
  let best: BranchFinal | undefined;
  const rank = (f: BranchFinal): number => {
    const cls = Math.floor(f.status / 100);
    // 6xx first; then the lowest class (3, 4, 5).
    let r = cls === 6 ? 0 : cls * 100;
    if (cls === 4 && PREFERRED_4XX.includes(f.status)) r -= 50;
    if (f.response === undefined) r += 10;
    return r;
  };
  for (const f of finals) {
    if (f.status < 300) continue;
    if (best === undefined || rank(f) < rank(best)) best = f;
  }
  return best;
}

/**
 * §16.7 step 7: a 401 or 407 sent upstream carries every WWW-Authenticate and Proxy-Authenticate value
 * of all the 401/407 responses received, so the UAC can answer every challenge at once.
 */
export function authenticateHeaders(finals: readonly BranchFinal[]): { www: string[]; proxy: string[] } {
  const www: string[] = [];
  const proxy: string[] = [];
  for (const f of finals) {
    if ((f.status !== 401 && f.status !== 407) || f.response === undefined) continue;
    for (const v of f.response.headers.getAll('WWW-Authenticate')) if (!www.includes(v)) www.push(v);
    for (const v of f.response.headers.getAll('Proxy-Authenticate')) if (!proxy.includes(v)) proxy.push(v);
  }
  return { www, proxy };
}

/**
 * §16.7 steps 6 and 7: the response sent upstream once every branch has a final response, and the best final it
 * came from. `local(status, reason)` builds a response we decide ourselves (our own To tag): with no final at all
 * (408), or when the best one cannot be forwarded. A received 503 becomes 500 (the next hop's overload is not
 * ours); a branch we could not reach at all means the user is registered but not reachable now (480).
 */
export function upstreamFinal(
  finals: readonly BranchFinal[],
  local: (status: number, reason: string | undefined) => SipResponse,
): { status: number; response: SipResponse; best: BranchFinal | undefined } {
  const best = chooseBest(finals);
  let status = best?.status ?? 408;
  let response = best?.response !== undefined && status !== 503 ? upstreamCopy(best.response) : undefined;
  if (response === undefined) {
    let reason: string | undefined;
    if (best?.response !== undefined && status === 503) status = 500;
    else if (status === 503) {
      status = 480;
      reason = 'Temporarily Unavailable';
    }
    response = local(status, reason);
  }
  if (status === 401 || status === 407) {
    const { www, proxy } = authenticateHeaders(finals);
    if (www.length > 0) response.headers.set('WWW-Authenticate', www);
    if (proxy.length > 0) response.headers.set('Proxy-Authenticate', proxy);
  }
  return { status, response, best };
}
