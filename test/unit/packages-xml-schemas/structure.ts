/**
 * A small structural validator standing in for the RFC XML schemas in tests: element names and
 * namespaces, sequence order with min/max occurrences, `any ##other` wildcards, required attributes
 * and their simple types. The specs below are transcribed from the schemas of RFC 4235 §4.2
 * (dialog-info) and RFC 3858 §5 (watcherinfo); what XSD would check that matters to a peer's parser
 * is checked here.
 */
import { getAttr, isXmlElement, parseXml, textContent, XmlError, type XmlElement } from '../../../src/packages/shared/index.js';

type SimpleType = 'string' | 'anyURI' | 'nonNegativeInteger' | 'positiveInteger' | 'unsignedLong' | readonly string[];

interface AttrSpec {
  readonly name: string;
  readonly type: SimpleType;
  readonly required?: boolean;
}

interface Particle {
  /** An element spec, or a wildcard for elements of any namespace other than the schema's. */
  readonly el: ElementSpec | 'any-other';
  readonly min: number;
  readonly max: number; // Infinity = unbounded
}

export interface ElementSpec {
  readonly ns: string;
  readonly name: string;
  readonly attrs?: readonly AttrSpec[];
  /** Unknown unqualified attributes allowed (xs:anyAttribute). */
  readonly anyAttribute?: boolean;
  /** Element content as a sequence; absent means simple (text) content. */
  readonly sequence?: readonly Particle[];
  /** Type of the text content for simple-content elements ('none' for empty elements). */
  readonly text?: SimpleType | 'none';
}

function checkSimple(value: string, type: SimpleType, where: string): string | undefined {
  if (Array.isArray(type)) return type.includes(value) ? undefined : `${where}: "${value}" not in {${type.join(', ')}}`;
  switch (type) {
    case 'string':
      return undefined;
    case 'anyURI':
      return /^\S+$/.test(value.trim()) ? undefined : `${where}: "${value}" is not an anyURI`;
    case 'nonNegativeInteger':
    case 'unsignedLong':
      return /^[0-9]+$/.test(value.trim()) ? undefined : `${where}: "${value}" is not a ${type}`;
    case 'positiveInteger':
      return /^[0-9]+$/.test(value.trim()) && Number(value) > 0 ? undefined : `${where}: "${value}" is not a positiveInteger`;
  }
  return undefined;
}

function validateElement(el: XmlElement, spec: ElementSpec, path: string, errors: string[]): void {
  const here = `${path}/${spec.name}`;
  const declared = new Set((spec.attrs ?? []).map((a) => a.name));
  for (const a of spec.attrs ?? []) {
    const v = getAttr(el, a.name);
    if (v === undefined) {
      if (a.required === true) errors.push(`${here}: missing attribute ${a.name}`);
      continue;
    }
    const e = checkSimple(v, a.type, `${here}@${a.name}`);
    if (e !== undefined) errors.push(e);
  }
  for (const a of el.attrs) {
    if (a.ns === '' && !declared.has(a.local) && spec.anyAttribute !== true) errors.push(`${here}: undeclared attribute ${a.local}`);
  }
  if (spec.sequence === undefined) {
    if (el.children.some(isXmlElement)) errors.push(`${here}: element content where simple content is expected`);
    const t = spec.text ?? 'string';
    if (t === 'none') {
      if (textContent(el).trim() !== '') errors.push(`${here}: text in an empty element`);
    } else {
      const e = checkSimple(textContent(el).trim(), t, here);
      if (e !== undefined) errors.push(e);
    }
    return;
  }
  const kids = el.children.filter((c) => {
    if (isXmlElement(c)) return true;
    if (c.text.trim() !== '') errors.push(`${here}: text in element-only content`);
    return false;
  }) as XmlElement[];
  let p = 0;
  let count = 0;
  for (const kid of kids) {
    for (;;) {
      const part = spec.sequence[p];
      if (part === undefined) {
        errors.push(`${here}: unexpected element {${kid.ns}}${kid.local}`);
        break;
      }
      const fits = part.el === 'any-other' ? kid.ns !== spec.ns : kid.ns === part.el.ns && kid.local === part.el.name;
      if (fits && count < part.max) {
        count++;
        if (part.el !== 'any-other') validateElement(kid, part.el, here, errors);
        break;
      }
      if (count < part.min) {
        errors.push(`${here}: expected ${part.el === 'any-other' ? 'extension element' : part.el.name} before {${kid.ns}}${kid.local}`);
      }
      p++;
      count = 0;
    }
    if (p >= spec.sequence.length) break;
  }
  for (; p < spec.sequence.length; p++) {
    const part = spec.sequence[p]!;
    if (count < part.min) errors.push(`${here}: missing ${part.el === 'any-other' ? 'extension element' : part.el.name}`);
    count = 0;
  }
}

