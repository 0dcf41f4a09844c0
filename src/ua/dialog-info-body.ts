/**
 * The application/dialog-info+xml document (RFC 4235 §4) published for one side of one call, in the
 * shape Kamailio's and OpenSIPS' pua_dialoginfo publish and BLF phones (Polycom, Yealink, Grandstream,
 * Cisco) read: full state, one <dialog> with call-id, tags and direction, <state> with the ending event,
 * and <local>/<remote> identity and target.
 */
import { createHash } from 'node:crypto';
import { escapeXmlAttr, escapeXmlText } from '../packages/shared/index.js';
import type { CallParty, CallSnapshot } from '../proxy/index.js';

export const DIALOG_INFO_CONTENT_TYPE = 'application/dialog-info+xml';

export type CallSide = 'initiator' | 'recipient';

/**
 * The dialog id: stable per call and side, and XML-safe whatever the Call-ID holds. Both sides differ so
 * that a user calling one of its own devices shows two dialogs, as RFC 4235 §4.1.1 expects.
 */
export function dialogId(call: Pick<CallSnapshot, 'callId' | 'callerTag'>, side: CallSide): string {
  return createHash('sha1').update(`${call.callId}\0${call.callerTag}\0${side}`).digest('hex').slice(0, 20);
}

function participant(name: 'local' | 'remote', p: CallParty): string {
  const display = p.display !== undefined && p.display !== '' ? ` display="${escapeXmlAttr(p.display)}"` : '';
  const target = p.target !== undefined ? `<target uri="${escapeXmlAttr(p.target)}"/>` : '';
  return `<${name}><identity${display}>${escapeXmlText(p.identity)}</identity>${target}</${name}>`;
}

/** RFC 4235 §4.1.2: event local-bye/remote-bye is told from the document owner's side. */
function stateEvent(call: CallSnapshot, side: CallSide): string | undefined {
  const r = call.endReason;
  if (r === undefined) return undefined;
  if (side === 'recipient' && (r === 'local-bye' || r === 'remote-bye')) return r === 'local-bye' ? 'remote-bye' : 'local-bye';
  return r;
}

/**
 * One <dialog> element: a call seen from the caller (initiator) or the callee (recipient).
 * @param id the call's dialogId for that side, when the caller has it already (it costs a SHA-1)
 */
export function dialogElement(call: CallSnapshot, side: CallSide, id = dialogId(call, side)): string {
  const self = side === 'initiator' ? call.caller : call.callee;
  const other = side === 'initiator' ? call.callee : call.caller;
  const localTag = side === 'initiator' ? call.callerTag : call.calleeTag;
  const remoteTag = side === 'initiator' ? call.calleeTag : call.callerTag;
  let attrs = `id="${id}" call-id="${escapeXmlAttr(call.callId)}"`;
  if (localTag !== undefined && localTag !== '') attrs += ` local-tag="${escapeXmlAttr(localTag)}"`;
  if (remoteTag !== undefined && remoteTag !== '') attrs += ` remote-tag="${escapeXmlAttr(remoteTag)}"`;
  attrs += ` direction="${side}"`;
  const event = call.state === 'terminated' ? stateEvent(call, side) : undefined;
  let stateAttrs = event !== undefined ? ` event="${event}"` : '';
  if (call.state === 'terminated' && event === 'rejected' && call.endCode !== undefined) stateAttrs += ` code="${call.endCode}"`;
  return `<dialog ${attrs}><state${stateAttrs}>${call.state}</state>` + participant('local', self) + participant('remote', other) + '</dialog>';
}

/** A full-state document for `entity` with the given dialogs (none: the idle document). */
export function dialogInfoDocument(entity: string, dialogs: ReadonlyArray<{ readonly call: CallSnapshot; readonly side: CallSide }>, version = 0): string {
  return dialogInfoDocumentOf(entity, dialogs.map((d) => dialogElement(d.call, d.side)), version);
}

/** A full-state document for `entity` around <dialog> elements already built (dialogElement). */
export function dialogInfoDocumentOf(entity: string, elements: Iterable<string>, version = 0): string {
  let out =
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    `<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" version="${version}" state="full" entity="${escapeXmlAttr(entity)}">`;
  for (const e of elements) out += e;
  return out + '</dialog-info>';
}

/** The document for the caller (initiator) or the callee (recipient) of one call. */
export function dialogInfoBody(call: CallSnapshot, side: CallSide, version = 0): string {
  const entity = side === 'initiator' ? call.caller.aor : call.callee.aor;
  return dialogInfoDocument(entity, [{ call, side }], version);
}
