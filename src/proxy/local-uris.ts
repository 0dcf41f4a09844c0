/**
 * Which URIs name this server (RFC 3261 §16.4: a Route value we inserted, or a Request-URI rewritten by a
 * strict router) and which domains are ours (§16.5: only requests for our domains are looked up).
 */
import { networkInterfaces } from 'node:os';
import type { SipUri } from '../sip/index.js';
import { normalizeAddress, type BoundAddress } from '../transport/index.js';

const DEFAULT_PORT = 5060;

function isWildcard(address: string): boolean {
  const a = normalizeAddress(address);
  return a === '0.0.0.0' || a === '::';
}

export class LocalUris {
  readonly #addresses: () => readonly BoundAddress[];
  readonly #domains: ReadonlySet<string>;
  readonly #extraHosts: readonly string[];
  #hosts: Set<string> | undefined;
  #ports: Set<number> | undefined;

  /**
   * @param addresses the bound listeners (read once they are bound)
   * @param domains the SIP domains served (empty: any)
   * @param extraHosts host names that also mean us (advertised names, the host of server_address)
   */
  constructor(addresses: () => readonly BoundAddress[], domains: readonly string[], extraHosts: readonly string[] = []) {
    this.#addresses = addresses;
    this.#domains = new Set(domains.map((d) => d.toLowerCase()));
    this.#extraHosts = extraHosts;
  }

  #load(): { hosts: Set<string>; ports: Set<number> } {
    if (this.#hosts !== undefined && this.#ports !== undefined) return { hosts: this.#hosts, ports: this.#ports };
    const bound = this.#addresses();
    const hosts = new Set<string>(this.#extraHosts.map((h) => normalizeAddress(h)));
    const ports = new Set<number>();
    let wildcard = false;
    for (const a of bound) {
      ports.add(a.port);
      if (isWildcard(a.address)) wildcard = true;
      else hosts.add(normalizeAddress(a.address));
    }
    if (wildcard) {
      for (const list of Object.values(networkInterfaces())) {
        for (const ni of list ?? []) hosts.add(normalizeAddress(ni.address));
      }
    }
    // Cache only once the listeners are bound (ports known).
    if (bound.length > 0) {
      this.#hosts = hosts;
      this.#ports = ports;
    }
    return { hosts, ports };
  }

  /** True when host is one of our addresses or names (not a served domain). */
  isOurAddress(host: string): boolean {
    return this.#load().hosts.has(normalizeAddress(host));
  }

  /** A served domain (with no domains configured, every domain is served). */
  isOurDomain(host: string): boolean {
    if (this.#domains.size === 0) return true;
    const h = host.toLowerCase();
    return this.#domains.has(h) || this.isOurAddress(h);
  }

  /** A Via sent-by of ours (§16.3 step 4 loop detection): our address and one of our ports. */
  isOurSentBy(host: string, port: number | undefined): boolean {
    const { hosts, ports } = this.#load();
    return hosts.has(normalizeAddress(host)) && ports.has(port ?? DEFAULT_PORT);
  }

  /**
   * §16.4: a URI that names this proxy: no user part, and our address with one of our ports (5060 when
   * absent), or one of our configured domains (an outbound-proxy Route preloaded as the domain).
   */
  isProxyUri(uri: SipUri): boolean {
    if (uri.user !== undefined || uri.scheme === 'tel') return false;
    const { hosts, ports } = this.#load();
    const host = normalizeAddress(uri.host);
    if (hosts.has(host)) return ports.has(uri.port ?? DEFAULT_PORT);
    return this.#domains.has(uri.host.toLowerCase()) && (uri.port === undefined || ports.has(uri.port));
  }
}
