/** serializeMessage: a message to wire bytes (RFC 3261 §7), always with a correct Content-Length (§20.14). */
import type { SipMessage } from './message.js';

function oneLine(s: string): string {
  for (let i = 0; i < s.length; i++) {
    if (s.charCodeAt(i) < 32) return s.replace(/[\x00-\x1f]+/g, ' ');
  }
  return s;
}

/**
 * Writes the start line, the header lines in order (long names), and a Content-Length computed from the
 * body bytes: any Content-Length already present is replaced in place, otherwise one is appended.
 * Content-Length is written even for an empty body, since stream transports require it (§18.3).
 * `first`: header lines written before the message's own (a transaction's top Via), without copying the
 * message to add them; names as given, values kept to one line.
 */
export function serializeMessage(msg: SipMessage, first?: ReadonlyArray<readonly [string, string]>): Buffer {
  const body = msg.body;
  const cl = 'Content-Length: ' + body.length + '\r\n';
  let head =
    msg.kind === 'request'
      ? oneLine(msg.method) + ' ' + oneLine(msg.uri) + ' SIP/2.0\r\n'
      : 'SIP/2.0 ' + msg.status + ' ' + oneLine(msg.reason) + '\r\n';
  if (first !== undefined) for (const [name, value] of first) head += name + ': ' + oneLine(value) + '\r\n';
  let wroteCl = false;
  // forEachLine, not the iterator: no [name, value] pair and iterator result per line.
  msg.headers.forEachLine((name, value) => {
    if (name === 'Content-Length') {
      if (!wroteCl) head += cl;
      wroteCl = true;
      return;
    }
    head += name + ': ' + value + '\r\n';
  });
  if (!wroteCl) head += cl;
  head += '\r\n';
  const hl = Buffer.byteLength(head, 'utf8');
  const out = Buffer.allocUnsafe(hl + body.length);
  out.write(head, 0, 'utf8');
  body.copy(out, hl);
  return out;
}
