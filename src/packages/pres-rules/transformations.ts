/**
 * RFC 5025 §3.3 transformations as permissions: read once per rule when a document is parsed, combined per watcher
 * with the RFC 4745 §10.2 rules (booleans OR'ed, sets united, provide-user-input the maximum).
 *
 * Every permission only ever grants (RFC 4745 §10.2 "privacy-safe"): what no matching rule grants is not given, so
 * a rule without transformations yields a document with nothing but its <presence> element.
 *
 * Pure functions: no I/O, no clock.
 */
import { getAttr, isXmlElement, textContent, type XmlElement } from '../shared/index.js';

const PRES_RULES_NS = 'urn:ietf:params:xml:ns:pres-rules';

/**
 * Which tuples, persons or devices are given (RFC 5025 §3.3.1): all of them, or those whose `id` is one of `ids`
 * (<occurrence-id>), whose <rpid:class> is one of `classes`, and for services those whose <contact> is one of
 * `uris` or has one of `schemes`, for devices those whose <deviceID> is one of `deviceIds`.
 */
export interface Selection {
  readonly all: boolean;
  readonly ids: readonly string[];
  readonly classes: readonly string[];
  /** Services only (<service-uri>). */
  readonly uris: readonly string[];
  /** Services only (<service-uri-scheme>), lower-cased. */
  readonly schemes: readonly string[];
  /** Devices only (<deviceID>), lower-cased (URNs such as urn:uuid compare case-insensitively). */
  readonly deviceIds: readonly string[];
}

/** The Boolean attribute permissions of RFC 5025 §3.3.2 (provide-activities ... provide-time-offset, provide-note). */
export type AttributePermission =
  | 'activities'
  | 'class'
  | 'deviceID'
  | 'mood'
  | 'place-is'
  | 'place-type'
  | 'privacy'
  | 'relationship'
  | 'sphere'
  | 'status-icon'
  | 'time-offset'
  | 'note';

export const ATTRIBUTE_PERMISSIONS: readonly AttributePermission[] = [
  'activities',
  'class',
  'deviceID',
  'mood',
  'place-is',
  'place-type',
  'privacy',
  'relationship',
  'sphere',
  'status-icon',
  'time-offset',
  'note',
];

/** RFC 5025 §3.3.2 provide-user-input, least to most: none, the bare value, with idle-threshold, with last-input too. */
export type UserInputLevel = 'false' | 'bare' | 'thresholds' | 'full';

export const USER_INPUT_VALUE: Readonly<Record<UserInputLevel, number>> = { false: 0, bare: 1, thresholds: 2, full: 3 };

/** What one watcher may see (one rule's transformations, or the combination of every matching rule). */
export interface Permissions {
  readonly services: Selection;
  readonly persons: Selection;
  readonly devices: Selection;
  readonly attributes: ReadonlySet<AttributePermission>;
  readonly userInput: UserInputLevel;
  /** <provide-unknown-attribute ns name>TRUE: keys from {@link unknownKey}. */
  readonly unknown: ReadonlySet<string>;
  /** <provide-all-attributes/>: every presence attribute of the elements given. */
  readonly allAttributes: boolean;
  /**
   * Everything is given (all services, persons and devices with all attributes): the filtered document is the
   * document itself, so the caller sends the shared bytes.
   */
  readonly unrestricted: boolean;
  /** Canonical text of these permissions: equal keys, equal filtered documents (a cache key). */
  readonly key: string;
}

/** Key of an unknown attribute permission: namespace URI and local name. */
export function unknownKey(ns: string, local: string): string {
  return `${ns}\u0000${local}`;
}

const NO_SELECTION: Selection = Object.freeze({ all: false, ids: [], classes: [], uris: [], schemes: [], deviceIds: [] });
const ALL_SELECTION: Selection = Object.freeze({ ...NO_SELECTION, all: true });

