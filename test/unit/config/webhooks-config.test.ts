/** api.webhooks: URL or mapping entries, validated with the key path named, secrets never echoed, env form. */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig, parseConfig, WEBHOOK_EVENT_TYPES } from '../../../src/config/index.js';
import { API_EVENT_TYPES } from '../../../src/admin/index.js';

function refusal(input: unknown): string {
  try {
    parseConfig(input);
  } catch (err) {
    return (err as Error).message;
  }
  assert.fail('accepted');
}

describe('api.webhooks', () => {
  test('a bare URL and a mapping with filters and a secret', () => {
    const c = parseConfig({
      api: { webhooks: ['http://127.0.0.1:9000/hook', { url: 'https://hooks.example.com/p', types: ['publish', 'notify-in'], events: ['presence', 'dialog;sla'], presentity: 'sip:*@example.com', secret: 's3cret' }] },
    });
    assert.deepEqual(c.api.webhooks, [
      { url: 'http://127.0.0.1:9000/hook' },
      { url: 'https://hooks.example.com/p', types: ['publish', 'notify-in'], events: ['presence', 'dialog;sla'], presentity: 'sip:*@example.com', secret: 's3cret' },
    ]);
  });

  test('errors name the entry and field; a secret is never shown back', () => {
    assert.match(refusal({ api: { webhooks: ['ftp://x/y'] } }), /api\.webhooks\[0\]\.url: expected an http:\/\/ or https:\/\/ URL/);
    assert.match(refusal({ api: { webhooks: [{ url: 'http://x/', types: ['publsh'] }] } }), /api\.webhooks\[0\]\.types\[0\]: expected one of publish/);
    assert.match(refusal({ api: { webhooks: [{ url: 'http://x/', events: ['pres ence'] }] } }), /api\.webhooks\[0\]\.events\[0\]/);
    assert.match(refusal({ api: { webhooks: [{ url: 'http://x/', colour: 'red' }] } }), /unknown key "api\.webhooks/);
    const secret = refusal({ api: { webhooks: [{ url: 'http://x/', secret: 'x'.repeat(600) }] } });
    assert.match(secret, /api\.webhooks\[0\]\.secret/);
    assert.doesNotMatch(secret, /xxxx/, 'the value is not echoed');
    assert.match(refusal({ api: { webhooks: 'http://x/' } }), /api\.webhooks: expected a list of webhooks/);
  });

  test('from the environment: comma-separated URLs', () => {
    const { config } = loadConfig({ argv: [], env: { PRESENCED_API_WEBHOOKS: 'http://127.0.0.1:1/a, https://b.example/c' }, cwd: '/' });
    assert.deepEqual(config.api.webhooks, [{ url: 'http://127.0.0.1:1/a' }, { url: 'https://b.example/c' }]);
  });

  test('the event types accepted are exactly the API event types', () => {
    assert.deepEqual([...WEBHOOK_EVENT_TYPES], [...API_EVENT_TYPES]);
  });
});
