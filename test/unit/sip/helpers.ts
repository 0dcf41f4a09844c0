/** Shared builders for the sip/ unit tests. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export function crlf(lines: string[], body = ''): Buffer {
  return Buffer.from(lines.join('\r\n') + '\r\n\r\n' + body, 'utf8');
}

export const PIDF = `<?xml version="1.0" encoding="UTF-8"?>
<presence xmlns="urn:ietf:params:xml:ns:pidf" xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model" xmlns:rpid="urn:ietf:params:xml:ns:pidf:rpid" entity="sip:u42@example.com">
 <tuple id="t42">
  <status><basic>open</basic></status>
  <contact priority="0.8">sip:u42@example.com</contact>
  <timestamp>2026-11-23T10:00:00Z</timestamp>
 </tuple>
 <dm:person id="p42"><rpid:activities><rpid:away/></rpid:activities><dm:note>Back soon</dm:note></dm:person>
</presence>
`;

/** The PUBLISH of /work/shared/bench/publish.xml with call number 42. */
export function publishBytes(): Buffer {
  const body = Buffer.from(PIDF, 'utf8');
  return Buffer.concat([
    crlf([
      'PUBLISH sip:u42@example.com SIP/2.0',
      'Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-4242-42-0;rport',
      'From: <sip:u42@example.com>;tag=4242P42',
      'To: <sip:u42@example.com>',
      'Call-ID: 42-4242@127.0.0.1',
      'CSeq: 1 PUBLISH',
      'Max-Forwards: 70',
      'Event: presence',
      'Expires: 3600',
      'Content-Type: application/pidf+xml',
      `Content-Length: ${body.length}`,
    ]),
    body,
  ]);
}

export function subscribeBytes(): Buffer {
  return crlf([
    'SUBSCRIBE sip:u42@example.com SIP/2.0',
    'Via: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bK-77-1;rport',
    'From: "Watcher 42" <sip:w42@example.com>;tag=77W42',
    'To: <sip:u42@example.com>',
    'Call-ID: 42-77@127.0.0.1',
    'CSeq: 1 SUBSCRIBE',
    'Max-Forwards: 70',
    'Contact: <sip:w42@127.0.0.1:5062;transport=udp>',
    'Event: presence',
    'Accept: application/pidf+xml, application/rlmi+xml, multipart/related',
    'Supported: eventlist',
    'Expires: 3600',
    'Content-Length: 0',
  ]);
}

/**
 * Directory of the RFC 4475 vector files, whether the tests run from sources (tsx) or from dist/ after
 * `tsc` (which does not copy the .sip files): next to the test sources first, else under the working directory.
 */
export function vectorDir(): string {
  const beside = fileURLToPath(new URL('../../vectors/torture/', import.meta.url));
  if (existsSync(join(beside, 'valid'))) return beside;
  return join(process.cwd(), 'test', 'vectors', 'torture') + '/';
}
