/**
 * Scripted call parties for proxy tests: a UAS answering what the proxy sends it (Record-Route copied, fixed To
 * tag per device), the caller's INVITE and route set, and a BLF watcher reading dialog-info lamps.
 */
import assert from 'node:assert/strict';
import { parseDialogInfo } from '../../src/packages/dialog/index.js';
import type { SipResponse } from '../../src/sip/index.js';
import { randomToken, tagOf, type ReceivedRequest, type RequestSpec, type SipTestClient } from './sip-test-client.js';

/** Answers a request the proxy sent to this UA, as a UAS would (§8.2.6, §12.1.1: Record-Route copied). */
export function answer(
  ua: SipTestClient,
  r: ReceivedRequest,
  status: number,
  opts: { tag?: string; contact?: string; reason?: string; headers?: Array<[string, string]> } = {},
): void {
  const req = r.request;
  const lines = [`SIP/2.0 ${status} ${opts.reason ?? 'Reply'}`];
  for (const v of req.headers.getAll('Via')) lines.push(`Via: ${v}`);
  if (status > 100 && status < 300) for (const rr of req.headers.getAll('Record-Route')) lines.push(`Record-Route: ${rr}`);
  lines.push(`From: ${req.headers.get('From')}`);
  const to = req.headers.get('To') ?? '';
  lines.push(`To: ${tagOf(to) === undefined && status > 100 ? `${to};tag=${opts.tag ?? randomToken(4)}` : to}`);
  lines.push(`Call-ID: ${req.headers.get('Call-ID')}`);
  lines.push(`CSeq: ${req.headers.get('CSeq')}`);
  if (opts.contact !== undefined) lines.push(`Contact: <${opts.contact}>`);
  for (const [n, v] of opts.headers ?? []) lines.push(`${n}: ${v}`);
  lines.push('Content-Length: 0');
  const bytes = Buffer.from(`${lines.join('\r\n')}\r\n\r\n`);
  if (r.socket) r.socket.write(bytes);
  else ua.sendTo(bytes, r.remote);
}

/** The lamp of a dialog NOTIFY: the first dialog's state, or idle. */
export function lamp(n: ReceivedRequest): { state: string; direction: string | undefined; remote: string | undefined } {
  const p = parseDialogInfo(n.request.body.toString('utf8'));
  assert.ok(p.ok, 'a valid dialog-info body');
  const d = p.doc.dialogs[0];
  return { state: d?.state ?? 'idle', direction: d?.direction, remote: d?.remote?.identity };
}

/** Takes (and answers) NOTIFYs until one shows `state`; returns the states seen on the way. */
export async function untilLamp(w: SipTestClient, state: string, timeoutMs = 3000): Promise<string[]> {
  const seen: string[] = [];
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const n = await w.acceptNotify(Math.max(1, deadline - Date.now()));
    const l = lamp(n).state;
    seen.push(l);
    if (l === state) return seen;
  }
}

export async function subscribeDialog(w: SipTestClient, who: string, domain = 'example.com'): Promise<void> {
  const res = await w.request({
    method: 'SUBSCRIBE',
    uri: who,
    from: `<sip:watcher@${domain}>;tag=${randomToken(4)}`,
    to: `<${who}>`,
    contact: `<${w.contactUri('watcher')}>`,
    headers: [
      ['Event', 'dialog'],
      ['Accept', 'application/dialog-info+xml'],
      ['Expires', '600'],
    ],
  });
  assert.equal(res.status, 200);
  assert.equal(lamp(await w.acceptNotify()).state, 'idle');
}

export function udpBinding(ua: SipTestClient, user: string): { uri: string; path: string[]; flow: { protocol: 'udp'; address: string; port: number; flowId: undefined } } {
  return { uri: ua.contactUri(user), path: [], flow: { protocol: 'udp', address: '127.0.0.1', port: ua.port, flowId: undefined } };
}

export function inviteSpec(a: SipTestClient, to: string, extra: Partial<RequestSpec> = {}, from = 'sip:alice@example.com'): RequestSpec {
  return {
    method: 'INVITE',
    uri: to,
    from: `"Alice" <${from}>;tag=${randomToken(4)}`,
    to: `<${to}>`,
    contact: `<${a.contactUri('alice')}>`,
    ...extra,
  };
}

/** The final response to the INVITE (the CANCEL shares its branch, so the CSeq method tells them apart). */
export async function inviteFinal(ua: SipTestClient, branch: string, timeoutMs = 3000): Promise<SipResponse> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = ua.responsesFor(branch).find((x) => x.status >= 200 && x.headers.get('CSeq')?.endsWith('INVITE'));
    if (r !== undefined) return r;
    if (Date.now() > deadline) throw new Error('no final response to the INVITE');
    await new Promise((res) => setTimeout(res, 10));
  }
}

/** The route set of the caller from a 2xx (§12.1.2: Record-Route reversed). */
export function routeSet(res: SipResponse): string[] {
  return res.headers.getAll('Record-Route').reverse();
}