function selectionKey(s: Selection): string {
  if (s.all) return '*';
  return [s.ids, s.classes, s.uris, s.schemes, s.deviceIds].map((l) => [...l].sort().join('\u0001')).join('\u0002');
}

function build(
  services: Selection,
  persons: Selection,
  devices: Selection,
  attributes: ReadonlySet<AttributePermission>,
  userInput: UserInputLevel,
  unknown: ReadonlySet<string>,
  allAttributes: boolean,
): Permissions {
  const unrestricted = services.all && persons.all && devices.all && allAttributes;
  const key = unrestricted
    ? 'all'
    : [
        selectionKey(services),
        selectionKey(persons),
        selectionKey(devices),
        allAttributes ? '*' : [...attributes].sort().join(','),
        allAttributes ? 'full' : userInput,
        allAttributes ? '' : [...unknown].sort().join('\u0001'),
      ].join('\u0003');
  return Object.freeze({ services, persons, devices, attributes, userInput, unknown, allAttributes, unrestricted, key });
}

/** Nothing at all: the document keeps only its <presence> element (RFC 5025 §3.3, a rule without transformations). */
export const NO_PERMISSIONS: Permissions = build(NO_SELECTION, NO_SELECTION, NO_SELECTION, new Set(), 'false', new Set(), false);

/** Everything: no document (today's default), forceActive, the presentity watching itself. */
export const ALL_PERMISSIONS: Permissions = build(
  ALL_SELECTION,
  ALL_SELECTION,
  ALL_SELECTION,
  new Set(ATTRIBUTE_PERMISSIONS),
  'full',
  new Set(),
  true,
);

const BOOLEAN_OF: Readonly<Record<string, AttributePermission>> = {
  'provide-activities': 'activities',
  'provide-class': 'class',
  'provide-deviceID': 'deviceID',
  'provide-mood': 'mood',
  'provide-place-is': 'place-is',
  'provide-place-type': 'place-type',
  'provide-privacy': 'privacy',
  'provide-relationship': 'relationship',
  'provide-sphere': 'sphere',
  'provide-status-icon': 'status-icon',
  'provide-time-offset': 'time-offset',
  'provide-note': 'note',
};

function token(el: XmlElement): string {
  return textContent(el).trim();
}

