/**
 * Helpers for the event-package integration tests (packages-*.test.ts): clients per watcher, NOTIFY bodies
 * parsed with the packages' own readers and checked against the RFC schemas (structural validator), and small
 * body builders.
 */
import assert from 'node:assert/strict';
import type { SipRequest } from '../../src/sip/index.js';
import { parseDialogInfo, type DialogInfoDocument } from '../../src/packages/dialog/index.js';
import { parseWatcherInfo, type WatcherInfoDocument } from '../../src/packages/presence-winfo/index.js';
import { SipTestClient, subscriptionState, type TestTransport } from '../support/sip-test-client.js';
import type { TestServer } from '../support/test-server.js';
import { WatcherDialog, type SubscribeSpec } from '../support/presence-ua.js';
import { DIALOG_INFO_SCHEMA, validateStructure, WATCHERINFO_SCHEMA } from '../unit/packages-xml-schemas/structure.js';

export const DIALOG_INFO = 'application/dialog-info+xml';
export const WATCHERINFO = 'application/watcherinfo+xml';
export const MWI = 'application/simple-message-summary';

/** Every client opened by a test, closed by closeAll() in after(). */
const opened: SipTestClient[] = [];

export async function client(server: TestServer, transport: TestTransport = 'udp'): Promise<SipTestClient> {
  const c = await SipTestClient.open({ transport, serverPort: server.port(transport) });
  opened.push(c);
  return c;
}

export async function closeAll(): Promise<void> {
  for (const c of opened.splice(0)) await c.close();
}

/** A watcher on its own client (so its NOTIFYs never mix with another dialog's). */
export async function watcher(server: TestServer, spec: SubscribeSpec, transport: TestTransport = 'udp'): Promise<WatcherDialog> {
  return new WatcherDialog(await client(server, transport), spec);
}

export function body(n: SipRequest): string {
  return n.body.toString('utf8');
}

export function state(n: SipRequest): { state: string; params: Map<string, string> } {
  return subscriptionState(n);
}

/** The dialog-info document of a NOTIFY, after checking it against the RFC 4235 §4.2 schema. */
export function dialogInfo(n: SipRequest): DialogInfoDocument {
  assert.equal(n.headers.get('Content-Type'), DIALOG_INFO);
  const text = body(n);
  assert.deepEqual(validateStructure(text, DIALOG_INFO_SCHEMA), [], `dialog-info valid per RFC 4235:\n${text}`);
  const r = parseDialogInfo(text);
  assert.ok(r.ok, r.ok ? '' : r.reason);
  return r.doc;
}

/** The watcherinfo document of a NOTIFY, after checking it against the RFC 3858 §5 schema. */
export function watcherInfo(n: SipRequest): WatcherInfoDocument {
  assert.equal(n.headers.get('Content-Type'), WATCHERINFO);
  const text = body(n);
  assert.deepEqual(validateStructure(text, WATCHERINFO_SCHEMA), [], `watcherinfo valid per RFC 3858:\n${text}`);
  const r = parseWatcherInfo(text);
  assert.ok(r.ok, r.ok ? '' : r.reason);
  return r.doc;
}

/** The watchers of the only list of a watcherinfo document, as [uri, status, event]. */
export function watchersOf(doc: WatcherInfoDocument): Array<[string, string, string]> {
  assert.equal(doc.lists.length, 1);
  return doc.lists[0]!.watchers.map((w) => [w.uri, w.status, w.event]);
}

/** One dialog-info publication of `entity` with a single call in `state`. */
export function call(
  entity: string,
  state: string,
  opts: { id?: string; direction?: 'initiator' | 'recipient'; remote?: string; remoteTarget?: string } = {},
): string {
  const id = opts.id ?? 'call-1';
  const remote = opts.remote ?? 'sip:2002@pbx.example.com';
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n` +
    `<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" version="0" state="full" entity="${entity}">` +
    `<dialog id="${id}" call-id="${id}@pbx.example.com" local-tag="lt-${id}" remote-tag="rt-${id}" direction="${opts.direction ?? 'initiator'}">` +
    `<state>${state}</state>` +
    `<local><identity>${entity}</identity><target uri="${entity}"/></local>` +
    `<remote><identity display="Bob">${remote}</identity><target uri="${opts.remoteTarget ?? remote}"/></remote>` +
    `</dialog></dialog-info>`
  );
}

/** The states of the dialogs of a document, by dialog id. */
export function lamps(doc: DialogInfoDocument): Record<string, string> {
  const out: Record<string, string> = {};
  for (const d of doc.dialogs) out[d.id] = d.state;
  return out;
}
