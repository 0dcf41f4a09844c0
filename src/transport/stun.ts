/**
 * RFC 5626 §3.5.2 / §4.4.2: clients keep UDP flows alive with STUN Binding requests (RFC 5389) sent to the
 * SIP port. A SIP message never starts with a byte below 0x20, so the two are told apart by the first byte
 * and the magic cookie. We answer with XOR-MAPPED-ADDRESS so the client can detect a NAT rebinding.
 */
import { isIPv6 } from 'node:net';

const MAGIC_COOKIE = 0x2112a442;
const BINDING_REQUEST = 0x0001;
const BINDING_SUCCESS = 0x0101;
const XOR_MAPPED_ADDRESS = 0x0020;
const HEADER_LENGTH = 20;

/** True when the datagram has the shape of a STUN message (RFC 5389 §6). */
export function isStunMessage(data: Buffer): boolean {
  return (
    data.length >= HEADER_LENGTH &&
    (data[0] & 0xc0) === 0 &&
    data.readUInt32BE(4) === MAGIC_COOKIE &&
    data.readUInt16BE(2) + HEADER_LENGTH === data.length &&
    (data.readUInt16BE(2) & 3) === 0
  );
}

/** The Binding success response to a Binding request, or undefined for any other STUN message. */
export function stunBindingResponse(request: Buffer, address: string, port: number): Buffer | undefined {
  if (!isStunMessage(request) || request.readUInt16BE(0) !== BINDING_REQUEST) return undefined;
  const v6 = isIPv6(address);
  const addrLen = v6 ? 16 : 4;
  const attrLen = 4 + addrLen;
  const out = Buffer.alloc(HEADER_LENGTH + 4 + attrLen);
  out.writeUInt16BE(BINDING_SUCCESS, 0);
  out.writeUInt16BE(4 + attrLen, 2);
  request.copy(out, 4, 4, HEADER_LENGTH); // magic cookie + transaction id
  let o = HEADER_LENGTH;
  out.writeUInt16BE(XOR_MAPPED_ADDRESS, o);
  out.writeUInt16BE(attrLen, o + 2);
  out.writeUInt8(0, o + 4);
  out.writeUInt8(v6 ? 2 : 1, o + 5);
  out.writeUInt16BE(port ^ (MAGIC_COOKIE >>> 16), o + 6);
  o += 8;
  const raw = v6 ? ipv6Bytes(address) : Buffer.from(address.split('.').map(Number));
  // RFC 5389 §15.2: XOR with the magic cookie, followed (IPv6) by the transaction id.
  for (let i = 0; i < addrLen; i++) out[o + i] = raw[i] ^ out[4 + i];
  return out;
}

function ipv6Bytes(address: string): Buffer {
  const out = Buffer.alloc(16);
  let text = address;
  let tail4: number[] = [];
  const lastColon = text.lastIndexOf(':');
  if (text.indexOf('.', lastColon) > 0) {
    tail4 = text.slice(lastColon + 1).split('.').map(Number);
    text = text.slice(0, lastColon) + ':0:0';
  }
  const [head, rest] = text.split('::');
  const h = head === '' ? [] : head.split(':');
  const r = rest === undefined ? [] : rest === '' ? [] : rest.split(':');
  const groups = rest === undefined ? h : [...h, ...new Array<string>(8 - h.length - r.length).fill('0'), ...r];
  for (let i = 0; i < 8; i++) out.writeUInt16BE(parseInt(groups[i] ?? '0', 16) & 0xffff, i * 2);
  if (tail4.length === 4) for (let i = 0; i < 4; i++) out[12 + i] = tail4[i];
  return out;
}
