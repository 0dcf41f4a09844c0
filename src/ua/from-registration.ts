/**
 * Presence from registration (Kamailio/OpenSIPS pua_usrloc): for the users in scope, a tuple `open` while the
 * user has at least one binding and `closed` once the last one ends or expires, published through the core
 * facade. It is one publication among the user's others, so the presence package merges it with what the
 * user's devices publish themselves, and watchers get NOTIFYs as for any PUBLISH.
 *
 * The tuple id is stable per user (`reg-` + a hash of the AOR). The open publication is refreshed while
 * bindings last; the closed one is published once and left to expire. After a restart the publications found
 * in the store are taken over and corrected (a user whose bindings expired while we were down goes closed).
 */
import { createHash } from 'node:crypto';
import type { PresentityInfo, PublicationView } from '../core/index.js';
import { escapeXmlAttr } from '../packages/shared/index.js';
import type { LocationChange } from '../registrar/index.js';
import { FacadePublisher, type PublisherLogger, type PublisherStats, type PublisherTimers, type PublishingCore } from './facade-publisher.js';

export const PIDF_CONTENT_TYPE = 'application/pidf+xml';

/** What this needs from the location service. */
export interface RegistrationSource {
  lookup(aor: string): readonly unknown[];
  aors(): string[];
  onChange(listener: (change: LocationChange) => void): () => void;
}

export interface PresenceFromRegistrationOptions {
  readonly core: PublishingCore & { listPresentities(opts: { event?: string; limit?: number; offset?: number }): PresentityInfo[] };
  readonly location: RegistrationSource;
  /** Users (AORs) in scope; with `domains` empty too, every user is. */
  readonly users?: readonly string[];
  /** Domains whose users are in scope. */
  readonly domains?: readonly string[];
  /** Seconds asked for the open publication (refreshed before it lapses). */
  readonly expires: number;
  /** Seconds the closed publication stays before it expires. */
  readonly closedExpires: number;
  readonly timers: PublisherTimers;
  /** Wall clock, epoch ms. */
  readonly now: () => number;
  readonly logger: PublisherLogger & { info(obj: object, msg?: string): void };
}

/** The tuple id of a user's registration state: stable across restarts, distinct per user. */
export function registrationTupleId(aor: string): string {
  return `reg-${createHash('sha256').update(aor).digest('hex').slice(0, 12)}`;
}

/** The PIDF (RFC 3863) of one registration tuple. */
export function registrationPidf(aor: string, basic: 'open' | 'closed'): string {
  const entity = escapeXmlAttr(aor);
  return (
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    `<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="${entity}">` +
    `<tuple id="${registrationTupleId(aor)}"><status><basic>${basic}</basic></status><contact>${entity}</contact></tuple>` +
    '</presence>'
  );
}

export class PresenceFromRegistration {
  readonly #o: PresenceFromRegistrationOptions;
  readonly #publisher: FacadePublisher;
  readonly #users: ReadonlySet<string>;
  readonly #domains: ReadonlySet<string>;
  #unsubscribe: (() => void) | undefined;

  constructor(options: PresenceFromRegistrationOptions) {
    this.#o = options;
    this.#users = new Set(options.users ?? []);
    this.#domains = new Set((options.domains ?? []).map((d) => d.toLowerCase()));
    this.#publisher = new FacadePublisher({
      core: options.core,
      event: 'presence',
      contentType: PIDF_CONTENT_TYPE,
      expires: options.expires,
      timers: options.timers,
      now: options.now,
      logger: options.logger,
      owns: (aor: string, p: PublicationView) => p.sender === undefined && p.body.includes(`id="${registrationTupleId(aor)}"`),
    });
  }

  /** Whether a user's presence follows its registration. */
  inScope(aor: string): boolean {
    if (this.#users.size === 0 && this.#domains.size === 0) return true;
    if (this.#users.has(aor)) return true;
    const at = aor.lastIndexOf('@');
    return at >= 0 && this.#domains.has(aor.slice(at + 1).toLowerCase());
  }

  /** Takes over what survived a restart, publishes the current state, and follows the location service. */
  start(): void {
    const seen = new Set<string>();
    // Our publications in the store: correct them to what the bindings say now.
    for (let offset = 0; ; offset += 500) {
      const page = this.#o.core.listPresentities({ event: 'presence', limit: 500, offset });
      for (const p of page) {
        if (!this.inScope(p.presentity) || p.publications === 0) continue;
        if (this.#publisher.adopt(p.presentity) === undefined) continue;
        seen.add(p.presentity);
        this.#apply(p.presentity, this.#o.location.lookup(p.presentity).length > 0);
      }
      if (page.length < 500) break;
    }
    for (const aor of this.#o.location.aors()) {
      if (!seen.has(aor) && this.inScope(aor)) this.#apply(aor, true);
    }
    this.#unsubscribe = this.#o.location.onChange((c) => {
      if (this.inScope(c.aor)) this.#apply(c.aor, c.bindings.length > 0);
    });
  }

  stop(): void {
    this.#unsubscribe?.();
    this.#publisher.stop();
  }

  stats(): PublisherStats {
    return this.#publisher.stats();
  }

  #apply(aor: string, registered: boolean): void {
    const body = registrationPidf(aor, registered ? 'open' : 'closed');
    if (registered) this.#publisher.set(aor, body, true);
    else if (this.#publisher.has(aor)) this.#publisher.set(aor, body, false, this.#o.closedExpires);
  }
}
