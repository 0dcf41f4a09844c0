/** GET /metrics: Prometheus exposition of every layer's stats, read at scrape time, and the store write histogram. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createMetrics, instrumentStoreWrites } from '../../src/admin/index.js';
import { adminOnRealCore, pidf } from './admin-fixtures.js';

/** A store-like object keeping state in #private fields, as the real adapters do. */
class PrivateStore {
  #writes = 0;
  #fail = false;
  async write(mutations: readonly unknown[]): Promise<void> {
    if (this.#fail) throw new Error('disk full');
    this.#writes += mutations.length;
  }
  failNext(): void {
    this.#fail = true;
  }
  stats() {
    return { commits: this.#writes, mutations: this.#writes, lastCommitMs: 2, pendingMutations: 0 };
  }
}

test('exports SIP, NOTIFY, presentity, transaction, store, transport and process metrics', async () => {
  let scrapesOfTransaction = 0;
  const metrics = createMetrics();
  const store = instrumentStoreWrites(new PrivateStore(), metrics);
  await store.write([1, 2]);
  store.failNext();
  await assert.rejects(store.write([3]), /disk full/);
  const { admin, stop } = await adminOnRealCore({
    tokens: ['t'],
    metrics,
    stats: {
      transport: () => ({ udpDatagramsIn: 12, tcpConnectionsOpen: 3, parseErrors: 1 }),
      transaction: () => {
        scrapesOfTransaction++;
        return {
          requestsReceived: { PUBLISH: 5, SUBSCRIBE: 2 },
          responsesSent: { PUBLISH: { '200': 4, '412': 1 }, SUBSCRIBE: { '200': 2 } },
          requestsSent: new Map([['NOTIFY', 9]]),
          responsesReceived: { NOTIFY: { '200': 8, '481': 1 } },
          serverTransactions: 4,
          clientTransactions: 1,
          requestsRetransmitted: 6,
          timeouts: 1,
        };
      },
      store: () => store.stats(),
    },
  });
  try {
    const published = await admin.app.inject({
      method: 'POST',
      url: '/api/publish',
      headers: { authorization: 'Bearer t' },
      payload: { presentity: 'sip:m@example.com', contentType: 'application/pidf+xml', body: pidf('sip:m@example.com', 'open') },
    });
    assert.equal(published.statusCode, 200);
    const res = await admin.app.inject({ method: 'GET', url: '/metrics' });
    assert.equal(res.statusCode, 200, 'open without a token');
    assert.match(String(res.headers['content-type']), /^text\/plain; version=0\.0\.4/);
    const text = res.body;
    const expect = [
      /^presenced_sip_requests_received_total\{method="PUBLISH"\} 5$/m,
      /^presenced_sip_responses_sent_total\{method="PUBLISH",code="412"\} 1$/m,
      /^presenced_sip_requests_sent_total\{method="NOTIFY"\} 9$/m,
      /^presenced_sip_responses_received_total\{method="NOTIFY",code="481"\} 1$/m,
      /^presenced_sip_transactions\{kind="server"\} 4$/m,
      /^presenced_sip_requests_retransmitted_total 6$/m,
      /^presenced_notify_sent_total 0$/m,
      /^presenced_notify_failed_total 0$/m,
      /^presenced_presentities\{event="presence"\} 1$/m,
      /^presenced_publications\{event="presence"\} 1$/m,
      /^presenced_publish_accepted_total 1$/m,
      /^presenced_udp_datagrams_received_total 12$/m,
      /^presenced_tcp_connections 3$/m,
      /^presenced_store_commits_total 2$/m,
      /^presenced_store_last_commit_seconds 0\.002$/m,
      /^presenced_store_write_seconds_count\{outcome="ok"\} 1$/m,
      /^presenced_store_write_seconds_count\{outcome="error"\} 1$/m,
      /^# TYPE presenced_store_write_seconds histogram$/m,
      /^# TYPE presenced_sip_requests_received_total counter$/m,
      /^# TYPE presenced_sip_transactions gauge$/m,
      /^nodejs_eventloop_lag_seconds \d/m,
      /^process_cpu_user_seconds_total \d/m,
      /^presenced_sse_streams 0$/m,
    ];
    for (const re of expect) assert.match(text, re);
    assert.equal(scrapesOfTransaction, 1, 'a source is read once per scrape, whatever the number of its metrics');
    assert.doesNotMatch(text, /presenced_transport_send_errors_total/, 'fields a layer does not report are not invented');
    await admin.app.inject({ method: 'GET', url: '/metrics' });
    assert.equal(scrapesOfTransaction, 2);
  } finally {
    await stop();
  }
});

test('counts API events by type and package, and survives a failing stats source', async () => {
  const { admin, stop } = await adminOnRealCore({
    stats: {
      transport: () => {
        throw new Error('boom');
      },
    },
  });
  try {
    await admin.app.inject({
      method: 'POST',
      url: '/api/publish',
      payload: { presentity: 'sip:a@example.com', contentType: 'application/pidf+xml', body: pidf('sip:a@example.com', 'closed') },
    });
    const text = (await admin.app.inject({ method: 'GET', url: '/metrics' })).body;
    assert.match(text, /^presenced_api_events_total\{type="publish",event="presence"\} 1$/m);
    assert.match(text, /^presenced_metrics_source_errors_total\{source="transport"\} 1$/m);
    assert.doesNotMatch(text, /^process_cpu/m, 'default metrics can be turned off');
  } finally {
    await stop();
  }
});
