/**
 * Presence requests on top of SipTestClient: PUBLISH (RFC 3903) and subscription dialogs (RFC 6665) the
 * way a UA builds them, so tests read as the RFC flow they check.
 */
import type { SipRequest, SipResponse } from '../../src/sip/index.js';
import { newBranch, randomToken, tagOf, type ReceivedRequest, type SipTestClient } from './sip-test-client.js';

export interface PublishSpec {
  /** Presentity AOR, e.g. sip:alice@example.com (Request-URI, From and To). */
  aor: string;
  body?: string;
  etag?: string;
  expires?: number;
  /** Event header; null omits it. Default "presence". */
  event?: string | null;
  /** Default application/pidf+xml when there is a body. null omits it. */
  contentType?: string | null;
  headers?: Array<[string, string]>;
  callId?: string;
  cseq?: number;
  branch?: string;
}

export function publishSpec(p: PublishSpec): Parameters<SipTestClient['send']>[0] {
  const headers: Array<[string, string]> = [];
  if (p.event !== null) headers.push(['Event', p.event ?? 'presence']);
  if (p.expires !== undefined) headers.push(['Expires', String(p.expires)]);
  if (p.etag !== undefined) headers.push(['SIP-If-Match', p.etag]);
  headers.push(...(p.headers ?? []));
  const ct = p.contentType === null ? undefined : (p.contentType ?? (p.body !== undefined ? 'application/pidf+xml' : undefined));
  return {
    method: 'PUBLISH',
    uri: p.aor,
    from: `<${p.aor}>;tag=${randomToken(4)}`,
    to: `<${p.aor}>`,
    headers,
    ...(p.body !== undefined ? { body: p.body } : {}),
    ...(ct !== undefined ? { contentType: ct } : {}),
    ...(p.callId !== undefined ? { callId: p.callId } : {}),
    ...(p.cseq !== undefined ? { cseq: p.cseq } : {}),
    ...(p.branch !== undefined ? { branch: p.branch } : {}),
  };
}

/** Sends a PUBLISH and awaits its final response. */
export function publish(client: SipTestClient, p: PublishSpec, timeoutMs = 3000): Promise<SipResponse> {
  return client.request(publishSpec(p), timeoutMs);
}

export interface SubscribeSpec {
  /** Presentity AOR (Request-URI and To). */
  presentity: string;
  /** Watcher AOR (From). Default sip:watcher-<random>@example.com. */
  watcher?: string;
  expires?: number;
  /** Event header value; null omits it. Default "presence". */
  event?: string | null;
  /** Accept values; null omits the header. Default application/pidf+xml. */
  accept?: string | null;
  headers?: Array<[string, string]>;
  /** Contact URI; default the client's own. */
  contact?: string;
}

/** The subscriber side of one subscription dialog (RFC 6665 §4.1). */
export class WatcherDialog {
  readonly client: SipTestClient;
  readonly callId: string;
  readonly fromTag: string;
  readonly from: string;
  readonly presentity: string;
  readonly event: string | null;
  readonly accept: string | null;
  readonly contact: string;
  toTag: string | undefined;
  cseq = 0;
  /** CSeq numbers of NOTIFYs received in this dialog, in order. */
  readonly notifyCSeqs: number[] = [];

  constructor(client: SipTestClient, spec: SubscribeSpec) {
    this.client = client;
    this.callId = `${randomToken(8)}@watcher`;
    this.fromTag = randomToken(5);
    this.from = `<${spec.watcher ?? `sip:watcher-${randomToken(3)}@example.com`}>;tag=${this.fromTag}`;
    this.presentity = spec.presentity;
    this.event = spec.event === undefined ? 'presence' : spec.event;
    this.accept = spec.accept === undefined ? 'application/pidf+xml' : spec.accept;
    this.contact = `<${spec.contact ?? client.contactUri('watcher')}>`;
  }

  /** Sends SUBSCRIBE (initial when no To-tag yet, else in-dialog refresh) and awaits the final response. */
  async subscribe(expires?: number, extra: Array<[string, string]> = [], timeoutMs = 3000): Promise<SipResponse> {
    const res = await this.client.request(this.spec(expires, extra), timeoutMs);
    if (res.status >= 200 && res.status < 300 && this.toTag === undefined) this.toTag = tagOf(res.headers.get('To'));
    return res;
  }

  /** The SUBSCRIBE as a RequestSpec (for tests that send it raw or twice). */
  spec(expires?: number, extra: Array<[string, string]> = [], branch = newBranch()): Parameters<SipTestClient['send']>[0] {
    this.cseq++;
    const headers: Array<[string, string]> = [];
    if (this.event !== null) headers.push(['Event', this.event]);
    if (expires !== undefined) headers.push(['Expires', String(expires)]);
    if (this.accept !== null) headers.push(['Accept', this.accept]);
    headers.push(...extra);
    return {
      method: 'SUBSCRIBE',
      uri: this.presentity,
      from: this.from,
      to: this.toTag === undefined ? `<${this.presentity}>` : `<${this.presentity}>;tag=${this.toTag}`,
      callId: this.callId,
      cseq: this.cseq,
      branch,
      contact: this.contact,
      headers,
    };
  }

  /** Takes the next NOTIFY of this dialog, checks it belongs here, answers it (200 unless told), records its CSeq. */
  async notify(opts: { status?: number | null; timeoutMs?: number } = {}): Promise<ReceivedRequest> {
    const n = await this.client.nextRequest('NOTIFY', opts.timeoutMs ?? 3000);
    const callId = n.request.headers.get('Call-ID');
    if (callId !== this.callId) throw new Error(`NOTIFY for another dialog (Call-ID ${callId ?? '-'}, expected ${this.callId})`);
    this.notifyCSeqs.push(cseqNumber(n.request));
    if (this.toTag === undefined) this.toTag = tagOf(n.request.headers.get('From'));
    const status = opts.status === undefined ? 200 : opts.status;
    if (status !== null) this.client.respond(n, status, status === 200 ? 'OK' : 'Error');
    return n;
  }
}

export function cseqNumber(m: SipRequest | SipResponse): number {
  return Number.parseInt((m.headers.get('CSeq') ?? '').trim().split(/\s+/)[0] ?? 'NaN', 10);
}

/** Extracts `<basic>` values of a PIDF body, in document order. */
export function basics(body: Buffer | string): string[] {
  const text = typeof body === 'string' ? body : body.toString('utf8');
  return [...text.matchAll(/<(?:[\w-]+:)?basic>\s*([^<\s]+)\s*<\/(?:[\w-]+:)?basic>/g)].map((m) => m[1]);
}

/** Extracts tuple ids of a PIDF body. */
export function tupleIds(body: Buffer | string): string[] {
  const text = typeof body === 'string' ? body : body.toString('utf8');
  return [...text.matchAll(/<(?:[\w-]+:)?tuple\b[^>]*\bid="([^"]+)"/g)].map((m) => m[1]);
}

/** Extracts `<note>` texts of a PIDF body. */
export function notes(body: Buffer | string): string[] {
  const text = typeof body === 'string' ? body : body.toString('utf8');
  return [...text.matchAll(/<(?:[\w-]+:)?note\b[^>]*>([^<]*)</g)].map((m) => m[1]);
}
