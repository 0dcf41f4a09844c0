/**
 * The registry of event packages: the only source of Allow-Events (RFC 6665 §4.4.4, §8.3.2), of the 489
 * decision and of the Accept lists used for 415 and 406. Adding a package never touches the core.
 */
import type { EventHeader, MediaType } from '../sip/index.js';
import type { EventPackage } from './event-package.js';

interface Entry {
  readonly pkg: EventPackage;
  /** Selecting parameters of the name ("dialog;sla" -> [["sla", null]]). */
  readonly selectors: ReadonlyArray<readonly [string, string | null]>;
}

// RFC 6665 §8.4 / RFC 3261 §25.1: event-type is a token-nodot with dot-separated template parts.
const TOKEN = /^[A-Za-z0-9\-.!%*_+`'~]+$/;

function splitName(name: string): { type: string; selectors: Array<[string, string | null]> } {
  const parts = name.split(';');
  const type = parts[0]!.trim();
  const selectors: Array<[string, string | null]> = [];
  for (let i = 1; i < parts.length; i++) {
    const p = parts[i]!.trim();
    const eq = p.indexOf('=');
    if (eq < 0) selectors.push([p.toLowerCase(), null]);
    else selectors.push([p.slice(0, eq).trim().toLowerCase(), p.slice(eq + 1).trim()]);
  }
  return { type, selectors };
}

export class EventRegistry {
  readonly #byType = new Map<string, Entry[]>();
  readonly #byName = new Map<string, EventPackage>();
  readonly #ordered: EventPackage[] = [];

  /** Adds a package. Throws on a malformed or duplicate name, or an empty content type list (a programming error). */
  register(pkg: EventPackage): void {
    const { type, selectors } = splitName(pkg.name);
    if (!TOKEN.test(type)) throw new Error(`event package name "${pkg.name}" is not a valid event type`);
    for (const [k] of selectors) {
      if (!TOKEN.test(k) || k === 'id') throw new Error(`event package name "${pkg.name}" has a bad selecting parameter`);
    }
    if (this.#byName.has(pkg.name)) throw new Error(`event package "${pkg.name}" is already registered`);
    if (pkg.contentTypes.length === 0) throw new Error(`event package "${pkg.name}" lists no content type`);
    if (!(pkg.expires.default > 0)) throw new Error(`event package "${pkg.name}" needs a positive default expiry`);
    let list = this.#byType.get(type);
    if (list === undefined) this.#byType.set(type, (list = []));
    list.push({ pkg, selectors });
    // Most specific first, so lookup can stop at the first match.
    list.sort((a, b) => b.selectors.length - a.selectors.length);
    this.#byName.set(pkg.name, pkg);
    this.#ordered.push(pkg);
  }

  /**
   * The package an Event header selects: same event type (byte for byte, RFC 6665 §8.2.1), all selecting
   * parameters present; the most specific wins (`dialog;sla` -> "dialog;sla", `dialog;call-id=x` -> "dialog").
   */
  lookup(event: EventHeader): EventPackage | undefined {
    const list = this.#byType.get(event.type);
    if (list === undefined) return undefined;
    for (const entry of list) {
      let all = true;
      for (const [k, v] of entry.selectors) {
        if (!event.params.has(k) || (v !== null && event.params.get(k) !== v)) {
          all = false;
          break;
        }
      }
      if (all) return entry.pkg;
    }
    return undefined;
  }

  /** A package by its registered name. */
  get(name: string): EventPackage | undefined {
    return this.#byName.get(name);
  }

  packages(): readonly EventPackage[] {
    return this.#ordered;
  }

  /** Event types for Allow-Events: one per type, in registration order (Allow-Events carries no parameters). */
  allowEvents(): string[] {
    return [...this.#byType.keys()];
  }

  /** Every media type some package accepts (for Accept in OPTIONS answers). */
  acceptedTypes(): string[] {
    const out = new Set<string>();
    for (const p of this.#ordered) for (const t of p.contentTypes) out.add(t.toLowerCase());
    return [...out];
  }
}

/** Whether a media type (lower-case "type/subtype") is one the package accepts. */
export function packageAccepts(pkg: EventPackage, contentType: string): boolean {
  for (const t of pkg.contentTypes) if (t.toLowerCase() === contentType) return true;
  return false;
}

/**
 * The package's types the subscriber can take, in the package's order of preference, from its Accept list
 * (RFC 3261 §20.1: wildcards `type/*` and `* /*`, q=0 excludes). An empty result means 406 (RFC 3261 §21.4.7).
 */
export function acceptableTypes(pkg: EventPackage, accept: readonly MediaType[]): string[] {
  const out: string[] = [];
  for (const offered of pkg.contentTypes) {
    const o = offered.toLowerCase();
    const major = o.slice(0, o.indexOf('/') + 1);
    for (const a of accept) {
      const q = a.params.get('q');
      if (q !== undefined && q !== null && Number(q) === 0) continue;
      if (a.type === o || a.type === '*/*' || (a.type.endsWith('/*') && a.type.slice(0, -1) === major)) {
        out.push(o);
        break;
      }
    }
  }
  return out;
}
