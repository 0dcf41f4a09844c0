/**
 * The dashboard in a real browser: the real server (startServer: SIP on UDP 127.0.0.1, port 0, a temporary
 * SQLite database, the HTTP API on 127.0.0.1:0), Debian's chromium driven by playwright-core. A PUBLISH sent
 * over SIP must turn a presentity's lamp green on an already open page, without a reload.
 *
 * Skipped when /usr/bin/chromium is missing (CI installs it with `apt-get install chromium`). Set
 * PRESENCED_DASHBOARD_SCREENSHOT=docs/dashboard.png to refresh the screenshot in the documentation.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { parseConfig } from '../../src/config/index.js';
import { createLogger } from '../../src/observability/index.js';
import { startServer, type RunningServer } from '../../src/server/index.js';
import { SipTestClient } from '../support/sip-test-client.js';
import { publish, WatcherDialog } from '../support/presence-ua.js';
import { adminOnRealCore, pidf as pidfDoc } from '../integration/admin-fixtures.js';
import { ciRequires } from '../support/ci-requires.js';

const CHROMIUM = '/usr/bin/chromium';
const skip = ciRequires(existsSync(CHROMIUM) ? false : `${CHROMIUM} not found: install Debian's chromium (apt-get install chromium) to run the browser test`);

function pidf(entity: string, basic: 'open' | 'closed', activity?: string, note?: string): string {
  const person =
    activity === undefined && note === undefined
      ? ''
      : `<dm:person id="p"><rpid:activities>${activity === undefined ? '<rpid:unknown/>' : `<rpid:${activity}/>`}</rpid:activities>` +
        `${note === undefined ? '' : `<dm:note>${note}</dm:note>`}</dm:person>`;
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\r\n<presence xmlns="urn:ietf:params:xml:ns:pidf" ` +
    `xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model" xmlns:rpid="urn:ietf:params:xml:ns:pidf:rpid" entity="${entity}">` +
    `<tuple id="t1"><status><basic>${basic}</basic></status></tuple>${person}</presence>`
  );
}

async function launch(profile: string): Promise<BrowserContext> {
  return chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    // No network beyond loopback: nothing in the background may try to reach out.
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    viewport: { width: 1100, height: 760 },
  });
}

test('a PUBLISH over SIP turns the lamp green on the open dashboard, live', { skip, timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'presenced-browser-'));
  const config = parseConfig({
    listen: ['udp:127.0.0.1:0'],
    db: `sqlite:${join(dir, 'presenced.db')}`,
    http: '127.0.0.1:0',
    logLevel: 'warn',
  });
  const logger = createLogger({ level: 'warn', destination: { write: () => undefined } });
  let server: RunningServer | undefined;
  let context: BrowserContext | undefined;
  const clients: SipTestClient[] = [];
  try {
    server = await startServer(config, logger);
    const addresses = server.addresses();
    const http = addresses.find((a) => a.transport === 'http');
    assert.ok(http, `startServer must report its HTTP listener (addresses: ${JSON.stringify(addresses)})`);
    const sipPort = addresses.find((a) => a.transport === 'udp')!.port;
    const base = `http://127.0.0.1:${http.port}`;

    const ua = await SipTestClient.open({ transport: 'udp', serverPort: sipPort });
    const watcherUa = await SipTestClient.open({ transport: 'udp', serverPort: sipPort });
    clients.push(ua, watcherUa);
    // Some state on the page before the test's PUBLISH: the screenshot shows every lamp colour.
    for (const [aor, basic, activity, note] of [
      ['sip:alice@example.com', 'open', undefined, 'At my desk'],
      ['sip:bob@example.com', 'open', 'on-the-phone', 'Call with a customer'],
      ['sip:carol@example.com', 'closed', undefined, undefined],
    ] as const) {
      assert.equal((await publish(ua, { aor, body: pidf(aor, basic, activity, note), expires: 600 })).status, 200);
    }
    const watcher = new WatcherDialog(watcherUa, { presentity: 'sip:dave@example.com', watcher: 'sip:alice@example.com' });
    assert.equal((await watcher.subscribe(600)).status, 200);
    await watcher.notify();

    context = await launch(join(dir, 'chromium-profile'));
    const page: Page = await context.newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await page.goto(`${base}/`);
    await page.waitForSelector('#conn[data-state="live"]', { timeout: 10_000 });
    // dave is watched but has published nothing: a grey lamp.
    const lamp = page.locator('[data-uri="sip:dave@example.com"] .lamp');
    assert.equal(await lamp.getAttribute('data-state'), 'unknown');
    assert.equal(await page.locator('[data-uri="sip:bob@example.com"] .lamp').getAttribute('data-state'), 'busy');
    assert.equal(await page.locator('[data-uri="sip:carol@example.com"] .lamp').getAttribute('data-state'), 'closed');
    // A marker on window proves the page was not reloaded.
    await page.evaluate(() => {
      (globalThis as { presencedMarker?: number }).presencedMarker = 42;
    });

    const sent = await publish(ua, { aor: 'sip:dave@example.com', body: pidf('sip:dave@example.com', 'open', undefined, 'Back online'), expires: 600 });
    assert.equal(sent.status, 200);
    await watcher.notify();

    await page.waitForSelector('[data-uri="sip:dave@example.com"] .lamp[data-state="open"]', { timeout: 10_000 });
    // Page code runs in the browser; this project compiles without DOM types, hence the narrow casts.
    type StyleWindow = { getComputedStyle(el: unknown): { backgroundColor: string } };
    const colour = await lamp.evaluate((el) => (globalThis as unknown as StyleWindow).getComputedStyle(el).backgroundColor);
    assert.equal(colour, 'rgb(22, 163, 74)', 'the lamp is green');
    assert.equal(await page.evaluate(() => (globalThis as { presencedMarker?: number }).presencedMarker), 42, 'no reload');
    assert.match(await page.locator('[data-uri="sip:dave@example.com"] .status').innerText(), /Back online/);
    assert.match(await page.locator('#feed li[data-type="publish"]').first().innerText(), /sip:dave@example\.com/);
    assert.equal(await page.locator('#counts tr[data-event="presence"] td').nth(1).innerText(), '4');
    assert.deepEqual(pageErrors, []);

    // Usable on a phone: no horizontal scrolling at 390 px.
    await page.setViewportSize({ width: 390, height: 844 });
    const overflow = await page.evaluate<number>('document.documentElement.scrollWidth - document.documentElement.clientWidth');
    assert.ok(overflow <= 0, `no horizontal overflow on a phone (${overflow} px)`);

    const shot = process.env['PRESENCED_DASHBOARD_SCREENSHOT'];
    if (shot !== undefined && shot !== '') {
      await page.setViewportSize({ width: 1100, height: 760 });
      await page.screenshot({ path: shot, fullPage: true });
    }
  } finally {
    await context?.close().catch(() => undefined);
    for (const c of clients) await c.close().catch(() => undefined);
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('with api.tokens the page asks for a token, refuses a wrong one, and goes live with the right one', { skip, timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'presenced-browser-'));
  const { admin, stop } = await adminOnRealCore({ tokens: ['s3cret'] });
  let context: BrowserContext | undefined;
  try {
    const base = await admin.start();
    context = await launch(join(dir, 'chromium-profile'));
    const page = await context.newPage();
    await page.goto(`${base}/`);
    await page.waitForSelector('#login:not([hidden])', { timeout: 10_000 });
    assert.equal(await page.locator('#main').isHidden(), true, 'no data without a token');
    await page.fill('#token', 'wrong');
    await page.click('#login button[type=submit]');
    await page.waitForSelector('#login-error:text("not accepted")', { timeout: 10_000 });
    await page.fill('#token', 's3cret');
    await page.click('#login button[type=submit]');
    await page.waitForSelector('#conn[data-state="live"]', { timeout: 10_000 });
    const res = await admin.app.inject({
      method: 'POST',
      url: '/api/publish',
      headers: { authorization: 'Bearer s3cret' },
      payload: { presentity: 'sip:erin@example.com', contentType: 'application/pidf+xml', body: pidfDoc('sip:erin@example.com', 'closed') },
    });
    assert.equal(res.statusCode, 200);
    await page.waitForSelector('[data-uri="sip:erin@example.com"] .lamp[data-state="closed"]', { timeout: 10_000 });
  } finally {
    await context?.close().catch(() => undefined);
    await stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
