/**
 * The client side of digest authentication (RFC 3261 §22.2-22.3, RFC 7616 §3.4) and of registration (§10.2) on
 * top of SipTestClient, for integration tests: answer a 401 or a 407 like a phone does, register, and seed users
 * into a database before a server starts.
 */
import { join } from 'node:path';
import type { SipResponse } from '../../src/sip/index.js';
import { computeHa1, digestHash, userRecord, type DigestAlgorithm } from '../../src/auth/index.js';
import { SqliteStore } from '../../src/store/index.js';
import { newBranch, randomToken, type RequestSpec, type SipTestClient } from './sip-test-client.js';

/** The challenge header of a response: Proxy-Authenticate in a 407 (§22.3), WWW-Authenticate otherwise (§22.2). */
export function challengeHeader(res: SipResponse): 'Proxy-Authenticate' | 'WWW-Authenticate' {
  return res.status === 407 ? 'Proxy-Authenticate' : 'WWW-Authenticate';
}

/** The parameters of each challenge (WWW-Authenticate, or Proxy-Authenticate in a 407), in header order. */
export function challengesOf(res: SipResponse): Array<Record<string, string>> {
  return res.headers.getAll(challengeHeader(res)).map((v) => {
    const out: Record<string, string> = {};
    for (const m of v.matchAll(/([\w-]+)=(?:"([^"]*)"|([^,\s]+))/g)) out[m[1]!.toLowerCase()] = m[2] ?? m[3]!;
    return out;
  });
}

export interface Credentials {
  readonly user: string;
  readonly password: string;
  readonly algorithm?: DigestAlgorithm;
}

/** An Authorization value answering `challenge` (qop=auth). */
export function authorization(
  challenge: Record<string, string>,
  c: Credentials,
  method: string,
  uri: string,
  nc = 1,
  cnonce = randomToken(6),
): string {
  const algorithm = c.algorithm ?? 'MD5';
  const realm = challenge['realm']!;
  const ha1 = computeHa1(algorithm, c.user, realm, c.password);
  const ha2 = digestHash(algorithm, `${method}:${uri}`);
  const ncText = nc.toString(16).padStart(8, '0');
  const response = digestHash(algorithm, `${ha1}:${challenge['nonce']}:${ncText}:${cnonce}:auth:${ha2}`);
  return (
    `Digest username="${c.user}", realm="${realm}", nonce="${challenge['nonce']}", uri="${uri}", response="${response}", ` +
    `algorithm=${algorithm}, cnonce="${cnonce}", qop=auth, nc=${ncText}, opaque="${challenge['opaque'] ?? ''}"`
  );
}

/** The challenge of that algorithm in a 401 or 407. */
export function challengeFor(res: SipResponse, algorithm: DigestAlgorithm = 'MD5'): Record<string, string> {
  const ch = challengesOf(res).find((c) => (c['algorithm'] ?? 'MD5').toUpperCase() === algorithm);
  if (ch === undefined) throw new Error(`no ${algorithm} challenge in ${res.status}: ${res.headers.getAll(challengeHeader(res)).join(' | ')}`);
  return ch;
}

/**
 * The ACK of a non-2xx final response to an INVITE (§17.1.1.3): the INVITE's Request-URI, From, Call-ID, CSeq
 * number and branch, the response's To (with its tag). Without it the server retransmits its response.
 */
export function ackNon2xx(client: SipTestClient, invite: RequestSpec & { branch: string; callId: string; cseq: number }, res: SipResponse): void {
  client.send({
    method: 'ACK',
    uri: invite.uri,
    ...(invite.from !== undefined ? { from: invite.from } : {}),
    to: res.headers.get('To') ?? `<${invite.uri}>`,
    callId: invite.callId,
    cseq: invite.cseq,
    branch: invite.branch,
    headers: (invite.headers ?? []).filter(([n]) => n.toLowerCase() === 'route'),
  });
}

/**
 * Sends the request; when challenged (401, or 407 from a proxy), answers with the credentials as a UA does:
 * same Call-ID and From tag, CSeq + 1, Authorization or Proxy-Authorization (RFC 3261 §22.2, §22.3), after
 * ACKing a challenged INVITE. Returns the final response and the spec it took (with its branch).
 */
export async function requestWithAuth(
  client: SipTestClient,
  spec: RequestSpec,
  c: Credentials,
  timeoutMs = 3000,
): Promise<{ response: SipResponse; first: SipResponse; spec: RequestSpec & { branch: string; callId: string; cseq: number } }> {
  const callId = spec.callId ?? `${randomToken(8)}@test`;
  const cseq = spec.cseq ?? client.nextCSeq();
  const sent = { ...spec, callId, cseq, branch: newBranch() };
  const first = await client.request(sent, timeoutMs);
  if (first.status !== 401 && first.status !== 407) return { response: first, first, spec: sent };
  if (spec.method === 'INVITE') ackNon2xx(client, sent, first);
  const auth = authorization(challengeFor(first, c.algorithm ?? 'MD5'), c, spec.method, spec.uri);
  const again = {
    ...spec,
    callId,
    cseq: cseq + 1,
    branch: newBranch(),
    headers: [...(spec.headers ?? []), [first.status === 407 ? 'Proxy-Authorization' : 'Authorization', auth] as [string, string]],
  };
  return { response: await client.request(again, timeoutMs), first, spec: again };
}

export interface RegisterSpec {
  readonly aor: string;
  readonly domain: string;
  readonly contact: string;
  readonly expires?: number;
  readonly callId?: string;
  readonly cseq?: number;
  readonly headers?: Array<[string, string]>;
}

/** A REGISTER as a UA builds it (§10.2): Request-URI the domain, To and From the AOR. */
export function registerSpec(r: RegisterSpec): RequestSpec {
  const headers: Array<[string, string]> = [];
  if (r.expires !== undefined) headers.push(['Expires', String(r.expires)]);
  headers.push(...(r.headers ?? []));
  return {
    method: 'REGISTER',
    uri: `sip:${r.domain}`,
    from: `<${r.aor}>;tag=${randomToken(4)}`,
    to: `<${r.aor}>`,
    contact: r.contact,
    headers,
    ...(r.callId !== undefined ? { callId: r.callId } : {}),
    ...(r.cseq !== undefined ? { cseq: r.cseq } : {}),
  };
}

/** Writes users into the SQLite database of `dir` (before a server starts on it), as `presenced user add` does. */
export async function seedUsers(dir: string, users: ReadonlyArray<readonly [aor: string, password: string]>): Promise<void> {
  const store = await SqliteStore.open(join(dir, 'presenced.db'));
  try {
    const now = Date.now();
    await store.write(users.map(([aor, password]) => ({ kind: 'put-user' as const, record: userRecord(aor, password, now) })));
  } finally {
    await store.close();
  }
}
