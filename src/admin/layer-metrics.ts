/**
 * Which stats of which layer become which Prometheus metric. Each layer's `stats()` is read once per scrape;
 * the tables below name the fields. A field a layer does not report is simply not exported.
 */
import type { AdminCore, CoreStatsView } from './core-port.js';
import type { EventHub } from './event-hub.js';
import { samplesOf, type PolledMetric, type PresencedMetrics, type Sample } from './metrics.js';
import type { SseBroker } from './sse.js';
import type { WebhookDispatcher } from './webhooks.js';

/** Plain numbers or `{label: number}` records; what a layer's stats() returns, seen loosely. */
export type StatsRecord = object;

/**
 * The lower layers' stats() functions (transport, transaction, store), passed by the composition root. Any
 * object will do: the tables below pick the fields they know by name.
 */
export interface StatsProviders {
  readonly transport?: () => StatsRecord;
  readonly transaction?: () => StatsRecord;
  readonly store?: () => StatsRecord;
  /** Digest authentication (src/auth AuthGate.stats()). */
  readonly auth?: () => StatsRecord;
  /** Registrar and location service (src/server AccountsWiring: accepted, rejected, bindings ...). */
  readonly registrar?: () => StatsRecord;
  /** Subscriptions held on behalf of watchers (ua OutboundSubscriptions.stats()). */
  readonly outbound?: () => StatsRecord;
  /** The stateful proxy (src/server ProxyWiring.metricsStats(): forwarded, shed, calls ...). */
  readonly proxy?: () => StatsRecord;
}

function field(s: StatsRecord, key: string): unknown {
  return (s as Record<string, unknown>)[key];
}