/** xs:boolean: true, false, 1, 0 (whitespace collapsed). */
function readBoolean(el: XmlElement, fail: (reason: string) => never): boolean {
  const v = token(el);
  if (v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  return fail(`<${el.local}> must be true or false`);
}

type SelectionKind = 'services' | 'persons' | 'devices';

function readSelection(el: XmlElement, kind: SelectionKind): Selection {
  const all = kind === 'services' ? 'all-services' : kind === 'persons' ? 'all-persons' : 'all-devices';
  const ids: string[] = [];
  const classes: string[] = [];
  const uris: string[] = [];
  const schemes: string[] = [];
  const deviceIds: string[] = [];
  for (const c of el.children) {
    // Children of other namespaces are extensions we do not know: they grant nothing.
    if (!isXmlElement(c) || c.ns !== PRES_RULES_NS) continue;
    if (c.local === all) return ALL_SELECTION;
    const v = token(c);
    if (v === '') continue;
    // The RFC 5025 schema spells it "occurence-id"; the prose "occurrence-id". Both are read.
    if (c.local === 'occurence-id' || c.local === 'occurrence-id') ids.push(v);
    else if (c.local === 'class') classes.push(v);
    else if (kind === 'services' && c.local === 'service-uri') uris.push(v);
    else if (kind === 'services' && c.local === 'service-uri-scheme') schemes.push(v.toLowerCase());
    else if (kind === 'devices' && c.local === 'deviceID') deviceIds.push(v.toLowerCase());
  }
  return { all: false, ids, classes, uris, schemes, deviceIds };
}

/**
 * Reads one rule's <transformations> children into permissions. Elements of other namespaces, and unknown ones of
 * the pres-rules namespace, grant nothing and are ignored (RFC 4745 §10.2: permissions not understood are not
 * given); a known permission with a value outside its type is a schema error (`fail`).
 */
export function readTransformations(elements: readonly XmlElement[], fail: (reason: string) => never): Permissions {
  let services = NO_SELECTION;
  let persons = NO_SELECTION;
  let devices = NO_SELECTION;
  const attributes = new Set<AttributePermission>();
  let userInput: UserInputLevel = 'false';
  const unknown = new Set<string>();
  let allAttributes = false;
  for (const el of elements) {
    if (el.ns !== PRES_RULES_NS) continue;
    const flag = BOOLEAN_OF[el.local];
    if (flag !== undefined) {
      if (readBoolean(el, fail)) attributes.add(flag);
      continue;
    }
    switch (el.local) {
      case 'provide-services':
        services = unite(services, readSelection(el, 'services'));
        break;
      case 'provide-persons':
        persons = unite(persons, readSelection(el, 'persons'));
        break;
      case 'provide-devices':
        devices = unite(devices, readSelection(el, 'devices'));
        break;
      case 'provide-user-input': {
        const v = token(el);
        if (!(v in USER_INPUT_VALUE)) fail('<provide-user-input> must be false, bare, thresholds or full');
        if (USER_INPUT_VALUE[v as UserInputLevel] > USER_INPUT_VALUE[userInput]) userInput = v as UserInputLevel;
        break;
      }
      case 'provide-unknown-attribute': {
        const ns = getAttr(el, 'ns');
        const name = getAttr(el, 'name');
        if (ns === undefined || name === undefined || ns.trim() === '' || name.trim() === '') {
          fail('<provide-unknown-attribute> needs ns and name attributes');
        }
        if (readBoolean(el, fail)) unknown.add(unknownKey(ns.trim(), name.trim()));
        break;
      }
      case 'provide-all-attributes':
        allAttributes = true;
        break;
      default:
        break; // a permission of a later specification: not understood, not given
    }
  }
  return build(services, persons, devices, attributes, userInput, unknown, allAttributes);
}

function unite(a: Selection, b: Selection): Selection {
  if (a.all || b.all) return ALL_SELECTION;
  if (a === NO_SELECTION) return b;
  if (b === NO_SELECTION) return a;
  const u = (x: readonly string[], y: readonly string[]): string[] => [...new Set([...x, ...y])];
  return {
    all: false,
    ids: u(a.ids, b.ids),
    classes: u(a.classes, b.classes),
    uris: u(a.uris, b.uris),
    schemes: u(a.schemes, b.schemes),
    deviceIds: u(a.deviceIds, b.deviceIds),
  };
}

/**
 * The permissions of several matching rules (RFC 4745 §10.2): Boolean permissions are OR'ed (TRUE wins), set
 * permissions (provide-services/persons/devices, the unknown attributes) united, provide-user-input the maximum.
 * No rule: nothing is given.
 */
export function combinePermissions(list: readonly Permissions[]): Permissions {
  if (list.length === 0) return NO_PERMISSIONS;
  if (list.length === 1) return list[0]!;
  let services = NO_SELECTION;
  let persons = NO_SELECTION;
  let devices = NO_SELECTION;
  const attributes = new Set<AttributePermission>();
  let userInput: UserInputLevel = 'false';
  const unknown = new Set<string>();
  let allAttributes = false;
  for (const p of list) {
    if (p.unrestricted) return ALL_PERMISSIONS;
    services = unite(services, p.services);
    persons = unite(persons, p.persons);
    devices = unite(devices, p.devices);
    for (const a of p.attributes) attributes.add(a);
    if (USER_INPUT_VALUE[p.userInput] > USER_INPUT_VALUE[userInput]) userInput = p.userInput;
    for (const k of p.unknown) unknown.add(k);
    allAttributes ||= p.allAttributes;
  }
  return build(services, persons, devices, attributes, userInput, unknown, allAttributes);
}
