/**
 * Dialog state published by an external proxy (Kamailio or OpenSIPS pua_dialoginfo in front of a PBX) over
 * SIP PUBLISH, fixture bodies in the shapes those modules write (OpenSIPS puts <remote> before <local> and
 * <param> children in <target>; Kamailio ends with a bare terminated dialog): accepted by the dialog package,
 * and a BLF watcher gets schema-ordered full-state NOTIFYs with the lamp moving early -> confirmed ->
 * terminated -> idle.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseDialogInfo } from '../../src/packages/dialog/index.js';
import { startProxyStack, type ProxyStack } from '../support/proxy-stack.js';
import { randomToken, SipTestClient, type ReceivedRequest } from '../support/sip-test-client.js';

const FIXTURES = new URL('../fixtures/dialog-info/', import.meta.url.replace('/dist/test/', '/test/'));
const fixture = (name: string): string => readFileSync(new URL(name, FIXTURES), 'utf8');
const PBX = 'pbx.example.com';
const CT = 'application/dialog-info+xml';

interface Lamp {
  state: string;
  version: number;
  body: string;
}

function lampOf(n: ReceivedRequest): Lamp {
  const body = n.request.body.toString('utf8');
  const p = parseDialogInfo(body);
  assert.ok(p.ok, 'a valid dialog-info body');
  assert.equal(p.doc.state, 'full');
  return { state: p.doc.dialogs[0]?.state ?? 'idle', version: p.doc.version, body };
}

describe('dialog PUBLISH from an external proxy (Kamailio / OpenSIPS pua_dialoginfo)', () => {
  let stack: ProxyStack;
  let pbx: SipTestClient;
  let watcher: SipTestClient;

  before(async () => {
    stack = await startProxyStack({}, [PBX]);
    pbx = await SipTestClient.open({ transport: 'udp', serverPort: stack.udpPort });
    watcher = await SipTestClient.open({ transport: 'tcp', serverPort: stack.tcpPort });
  });

  after(async () => {
    await Promise.all([pbx.close(), watcher.close()]);
    await stack.stop();
  });

  async function publish(entity: string, body: string | undefined, etag?: string, expires = 120): Promise<string | undefined> {
    const res = await pbx.request({
      method: 'PUBLISH',
      uri: entity,
      from: `<sip:pua@${PBX}>;tag=${randomToken(4)}`,
      to: `<${entity}>`,
      headers: [
        ['Event', 'dialog'],
        ['Expires', String(expires)],
        ...(etag !== undefined ? ([['SIP-If-Match', etag]] as Array<[string, string]>) : []),
      ],
      ...(body !== undefined ? { body, contentType: CT } : {}),
    });
    assert.equal(res.status, 200, `PUBLISH answered ${res.status} ${res.reason}`);
    return res.headers.get('SIP-ETag');
  }

  async function watch(entity: string): Promise<void> {
    const res = await watcher.request({
      method: 'SUBSCRIBE',
      uri: entity,
      from: `<sip:1003@${PBX}>;tag=${randomToken(4)}`,
      to: `<${entity}>`,
      contact: `<${watcher.contactUri('1003')}>`,
      headers: [
        ['Event', 'dialog'],
        ['Accept', CT],
        ['Expires', '600'],
      ],
    });
    assert.equal(res.status, 200);
    assert.equal(lampOf(await watcher.acceptNotify()).state, 'idle');
  }

  test('Kamailio shape: early, confirmed, terminated with SIP-If-Match; the watcher sees each, versions counted', async () => {
    const entity = `sip:1001@${PBX}`;
    await watch(entity);
    let etag = await publish(entity, fixture('kamailio-pua-early.xml'));
    const lamps: Lamp[] = [lampOf(await watcher.acceptNotify())];
    etag = await publish(entity, fixture('kamailio-pua-confirmed.xml'), etag);
    lamps.push(lampOf(await watcher.acceptNotify()));
    etag = await publish(entity, fixture('kamailio-pua-terminated.xml'), etag);
    lamps.push(lampOf(await watcher.acceptNotify()));
    await publish(entity, undefined, etag, 0);
    lamps.push(lampOf(await watcher.acceptNotify()));
    assert.deepEqual(
      lamps.map((l) => [l.version, l.state]),
      [
        [1, 'early'],
        [2, 'confirmed'],
        [3, 'terminated'],
        [4, 'idle'],
      ],
    );
    assert.match(lamps[1].body, /entity="sip:1001@pbx\.example\.com"/);
    assert.match(lamps[1].body, /direction="recipient"/);
  });

  test('OpenSIPS shape (remote before local, <param> in <target>): accepted and re-ordered to the schema', async () => {
    const entity = `sip:1002@${PBX}`;
    await watch(entity);
    let etag = await publish(entity, fixture('opensips-pua-early.xml'));
    const early = lampOf(await watcher.acceptNotify());
    assert.equal(early.state, 'early');
    // RFC 4235 §4.2 order: state, ..., local, remote.
    assert.ok(early.body.indexOf('<local>') < early.body.indexOf('<remote>'), early.body);
    etag = await publish(entity, fixture('opensips-pua-confirmed-hold.xml'), etag);
    const held = lampOf(await watcher.acceptNotify());
    assert.equal(held.state, 'confirmed');
    assert.match(held.body, /pname="\+sip\.rendering"/, 'target parameters are carried to the watcher');
    await publish(entity, fixture('opensips-pua-terminated.xml'), etag);
    assert.equal(lampOf(await watcher.acceptNotify()).state, 'terminated');
  });

  test('a malformed body from the external proxy is refused 400 and changes no lamp', async () => {
    const entity = `sip:1001@${PBX}`;
    const res = await pbx.request({
      method: 'PUBLISH',
      uri: entity,
      from: `<sip:pua@${PBX}>;tag=${randomToken(4)}`,
      to: `<${entity}>`,
      headers: [
        ['Event', 'dialog'],
        ['Expires', '120'],
      ],
      body: fixture('kamailio-pua-early.xml').replace('<state>early</state>', '<state>ringing</state>'),
      contentType: CT,
    });
    assert.equal(res.status, 400);
    await watcher.expectNoRequest('NOTIFY', 200);
  });
});
