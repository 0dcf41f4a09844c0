/**
 * bla_fix_remote_target: Polycom phones put the far end's IP contact in <remote><target> of their BLA
 * NOTIFY bodies, and another phone of the group that picks up a held call then sends its INVITE
 * straight to that IP, around the proxy. Replacing the target with the remote identity (the AOR,
 * which names the domain) sends the pickup through the proxy, as OpenSIPS does.
 */
import { isXmlElement, parseXml, serializeXml, textContent, XmlError, type XmlElement, type XmlNode } from '../shared/index.js';

const DIALOG_INFO_NS = 'urn:ietf:params:xml:ns:dialog-info';
// BLA's shared-appearance extension keeps the prefix every BLA phone writes (draft-anil-sipping-bla).
const PREFIXES: Record<string, string> = { 'urn:ietf:params:xml:ns:sa-dialog-info': 'sa' };

function fixRemote(remote: XmlElement): XmlElement {
  let identity: string | undefined;
  for (const c of remote.children) {
    if (isXmlElement(c) && c.ns === DIALOG_INFO_NS && c.local === 'identity') identity = textContent(c).trim();
  }
  if (identity === undefined || identity === '') return remote; // nothing better to offer: leave it
  let changed = false;
  const children = remote.children.map((c): XmlNode => {
    if (!isXmlElement(c) || c.ns !== DIALOG_INFO_NS || c.local !== 'target') return c;
    changed = true;
    // A new <target uri=identity/>: the old one's <param> children described the old contact.
    return { ns: c.ns, local: 'target', prefix: c.prefix, attrs: [{ ns: '', local: 'uri', prefix: '', value: identity! }], children: [] };
  });
  return changed ? { ...remote, children } : remote;
}

/**
 * Rewrites every <dialog><remote><target> of a dialog-info document to the remote identity.
 * Documents that are not dialog-info, or have nothing to fix, come back unchanged (same string).
 */
export function fixRemoteTargets(body: string): string {
  if (!body.includes('target')) return body;
  const root = parseXml(body);
  if (root instanceof XmlError || root.ns !== DIALOG_INFO_NS || root.local !== 'dialog-info') return body;
  let changed = false;
  const children = root.children.map((d): XmlNode => {
    if (!isXmlElement(d) || d.ns !== DIALOG_INFO_NS || d.local !== 'dialog') return d;
    const kids = d.children.map((c): XmlNode => {
      if (!isXmlElement(c) || c.ns !== DIALOG_INFO_NS || c.local !== 'remote') return c;
      const fixed = fixRemote(c);
      if (fixed !== c) changed = true;
      return fixed;
    });
    return { ...d, children: kids };
  });
  return changed ? serializeXml({ ...root, children }, PREFIXES) : body;
}
