/**
 * IP address helpers shared by the transport: one canonical text form per address, so a Via sent-by,
 * a socket's remoteAddress and a Destination written by another layer compare equal when they are equal.
 */
import { isIP, isIPv6 } from 'node:net';
import { networkInterfaces } from 'node:os';

const V4_MAPPED = /^::ffff:(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})$/i;

/**
 * Canonical text of an IP address: brackets removed, IPv4-mapped IPv6 as IPv4, IPv6 compressed and
 * lower-cased (RFC 5952). A host name is only lower-cased.
 */
export function normalizeAddress(address: string): string {
  let a = address;
  if (a.length > 1 && a.charCodeAt(0) === 0x5b /* [ */ && a.charCodeAt(a.length - 1) === 0x5d) a = a.slice(1, -1);
  if (a.indexOf(':') < 0) return a.toLowerCase();
  const mapped = V4_MAPPED.exec(a);
  if (mapped !== null) return mapped[1];
  if (!isIPv6(a)) return a.toLowerCase();
  // Fast path: already in the form sockets report.
  if (a === '::1' || a === '::') return a;
  try {
    const host = new URL(`http://[${a}]/`).hostname;
    return host.slice(1, -1);
  } catch {
    return a.toLowerCase();
  }
}

export function isIPv6Address(address: string): boolean {
  return isIP(normalizeAddress(address)) === 6;
}

/** Host form for a Via sent-by or URI: IPv6 references in brackets (RFC 3261 §25.1). */
export function hostForUri(address: string): string {
  return address.indexOf(':') >= 0 && !address.startsWith('[') ? `[${address}]` : address;
}

export function isWildcard(host: string): boolean {
  const h = normalizeAddress(host);
  return h === '0.0.0.0' || h === '::';
}

/** The first non-internal interface address of a family, else the loopback: a usable sent-by for a wildcard listener. */
export function defaultInterfaceAddress(family: 4 | 6): string {
  for (const list of Object.values(networkInterfaces())) {
    for (const ni of list ?? []) {
      if (!ni.internal && (ni.family === 'IPv4' ? 4 : 6) === family && !ni.address.startsWith('fe80')) return ni.address;
    }
  }
  return family === 4 ? '127.0.0.1' : '::1';
}

/** Key of a remote endpoint in lookup tables. */
export function endpointKey(address: string, port: number): string {
  return `${normalizeAddress(address)}|${port}`;
}
