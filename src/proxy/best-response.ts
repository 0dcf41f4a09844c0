/**
 * Choosing the response a forking proxy sends upstream once every branch has a final response
 * (RFC 3261 §16.7 steps 6 and 7). Pure: the response context calls it.
 */
import type { SipResponse } from '../sip/index.js';

/** The final outcome of one branch: a received response, or a status decided locally (timeout, cancel, unreachable). */
export interface BranchFinal {
  readonly status: number;
  readonly response: SipResponse | undefined;
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