/** Validates `body` against `root`; returns the list of violations (empty when valid). */
export function validateStructure(body: string, root: ElementSpec): string[] {
  const tree = parseXml(body);
  if (tree instanceof XmlError) return [`not well-formed: ${tree.message}`];
  if (tree.ns !== root.ns || tree.local !== root.name) return [`root is {${tree.ns}}${tree.local}, expected {${root.ns}}${root.name}`];
  const errors: string[] = [];
  validateElement(tree, root, '', errors);
  return errors;
}

// ---------------------------------------------------------------------------------------------
// RFC 4235 §4.2

const DI = 'urn:ietf:params:xml:ns:dialog-info';
const one = (el: ElementSpec | 'any-other', min = 0, max = 1): Particle => ({ el, min, max });
const many = (el: ElementSpec | 'any-other', min = 0): Particle => ({ el, min, max: Infinity });

const nameaddr = (name: string): ElementSpec => ({
  ns: DI,
  name,
  attrs: [{ name: 'display', type: 'string' }],
  anyAttribute: true,
  text: 'anyURI',
});

const participant = (name: string): ElementSpec => ({
  ns: DI,
  name,
  sequence: [
    one(nameaddr('identity')),
    one({
      ns: DI,
      name: 'target',
      attrs: [{ name: 'uri', type: 'anyURI', required: true }],
      sequence: [many({ ns: DI, name: 'param', attrs: [{ name: 'pname', type: 'string', required: true }, { name: 'pval', type: 'string', required: true }], text: 'none' })],
    }),
    one({ ns: DI, name: 'session-description', attrs: [{ name: 'type', type: 'string', required: true }] }),
    one({ ns: DI, name: 'cseq', text: 'nonNegativeInteger' }),
    many('any-other'),
  ],
});

export const DIALOG_INFO_SCHEMA: ElementSpec = {
  ns: DI,
  name: 'dialog-info',
  attrs: [
    { name: 'version', type: 'nonNegativeInteger', required: true },
    { name: 'state', type: ['full', 'partial'], required: true },
    { name: 'entity', type: 'anyURI', required: true },
  ],
  sequence: [
    many({
      ns: DI,
      name: 'dialog',
      attrs: [
        { name: 'id', type: 'string', required: true },
        { name: 'call-id', type: 'string' },
        { name: 'local-tag', type: 'string' },
        { name: 'remote-tag', type: 'string' },
        { name: 'direction', type: ['initiator', 'recipient'] },
      ],
      sequence: [
        one(
          {
            ns: DI,
            name: 'state',
            attrs: [
              { name: 'event', type: ['cancelled', 'rejected', 'replaced', 'local-bye', 'remote-bye', 'error', 'timeout'] },
              { name: 'code', type: 'positiveInteger' },
            ],
            text: ['trying', 'proceeding', 'early', 'confirmed', 'terminated'],
          },
          1,
        ),
        one({ ns: DI, name: 'duration', text: 'nonNegativeInteger' }),
        one({
          ns: DI,
          name: 'replaces',
          attrs: [
            { name: 'call-id', type: 'string', required: true },
            { name: 'local-tag', type: 'string', required: true },
            { name: 'remote-tag', type: 'string', required: true },
          ],
          text: 'none',
        }),
        one(nameaddr('referred-by')),
        one({ ns: DI, name: 'route-set', sequence: [many({ ns: DI, name: 'hop', text: 'string' }, 1)] }),
        one(participant('local')),
        one(participant('remote')),
        many('any-other'),
      ],
    }),
    many('any-other'),
  ],
};

// ---------------------------------------------------------------------------------------------
// RFC 3858 §5

const WI = 'urn:ietf:params:xml:ns:watcherinfo';

export const WATCHERINFO_SCHEMA: ElementSpec = {
  ns: WI,
  name: 'watcherinfo',
  attrs: [
    { name: 'version', type: 'nonNegativeInteger', required: true },
    { name: 'state', type: ['full', 'partial'], required: true },
  ],
  sequence: [
    many({
      ns: WI,
      name: 'watcher-list',
      attrs: [
        { name: 'resource', type: 'anyURI', required: true },
        { name: 'package', type: 'string', required: true },
      ],
      sequence: [
        many({
          ns: WI,
          name: 'watcher',
          attrs: [
            { name: 'display-name', type: 'string' },
            { name: 'status', type: ['pending', 'active', 'waiting', 'terminated'], required: true },
            {
              name: 'event',
              type: ['subscribe', 'approved', 'deactivated', 'probation', 'rejected', 'timeout', 'giveup', 'noresource'],
              required: true,
            },
            { name: 'expiration', type: 'unsignedLong' },
            { name: 'id', type: 'string', required: true },
            { name: 'duration-subscribed', type: 'unsignedLong' },
          ],
          text: 'anyURI',
        }),
        many('any-other'),
      ],
    }),
    many('any-other'),
  ],
};
