/**
 * Registration state for the `reg` event package (RFC 3680), published from the location service through the
 * core facade (Kamailio's pua_reginfo role): one reginfo document per AOR, rewritten on every binding change
 * and kept alive while the AOR has bindings. Removed contacts stay in the document as state="terminated" for
 * `tombstoneMs` (the package drops them from full-state NOTIFYs and keeps them in partial ones), so a watcher
 * whose NOTIFYs were coalesced still learns of each removal.
 */
import type { PresentityInfo } from '../core/index.js';
import { composeRegInfo, registrationId, REGINFO_CONTENT_TYPE, stableId, type RegContact, type RegContactEvent } from '../packages/reg/index.js';
import type { LocationChange } from '../registrar/index.js';
import type { BindingRecord } from '../store/account-records.js';
import { FacadePublisher, type PublisherLogger, type PublisherStats, type PublisherTimers, type PublishingCore } from './facade-publisher.js';

export interface BindingSource {
  lookup(aor: string): readonly BindingRecord[];
  aors(): string[];
  onChange(listener: (change: LocationChange) => void): () => void;
}

export interface RegInfoPublisherOptions {
  readonly core: PublishingCore & { listPresentities(opts: { event?: string; limit?: number; offset?: number }): PresentityInfo[] };
  readonly location: BindingSource;
  /** Seconds asked for the publication of an AOR with bindings (refreshed). */
  readonly expires: number;
  /** Seconds the last document (registration terminated) stays before it expires. */
  readonly terminatedExpires: number;
  /** How long a removed contact stays listed as terminated. */
  readonly tombstoneMs: number;
  readonly timers: PublisherTimers;
  /** Wall clock, epoch ms. */
  readonly now: () => number;
  readonly logger: PublisherLogger;
}

/** At most this many removed contacts are remembered per AOR. */
const MAX_TOMBSTONES = 16;

interface Tombstone {
  readonly contact: RegContact;
  readonly at: number;
  readonly key: string;
}

export function contactId(aor: string, key: string): string {
  return stableId('c', `${aor}\n${key}`);
}

function regContact(aor: string, b: BindingRecord, event: RegContactEvent, state: 'active' | 'terminated', now: number): RegContact {
  const params: Array<[string, string]> = [];
  if (b.instance !== undefined) params.push(['+sip.instance', `"${b.instance}"`]);
  if (b.regId !== undefined) params.push(['reg-id', String(b.regId)]);
  return {
    id: contactId(aor, b.key),
    state,
    event,
    uri: b.uri,
    durationRegistered: Math.max(0, Math.floor((now - b.registeredAt) / 1000)),
    expires: state === 'active' ? Math.max(0, Math.round((b.expiresAt - now) / 1000)) : 0,
    q: b.q === undefined ? undefined : String(b.q),
    callId: b.callId,
    cseq: b.cseq,
    unknownParams: params,
  };
}

export class RegInfoPublisher {
  readonly #o: RegInfoPublisherOptions;
  readonly #publisher: FacadePublisher;
  /** aor -> binding key -> the event of its last change. */
  readonly #events = new Map<string, Map<string, RegContactEvent>>();
  readonly #tombstones = new Map<string, Tombstone[]>();
  #unsubscribe: (() => void) | undefined;

  constructor(options: RegInfoPublisherOptions) {
    this.#o = options;
    this.#publisher = new FacadePublisher({
      core: options.core,
      event: 'reg',
      contentType: REGINFO_CONTENT_TYPE,
      expires: options.expires,
      timers: options.timers,
      now: options.now,
      logger: options.logger,
      // Only the registrar publishes reg state through the facade (no sender); SIP PUBLISH of it is refused.
      owns: (_aor, p) => p.sender === undefined,
    });
  }

  start(): void {
    const seen = new Set<string>();
    for (let offset = 0; ; offset += 500) {
      const page = this.#o.core.listPresentities({ event: 'reg', limit: 500, offset });
      for (const p of page) {
        if (p.publications === 0 || this.#publisher.adopt(p.presentity) === undefined) continue;
        seen.add(p.presentity);
        this.#publish(p.presentity, []);
      }
      if (page.length < 500) break;
    }
    for (const aor of this.#o.location.aors()) if (!seen.has(aor)) this.#publish(aor, []);
    this.#unsubscribe = this.#o.location.onChange((c) => this.#publish(c.aor, c.changes));
  }

  stop(): void {
    this.#unsubscribe?.();
    this.#publisher.stop();
  }

  stats(): PublisherStats {
    return this.#publisher.stats();
  }

  #publish(aor: string, changes: LocationChange['changes']): void {
    const now = this.#o.now();
    let events = this.#events.get(aor);
    let tombs = (this.#tombstones.get(aor) ?? []).filter((t) => now - t.at < this.#o.tombstoneMs);
    for (const c of changes) {
      const key = c.binding.key;
      if (c.event === 'expired' || c.event === 'unregistered' || c.event === 'deactivated') {
        events?.delete(key);
        tombs = tombs.filter((t) => t.key !== key);
        tombs.push({ key, at: now, contact: regContact(aor, c.binding, c.event, 'terminated', now) });
      } else {
        if (events === undefined) {
          events = new Map();
          this.#events.set(aor, events);
        }
        events.set(key, c.event);
        tombs = tombs.filter((t) => t.key !== key);
      }
    }
    if (tombs.length > MAX_TOMBSTONES) tombs = tombs.slice(-MAX_TOMBSTONES);
    // AORs that deregistered and went quiet keep their tombstones until pruned here (bounded memory).
    if (this.#tombstones.size > 1000) {
      for (const [a, list] of this.#tombstones) if (list.every((t) => now - t.at >= this.#o.tombstoneMs)) this.#tombstones.delete(a);
    }
    if (tombs.length > 0) this.#tombstones.set(aor, tombs);
    else this.#tombstones.delete(aor);

    const bindings = this.#o.location.lookup(aor);
    if (bindings.length === 0 && events !== undefined) this.#events.delete(aor);
    if (bindings.length === 0 && changes.length === 0) {
      // Nothing registered and nothing happened (a leftover after a restart): let its publication lapse.
      if (this.#publisher.has(aor)) this.#publisher.set(aor, this.#publisher.published(aor), false, this.#o.terminatedExpires);
      return;
    }
    const contacts = bindings.map((b) => regContact(aor, b, events?.get(b.key) ?? 'registered', 'active', now));
    contacts.push(...tombs.map((t) => t.contact));
    const body = composeRegInfo({
      version: 0,
      state: 'full',
      registrations: [{ aor, id: registrationId(aor), state: bindings.length > 0 ? 'active' : 'terminated', contacts }],
    });
    if (bindings.length > 0) this.#publisher.set(aor, body, true);
    else this.#publisher.set(aor, body, false, this.#o.terminatedExpires);
  }
}
