/**
 * What the core is configured with: a plain object the server maps PresencedConfig onto (docs/config.md).
 * Every field has a default, so tests and tools can pass only what they care about.
 */

export interface CoreConfig {
  /** Seconds between expiry sweeps (Kamailio clean_period). */
  cleanPeriod: number;
  /** Seconds a publication is kept past its granted expiry, to tolerate late refreshes (expires_offset). */
  expiresOffset: number;
  maxExpiresSubscribe: number;
  maxExpiresPublish: number;
  /** Smallest non-zero Expires accepted (423 + Min-Expires below it), unless a package sets its own. */
  minExpires: number;
  /**
   * Contact URI of 2xx to SUBSCRIBE and of NOTIFYs (server_address). When undefined, the local address
   * the request or subscription arrived on is used (`sip:IP:PORT`, `;transport=tcp` for TCP).
   */
  serverAddress: string | undefined;
  /** Remove a subscription when its NOTIFY times out or cannot be sent (408/503 synthesized; end_sub_on_timeout). */
  endSubOnTimeout: boolean;
  /**
   * Remove a subscription when its NOTIFY gets a final error response without Retry-After (RFC 6665 §4.2.2:
   * "MUST remove"). false keeps it (the failure is counted) for clients that answer NOTIFY with odd errors.
   * 481 always removes.
   */
  endSubOnNotifyError: boolean;
  /** 200 (RFC 6665 §8.3.1; 202 is deprecated) or 202 for old clients. */
  subscribeReplyCode: 200 | 202;
  /** Accept every subscription as active without asking the package (force_active). */
  forceActive: boolean;
  /** NOTIFYs per second sent to recovered subscriptions after a start, so a restart is not a NOTIFY storm. */
  notifyRecoveryRate: number;
  /** Smallest interval between two NOTIFYs of one subscription, ms (0 = off; RFC 3856 §6.10 suggests 5000). */
  notifyMinIntervalMs: number;
  /** Domains served. Empty with no isLocalDomain: every Request-URI host is accepted. Compared case-insensitively. */
  domains: readonly string[];
  /** Custom domain check; takes precedence over `domains`. */
  isLocalDomain: ((host: string) => boolean) | undefined;
  /** Retry-After seconds on 500/503 caused by storage failures or shutdown. */
  retryAfter: number;
  /** Live publications kept per presentity and package; more are refused (bounds memory against a flood). */
  maxPublicationsPerPresentity: number;
  /** Safety margin added to every stored NOTIFY CSeq and body version at start-up (set-notify-cseq is not awaited). */
  cseqRestartMargin: number;
  /**
   * Days a pending or waiting watcher is remembered after its subscription ended (Kamailio waiting_subs_daysno):
   * the presentity still sees it in watcher info and can allow it later. Swept with the expiry sweep.
   */
  waitingSubsDays: number;
  /**
   * Take a PUBLISH's Sender header as its publisher for packages that skip the publisher on fan-out (dialog;sla,
   * config bla.trustSender). Off: the From AOR is the sender, and Sender is ignored.
   */
  trustSenderHeader: boolean;
}

export const DEFAULT_CORE_CONFIG: Readonly<CoreConfig> = Object.freeze({
  cleanPeriod: 100,
  expiresOffset: 0,
  maxExpiresSubscribe: 3600,
  maxExpiresPublish: 3600,
  minExpires: 60,
  serverAddress: undefined,
  endSubOnTimeout: true,
  endSubOnNotifyError: true,
  subscribeReplyCode: 200,
  forceActive: true,
  notifyRecoveryRate: 100,
  notifyMinIntervalMs: 0,
  domains: [],
  isLocalDomain: undefined,
  retryAfter: 5,
  maxPublicationsPerPresentity: 64,
  cseqRestartMargin: 100,
  waitingSubsDays: 3,
  trustSenderHeader: true,
} satisfies CoreConfig);

export function resolveCoreConfig(partial: Partial<CoreConfig> | undefined): CoreConfig {
  const c: CoreConfig = { ...DEFAULT_CORE_CONFIG, ...stripUndefined(partial ?? {}) };
  if (!(c.cleanPeriod > 0)) c.cleanPeriod = DEFAULT_CORE_CONFIG.cleanPeriod;
  if (!(c.notifyRecoveryRate > 0)) c.notifyRecoveryRate = DEFAULT_CORE_CONFIG.notifyRecoveryRate;
  if (!(c.expiresOffset >= 0)) c.expiresOffset = 0;
  if (!(c.notifyMinIntervalMs >= 0)) c.notifyMinIntervalMs = 0;
  if (!(c.maxPublicationsPerPresentity >= 1)) c.maxPublicationsPerPresentity = DEFAULT_CORE_CONFIG.maxPublicationsPerPresentity;
  if (!(c.waitingSubsDays >= 0)) c.waitingSubsDays = DEFAULT_CORE_CONFIG.waitingSubsDays;
  return c;
}

function stripUndefined(o: Partial<CoreConfig>): Partial<CoreConfig> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) out[k] = v;
  return out as Partial<CoreConfig>;
}

/** The domain check the config describes: isLocalDomain, else membership in `domains`, else everything. */
export function domainChecker(c: CoreConfig): (host: string) => boolean {
  if (c.isLocalDomain !== undefined) return c.isLocalDomain;
  if (c.domains.length === 0) return () => true;
  const set = new Set(c.domains.map((d) => d.toLowerCase()));
  return (host) => set.has(host.toLowerCase());
}