function num(s: StatsRecord, key: string): number | undefined {
  const v = field(s, key);
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

function rec(s: StatsRecord, key: string, label: string): readonly Sample[] | undefined {
  const v = field(s, key);
  if (v instanceof Map) return samplesOf(v as Map<string, number>, label);
  if (v !== null && typeof v === 'object') {
    const out: Sample[] = [];
    for (const [k, n] of Object.entries(v as Record<string, unknown>)) if (typeof n === 'number') out.push([{ [label]: k }, n]);
    return out;
  }
  return undefined;
}

/** Nested `{outer: {inner: n}}` records, e.g. responses by method then code. */
function rec2(s: StatsRecord, key: string, outer: string, inner: string): readonly Sample[] | undefined {
  const v = field(s, key);
  if (v === null || typeof v !== 'object') return undefined;
  const out: Sample[] = [];
  for (const [a, m] of Object.entries(v as Record<string, unknown>)) {
    if (m === null || typeof m !== 'object') continue;
    for (const [b, n] of Object.entries(m as Record<string, unknown>)) {
      if (typeof n === 'number') out.push([{ [outer]: a, [inner]: b }, n]);
    }
  }
  return out;
}

const counter = (name: string, help: string, key: string): PolledMetric<StatsRecord> => ({
  name,
  help,
  type: 'counter',
  read: (s) => num(s, key),
});
const gauge = (name: string, help: string, key: string): PolledMetric<StatsRecord> => ({
  name,
  help,
  type: 'gauge',
  read: (s) => num(s, key),
});
/** One series per entry of the record under `key` (e.g. { SUBSCRIBE: 3 }), the entry's name as label `label`. */
const byLabel = (type: 'counter' | 'gauge', name: string, help: string, key: string, label: string): PolledMetric<StatsRecord> => ({
  name,
  help,
  type,
  labelNames: [label],
  read: (s) => rec(s, key, label),
});

const TRANSPORT: PolledMetric<StatsRecord>[] = [
  counter('presenced_udp_datagrams_received_total', 'UDP datagrams received.', 'udpDatagramsIn'),
  counter('presenced_udp_datagrams_sent_total', 'UDP datagrams sent.', 'udpDatagramsOut'),
  counter('presenced_udp_received_bytes_total', 'UDP bytes received.', 'udpBytesIn'),
  counter('presenced_udp_sent_bytes_total', 'UDP bytes sent.', 'udpBytesOut'),
  counter('presenced_tcp_received_bytes_total', 'TCP bytes received.', 'tcpBytesIn'),
  counter('presenced_tcp_sent_bytes_total', 'TCP bytes sent.', 'tcpBytesOut'),
  counter('presenced_tcp_messages_received_total', 'SIP messages received over TCP.', 'tcpMessagesIn'),
  counter('presenced_tcp_messages_sent_total', 'SIP messages sent over TCP.', 'tcpMessagesOut'),
  gauge('presenced_tcp_connections', 'TCP connections open.', 'tcpConnectionsOpen'),
  counter('presenced_tcp_connections_accepted_total', 'TCP connections accepted.', 'tcpConnectionsAccepted'),
  counter('presenced_tcp_connections_outbound_total', 'TCP connections opened by presenced.', 'tcpConnectionsOutbound'),
  counter('presenced_tcp_connections_refused_total', 'TCP connections refused by the per-source or global limit.', 'tcpConnectionsRefused'),
  counter('presenced_tcp_connect_failures_total', 'Outbound TCP connections that failed.', 'tcpConnectFailures'),
  counter('presenced_tcp_idle_closed_total', 'TCP connections closed for idleness.', 'tcpIdleClosed'),
  counter('presenced_tcp_overflow_closed_total', 'TCP connections closed because the peer did not read.', 'tcpOverflowClosed'),
  counter('presenced_keepalives_received_total', 'CRLF keep-alives received (RFC 5626).', 'keepalivesIn'),
  counter('presenced_keepalive_pings_answered_total', 'CRLFCRLF pings answered (RFC 5626 section 3.5.1).', 'pingsAnswered'),
  counter('presenced_stun_answered_total', 'STUN binding requests answered (RFC 5626 section 3.5.2).', 'stunAnswered'),
  counter('presenced_sip_parse_errors_total', 'Messages that could not be parsed.', 'parseErrors'),
  counter('presenced_sip_framing_errors_total', 'TCP stream framing errors.', 'framingErrors'),
  counter('presenced_sip_oversize_dropped_total', 'Messages dropped for exceeding maxMessageSize.', 'droppedOversize'),
  counter('presenced_transport_send_errors_total', 'Sends that failed at the socket.', 'sendErrors'),
];

const TRANSACTION: PolledMetric<StatsRecord>[] = [
  byLabel('counter', 'presenced_sip_requests_received_total', 'New SIP requests received (retransmissions excluded), by method.', 'requestsReceived', 'method'),
  {
    name: 'presenced_sip_responses_sent_total',
    help: 'Final SIP responses sent (retransmissions excluded), by request method and status code.',
    type: 'counter',
    labelNames: ['method', 'code'],
    read: (s) => rec2(s, 'responsesSent', 'method', 'code'),
  },
  byLabel('counter', 'presenced_sip_requests_sent_total', 'SIP requests sent by presenced (NOTIFY, SUBSCRIBE on behalf, forwarded requests), by method; retransmissions excluded.', 'requestsSent', 'method'),
  {
    name: 'presenced_sip_responses_received_total',
    help: 'Final responses received to requests presenced sent, by method and status code.',
    type: 'counter',
    labelNames: ['method', 'code'],
    read: (s) => rec2(s, 'responsesReceived', 'method', 'code'),
  },
  {
    name: 'presenced_sip_transactions',
    help: 'Live transactions, by kind (server, client).',
    type: 'gauge',
    labelNames: ['kind'],
    read: (s) => {
      const out: Sample[] = [];
      const server = num(s, 'serverTransactions');
      const client = num(s, 'clientTransactions');
      if (server !== undefined) out.push([{ kind: 'server' }, server]);
      if (client !== undefined) out.push([{ kind: 'client' }, client]);
      return out;
    },
  },
  counter('presenced_sip_request_retransmissions_absorbed_total', 'Retransmitted requests absorbed by server transactions.', 'requestRetransmissionsAbsorbed'),
  counter('presenced_sip_responses_retransmitted_total', 'Responses re-sent by server transactions.', 'responsesRetransmitted'),
  counter('presenced_sip_requests_retransmitted_total', 'Requests (NOTIFYs) re-sent by client transactions (Timer E).', 'requestsRetransmitted'),
  counter('presenced_sip_transaction_timeouts_total', 'Client transactions ended by Timer F (408).', 'timeouts'),
  counter('presenced_sip_transaction_transport_errors_total', 'Client transactions ended by a transport error (503).', 'transportErrors'),
  counter('presenced_sip_stateless_replies_total', 'Errors answered without a transaction (400, 413, 505, 503).', 'statelessReplies'),
  counter('presenced_sip_malformed_dropped_total', 'Malformed messages dropped without an answer.', 'malformedDropped'),
  counter('presenced_sip_stray_responses_total', 'Responses matching no transaction.', 'strayResponses'),
  counter('presenced_sip_unanswered_total', 'Requests answered 500 by the guard timer because the core did not answer.', 'unanswered'),
  counter('presenced_sip_overload_total', 'Requests refused because the transaction table was full.', 'overload'),
  gauge('presenced_sip_completed_transactions', 'Answered non-INVITE server transactions kept for retransmissions (Timer J).', 'completedServerTransactions'),
  counter('presenced_sip_completed_evicted_total', 'Completed server transactions dropped before Timer J (maxCompletedTransactions reached).', 'completedEvictedEarly'),
];

const STORE: PolledMetric<StatsRecord>[] = [
  counter('presenced_store_commits_total', 'Store commits (each may carry the writes of many requests).', 'commits'),
  counter('presenced_store_mutations_total', 'Mutations written to the store.', 'mutations'),
  gauge('presenced_store_pending_mutations', 'Mutations waiting for the next commit.', 'pendingMutations'),
  {
    name: 'presenced_store_last_commit_seconds',
    help: 'Duration of the last commit.',
    type: 'gauge',
    read: (s) => {
      const ms = num(s, 'lastCommitMs');
      return ms === undefined ? undefined : ms / 1000;
    },
  },
];

const OUTBOUND: PolledMetric<StatsRecord>[] = [
  byLabel('gauge', 'presenced_outbound_subscriptions', 'Subscriptions presenced holds as a client (POST /api/subscribe), by state.', 'byState', 'state'),
  counter('presenced_outbound_notifies_received_total', 'NOTIFYs received in subscriptions presenced holds as a client.', 'notifiesReceived'),
  counter('presenced_notify_unmatched_total', 'NOTIFYs received for no subscription of ours (answered 481).', 'notifiesUnmatched'),
];

const AUTH: PolledMetric<StatsRecord>[] = [
  counter('presenced_auth_challenges_total', 'Digest challenges sent (401 and 407).', 'challenges'),
  counter('presenced_auth_proxy_challenges_total', 'Digest challenges sent by the proxy (407), included in presenced_auth_challenges_total.', 'proxyChallenges'),
  counter('presenced_auth_success_total', 'Requests authenticated.', 'authenticated'),
  counter('presenced_auth_failures_total', 'Failed authentications (wrong password or unknown user).', 'failures'),
  counter('presenced_auth_stale_total', 'Right credentials with an expired or foreign nonce (401 stale=true).', 'stale'),
  counter('presenced_auth_replays_total', 'Nonce counts replayed (401 stale=true).', 'replays'),
  counter('presenced_auth_malformed_total', 'Malformed or unusable credentials (400).', 'malformed'),
  counter('presenced_auth_forbidden_total', 'Authenticated requests for another user\'s address of record (403).', 'forbidden'),
  counter('presenced_auth_blocked_requests_total', 'Requests refused because their source is blocked (403).', 'blockedRequests'),
  gauge('presenced_auth_blocked_sources', 'Source addresses blocked after repeated failures.', 'blockedSources'),
  gauge('presenced_users', 'SIP users.', 'users'),
];

const REGISTRAR: PolledMetric<StatsRecord>[] = [
  counter('presenced_register_accepted_total', 'REGISTER requests answered 200 (queries included).', 'accepted'),
  counter('presenced_register_rejected_total', 'REGISTER requests refused (400, 403, 404, 423, 500 ...).', 'rejected'),
  gauge('presenced_registered_aors', 'Addresses of record with at least one binding.', 'aors'),
  gauge('presenced_registrations', 'Bindings (registered contacts).', 'bindings'),
  counter('presenced_registrations_expired_total', 'Bindings that expired.', 'expired'),
];

const PROXY: PolledMetric<StatsRecord>[] = [
  counter('presenced_proxy_forwarded_total', 'Requests forwarded by the proxy (each once, whatever the number of branches).', 'forwarded'),
  counter('presenced_proxy_acks_forwarded_total', 'ACKs for 2xx forwarded statelessly.', 'acksForwarded'),
  counter('presenced_proxy_stray_responses_forwarded_total', 'Responses matching no transaction (a 2xx retransmitted after ours ended, or after a restart) forwarded statelessly.', 'strayForwarded'),
  byLabel('counter', 'presenced_proxy_rejected_total', 'Requests the proxy answered itself with an error, by status (403, 404, 480, 481, 482, 503 ...).', 'rejected', 'code'),
  counter('presenced_proxy_overload_rejected_total', 'New calls refused with 503 while the event loop was overloaded (included in presenced_proxy_rejected_total).', 'shed'),
  gauge('presenced_proxy_event_loop_utilization', 'Event loop utilization over the overload window (0..1); new calls are refused from proxy.overloadThreshold (percent).', 'loopUtilization'),
  gauge('presenced_proxy_contexts', 'Requests being proxied.', 'contexts'),
  gauge('presenced_proxy_calls', 'Calls tracked (trying, early, confirmed, or ended and lingering).', 'calls'),
  counter('presenced_proxy_dialog_publications_total', 'Dialog-info publications made for calls (coalesced: a busy user gets fewer than one per change).', 'dialogPublications'),
];

const CORE: PolledMetric<CoreStatsView>[] = [
  {
    name: 'presenced_presentities',
    help: 'Presentities with live publications, by event package.',
    type: 'gauge',
    labelNames: ['event'],
    read: (s) => (s.presentitiesByEvent === undefined ? undefined : samplesOf(s.presentitiesByEvent, 'event')),
  },
  {
    name: 'presenced_publications',
    help: 'Live publications, by event package.',
    type: 'gauge',
    labelNames: ['event'],
    read: (s) => (s.publicationsByEvent === undefined ? undefined : samplesOf(s.publicationsByEvent, 'event')),
  },
  {
    name: 'presenced_subscriptions',
    help: 'Live subscriptions, by event package.',
    type: 'gauge',
    labelNames: ['event'],
    read: (s) => (s.subscriptionsByEvent === undefined ? undefined : samplesOf(s.subscriptionsByEvent, 'event')),
  },
  {
    name: 'presenced_subscriptions_by_status',
    help: 'Live subscriptions, by status (active, pending).',
    type: 'gauge',
    labelNames: ['status'],
    read: (s) => (s.subscriptionsByStatus === undefined ? undefined : samplesOf(s.subscriptionsByStatus, 'status')),
  },
  { name: 'presenced_notify_sent_total', help: 'NOTIFY requests sent (first transmissions).', type: 'counter', read: (s) => s.notifySent },
  {
    name: 'presenced_notify_failed_total',
    help: 'NOTIFYs that failed (error response, timeout or transport error).',
    type: 'counter',
    read: (s) => s.notifyFailed,
  },
  { name: 'presenced_notify_queued', help: 'NOTIFYs waiting to be sent.', type: 'gauge', read: (s) => s.notifyQueued },
  { name: 'presenced_publish_accepted_total', help: 'Publications accepted (SIP and API).', type: 'counter', read: (s) => s.publishesAccepted },
  { name: 'presenced_publish_rejected_total', help: 'Publications rejected.', type: 'counter', read: (s) => s.publishesRejected },
];

export function registerLayerMetrics(
  metrics: PresencedMetrics,
  core: AdminCore,
  providers: StatsProviders,
  own: { sse: SseBroker; webhooks: WebhookDispatcher; hub: EventHub },
): void {
  if (providers.transport) metrics.addSource('transport', providers.transport, TRANSPORT);
  if (providers.transaction) metrics.addSource('transaction', providers.transaction, TRANSACTION);
  if (providers.store) metrics.addSource('store', providers.store, STORE);
  if (providers.auth) metrics.addSource('auth', providers.auth, AUTH);
  if (providers.registrar) metrics.addSource('registrar', providers.registrar, REGISTRAR);
  if (providers.outbound) metrics.addSource('outbound', providers.outbound, OUTBOUND);
  if (providers.proxy) metrics.addSource('proxy', providers.proxy, PROXY);
  metrics.addSource('core', () => core.stats(), CORE);
  metrics.addSource('sse', () => own.sse.stats(), [
    { name: 'presenced_sse_streams', help: 'Open event streams (GET /events).', type: 'gauge', read: (s) => s.open },
    {
      name: 'presenced_sse_slow_closed_total',
      help: 'Event streams closed because the client did not read.',
      type: 'counter',
      read: (s) => s.slowClosed,
    },
  ]);
  metrics.addSource('webhooks', () => own.webhooks.stats(), [
    { name: 'presenced_webhook_delivered_total', help: 'Webhook deliveries acknowledged with 2xx.', type: 'counter', read: (s) => s.delivered },
    { name: 'presenced_webhook_retries_total', help: 'Webhook delivery retries.', type: 'counter', read: (s) => s.retries },
    { name: 'presenced_webhook_failed_total', help: 'Webhook events given up on.', type: 'counter', read: (s) => s.failed },
    { name: 'presenced_webhook_dropped_total', help: 'Webhook events dropped because a queue was full.', type: 'counter', read: (s) => s.dropped },
    { name: 'presenced_webhook_queued', help: 'Webhook events waiting.', type: 'gauge', read: (s) => s.queued },
  ]);
}

/** Everything for GET /api/stats, each layer read once. */
export function statsSnapshot(
  core: AdminCore,
  providers: StatsProviders,
  own: { sse: SseBroker; webhooks: WebhookDispatcher; hub: EventHub },
): Record<string, unknown> {
  const safe = (read: (() => unknown) | undefined): unknown => {
    if (read === undefined) return undefined;
    try {
      return read();
    } catch (error) {
      return { error: error instanceof Error ? error.message : String(error) };
    }
  };
  return {
    core: safe(() => core.stats()),
    transport: safe(providers.transport),
    transaction: safe(providers.transaction),
    store: safe(providers.store),
    ...(providers.outbound !== undefined && { outbound: safe(providers.outbound) }),
    ...(providers.auth !== undefined && { auth: safe(providers.auth) }),
    ...(providers.registrar !== undefined && { registrar: safe(providers.registrar) }),
    ...(providers.proxy !== undefined && { proxy: safe(providers.proxy) }),
    api: { events: own.hub.stats(), sse: own.sse.stats(), webhooks: own.webhooks.stats() },
  };
}
