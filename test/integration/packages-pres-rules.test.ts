/**
 * Watcher authorization from pres-rules (RFC 5025 over RFC 4745) with forceActive off, over real sockets: rules
 * managed over the XCAP-style HTTP endpoints (RFC 4825 whole-document PUT/GET/DELETE, ETag and preconditions,
 * 409 with an xcap-error body), and their effect on SUBSCRIBE and on live subscriptions (refreshWatchers):
 * confirm/no rule -> pending (no body) and reported through presence.winfo; allow -> active with state;
 * polite-block -> active with the neutral closed document; block -> 403, and terminated;reason=rejected for a
 * live one; the RFC 5025 §3.3 transformations of the matching rules decide what each allowed watcher's NOTIFYs
 * carry. Documents are durable: they survive a restart.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomToken } from '../support/sip-test-client.js';
import { startTestServer, type TestServer } from '../support/test-server.js';
import { basics, notes, publish } from '../support/presence-ua.js';
import { pidf } from '../support/sip-test-client.js';
import { body, client, closeAll, state, watcher, watcherInfo, watchersOf, WATCHERINFO } from './packages-fixtures.js';
import { getAttr, isXmlElement, parseXml, XmlError } from '../../src/packages/shared/index.js';

const AUTH_POLICY = 'application/auth-policy+xml';

let server: TestServer;

before(async () => {
  server = await startTestServer({ domain: 'example.com', forceActive: false, http: '127.0.0.1:0' });
});

after(async () => {
  await closeAll();
  await server.stop();
});

/** The HTTP port (the test server reports its HTTP listener among its addresses). */
function httpPort(s: TestServer): number {
  return s.port('http' as 'udp');
}

interface HttpResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function http(method: string, path: string, opts: { body?: string; headers?: Record<string, string>; server?: TestServer } = {}): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const payload = opts.body === undefined ? undefined : Buffer.from(opts.body);
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port: httpPort(opts.server ?? server),
        method,
        path,
        headers: { ...(payload ? { 'content-length': String(payload.length) } : {}), ...opts.headers },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      },
    );
    req.on('error', reject);
    if (payload) req.write(payload);
    req.end();
  });
}

function rulesPath(user: string): string {
  return `/xcap-root/pres-rules/users/${encodeURIComponent(user)}/index`;
}

/** RFC 5025 §3.3 transformations giving everything (the OMA default for allowed watchers). */
const EVERYTHING =
  '<cr:transformations><pr:provide-services><pr:all-services/></pr:provide-services><pr:provide-persons><pr:all-persons/></pr:provide-persons>' +
  '<pr:provide-devices><pr:all-devices/></pr:provide-devices><pr:provide-all-attributes/></cr:transformations>';

