// Public surface of packages/shared: helpers every event package uses, one copy for all.
export {
  parseXml,
  serializeXml,
  escapeXmlText,
  escapeXmlAttr,
  childElements,
  firstChild,
  textContent,
  getAttr,
  isXmlElement,
  xmlElement,
  XmlError,
  DEFAULT_XML_LIMITS,
  WELL_KNOWN_PREFIXES,
} from './safe-xml.js';
export type { XmlAttr, XmlElement, XmlErrorCode, XmlLimits, XmlNode, XmlText } from './safe-xml.js';