/** A pres-rules document: one rule per [watcher, sub-handling]; allowed watchers may see everything. */
function rules(entries: Array<[string, 'allow' | 'confirm' | 'polite-block' | 'block']>): string {
  const rule = ([who, handling]: [string, string], i: number): string =>
    `<cr:rule id="r${i}"><cr:conditions><cr:identity><cr:one id="${who}"/></cr:identity></cr:conditions>` +
    `<cr:actions><pr:sub-handling>${handling}</pr:sub-handling></cr:actions>${handling === 'allow' ? EVERYTHING : ''}</cr:rule>`;
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n` +
    `<cr:ruleset xmlns:pr="urn:ietf:params:xml:ns:pres-rules" xmlns:cr="urn:ietf:params:xml:ns:common-policy">` +
    entries.map(rule).join('') +
    `</cr:ruleset>`
  );
}

function put(user: string, doc: string, headers: Record<string, string> = {}): Promise<HttpResult> {
  return http('PUT', rulesPath(user), { body: doc, headers: { 'content-type': AUTH_POLICY, ...headers } });
}

const fresh = (user: string): string => `sip:${user}-${randomToken(3)}@example.com`;

describe('pres-rules documents over HTTP (RFC 4825, RFC 5025 §9)', () => {
  test('PUT creates (201, ETag), GET returns it, PUT replaces (200, new ETag), DELETE removes (then 404)', async () => {
    const alice = fresh('alice');
    assert.equal((await http('GET', rulesPath(alice))).status, 404);
    const doc = rules([['sip:bob@example.com', 'allow']]);
    const created = await put(alice, doc);
    assert.equal(created.status, 201);
    const etag = created.headers['etag'] as string;
    assert.match(etag, /^"[^"]+"$/);
    const got = await http('GET', rulesPath(alice));
    assert.equal(got.status, 200);
    assert.equal(got.headers['content-type'], AUTH_POLICY);
    assert.equal(got.headers['etag'], etag);
    assert.equal(got.body, doc);
    const replaced = await put(alice, rules([['sip:bob@example.com', 'block']]), { 'if-match': etag });
    assert.equal(replaced.status, 200);
    assert.notEqual(replaced.headers['etag'], etag);
    assert.equal((await http('DELETE', rulesPath(alice))).status, 200);
    assert.equal((await http('GET', rulesPath(alice))).status, 404);
    assert.equal((await http('DELETE', rulesPath(alice))).status, 404);
  });

  test('preconditions (RFC 4825 §7.11): a stale If-Match or If-None-Match: * on an existing document is 412', async () => {
    const alice = fresh('alice');
    assert.equal((await put(alice, rules([]), { 'if-match': '"nope"' })).status, 412, 'If-Match on no document');
    const first = await put(alice, rules([]), { 'if-none-match': '*' });
    assert.equal(first.status, 201);
    assert.equal((await put(alice, rules([]), { 'if-none-match': '*' })).status, 412);
    assert.equal((await put(alice, rules([]), { 'if-match': '"stale"' })).status, 412);
    assert.equal((await http('DELETE', rulesPath(alice), { headers: { 'if-match': '"stale"' } })).status, 412);
    assert.equal((await http('DELETE', rulesPath(alice), { headers: { 'if-match': first.headers['etag'] as string } })).status, 200);
  });

  test('an invalid document is refused with 409 and an xcap-error body (§11); a wrong media type with 415', async () => {
    const alice = fresh('alice');
    const broken = await put(alice, '<cr:ruleset xmlns:cr="urn:ietf:params:xml:ns:common-policy"><cr:rule');
    assert.equal(broken.status, 409);
    assert.equal(broken.headers['content-type'], 'application/xcap-error+xml');
    assert.match(broken.body, /<xcap-error xmlns="urn:ietf:params:xml:ns:xcap-error"><not-well-formed/);
    const invalid = await put(alice, '<?xml version="1.0"?><presence xmlns="urn:ietf:params:xml:ns:pidf" entity="sip:a@example.com"/>');
    assert.equal(invalid.status, 409);
    assert.match(invalid.body, /<schema-validation-error/);
    const empty = await http('PUT', rulesPath(alice), { body: '', headers: { 'content-type': AUTH_POLICY } });
    assert.equal(empty.status, 409, 'an empty body is no document');
    const notUtf8 = await new Promise<HttpResult>((resolve, reject) => {
      const bytes = Buffer.concat([Buffer.from('<?xml version="1.0"?><cr:ruleset xmlns:cr="urn:ietf:params:xml:ns:common-policy">'), Buffer.from([0xff, 0xfe]), Buffer.from('</cr:ruleset>')]);
      const req = httpRequest({ host: '127.0.0.1', port: httpPort(server), method: 'PUT', path: rulesPath(alice), headers: { 'content-type': AUTH_POLICY, 'content-length': String(bytes.length) } }, (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (d: string) => (text += d)).on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
      });
      req.on('error', reject);
      req.end(bytes);
    });
    assert.equal(notUtf8.status, 409);
    assert.match(notUtf8.body, /<not-utf-8\/>/);
    const json = await http('PUT', rulesPath(alice), { body: '{}', headers: { 'content-type': 'application/json' } });
    assert.equal(json.status, 415);
    assert.equal((await http('GET', rulesPath(alice))).status, 404, 'nothing was stored');
  });
});

describe('watcher authorization by the rules (RFC 5025 §3.2.1, RFC 6665 §4.2.1.3)', () => {
  test('no rule: pending without body, seen in winfo; after PUT allow: active with state, winfo says approved', async () => {
    const alice = fresh('alice');
    const c = await client(server);
    assert.equal((await publish(c, { aor: alice, body: pidf(alice, 'pc', 'open', 'at my desk') })).status, 200);
    const owner = await watcher(server, { presentity: alice, watcher: alice, event: 'presence.winfo', accept: WATCHERINFO });
    assert.equal((await owner.subscribe(600)).status, 200);
    assert.deepEqual(watchersOf(watcherInfo((await owner.notify()).request)), []);

    const carol = await watcher(server, { presentity: alice, watcher: 'sip:carol@example.com' });
    assert.equal((await carol.subscribe(600)).status, 200);
    const pending = (await carol.notify()).request;
    assert.equal(state(pending).state, 'pending');
    assert.equal(pending.body.length, 0, 'RFC 6665 §4.2.1.3: no state while pending');
    let winfo = watcherInfo((await owner.notify()).request);
    assert.deepEqual([winfo.state, watchersOf(winfo)], ['partial', [['sip:carol@example.com', 'pending', 'subscribe']]]);

    assert.equal((await put(alice, rules([['sip:carol@example.com', 'allow']]))).status, 201);
    const active = (await carol.notify()).request;
    assert.equal(state(active).state, 'active');
    assert.deepEqual(basics(active.body), ['open']);
    assert.deepEqual(notes(active.body), ['at my desk']);
    winfo = watcherInfo((await owner.notify()).request);
    assert.deepEqual([winfo.state, watchersOf(winfo)], ['partial', [['sip:carol@example.com', 'active', 'approved']]]);
  });

  test('polite-block: the watcher looks active but gets the neutral closed document', async () => {
    const alice = fresh('alice');
    const c = await client(server);
    await publish(c, { aor: alice, body: pidf(alice, 'pc', 'open', 'secret plans') });
    assert.equal((await put(alice, rules([['sip:boss@example.com', 'polite-block']]))).status, 201);
    const boss = await watcher(server, { presentity: alice, watcher: 'sip:boss@example.com' });
    assert.equal((await boss.subscribe(600)).status, 200);
    const n = (await boss.notify()).request;
    assert.equal(state(n).state, 'active');
    assert.deepEqual(basics(n.body), ['closed']);
    assert.doesNotMatch(body(n), /secret plans/);
    // A change of state is not leaked either.
    await publish(c, { aor: alice, body: pidf(alice, 'pc', 'open', 'more secrets') });
    const again = (await boss.notify()).request;
    assert.deepEqual(basics(again.body), ['closed']);
    assert.doesNotMatch(body(again), /secrets/);
  });

  test('block: a live subscription ends with terminated;reason=rejected, and a new SUBSCRIBE gets 403', async () => {
    const alice = fresh('alice');
    const c = await client(server);
    await publish(c, { aor: alice, body: pidf(alice, 'pc', 'open') });
    const created = await put(alice, rules([['sip:mallory@example.com', 'allow']]));
    const mallory = await watcher(server, { presentity: alice, watcher: 'sip:mallory@example.com' });
    assert.equal((await mallory.subscribe(600)).status, 200);
    assert.equal(state((await mallory.notify()).request).state, 'active');

    assert.equal((await put(alice, rules([['sip:mallory@example.com', 'block']]), { 'if-match': created.headers['etag'] as string })).status, 200);
    const end = (await mallory.notify()).request;
    assert.equal(state(end).state, 'terminated');
    assert.equal(state(end).params.get('reason'), 'rejected');
    assert.equal(end.body.length, 0);
    const again = await watcher(server, { presentity: alice, watcher: 'sip:mallory@example.com' });
    assert.equal((await again.subscribe(600)).status, 403);
    // Deleting the rules: no rule is "confirm", so a new subscription is pending again.
    assert.equal((await http('DELETE', rulesPath(alice))).status, 200);
    const third = await watcher(server, { presentity: alice, watcher: 'sip:mallory@example.com' });
    assert.equal((await third.subscribe(600)).status, 200);
    assert.equal(state((await third.notify()).request).state, 'pending');
  });

  test('sphereCheck: a rule for the "work" sphere applies when the published sphere changes to work, and stops after', async () => {
    const spheres = await startTestServer({ domain: 'example.com', forceActive: false, sphereCheck: true, http: '127.0.0.1:0' });
    try {
      const alice = fresh('alice');
      const doc =
        `<?xml version="1.0" encoding="UTF-8"?>\n<cr:ruleset xmlns:pr="urn:ietf:params:xml:ns:pres-rules" xmlns:cr="urn:ietf:params:xml:ns:common-policy">` +
        `<cr:rule id="office"><cr:conditions><cr:identity><cr:one id="sip:boss@example.com"/></cr:identity><cr:sphere value="work"/></cr:conditions>` +
        `<cr:actions><pr:sub-handling>allow</pr:sub-handling></cr:actions>${EVERYTHING}</cr:rule></cr:ruleset>`;
      assert.equal((await http('PUT', rulesPath(alice), { server: spheres, body: doc, headers: { 'content-type': AUTH_POLICY } })).status, 201);
      const withSphere = (sphere: string): string =>
        `<?xml version="1.0" encoding="UTF-8"?>\n<presence xmlns="urn:ietf:params:xml:ns:pidf" xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model" ` +
        `xmlns:rpid="urn:ietf:params:xml:ns:pidf:rpid" entity="${alice}"><tuple id="t"><status><basic>open</basic></status></tuple>` +
        `<dm:person id="p"><rpid:sphere><rpid:${sphere}/></rpid:sphere></dm:person></presence>`;
      const c = await client(spheres);
      const first = await publish(c, { aor: alice, body: withSphere('home') });
      assert.equal(first.status, 200);
      const boss = await watcher(spheres, { presentity: alice, watcher: 'sip:boss@example.com' });
      assert.equal((await boss.subscribe(600)).status, 200);
      assert.equal(state((await boss.notify()).request).state, 'pending', 'at home: the work rule does not apply');
      const atWork = await publish(c, { aor: alice, body: withSphere('work'), etag: first.headers.get('SIP-ETag') });
      // Re-decided before it is sent: the first NOTIFY after the change is already the allowed state.
      const n = (await boss.notify()).request;
      assert.equal(state(n).state, 'active', 'at work: the rule applies to the live subscription');
      assert.match(body(n), /rpid:work/);
      // Back home: the boss must not see the home state; the subscription ends (deactivated: subscribe again).
      await publish(c, { aor: alice, body: withSphere('home'), etag: atWork.headers.get('SIP-ETag') });
      const end = (await boss.notify()).request;
      assert.deepEqual([state(end).state, state(end).params.get('reason')], ['terminated', 'deactivated']);
      assert.equal(end.body.length, 0, 'the home state is never sent to the boss');
      await boss.client.expectNoRequest('NOTIFY', 300);
    } finally {
      await spheres.stop();
    }
  });

  test('the presentity always sees its own presence; documents survive a restart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'presenced-rules-'));
    const server2 = await startTestServer({ domain: 'example.com', forceActive: false, http: '127.0.0.1:0' }, { dir });
    const alice = fresh('alice');
    try {
      const self = await watcher(server2, { presentity: alice, watcher: alice });
      assert.equal((await self.subscribe(600)).status, 200);
      assert.equal(state((await self.notify()).request).state, 'active');
      assert.equal((await http('PUT', rulesPath(alice), { server: server2, body: rules([['sip:bob@example.com', 'allow']]), headers: { 'content-type': AUTH_POLICY } })).status, 201);
    } finally {
      await server2.stop();
    }
    // Same database, new process state: the rules are back and decide at once.
    const server3 = await startTestServer({ domain: 'example.com', forceActive: false, http: '127.0.0.1:0' }, { dir });
    try {
      assert.equal((await http('GET', rulesPath(alice), { server: server3 })).status, 200);
      const bob = await watcher(server3, { presentity: alice, watcher: 'sip:bob@example.com' });
      assert.equal((await bob.subscribe(600)).status, 200);
      assert.equal(state((await bob.notify()).request).state, 'active');
    } finally {
      await server3.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('what each allowed watcher sees: RFC 5025 §3.3 transformations', () => {
  const FIXTURE = new URL('../fixtures/pidf/rpid-rich.xml', import.meta.url.replace('/dist/test/', '/test/'));

  /** Each child of <presence> as "local#id" with the local names inside it, after checking the bytes parse. */
  function shape(text: string): Record<string, string[]> {
    const root = parseXml(text);
    if (root instanceof XmlError) assert.fail(`NOTIFY body is not well-formed: ${root.message}\n${text}`);
    assert.equal(root.ns, 'urn:ietf:params:xml:ns:pidf');
    const out: Record<string, string[]> = {};
    for (const c of root.children.filter(isXmlElement)) out[`${c.local}#${getAttr(c, 'id') ?? ''}`] = c.children.filter(isXmlElement).map((k) => k.local);
    return out;
  }

  test('sip: services + persons with activities only, nothing else; all-* with provide-all-attributes, everything', async () => {
    const alice = fresh('alice');
    const state0 = readFileSync(FIXTURE, 'utf8').replace('entity="sip:someone@example.com"', `entity="${alice}"`);
    const c = await client(server);
    const published = await publish(c, { aor: alice, body: state0 });
    assert.equal(published.status, 200);
    const doc =
      `<?xml version="1.0" encoding="UTF-8"?>\n<cr:ruleset xmlns:pr="urn:ietf:params:xml:ns:pres-rules" xmlns:cr="urn:ietf:params:xml:ns:common-policy">` +
      `<cr:rule id="bob"><cr:conditions><cr:identity><cr:one id="sip:bob@example.com"/></cr:identity></cr:conditions>` +
      `<cr:actions><pr:sub-handling>allow</pr:sub-handling></cr:actions><cr:transformations>` +
      `<pr:provide-services><pr:service-uri-scheme>sip</pr:service-uri-scheme></pr:provide-services>` +
      `<pr:provide-persons><pr:all-persons/></pr:provide-persons><pr:provide-activities>true</pr:provide-activities>` +
      `</cr:transformations></cr:rule>` +
      // Without provide-persons, provide-activities has no person to show the activities in (§3.3.1 before §3.3.2).
      `<cr:rule id="dave"><cr:conditions><cr:identity><cr:one id="sip:dave@example.com"/></cr:identity></cr:conditions>` +
      `<cr:actions><pr:sub-handling>allow</pr:sub-handling></cr:actions><cr:transformations>` +
      `<pr:provide-services><pr:service-uri-scheme>sip</pr:service-uri-scheme></pr:provide-services><pr:provide-activities>true</pr:provide-activities>` +
      `</cr:transformations></cr:rule>` +
      `<cr:rule id="carol"><cr:conditions><cr:identity><cr:one id="sip:carol@example.com"/></cr:identity></cr:conditions>` +
      `<cr:actions><pr:sub-handling>allow</pr:sub-handling></cr:actions>${EVERYTHING}</cr:rule>` +
      `<cr:rule id="eve"><cr:conditions><cr:identity><cr:one id="sip:eve@example.com"/></cr:identity></cr:conditions>` +
      `<cr:actions><pr:sub-handling>allow</pr:sub-handling></cr:actions></cr:rule>` +
      `</cr:ruleset>`;
    assert.equal((await put(alice, doc)).status, 201);

    const subscribe = async (who: string): Promise<{ w: Awaited<ReturnType<typeof watcher>>; text: string }> => {
      const w = await watcher(server, { presentity: alice, watcher: who });
      assert.equal((await w.subscribe(600)).status, 200);
      const n = (await w.notify()).request;
      assert.equal(state(n).state, 'active', who);
      assert.equal(n.headers.get('Content-Type'), 'application/pidf+xml');
      return { w, text: body(n) };
    };
    const self = await subscribe(alice);
    const bob = await subscribe('sip:bob@example.com');
    const dave = await subscribe('sip:dave@example.com');
    const carol = await subscribe('sip:carol@example.com');
    const eve = await subscribe('sip:eve@example.com');

    assert.deepEqual(shape(bob.text), {
      'tuple#sip-phone': ['status', 'contact', 'timestamp'],
      'person#p1': ['activities', 'timestamp'],
    });
    assert.match(bob.text, /<rpid:activities from="2005-05-30T12:00:00\+05:00" until="2005-05-30T17:00:00\+05:00"><rpid:note>Far away<\/rpid:note><rpid:away\/><\/rpid:activities>/);
    assert.match(bob.text, /<status><basic>open<\/basic><\/status>/);
    for (const hidden of ['mailto:', 'im:', 'mood', 'Scoring', 'On the desk phone', 'servcaps', 'user-input', 'Tokyo', 'urn:x-mac']) {
      assert.ok(!bob.text.includes(hidden), `bob must not see ${hidden}`);
    }
    assert.deepEqual(shape(dave.text), { 'tuple#sip-phone': ['status', 'contact', 'timestamp'] });
    assert.deepEqual(shape(eve.text), {}, 'allow without transformations: an empty <presence>');
    assert.match(eve.text, new RegExp(`<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="${alice}"/>$`));
    // Everything: the same bytes as the presentity's own view of itself.
    assert.equal(carol.text, self.text);
    for (const seenAll of ['mailto:secretary@example.com', 'rpid:mood', 'caps:servcaps', 'Scoring 120', 'pc122']) assert.ok(carol.text.includes(seenAll), seenAll);

    // A change of state: each watcher gets it through its own filter again.
    const away = state0.replace('<r:away/>', '<r:vacation/>').replace('<basic>open</basic>', '<basic>closed</basic>');
    assert.equal((await publish(c, { aor: alice, body: away, etag: published.headers.get('SIP-ETag') })).status, 200);
    const bob2 = body((await bob.w.notify()).request);
    assert.deepEqual(shape(bob2), shape(bob.text));
    assert.match(bob2, /<rpid:vacation\/>/);
    assert.match(bob2, /<tuple id="sip-phone"><status><basic>closed<\/basic>/);
    assert.match(body((await carol.w.notify()).request), /<rpid:vacation\/>/);
    assert.deepEqual(shape(body((await eve.w.notify()).request)), {});
  });

  test('new rules apply to live watchers at once: bob loses the persons, keeps the sip: service', async () => {
    const alice = fresh('alice');
    const c = await client(server);
    const state0 = readFileSync(FIXTURE, 'utf8').replace('entity="sip:someone@example.com"', `entity="${alice}"`);
    assert.equal((await publish(c, { aor: alice, body: state0 })).status, 200);
    const created = await put(alice, rules([['sip:bob@example.com', 'allow']]));
    const bob = await watcher(server, { presentity: alice, watcher: 'sip:bob@example.com' });
    assert.equal((await bob.subscribe(600)).status, 200);
    assert.ok('person#p1' in shape(body((await bob.notify()).request)));
    const narrower =
      `<?xml version="1.0" encoding="UTF-8"?>\n<cr:ruleset xmlns:pr="urn:ietf:params:xml:ns:pres-rules" xmlns:cr="urn:ietf:params:xml:ns:common-policy">` +
      `<cr:rule id="bob"><cr:conditions><cr:identity><cr:one id="sip:bob@example.com"/></cr:identity></cr:conditions>` +
      `<cr:actions><pr:sub-handling>allow</pr:sub-handling></cr:actions><cr:transformations>` +
      `<pr:provide-services><pr:service-uri-scheme>sip</pr:service-uri-scheme></pr:provide-services></cr:transformations></cr:rule></cr:ruleset>`;
    assert.equal((await put(alice, narrower, { 'if-match': created.headers['etag'] as string })).status, 200);
    const n = (await bob.notify()).request;
    assert.equal(state(n).state, 'active');
    assert.deepEqual(shape(body(n)), { 'tuple#sip-phone': ['status', 'contact', 'timestamp'] });
  });
});
